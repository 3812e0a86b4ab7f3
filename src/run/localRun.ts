/**
 * Runs a pipeline in-process through the Functions app's own orchestrator: the real
 * registrations (functions/orchestrator.ts, functions/activities.ts) driven by the local
 * durable runtime (src/app/localDurable.ts), so what runs locally is what runs in Azure.
 * Used by `blob2pg run`, the demo, the tests and the benchmark.
 */
import { randomUUID } from 'node:crypto';
import type { Env } from '../connections/settings.js';
import { withAppEnv } from '../app/appEnv.js';
import { LocalDurableRuntime } from '../app/localDurable.js';
import { loadDurableFunctions, registeredFunctions } from '../app/localHost.js';
import { RUN_ORCHESTRATOR } from '../app/triggers.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { flattenFiles, type RunInput } from '../app/plan.js';
import { runOutputOf, type FileResult, type RunOutput } from './output.js';

export interface RunPipelineOptions {
  /** Only these blob names (still subject to nothing else: the user named them). */
  blobs?: string[];
  runId?: string;
  env?: Env;
  /** Called as each file finishes, in completion order. */
  onFile?: (file: FileResult) => void;
  /** Multiplies the retry back-off delays (tests). */
  timerScale?: number;
}

/** Starts a local durable runtime over the app's registered orchestrations and activities. */
export async function localRuntime(options: { onFile?: (file: FileResult) => void; timerScale?: number } = {}): Promise<LocalDurableRuntime> {
  await loadDurableFunctions();
  return new LocalDurableRuntime({
    functions: registeredFunctions(),
    // The orchestrator bounds copies per run (maxParallelCopies); this bounds the process.
    maxConcurrentActivities: 64,
    timerScale: options.timerScale,
    onActivityResult: options.onFile && ((name, result) => name === 'copyBlob' && (result as FileResult[]).forEach((file) => options.onFile!(file))),
  });
}

/**
 * Runs the pipeline to the end. The orchestration's output lists only failed files (its
 * history must stay small); the CLI has every copy's results at hand as they return, so
 * its run output lists every file the run copied or skipped, in name order.
 */
export async function runPipeline(spec: PipelineSpec, options: RunPipelineOptions = {}): Promise<RunOutput> {
  const copied: FileResult[] = [];
  const onFile = (file: FileResult) => {
    copied.push(file);
    options.onFile?.(file);
  };
  const runtime = await localRuntime({ onFile, timerScale: options.timerScale });
  const input: RunInput = { spec, ...(options.blobs?.length && { blobNames: options.blobs }) };
  const status = await withAppEnv(options.env, async () => {
    const id = await runtime.startNew(RUN_ORCHESTRATOR, { instanceId: options.runId ?? randomUUID(), input });
    return runtime.waitForCompletion(id);
  });
  if (status.runtimeStatus !== 'Completed') throw new Error(`run ${status.instanceId} ${status.runtimeStatus}: ${String(status.output)}`);
  const output = status.output as RunOutput;
  // Files whose copy never returned (failed for good) are only in the output: reported last.
  const key = (file: FileResult) => `${file.blob}\0${file.etag}`;
  const files = flattenFiles(copied);
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
