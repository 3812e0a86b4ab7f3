/** Helpers shared by the sink scenarios: a spec over the bench blob, and one timed blob load. */
import { copyBlob } from '../../src/load/index.js';
import { parsePipelineSpec, type PipelineSpecInput } from '../../src/pipeline/spec.js';
import type { BlobRef } from '../../src/source/blobs.js';
import type { FileResult } from '../../src/run/output.js';
import type { BenchContext } from '../types.js';

export async function blobRef(ctx: BenchContext, name: string): Promise<BlobRef> {
  const props = await ctx.container.getBlobClient(name).getProperties();
  return { name, etag: props.etag!, size: props.contentLength ?? 0, lastModified: props.lastModified!.toISOString() };
}

/** Loads `blob` into `table` with `sink` settings; throws unless it succeeded. Returns seconds. */
export async function timedLoad(ctx: BenchContext, blob: string, sink: PipelineSpecInput['sink'], env: Record<string, string>): Promise<{ seconds: number; file: FileResult }> {
  const spec = parsePipelineSpec({ name: 'bench', source: { container: ctx.container.containerName, prefix: blob }, sink });
  const ref = await blobRef(ctx, blob);
  let file: FileResult | undefined;
  const seconds = await ctx.time(async () => {
    file = await copyBlob(spec, ref, { runId: `bench-${Date.now()}`, env });
  });
  if (file!.status !== 'Succeeded') throw new Error(`bench load of ${blob} into ${String(sink.table)}: ${file!.status} ${file!.error?.message ?? ''}`);
  return { seconds, file: file! };
}

/** A ledger schema per scenario run, so re-runs load again instead of reporting Skipped. */
export function benchEnv(ctx: BenchContext, tag: string): Record<string, string> {
  return { ...ctx.env, BLOB2PG_LEDGER_SCHEMA: `bench_ledger_${tag}_${Date.now()}` };
}
