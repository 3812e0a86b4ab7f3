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
import { interleave, median, ratios, spread, times, cpuMedians, type Contender } from '../measure.js';
import { benchEnv, blobRef } from './common.js';
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

interface FormatCase {
  name: string;
  table: string;
  blob: string;
  format: Record<string, unknown>;
  peakMb: number;
}

/** One format's contender: a fresh table before each run, the load timed, its peak RSS kept. */
function contender(ctx: BenchContext, c: FormatCase, ledgers: string[]): Contender {
  const spec = parsePipelineSpec({ name: `bench-${c.table}`, source: { container: ctx.container.containerName, prefix: c.blob, format: c.format }, sink: { table: c.table } });
  return {
    name: c.name,
    prepare: () => ctx.pg.query(`DROP TABLE IF EXISTS ${c.table}; CREATE TABLE ${c.table} ${ctx.narrowColumns}`),
    run: async () => {
      const ref = await blobRef(ctx, c.blob);
      // A fresh ledger schema per run: the next round would (correctly) skip the blob.
      const env = benchEnv(ctx, `formats${ledgers.length}`);
      ledgers.push(env.BLOB2PG_LEDGER_SCHEMA!);
      const { value, peakMb } = await withPeakRss(() => copyBlob(spec, ref, { runId: `bench-${Date.now()}`, env }));
      c.peakMb = Math.max(c.peakMb, peakMb);
      if (value.status !== 'Succeeded' || value.rowsCopied !== ctx.rows) throw new Error(`${c.table}: ${value.status} ${value.rowsCopied} rows ${value.error?.message ?? ''}`);
    },
  };
}

const scenario: BenchScenario = async (ctx) => {
  const jsonFile = path.join(ctx.scratchDir, 'narrow.jsonl');
  const parquetFile = path.join(ctx.scratchDir, 'narrow.parquet');
  ctx.log('formats: writing JSON Lines and Parquet versions of the narrow CSV');
  await writeJsonLines(ctx.csvFile, jsonFile);
  await writeParquetFile(ctx.csvFile, parquetFile);
  await ctx.container.getBlockBlobClient('narrow.jsonl').uploadFile(jsonFile);
  await ctx.container.getBlockBlobClient('narrow.parquet').uploadFile(parquetFile);

  const cases: FormatCase[] = [
    { name: 'CSV', table: 'bench_formats_csv', blob: ctx.csvBlob, format: { type: 'DelimitedText' }, peakMb: 0 },
    { name: 'JSON Lines', table: 'bench_formats_jsonl', blob: 'narrow.jsonl', format: { type: 'Json' }, peakMb: 0 },
    { name: 'Parquet (snappy)', table: 'bench_formats_parquet', blob: 'narrow.parquet', format: { type: 'Parquet' }, peakMb: 0 },
  ];
  // CSV, JSON, Parquet, then Parquet, JSON, CSV …: each format's ratio is to the CSV load of its own round.
  const ledgers: string[] = [];
  try {
    const m = await interleave(ctx.pg, cases.map((c) => contender(ctx, c, ledgers)), ctx.repeat, (line) => ctx.log(`formats: ${line}`));
    const csv = m.get('CSV')!;
    const rate = (s: number) => `${Math.round(ctx.rows / s).toLocaleString('en-US')} rows/s`;
    return cases.slice(1).map((c): BenchRow => {
      const r = m.get(c.name)!;
      const perRound = ratios(r, csv);
      return {
        case: `${c.name}, CopyCommand, ${ctx.rows.toLocaleString('en-US')} narrow rows`,
        baseline: 'CSV CopyCommand, same rows',
        seconds: median(r.seconds),
        baselineSeconds: median(csv.seconds),
        ratio: median(perRound),
        target: '≥ 0.5×',
        notes: `${spread(perRound)}; ${c.name} ${times(r)}, CSV ${times(csv)}; ${rate(median(r.seconds))} vs CSV ${rate(median(csv.seconds))}; ${cpuMedians(r)} (CSV ${cpuMedians(csv)}); peak RSS ${c.peakMb} MB (CSV ${cases[0]!.peakMb} MB)`,
      };
    });
  } finally {
    for (const c of cases) await ctx.pg.query(`DROP TABLE IF EXISTS ${c.table}`);
    for (const schema of ledgers) await ctx.pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
};

export default scenario;
