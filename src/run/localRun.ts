/**
 * Runs a pipeline in-process: list the blobs, copy them with bounded parallelism,
 * summarise. Used by `blob2pg run`, the demo and the benchmark.
 */
import { randomUUID } from 'node:crypto';
import { copyBlob } from '../copyBlob.js';
import type { Env } from '../connections/settings.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { listBlobs, type BlobRef } from '../source/blobs.js';
import { containerFor, normalizeEtag } from '../source/blobs.js';
import { summarizeRun, type FileResult, type RunOutput } from './output.js';
import { toFileErrorOutput } from '../errors.js';

export interface RunPipelineOptions {
  /** Only these blob names (still subject to nothing else: the user named them). */
  blobs?: string[];
  runId?: string;
  env?: Env;
  /** Called as each file finishes, in completion order. */
  onFile?: (file: FileResult) => void;
  abortSignal?: AbortSignal;
}

/** Looks up named blobs' current ETags (an explicit `--blob` bypasses prefix/wildcard). */
async function* namedBlobs(spec: PipelineSpec, names: string[], env?: Env): AsyncIterableIterator<BlobRef> {
  const container = containerFor(spec, env);
  for (const name of names) {
    const props = await container.getBlobClient(name).getProperties();
    yield { name, etag: normalizeEtag(props.etag!), size: props.contentLength ?? 0, lastModified: props.lastModified!.toISOString() };
  }
}

/** Runs `work` over `items` with at most `limit` in flight; results in input order. */
export async function mapBounded<T, R>(items: AsyncIterable<T>, limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  const iterator = items[Symbol.asyncIterator]();
  let index = 0;
  const worker = async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const slot = index++;
      results[slot] = await work(next.value);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

export async function runPipeline(spec: PipelineSpec, options: RunPipelineOptions = {}): Promise<RunOutput> {
  const runId = options.runId ?? randomUUID();
  const started = performance.now();
  const blobs = options.blobs?.length ? namedBlobs(spec, options.blobs, options.env) : listBlobs(spec, { env: options.env, abortSignal: options.abortSignal });
  const files = await mapBounded(blobs, spec.maxParallelCopies, async (ref) => {
    let file: FileResult;
    try {
      file = await copyBlob(spec, ref, { runId, env: options.env, abortSignal: options.abortSignal });
    } catch (err) {
      // Transient failures: the Functions app retries them; a local run reports them.
      file = { blob: ref.name, etag: ref.etag, status: 'Failed', rowsRead: 0, rowsCopied: 0, rowsSkipped: 0, dataRead: 0, durationMs: 0, error: toFileErrorOutput(err) };
    }
    options.onFile?.(file);
    return file;
  });
  // An archive's entries are files of their own in the run output (ADF lists each one).
  const flat = files.flatMap((file) => (file.entries?.length ? file.entries : [file]));
  return summarizeRun(spec.name, runId, flat, Math.round(performance.now() - started));
}
