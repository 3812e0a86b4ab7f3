/**
 * BulkInsert vs CopyCommand on the same blob (the standard narrow file). Target ≥ 0.6×.
 * BulkInsert = batched `INSERT … SELECT unnest($1::type[]), …` of writeBatchSize rows,
 * split in Node (see src/sink/bulkInsert.ts); CopyCommand = bytes straight into COPY.
 * Fair rounds (bench/measure.ts: a fresh table and ledger before each run, CHECKPOINT, the
 * order reversed every other round), median ratio and range over BENCH_REPEAT rounds.
 */
import type { BenchRow, BenchScenario } from '../types.js';
import { cpuMedians, interleave, median, ratios, spread, times } from '../measure.js';
import { benchEnv, timedLoad } from './common.js';

const scenario: BenchScenario = async (ctx) => {
  const ledgers: string[] = [];
  const copied: Record<string, number[]> = { CopyCommand: [], BulkInsert: [] };
  const contender = (writeMethod: 'CopyCommand' | 'BulkInsert') => {
    const table = `public.bench_bulk_${writeMethod === 'CopyCommand' ? 'copy' : 'insert'}`;
    return {
      name: writeMethod,
      prepare: () => ctx.pg.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} ${ctx.narrowColumns}`),
      run: async () => {
        const env = benchEnv(ctx, `bulk${ledgers.length}`);
        ledgers.push(env.BLOB2PG_LEDGER_SCHEMA!);
        const load = await timedLoad(ctx, ctx.csvBlob, { table, writeMethod, ...(writeMethod === 'BulkInsert' ? { writeBatchSize: 10_000 } : {}) }, env);
        copied[writeMethod]!.push(load.file.rowsCopied);
      },
    };
  };
  try {
    const m = await interleave(ctx.pg, [contender('CopyCommand'), contender('BulkInsert')], ctx.repeat, (line) => ctx.log(`bulkInsert: ${line}`));
    const wrong = [...copied.CopyCommand!, ...copied.BulkInsert!].filter((n) => n !== ctx.rows);
    if (wrong.length) throw new Error(`a load copied ${wrong.join(', ')} rows, expected ${ctx.rows}`);
    const bulk = m.get('BulkInsert')!;
    const copy = m.get('CopyCommand')!;
    const perRound = ratios(bulk, copy);
    const row: BenchRow = {
      case: `CSV, BulkInsert (writeBatchSize 10,000), ${ctx.rows.toLocaleString('en')} narrow rows`,
      baseline: 'blob2pg CopyCommand, same blob',
      seconds: median(bulk.seconds),
      baselineSeconds: median(copy.seconds),
      ratio: median(perRound),
      target: '≥ 0.6×',
      notes: `${spread(perRound)}; BulkInsert ${times(bulk)}, CopyCommand ${times(copy)}; ${Math.round(ctx.rows / median(bulk.seconds)).toLocaleString('en')} rows/s; BulkInsert ${cpuMedians(bulk)}; CopyCommand ${cpuMedians(copy)}`,
    };
    return [row];
  } finally {
    await ctx.pg.query('DROP TABLE IF EXISTS public.bench_bulk_copy, public.bench_bulk_insert');
    for (const schema of ledgers) await ctx.pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
};

export default scenario;
