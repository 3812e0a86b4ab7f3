/**
 * `npm run bench`: measures blob2pg against its baselines in ONE run on ONE machine, so
 * the ratios are meaningful even on a noisy shared host. Starts its own Azurite and
 * PostgreSQL (or uses SOURCE_STORAGE / TARGET_POSTGRES).
 *
 *   BENCH_ROWS=5000000   rows in the standard narrow CSV (default 5M, ~250 MB)
 *   BENCH_REPEAT=3       interleaved rounds per comparison; the median ratio and its range are reported
 *   BENCH_ONLY=copy,formats   scenarios to run (copy, bulkInsert, upsert, formats, orchestrator, skipMode, startup, sweep)
 *   BENCH_BIG_GB=2       also load a blob of this many GB and report peak RSS (0 = skip)
 *   BENCH_PGLOADER=0     skip the pgloader baseline (it takes ~2 minutes at 5M rows)
 *   BENCH_PG_MAJOR=15    run on embedded PostgreSQL 15 (13-18) instead of 18
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { BlobServiceClient } from '@azure/storage-blob';
import { startLocalServices, type LocalServices } from '../src/cli/localServices.js';
import { parsePipelineSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/local/run.js';
import { closePools } from '../src/sink/index.js';
import { NARROW_COLUMNS, NARROW_HEADER, writeNarrowCsv } from './narrowCsv.js';
import type { BenchContext, BenchRow, BenchScenario } from './types.js';
import { interleave, median, ratios, spread, times, cpuMedians, type Contender } from './measure.js';

const exec = promisify(execFile);
const ROWS = Number(process.env.BENCH_ROWS ?? 5_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const BIG_GB = Number(process.env.BENCH_BIG_GB ?? 0);
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/** Samples this process's RSS while `fn` runs; returns [seconds, peak MB]. */
async function withPeakRss(fn: () => Promise<unknown>): Promise<[number, number]> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  try {
    const seconds = await time(fn);
    return [seconds, Math.round(peak / 2 ** 20)];
  } finally {
    clearInterval(timer);
  }
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);

