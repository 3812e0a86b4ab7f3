/**
 * JSON Lines and Parquet vs CSV, CopyCommand, the same narrow rows (target ≥ 0.5× CSV's
 * throughput each). The JSON Lines and Parquet versions of the runner's CSV are written
 * here, streaming, then each file is loaded through copyBlob into its own table while the
 * process's RSS is sampled.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import { NARROW_PARQUET_SCHEMA } from '../narrowCsv.js';
import { copyBlob } from '../../src/load/index.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';
import type { BenchContext, BenchRow, BenchScenario } from '../types.js';

const BATCH = 250_000;

/** `id,ts,x,label,flag` lines (no quoting in the narrow set) → batches of typed rows. */
async function* csvBatches(file: string): AsyncGenerator<{ id: bigint[]; ts: string[]; x: number[]; label: string[]; flag: boolean[] }> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let batch = { id: [] as bigint[], ts: [] as string[], x: [] as number[], label: [] as string[], flag: [] as boolean[] };
  let header = true;
  for await (const line of lines) {
    if (header) {
      header = false;
      continue;
    }
    if (!line) continue;
    const [id, ts, x, label, flag] = line.split(',');
    batch.id.push(BigInt(id!));
    batch.ts.push(ts!);
    batch.x.push(Number(x));
    batch.label.push(label!);
    batch.flag.push(flag === 't' || flag === 'true');
    if (batch.id.length === BATCH) {
      yield batch;
      batch = { id: [], ts: [], x: [], label: [], flag: [] };
    }
  }
  if (batch.id.length) yield batch;
}

/** `2026-01-02 03:04:05[.ffffff]` → microseconds since the epoch (the text is UTC wall time). */
function micros(ts: string): bigint {
  const [date, time = '00:00:00'] = ts.split(/[ T]/);
  const [whole, frac = ''] = time.split('.');
  return BigInt(Date.parse(`${date}T${whole}Z`)) * 1000n + BigInt((frac + '000000').slice(0, 6));
}

export async function writeJsonLines(csvFile: string, out: string): Promise<void> {
  const stream = createWriteStream(out);
  for await (const b of csvBatches(csvFile)) {
    let text = '';
    for (let i = 0; i < b.id.length; i++) {
      text += `{"id":${b.id[i]},"ts":${JSON.stringify(b.ts[i])},"x":${b.x[i]},"label":${JSON.stringify(b.label[i])},"flag":${b.flag[i]}}\n`;
      if (text.length > 1 << 20) {
        if (!stream.write(text)) await once(stream, 'drain');
        text = '';
      }
    }
    if (!stream.write(text)) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
}

export async function writeParquetFile(csvFile: string, out: string): Promise<void> {
  const writer = new ParquetWriter({
    writer: fileWriter(out),
    schema: [...NARROW_PARQUET_SCHEMA] as SchemaElement[],
    codec: 'SNAPPY',
    statistics: false,
  });
  for await (const b of csvBatches(csvFile)) {
    writer.write({
      columnData: [
        { name: 'id', data: b.id },
        { name: 'ts', data: b.ts.map(micros) },
        { name: 'x', data: b.x },
        { name: 'label', data: b.label },
        { name: 'flag', data: b.flag },
      ],
      rowGroupSize: BATCH,
    });
  }
  writer.finish();
}

/** Peak RSS (MB) while `fn` runs, sampled every 20 ms. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const value = await fn();
    return { value, peakMb: Math.round(Math.max(peak, process.memoryUsage().rss) / 1048576) };
  } finally {
    clearInterval(timer);
  }
}

async function load(ctx: BenchContext, table: string, blob: string, format: Record<string, unknown>): Promise<{ seconds: number; peakMb: number }> {
  await ctx.pg.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} ${ctx.narrowColumns}`);
  const spec = parsePipelineSpec({ name: `bench-${table}`, source: { container: ctx.container.containerName, prefix: blob, format }, sink: { table } });
  const props = await ctx.container.getBlobClient(blob).getProperties();
  const ref = { name: blob, etag: props.etag!, size: props.contentLength ?? 0, lastModified: props.lastModified!.toISOString() };
  let peakMb = 0;
  const seconds = await ctx.time(async () => {
    const { value, peakMb: peak } = await withPeakRss(() => copyBlob(spec, ref, { runId: `bench-${Date.now()}`, env: ctx.env }));
    peakMb = peak;
    if (value.status !== 'Succeeded' || value.rowsCopied !== ctx.rows) throw new Error(`${table}: ${value.status} ${value.rowsCopied} rows ${value.error?.message ?? ''}`);
  });
  return { seconds, peakMb };
}

const scenario: BenchScenario = async (ctx) => {
  const jsonFile = path.join(ctx.scratchDir, 'narrow.jsonl');
  const parquetFile = path.join(ctx.scratchDir, 'narrow.parquet');
  ctx.log('formats: writing JSON Lines and Parquet versions of the narrow CSV');
  await writeJsonLines(ctx.csvFile, jsonFile);
  await writeParquetFile(ctx.csvFile, parquetFile);
  await ctx.container.getBlockBlobClient('narrow.jsonl').uploadFile(jsonFile);
  await ctx.container.getBlockBlobClient('narrow.parquet').uploadFile(parquetFile);

  const csv = await load(ctx, 'bench_formats_csv', ctx.csvBlob, { type: 'DelimitedText' });
  const json = await load(ctx, 'bench_formats_jsonl', 'narrow.jsonl', { type: 'Json' });
  const parquet = await load(ctx, 'bench_formats_parquet', 'narrow.parquet', { type: 'Parquet' });
  const rate = (s: number) => `${Math.round(ctx.rows / s).toLocaleString('en-US')} rows/s`;
  const row = (name: string, r: { seconds: number; peakMb: number }): BenchRow => ({
    case: `${name}, CopyCommand, ${ctx.rows.toLocaleString('en-US')} narrow rows`,
    baseline: 'CSV CopyCommand, same rows',
    seconds: r.seconds,
    baselineSeconds: csv.seconds,
    ratio: csv.seconds / r.seconds,
    target: '≥ 0.5×',
    notes: `${rate(r.seconds)} vs CSV ${rate(csv.seconds)}; peak RSS ${r.peakMb} MB (CSV ${csv.peakMb} MB)`,
  });
  return [row('JSON Lines', json), row('Parquet (snappy)', parquet)];
};

export default scenario;
