/**
 * BulkInsert vs CopyCommand on the same blob (the standard narrow file). Target ≥ 0.6×.
 * BulkInsert = batched `INSERT … SELECT unnest($1::type[]), …` of writeBatchSize rows,
 * split in Node (see src/sink/bulkInsert.ts); CopyCommand = bytes straight into COPY.
 */
import type { BenchRow, BenchScenario } from '../types.js';
import { benchEnv, timedLoad } from './common.js';

const scenario: BenchScenario = async (ctx) => {
  const env = benchEnv(ctx, 'bulk');
  await ctx.pg.query('DROP TABLE IF EXISTS public.bench_bulk_copy, public.bench_bulk_insert');
  await ctx.pg.query(`CREATE TABLE public.bench_bulk_copy ${ctx.narrowColumns}`);
  await ctx.pg.query(`CREATE TABLE public.bench_bulk_insert ${ctx.narrowColumns}`);
  try {
    const copy = await timedLoad(ctx, ctx.csvBlob, { table: 'public.bench_bulk_copy', writeMethod: 'CopyCommand' }, env);
    ctx.log(`CopyCommand: ${copy.file.rowsCopied} rows in ${copy.seconds.toFixed(2)} s`);
    const bulk = await timedLoad(ctx, ctx.csvBlob, { table: 'public.bench_bulk_insert', writeMethod: 'BulkInsert', writeBatchSize: 10_000 }, env);
    ctx.log(`BulkInsert: ${bulk.file.rowsCopied} rows in ${bulk.seconds.toFixed(2)} s`);
    if (bulk.file.rowsCopied !== copy.file.rowsCopied) throw new Error(`row counts differ: ${bulk.file.rowsCopied} vs ${copy.file.rowsCopied}`);
    const row: BenchRow = {
      case: `CSV, BulkInsert (writeBatchSize 10,000), ${ctx.rows.toLocaleString('en')} narrow rows`,
      baseline: 'blob2pg CopyCommand, same blob',
      seconds: bulk.seconds,
      baselineSeconds: copy.seconds,
      ratio: copy.seconds / bulk.seconds,
      target: '≥ 0.6×',
      notes: `${Math.round(bulk.file.rowsCopied / bulk.seconds).toLocaleString('en')} rows/s`,
    };
    return [row];
  } finally {
    await ctx.pg.query('DROP TABLE IF EXISTS public.bench_bulk_copy, public.bench_bulk_insert');
    await ctx.pg.query(`DROP SCHEMA IF EXISTS ${env.BLOB2PG_LEDGER_SCHEMA} CASCADE`);
  }
};

export default scenario;
