/**
 * Citus, when TARGET_POSTGRES is a Citus coordinator (e.g. a cluster test/citus/run.sh
 * starts; otherwise this scenario reports nothing): the standard CSV through blob2pg
 * CopyCommand into a hash-distributed table vs a server-side `COPY … FROM 'file'` into the
 * same distributed table, and Upsert of 1M rows (50 % existing keys) without a unique index
 * on the keys (UPDATE + INSERT, the only path Citus allows) vs with a primary key (ON CONFLICT).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { BenchRow, BenchScenario } from '../types.js';
import { benchEnv, timedLoad } from './common.js';

const scenario: BenchScenario = async (ctx) => {
  const citus = await ctx.pg.query<{ v: string | null }>(`SELECT (SELECT extversion FROM pg_extension WHERE extname = 'citus') AS v`);
  if (!citus.rows[0]?.v) {
    ctx.log('citus: TARGET_POSTGRES is not a Citus coordinator; nothing measured');
    return [];
  }
  const env = benchEnv(ctx, 'citus');
  const distribute = async (table: string, extra = '') => {
    await ctx.pg.query(`DROP TABLE IF EXISTS public.${table}`);
    await ctx.pg.query(`CREATE TABLE public.${table} ${ctx.narrowColumns}`);
    if (extra) await ctx.pg.query(`ALTER TABLE public.${table} ${extra}`);
    await ctx.pg.query(`SELECT create_distributed_table('public.${table}', 'id')`);
  };
  const tables = ['bench_citus_copy', 'bench_citus_server', 'bench_citus_pk', 'bench_citus_nokey'];
  try {
    await distribute('bench_citus_server');
    const serverSeconds = await ctx.time(() => ctx.pg.query(`COPY public.bench_citus_server FROM '${ctx.csvFile}' (FORMAT csv, HEADER true)`));
    await distribute('bench_citus_copy');
    const copy = await timedLoad(ctx, ctx.csvBlob, { table: 'public.bench_citus_copy' }, env);
    const rows: BenchRow[] = [
      {
        case: `Citus ${citus.rows[0].v}, CSV CopyCommand into a distributed table, ${ctx.rows.toLocaleString('en')} narrow rows`,
        baseline: "server-side COPY t FROM '/file' into the same distributed table",
        seconds: copy.seconds,
        baselineSeconds: serverSeconds,
        ratio: serverSeconds / copy.seconds,
        target: '≥ 0.95× (informative)',
        notes: `${Math.round(ctx.rows / copy.seconds).toLocaleString('en')} rows/s`,
      },
    ];

    const n = Math.min(1_000_000, ctx.rows);
    const file = path.join(ctx.scratchDir, 'citus-upsert.csv');
    const out = createWriteStream(file);
    out.write('id,ts,x,label,flag\n');
    for (let i = 1; i <= n; i++) if (!out.write(`${i},2026-01-01 00:00:00,${i * 0.5},new-${i},true\n`)) await once(out, 'drain');
    out.end();
    await once(out, 'finish');
    const blob = 'bench-citus-upsert.csv';
    await ctx.container.getBlockBlobClient(blob).uploadFile(file);
    const seconds: Record<string, number> = {};
    for (const [table, extra, keys] of [['bench_citus_pk', 'ADD PRIMARY KEY (id)', undefined], ['bench_citus_nokey', '', ['id']]] as const) {
      await distribute(table, extra);
      await ctx.pg.query(`INSERT INTO public.${table} SELECT g, now(), 0, 'old', false FROM generate_series(1, $1::int, 2) g`, [n]);
      const load = await timedLoad(ctx, blob, { table: `public.${table}`, writeMethod: 'Upsert', ...(keys && { upsertSettings: { keys: [...keys] } }) }, benchEnv(ctx, table));
      const check = await ctx.pg.query<{ n: string }>(`SELECT count(*) AS n FROM public.${table} WHERE label LIKE 'new-%'`);
      if (Number(check.rows[0]!.n) !== n) throw new Error(`citus upsert into ${table}: ${check.rows[0]!.n} rows updated of ${n}`);
      seconds[table] = load.seconds;
    }
    rows.push({
      case: `Citus, Upsert ${n.toLocaleString('en')} rows, 50 % existing, no unique index on the keys (UPDATE + INSERT)`,
      baseline: 'blob2pg Upsert with a primary key on the keys (INSERT … ON CONFLICT), same blob',
      seconds: seconds.bench_citus_nokey!,
      baselineSeconds: seconds.bench_citus_pk!,
      ratio: seconds.bench_citus_pk! / seconds.bench_citus_nokey!,
      target: 'informative',
      notes: `${Math.round(n / seconds.bench_citus_nokey!).toLocaleString('en')} rows/s`,
    });
    await ctx.container.getBlobClient(blob).deleteIfExists();
    return rows;
  } finally {
    for (const t of tables) await ctx.pg.query(`DROP TABLE IF EXISTS public.${t}`);
  }
};

export default scenario;
