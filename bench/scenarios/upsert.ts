/**
 * Upsert, 1M rows (capped at the standard file's row count), 50 % of the keys already in
 * the table: blob2pg Upsert vs a hand-written "COPY into a temp table, then INSERT … ON
 * CONFLICT" of the same blob, streamed from the same Azurite, in the same run, interleaved
 * (bench/measure.ts), median ratio and range over BENCH_REPEAT rounds. Target ≥ 0.95×.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { BenchRow, BenchScenario } from '../types.js';
import { interleave, median, ratios, spread, times, cpuMedians } from '../measure.js';
import { benchEnv, timedLoad } from './common.js';

const scenario: BenchScenario = async (ctx) => {
  const rows = Math.min(1_000_000, ctx.rows);
  const file = path.join(ctx.scratchDir, 'upsert.csv');
  const out = createWriteStream(file);
  out.write('id,ts,x,label,flag\n');
  for (let i = 1; i <= rows; i++) {
    if (!out.write(`${i},2026-01-01 00:00:${String(i % 60).padStart(2, '0')},${i * 0.5},new-${i},${i % 2 === 0}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const blob = 'bench-upsert.csv';
  await ctx.container.getBlockBlobClient(blob).uploadFile(file);

  const tables = ['bench_upsert_blob2pg', 'bench_upsert_hand'];
  const ledgers: string[] = [];
  // Each side's table as the other found it: 500,000 old rows (odd keys), vacuumed and analysed.
  const reset = async (t: string) => {
    await ctx.pg.query(`DROP TABLE IF EXISTS public.${t}`);
    await ctx.pg.query(`CREATE TABLE public.${t} ${ctx.narrowColumns}`);
    await ctx.pg.query(`ALTER TABLE public.${t} ADD PRIMARY KEY (id)`);
    await ctx.pg.query(`INSERT INTO public.${t} SELECT g, now(), 0, 'old', false FROM generate_series(1, $1::int, 2) g`, [rows]);
    await ctx.pg.query(`VACUUM ANALYZE public.${t}`);
  };
  const hand = async () => {
    const client = await ctx.pg.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE hand_stage (LIKE public.bench_upsert_hand) ON COMMIT DROP');
      const download = await ctx.container.getBlobClient(blob).download();
      await pipeline(download.readableStreamBody as NodeJS.ReadableStream, client.query(copyFrom('COPY hand_stage FROM STDIN (FORMAT csv, HEADER true)')));
      await client.query(`INSERT INTO public.bench_upsert_hand SELECT * FROM hand_stage
        ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts, x = EXCLUDED.x, label = EXCLUDED.label, flag = EXCLUDED.flag`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  };
  const ours = async () => {
    const env = benchEnv(ctx, `upsert${ledgers.length}`);
    ledgers.push(env.BLOB2PG_LEDGER_SCHEMA!);
    const load = await timedLoad(ctx, blob, { table: 'public.bench_upsert_blob2pg', writeMethod: 'Upsert' }, env);
    if (load.file.rowsCopied !== rows) throw new Error(`blob2pg Upsert copied ${load.file.rowsCopied} rows, expected ${rows}`);
  };
  const check = async () => {
    const { rows: counts } = await ctx.pg.query<{ a: string; b: string }>(
      `SELECT (SELECT count(*) FROM public.bench_upsert_blob2pg WHERE label LIKE 'new-%') AS a, (SELECT count(*) FROM public.bench_upsert_hand WHERE label LIKE 'new-%') AS b`,
    );
    if (counts[0]!.a !== counts[0]!.b || Number(counts[0]!.a) !== rows) throw new Error(`upsert results differ: ${JSON.stringify(counts[0])}`);
  };
  try {
    const m = await interleave(
      ctx.pg,
      [
        { name: 'hand-written', prepare: () => reset('bench_upsert_hand'), run: hand },
        { name: 'blob2pg Upsert', prepare: () => reset('bench_upsert_blob2pg'), run: ours },
      ],
      ctx.repeat,
      (line) => ctx.log(`upsert: ${line}`),
    );
    await check();
    const mine = m.get('blob2pg Upsert')!;
    const base = m.get('hand-written')!;
    const perRound = ratios(mine, base);
    const row: BenchRow = {
      case: `CSV, Upsert, ${rows.toLocaleString('en')} rows, 50 % existing keys`,
      baseline: 'hand-written COPY ► temp ► INSERT … ON CONFLICT, same blob',
      seconds: median(mine.seconds),
      baselineSeconds: median(base.seconds),
      ratio: median(perRound),
      target: '≥ 0.95×',
      notes: `${spread(perRound)}; blob2pg ${times(mine)}, hand-written ${times(base)}; ${Math.round(rows / median(mine.seconds)).toLocaleString('en')} rows/s; blob2pg ${cpuMedians(mine)}; hand-written ${cpuMedians(base)}`,
    };
    return [row];
  } finally {
    for (const t of tables) await ctx.pg.query(`DROP TABLE IF EXISTS public.${t}`);
    for (const schema of ledgers) await ctx.pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await ctx.container.getBlobClient(blob).deleteIfExists();
  }
};

export default scenario;
