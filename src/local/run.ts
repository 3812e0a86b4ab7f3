/**
 * Runs a pipeline in-process through the Functions app's own orchestrator: the real
 * registrations (functions/orchestrator.ts, functions/activities.ts) driven by the local
 * durable runtime (src/local/durable.ts), so what runs locally is what runs in Azure.
 * Used by `blob2pg run`, the demo, the tests and the benchmark.
 */
import { randomUUID } from 'node:crypto';
import type { Env } from '../connections/settings.js';
import { withAppEnv } from '../app/appEnv.js';
import { withNotices } from '../notices.js';
import { LocalDurableRuntime } from './durable.js';
import { loadDurableFunctions, registeredFunctions } from './host.js';
import { RUN_ORCHESTRATOR } from '../app/plan.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { flattenFiles, type RunInput } from '../app/plan.js';
import { failedRun, runOutputOf, type FileResult, type RunOutput } from '../run/output.js';
import { failureMessage } from '../app/plan.js';
import { redactSecrets } from '../redact.js';
import { recordRunOutput, recordRunStart, runLogTarget, type TriggerKind } from '../runLog/store.js';

export interface RunPipelineOptions {
  /** Only these blob names (still subject to nothing else: the user named them). */
  blobs?: string[];
  runId?: string;
  env?: Env;
  /** Called as each file finishes, in completion order. */
  onFile?: (file: FileResult) => void;
  /** Multiplies the retry back-off delays (tests). */
  timerScale?: number;
  /** What started the run, for the run log (default CLI). */
  trigger?: TriggerKind;
  /** Progress a person wants to see while the run goes on (retries, lock waits); stderr in the CLI. */
  log?: (line: string) => void;
}

/**
 * Starts a local durable runtime over the app's registered orchestrations and activities.
 * `onFile` sees each file as its copy activity returns, with the attempt that returned it.
 */
export async function localRuntime(options: { onFile?: (file: FileResult, attempt: number) => void; timerScale?: number } = {}): Promise<LocalDurableRuntime> {
  await loadDurableFunctions();
  return new LocalDurableRuntime({
    functions: registeredFunctions(),
    // The orchestrator bounds copies per run (maxParallelCopies); this bounds the process.
    maxConcurrentActivities: 64,
    timerScale: options.timerScale,
    onActivityResult: options.onFile && ((name, result, attempt) => name === 'copyBlob' && (result as FileResult[]).forEach((file) => options.onFile!(file, attempt))),
  });
}

/** Runs the pipeline and records the run in the run log: its start, then its output. */
export async function runPipeline(spec: PipelineSpec, options: RunPipelineOptions = {}): Promise<RunOutput> {
  const runId = options.runId ?? randomUUID();
  const runLog = () => runLogTarget(spec, options.env);
  await withNotices(options.log, () => recordRunStart(runLog, { runId, pipeline: spec.name, trigger: options.trigger ?? 'CLI' }, options.env));
  const output = await orchestrateRun(spec, { ...options, runId });
  await withNotices(options.log, () => recordRunOutput(runLog, output));
  return output;
}

/**
 * Runs the orchestration to the end. Its output lists only failed files (its history must
 * stay small); the CLI has every copy's results at hand as they return, so its run output
 * lists every file the run copied or skipped, in name order.
 */
async function orchestrateRun(spec: PipelineSpec, options: RunPipelineOptions & { runId: string }): Promise<RunOutput> {
  const copied: FileResult[] = [];
  const runtime = await localRuntime({
    onFile: (file) => {
      copied.push(file);
      options.onFile?.(file);
    },
    timerScale: options.timerScale,
  });
  const input: RunInput = { spec, ...(options.blobs?.length && { blobNames: options.blobs }) };
  const { runId } = options;
  const status = await withNotices(options.log, () =>
    withAppEnv(options.env, async () => {
      const id = await runtime.startNew(RUN_ORCHESTRATOR, { instanceId: runId, input });
      return runtime.waitForCompletion(id);
    }),
  );
  // Listing or the orchestration itself failed: still one run object, Failed, saying why.
  if (status.runtimeStatus !== 'Completed') return failedRun(spec.name, runId, redactSecrets(failureMessage(status.output)));
  const output = status.output as RunOutput;
  // The orchestration lists the failed files and those that took more than one attempt (with
  // their attempts); files whose copy never returned (failed for good) are only there.
  const key = (file: FileResult) => `${file.blob}\0${file.etag}`;
  const noted = new Map(output.files.map((f) => [key(f), f]));
  const files = flattenFiles(copied).map((f) => {
    const attempts = noted.get(key(f))?.attempts;
    return attempts ? { ...f, attempts } : f;
  });
  const reported = new Set(files.map(key));
  for (const file of output.files) {
    if (reported.has(key(file))) continue;
    files.push(file);
    options.onFile?.(file);
  }
  files.sort((a, b) => (a.blob < b.blob ? -1 : a.blob > b.blob ? 1 : 0));
  const counters = { filesSucceeded: output.filesRead, filesSkipped: output.filesSkipped, rowsRead: output.rowsRead, rowsCopied: output.rowsCopied, rowsSkipped: output.rowsSkipped, dataRead: output.dataRead };
  return runOutputOf(output.pipeline, output.runId, counters, files, output.copyDurationMs);
}
