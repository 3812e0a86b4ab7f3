/**
 * Upsert, 1M rows (capped at the standard file's row count), 50 % of the keys already in
 * the table: blob2pg Upsert vs a hand-written "COPY into a temp table, then INSERT … ON
 * CONFLICT" of the same blob, streamed from the same Azurite, in the same run. Target ≥ 0.95×.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { BenchRow, BenchScenario } from '../types.js';
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

  const env = benchEnv(ctx, 'upsert');
  const tables = ['bench_upsert_blob2pg', 'bench_upsert_hand'];
  const reset = async () => {
    for (const t of tables) {
      await ctx.pg.query(`DROP TABLE IF EXISTS public.${t}`);
      await ctx.pg.query(`CREATE TABLE public.${t} ${ctx.narrowColumns}`);
      await ctx.pg.query(`ALTER TABLE public.${t} ADD PRIMARY KEY (id)`);
      await ctx.pg.query(`INSERT INTO public.${t} SELECT g, now(), 0, 'old', false FROM generate_series(1, $1::int, 2) g`, [rows]);
      await ctx.pg.query(`VACUUM ANALYZE public.${t}`);
    }
  };
  try {
    await reset();
    const handSeconds = await ctx.time(async () => {
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
    });
    ctx.log(`hand-written COPY→temp→ON CONFLICT: ${rows} rows in ${handSeconds.toFixed(2)} s`);
    const ours = await timedLoad(ctx, blob, { table: 'public.bench_upsert_blob2pg', writeMethod: 'Upsert' }, env);
    ctx.log(`blob2pg Upsert: ${ours.file.rowsCopied} rows in ${ours.seconds.toFixed(2)} s`);
    const check = await ctx.pg.query<{ a: string; b: string }>(
      `SELECT (SELECT count(*) FROM public.bench_upsert_blob2pg WHERE label LIKE 'new-%') AS a, (SELECT count(*) FROM public.bench_upsert_hand WHERE label LIKE 'new-%') AS b`,
    );
    if (check.rows[0]!.a !== check.rows[0]!.b || Number(check.rows[0]!.a) !== rows) throw new Error(`upsert results differ: ${JSON.stringify(check.rows[0])}`);
    const row: BenchRow = {
      case: `CSV, Upsert, ${rows.toLocaleString('en')} rows, 50 % existing keys`,
      baseline: 'hand-written COPY ► temp ► INSERT … ON CONFLICT, same blob',
      seconds: ours.seconds,
      baselineSeconds: handSeconds,
      ratio: handSeconds / ours.seconds,
      target: '≥ 0.95×',
      notes: `${Math.round(rows / ours.seconds).toLocaleString('en')} rows/s`,
    };
    return [row];
  } finally {
    for (const t of tables) await ctx.pg.query(`DROP TABLE IF EXISTS public.${t}`);
    await ctx.pg.query(`DROP SCHEMA IF EXISTS ${env.BLOB2PG_LEDGER_SCHEMA} CASCADE`);
    await ctx.container.getBlobClient(blob).deleteIfExists();
  }
};

export default scenario;
