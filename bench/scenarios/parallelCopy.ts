/**
 * One large CSV blob through 2 and 4 COPY streams (sink.parallelCopies, two-phase commit)
 * vs one stream, on the standard narrow file. Target: ≥ 1.4× with 2 streams on 2 cores.
 * Rounds interleave (1, 2, 4, then 4, 2, 1 …: bench/measure.ts) with a CHECKPOINT and no
 * autovacuum worker before each timed run, so no setting pays for the previous run's dirty
 * buffers; the row gives the median ratio and the range over the rounds
 * (BENCH_PARALLEL_RUNS, 3), and CPU seconds per GB of Node, Azurite and PostgreSQL.
 * Needs max_prepared_transactions > 0 (bench/run.ts starts the embedded server so).
 */
import type { BenchRow, BenchScenario } from '../types.js';
import { stat } from 'node:fs/promises';
import type { CpuSnapshot } from '../procCpu.js';
import { interleave, median, ratios, type Contender } from '../measure.js';
import { benchEnv, timedLoad } from './common.js';

const RUNS = Number(process.env.BENCH_PARALLEL_RUNS ?? 3);
const STREAMS = [1, 2, 4];

const medianCpu = (runs: CpuSnapshot[]): CpuSnapshot => ({
  node: median(runs.map((c) => c.node)),
  azurite: median(runs.map((c) => c.azurite)),
  postgres: median(runs.map((c) => c.postgres)),
});
const perGb = (c: CpuSnapshot, gb: number) => `Node ${(c.node / gb).toFixed(1)}, Azurite ${(c.azurite / gb).toFixed(1)}, PostgreSQL ${(c.postgres / gb).toFixed(1)}`;
const range = (c: CpuSnapshot[], pick: (s: CpuSnapshot) => number, gb: number) =>
  `${(Math.min(...c.map(pick)) / gb).toFixed(1)}–${(Math.max(...c.map(pick)) / gb).toFixed(1)}`;

const scenario: BenchScenario = async (ctx) => {
  const table = 'public.bench_parallel';
  const gb = (await stat(ctx.csvFile)).size / 1e9;
  const ledgers: string[] = [];
  const contenders = STREAMS.map((n): Contender => {
    let env: Record<string, string> = {};
    return {
      name: String(n),
      prepare: async () => {
        await ctx.pg.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} ${ctx.narrowColumns}`);
        env = benchEnv(ctx, `par${n}_${ledgers.length}`);
        ledgers.push(env.BLOB2PG_LEDGER_SCHEMA!);
      },
      run: async () => {
        const load = await timedLoad(ctx, ctx.csvBlob, { table, parallelCopies: n }, env);
        if (load.file.rowsCopied !== ctx.rows) throw new Error(`${n} streams loaded ${load.file.rowsCopied} rows, expected ${ctx.rows}`);
      },
    };
  });
  let measured;
  try {
    measured = await interleave(ctx.pg, contenders, RUNS, ctx.log);
  } finally {
    await ctx.pg.query(`DROP TABLE IF EXISTS ${table}`);
    for (const schema of ledgers) await ctx.pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
  const one = measured.get('1')!;
  for (const n of STREAMS) {
    const m = measured.get(String(n))!;
    ctx.log(`parallelCopies ${n}: CPU s/GB per run ${m.cpu.map((c) => perGb(c, gb)).join(' | ')}`);
  }
  return STREAMS.filter((n) => n > 1).map((n): BenchRow => {
    const m = measured.get(String(n))!;
    // Ratio per round (same round's one-stream time), so drift over the rounds cancels.
    const r = ratios(m, one);
    return {
      case: `CSV CopyCommand, ${ctx.rows.toLocaleString('en-US')} narrow rows, ${n} COPY streams (2PC)`,
      baseline: 'one stream, same blob',
      seconds: median(m.seconds),
      baselineSeconds: median(one.seconds),
      ratio: median(r),
      target: n === 2 ? '≥ 1.4× on 2 cores' : '(scaling)',
      notes:
        `median of ${RUNS} interleaved rounds (CHECKPOINT before each run); ratio range ${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)}×; ` +
        `one stream ${one.seconds.map((s) => s.toFixed(2)).join(' / ')} s, ${n} streams ${m.seconds.map((s) => s.toFixed(2)).join(' / ')} s; ` +
        `median CPU s/GB, one stream ${perGb(medianCpu(one.cpu), gb)}, ${n} streams ${perGb(medianCpu(m.cpu), gb)}; ` +
        `Node CPU s/GB range, one stream ${range(one.cpu, (c) => c.node, gb)}, ${n} streams ${range(m.cpu, (c) => c.node, gb)}`,
    };
  });
};

export default scenario;