async function copyScenario(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const table = 'bench_copy';
  const reset = () => ctx.pg.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} ${ctx.narrowColumns}`);
  const spec = parsePipelineSpec({ name: 'bench-copy', source: { container: ctx.container.containerName, prefix: ctx.csvBlob }, sink: { table: `public.${table}` } });
  const ledger = `bench_ledger_${Date.now()}`;
  let n = 0;
  let peakMb = 0;
  const blob2pg = async () => {
    // A fresh ledger schema per run: otherwise the second run is (correctly) Skipped.
    const [, peak] = await withPeakRss(async () => {
      const out = await runPipeline(spec, { env: { ...ctx.env, BLOB2PG_LEDGER_SCHEMA: `${ledger}_${n++}` } });
      if (out.status !== 'Succeeded' || out.rowsCopied !== ctx.rows) throw new Error(`blob2pg load failed: ${JSON.stringify(out.files[0]?.error ?? out.status)}`);
    });
    peakMb = Math.max(peakMb, peak);
  };
  const contenders: Contender[] = [
    { name: 'server COPY', prepare: reset, run: () => ctx.pg.query(`COPY ${table} FROM '${ctx.csvFile}' (FORMAT csv, HEADER true)`) },
    { name: 'blob2pg', prepare: reset, run: blob2pg },
  ];
  let psqlError: Error | undefined;
  try {
    await exec('psql', ['--version']);
    contenders.push({ name: 'psql \\copy', prepare: reset, run: () => exec('psql', [ctx.env.TARGET_POSTGRES!, '-q', '-c', `\\copy ${table} FROM '${ctx.csvFile}' (FORMAT csv, HEADER true)`]) });
  } catch (err) {
    psqlError = err as Error;
  }
  const m = await interleave(ctx.pg, contenders, REPEAT, (line) => log(`copy: ${line}`));
  const ours = m.get('blob2pg')!;
  const server = m.get('server COPY')!;
  const blobSeconds = median(ours.seconds);
  const size = (await stat(ctx.csvFile)).size;
  const mbps = (s: number) => `${fmt(size / 2 ** 20 / s, 1)} MB/s`;
  const vsServer = ratios(ours, server);
  rows.push({
    case: `CSV CopyCommand, ${ctx.rows.toLocaleString('en-US')} narrow rows, blob in Azurite`,
    baseline: "server-side COPY t FROM '/file'",
    seconds: blobSeconds,
    baselineSeconds: median(server.seconds),
    ratio: median(vsServer),
    target: '≥ 0.95×',
    notes: `${spread(vsServer)}; blob2pg ${times(ours)}, server COPY ${times(server)}; blob2pg ${mbps(blobSeconds)}, server COPY ${mbps(median(server.seconds))}; blob2pg ${cpuMedians(ours)}; server COPY ${cpuMedians(server)}; peak RSS ${peakMb} MB`,
  });
  const psql = m.get('psql \\copy');
  if (psql) {
    const vsPsql = ratios(ours, psql);
    rows.push({ case: 'same', baseline: 'psql \\copy of the local file', seconds: blobSeconds, baselineSeconds: median(psql.seconds), ratio: median(vsPsql), target: '≥ 1× (informative)', notes: `${spread(vsPsql)}; psql ${times(psql)}, ${mbps(median(psql.seconds))}` });
  } else {
    rows.push({ case: 'same', baseline: 'psql \\copy', seconds: blobSeconds, baselineSeconds: NaN, ratio: NaN, target: '—', notes: `psql not available: ${psqlError!.message.split('\n')[0]}` });
  }

  try {
    if (process.env.BENCH_PGLOADER === '0') throw new Error('BENCH_PGLOADER=0');
    await exec('pgloader', ['--version']);
    await reset();
    const url = new URL(ctx.env.TARGET_POSTGRES!);
    const pgloaderSeconds = await time(() =>
      exec('pgloader', ['--type', 'csv', '--field', 'id,ts,x,label,flag', '--with', 'skip header = 1', '--with', 'fields terminated by \',\'', ctx.csvFile, `${url.toString()}?tablename=${table}`], { maxBuffer: 1 << 24 }),
    );
    const { rows: loaded } = await ctx.pg.query(`SELECT count(*)::int AS n FROM ${table}`);
    rows.push({ case: 'same', baseline: 'pgloader on the local file', seconds: blobSeconds, baselineSeconds: pgloaderSeconds, ratio: pgloaderSeconds / blobSeconds, target: '≥ 8×', notes: `pgloader loaded ${loaded[0].n} rows` });
  } catch (err) {
    rows.push({ case: 'same', baseline: 'pgloader', seconds: blobSeconds, baselineSeconds: NaN, ratio: NaN, target: '≥ 8×', notes: `pgloader not run: ${(err as Error).message.split('\n')[0]}` });
  }
  await ctx.pg.query(`DROP TABLE IF EXISTS ${table}`);
  return rows;
}

/** A blob of BIG_GB built from blocks of the standard file (no extra disk), loaded once. */
async function bigBlobScenario(ctx: BenchContext): Promise<BenchRow[]> {
  const size = (await stat(ctx.csvFile)).size;
  const headerBytes = Buffer.byteLength(NARROW_HEADER);
  const blocks = Math.max(1, Math.ceil((BIG_GB * 2 ** 30) / size));
  const blob = ctx.container.getBlockBlobClient('big/narrow-big.csv');
  const ids: string[] = [];
  for (let i = 0; i < blocks; i++) {
    const id = Buffer.from(String(i).padStart(6, '0')).toString('base64');
    // Block 0 keeps the header; the others start after it.
    const start = i === 0 ? 0 : headerBytes;
    await blob.stageBlock(id, () => createReadStream(ctx.csvFile, { start }), size - start);
    ids.push(id);
  }
  await blob.commitBlockList(ids);
  const total = size + (blocks - 1) * (size - headerBytes);
  log(`staged a ${fmt(total / 2 ** 30)} GB blob`);
  await ctx.pg.query(`DROP TABLE IF EXISTS bench_big; CREATE TABLE bench_big ${ctx.narrowColumns}`);
  // Loaded by the real CLI in a child process, so the RSS is blob2pg's alone.
  const specFile = path.join(ctx.scratchDir, 'big.json');
  await writeFile(specFile, JSON.stringify({ name: 'bench-big', source: { container: ctx.container.containerName, prefix: 'big/' }, sink: { table: 'public.bench_big' } }));
  const cli = fileURLToPath(new URL('../cli/bin.js', import.meta.url));
  const started = performance.now();
  const child = spawn(process.execPath, [cli, 'run', specFile, '--json'], { env: { ...process.env, ...ctx.env, BLOB2PG_LEDGER_SCHEMA: `bench_big_${Date.now()}` }, stdio: ['ignore', 'pipe', 'inherit'] });
  let peakKb = 0;
  const sampler = setInterval(() => {
    readFile(`/proc/${child.pid}/status`, 'utf8')
      .then((status) => (peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))))
      .catch(() => undefined);
  }, 100);
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  const [code] = (await once(child, 'exit')) as [number];
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`blob2pg run exited ${code}: ${stdout}`);
  const peakMb = Math.round(peakKb / 1024);
  await ctx.pg.query('DROP TABLE bench_big');
  await blob.delete();
  return [{ case: `CSV CopyCommand, one ${fmt(total / 2 ** 30)} GB blob`, baseline: '—', seconds, baselineSeconds: NaN, ratio: NaN, target: 'peak RSS ≤ 200 MB', notes: `peak RSS of the blob2pg process ${peakMb} MB (VmHWM), ${fmt(total / 2 ** 20 / seconds, 1)} MB/s` }];
}

async function main(): Promise<void> {
  const scratchDir = await mkdtemp(path.join(tmpdir(), 'blob2pg-bench-'));
  // As root the server runs as the postgres OS user, which must read the CSV for COPY FROM file.
  await chmod(scratchDir, 0o755);
  let services: LocalServices | undefined;
  const env: Record<string, string> = {};
  if (process.env.SOURCE_STORAGE && process.env.TARGET_POSTGRES) {
    env.SOURCE_STORAGE = process.env.SOURCE_STORAGE;
    env.TARGET_POSTGRES = process.env.TARGET_POSTGRES;
  } else {
    services = await startLocalServices({ dir: scratchDir, persistent: false, maxPreparedTransactions: 16, postgresMajor: process.env.BENCH_PG_MAJOR ? Number(process.env.BENCH_PG_MAJOR) : undefined });
    env.SOURCE_STORAGE = services.storageConnectionString;
    env.TARGET_POSTGRES = services.postgresUrl;
  }
  const pool = new pg.Pool({ connectionString: env.TARGET_POSTGRES, max: 4 });
  // An idle client whose server goes away must not crash the bench with an unhandled 'error'.
  pool.on('error', (err) => log(`bench pool: ${err.message}`));
  try {
    const csvFile = path.join(scratchDir, 'narrow.csv');
    log(`generating ${ROWS.toLocaleString('en-US')} rows …`);
    const bytes = await writeNarrowCsv(csvFile, ROWS);
    await chmod(csvFile, 0o644);
    const container = BlobServiceClient.fromConnectionString(env.SOURCE_STORAGE).getContainerClient(`bench-${Date.now()}`);
    await container.create();
    const csvBlob = 'narrow/narrow.csv';
    log(`uploading ${fmt(bytes / 2 ** 20, 1)} MB to Azurite …`);
    await container.getBlockBlobClient(csvBlob).uploadFile(csvFile, { blockSize: 8 << 20, concurrency: 4 });
    const ctx: BenchContext = { env, rows: ROWS, repeat: REPEAT, csvFile, csvBlob, narrowColumns: NARROW_COLUMNS, container, pg: pool, time, log, scratchDir };

    const scenarios: Array<[string, BenchScenario]> = [['copy', copyScenario]];
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios');
    for (const file of (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.js')).sort()) {
      // Helper modules (no default scenario function) sit beside the scenarios.
      const scenario = (await import(path.join(dir, file))).default;
      if (typeof scenario === 'function') scenarios.push([path.basename(file, '.js'), scenario as BenchScenario]);
    }
    if (BIG_GB > 0) scenarios.push(['big', bigBlobScenario]);
    const results: BenchRow[] = [];
    for (const [name, scenario] of scenarios) {
      if (ONLY && !ONLY.includes(name)) continue;
      log(`scenario ${name} …`);
      try {
        results.push(...(await scenario(ctx)));
      } catch (err) {
        log(`scenario ${name} failed: ${(err as Error).stack}`);
        results.push({ case: name, baseline: '—', seconds: NaN, baselineSeconds: NaN, ratio: NaN, target: '—', notes: `FAILED: ${(err as Error).message}` });
      }
    }
    const lines = [
      `blob2pg benchmark — ${new Date().toISOString()}, node ${process.version}, ${ROWS.toLocaleString('en-US')} rows (${fmt(bytes / 2 ** 20, 1)} MB), median of ${REPEAT} interleaved rounds (ratios per round; range in the notes), load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`,
      '',
      '| case | baseline | blob2pg s | baseline s | ratio | target | notes |',
      '|---|---|---|---|---|---|---|',
      ...results.map((r) => `| ${r.case} | ${r.baseline} | ${fmt(r.seconds)} | ${fmt(r.baselineSeconds)} | ${Number.isNaN(r.ratio) ? '—' : `${fmt(r.ratio)}×`} | ${r.target} | ${r.notes ?? ''} |`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    await container.delete().catch(() => undefined);
  } finally {
    await pool.end();
    await closePools();
    await services?.stop();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

await main();
