/**
 * Live progress of the runs a local durable runtime drives (`blob2pg run`, `watch`, the
 * page's reruns): the orchestrator itself does no I/O, so this process looks at its runs
 * every second and writes what changed — files total / done (the orchestration's custom
 * status) and updated_at, the heartbeat the page's Abandoned rule reads — at least every
 * heartbeat interval while a run goes on. With `recordEnds` (watch) it also records each
 * run's end from the orchestration output; `blob2pg run` records its own, richer one.
 *
 * In Azure nothing runs this: the copy activity's heartbeat (withHeartbeat) keeps a run
 * alive and the page asks the orchestration for progress and the end (ui/functionsUi.ts).
 */
import type { Env } from '../connections/settings.js';
import type { InstanceStatus } from '../app/starter.js';
import { RUN_ORCHESTRATOR, type RunInput, type RunProgress } from '../app/plan.js';
import { failedRun, type RunOutput } from '../run/output.js';
import { EventType, type HistoryEvent } from './durable.js';
import { heartbeatMs, recordAbandoned, recordHeartbeat, recordRunOutput, runLogTarget, type RunLogTarget } from '../runLog/store.js';

export interface FollowedRuntime {
  instanceIds(): string[];
  getStatus(instanceId: string): Promise<InstanceStatus | undefined>;
  historyOf(instanceId: string): HistoryEvent[];
}

export interface RunFollower {
  /** One look now (tests; stop does one too). */
  tick(): Promise<void>;
  /** Stops following; with `abandon`, runs still going are recorded Abandoned with that reason. */
  stop(options?: { abandon?: string }): Promise<void>;
}

interface Followed {
  target: RunLogTarget;
  pipeline: string;
  lastWrite: number;
  lastProgress: string;
  ended: boolean;
}

export function followRuns(runtime: FollowedRuntime, options: { env: Env; recordEnds?: boolean; intervalMs?: number }): RunFollower {
  const { env } = options;
  const followed = new Map<string, Followed>();
  const beat = heartbeatMs(env);

  /** The run's spec is in the input of its latest generation (continueAsNew carries it). */
  const follow = (id: string): Followed | undefined => {
    const known = followed.get(id);
    if (known) return known;
    const started = runtime.historyOf(id).find((e) => (e as { EventType?: number }).EventType === EventType.ExecutionStarted) as { Input?: string } | undefined;
    const input = started?.Input ? (JSON.parse(started.Input) as RunInput) : undefined;
    if (!input?.spec) return undefined;
    const entry = { target: () => runLogTarget(input.spec, env), pipeline: input.spec.name, lastWrite: 0, lastProgress: '', ended: false };
    followed.set(id, entry);
    return entry;
  };

  let busy: Promise<void> = Promise.resolve();
  const look = async () => {
    for (const id of runtime.instanceIds()) {
      const status = await runtime.getStatus(id);
      if (!status || status.name !== RUN_ORCHESTRATOR) continue;
      const run = follow(id);
      if (!run || run.ended) continue;
      if (status.runtimeStatus === 'Running' || status.runtimeStatus === 'Pending') {
        const p = status.customStatus as RunProgress | undefined;
        const progress = p ? { filesTotal: p.filesTotal, filesDone: p.filesDone } : undefined;
        const key = JSON.stringify(progress ?? null);
        if (key === run.lastProgress && Date.now() - run.lastWrite < beat) continue;
        run.lastProgress = key;
        run.lastWrite = Date.now();
        await recordHeartbeat(run.target, id, progress);
      } else {
        run.ended = true;
        if (!options.recordEnds) continue;
        const output = status.runtimeStatus === 'Completed' ? (status.output as RunOutput) : failedRun(run.pipeline, id, `the orchestration ${status.runtimeStatus.toLowerCase()}: ${String(status.output ?? '')}`);
        await recordRunOutput(run.target, output);
      }
    }
  };
  // One look at a time: a slow database must not pile them up. The writers never throw
  // (best effort); the catch keeps a surprise from becoming an unhandled rejection.
  const tick = () => (busy = busy.then(look).catch(() => undefined));
  const timer = setInterval(() => void tick(), options.intervalMs ?? 1000);
  timer.unref();

  return {
    tick,
    async stop(stopOptions = {}) {
      clearInterval(timer);
      await tick();
      if (!stopOptions.abandon) return;
      for (const id of runtime.instanceIds()) {
        const status = await runtime.getStatus(id);
        if (status?.name !== RUN_ORCHESTRATOR || !(status.runtimeStatus === 'Running' || status.runtimeStatus === 'Pending')) continue;
        const run = follow(id);
        if (run && !run.ended) await recordAbandoned(run.target, id, stopOptions.abandon);
      }
    },
  };
}
