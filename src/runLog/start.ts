/**
 * Where a run starts (trigger handlers, the CLI): its run-log row with the trigger kind.
 * The run log module (and pg) loads on first use, so starting the Functions app stays cheap.
 */
import type { Env } from '../connections/settings.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { OrchestrationEnd, TriggerKind } from './store.js';

export async function logRunStart(spec: PipelineSpec, runId: string, trigger: TriggerKind, env: Env = process.env, options: { restarted?: boolean } = {}): Promise<void> {
  const { recordRunStart, runLogTarget } = await import('./store.js');
  await recordRunStart(runLogTarget(spec, env), { runId, pipeline: spec.name, trigger, ...(options.restarted && { restarted: true }) }, env);
}

/** A run that never ran (its orchestration could not be started): Failed, with why. */
export async function logRunFailed(spec: PipelineSpec, runId: string, error: string, env: Env = process.env): Promise<void> {
  const { recordRunOutput, runLogTarget } = await import('./store.js');
  const { failedRun } = await import('../run/output.js');
  await recordRunOutput(runLogTarget(spec, env), failedRun(spec.name, runId, error));
}

/**
 * The pipeline's runs of this trigger that the run log still has unfinished, newest first,
 * each with its orchestration's status: `active` says which are still going; the others
 * (finished, or never started) are completed in the log on the way. Throws when the run log
 * cannot be read: the caller cannot tell then.
 */
export async function findActiveRun(
  spec: PipelineSpec,
  trigger: TriggerKind,
  statusOf: (runId: string) => Promise<OrchestrationEnd>,
  active: (status: OrchestrationEnd) => boolean,
  env: Env = process.env,
): Promise<{ runId: string; status: OrchestrationEnd } | undefined> {
  const { ensureRunLog, recordOrchestrationEnd, runLogTarget, unfinishedRuns } = await import('./store.js');
  const place = runLogTarget(spec, env);
  await ensureRunLog(place);
  for (const runId of await unfinishedRuns(place, spec.name, trigger)) {
    const status = await statusOf(runId);
    if (active(status)) return { runId, status };
    await recordOrchestrationEnd(place, spec.name, runId, status);
  }
  return undefined;
}
