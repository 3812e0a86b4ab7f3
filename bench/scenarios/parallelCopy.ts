/**
 * One large CSV blob through 2 and 4 COPY streams (sink.parallelCopies, two-phase commit)
 * vs one stream, on the standard narrow file. Target: ≥ 1.4× with 2 streams on 2 cores.
 * Runs interleave (1, 2, 4, 1, 2, 4 …) so a noisy neighbour hits every setting alike;
 * the row gives the median ratio and the range over the runs (BENCH_PARALLEL_RUNS, 3).
 * Needs max_prepared_transactions > 0 (bench/run.ts starts the embedded server so).
 */
import type { BenchRow, BenchScenario } from '../types.js';
import { stat } from 'node:fs/promises';
import { cpuSince, cpuSnapshot, type CpuSnapshot } from '../procCpu.js';
import { benchEnv, timedLoad } from './common.js';

const RUNS = Number(process.env.BENCH_PARALLEL_RUNS ?? 3);
const STREAMS = [1, 2, 4];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const medianCpu = (runs: CpuSnapshot[]): CpuSnapshot => ({
  node: median(runs.map((c) => c.node)),
  azurite: median(runs.map((c) => c.azurite)),
  postgres: median(runs.map((c) => c.postgres)),
});
const perGb = (c: CpuSnapshot, gb: number) => `Node ${(c.node / gb).toFixed(1)}, Azurite ${(c.azurite / gb).toFixed(1)}, PostgreSQL ${(c.postgres / gb).toFixed(1)}`;

const scenario: BenchScenario = async (ctx) => {
  const table = 'public.bench_parallel';
  const reset = () => ctx.pg.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} ${ctx.narrowColumns}`);
  const seconds = new Map<number, number[]>(STREAMS.map((n) => [n, []]));
  // CPU seconds of Node, Azurite and PostgreSQL per load: steadier than wall time on a shared machine.
  const cpu = new Map<number, CpuSnapshot[]>(STREAMS.map((n) => [n, []]));
  const gb = (await stat(ctx.csvFile)).size / 1e9;
  const ledgers: string[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const n of STREAMS) {
        await reset();
        const env = benchEnv(ctx, `par${n}_${run}`);
        ledgers.push(env.BLOB2PG_LEDGER_SCHEMA!);
        const before = cpuSnapshot();
        const load = await timedLoad(ctx, ctx.csvBlob, { table, parallelCopies: n }, env);
        cpu.get(n)!.push(cpuSince(before));
        if (load.file.rowsCopied !== ctx.rows) throw new Error(`${n} streams loaded ${load.file.rowsCopied} rows, expected ${ctx.rows}`);
        ctx.log(`parallelCopies ${n}, run ${run + 1}: ${load.seconds.toFixed(2)} s, CPU s/GB ${perGb(cpu.get(n)!.at(-1)!, gb)}`);
        seconds.get(n)!.push(load.seconds);
      }
    }
  } finally {
    await ctx.pg.query(`DROP TABLE IF EXISTS ${table}`);
    for (const schema of ledgers) await ctx.pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
  const one = seconds.get(1)!;
  return STREAMS.filter((n) => n > 1).map((n): BenchRow => {
    const times = seconds.get(n)!;
    // Ratio per run (same run's one-stream time), so drift over the runs cancels.
    const ratios = times.map((s, run) => one[run]! / s);
    return {
      case: `CSV CopyCommand, ${ctx.rows.toLocaleString('en-US')} narrow rows, ${n} COPY streams (2PC)`,
      baseline: 'one stream, same blob',
      seconds: median(times),
      baselineSeconds: median(one),
      ratio: median(ratios),
      target: n === 2 ? '≥ 1.4× on 2 cores' : '(scaling)',
      notes:
        `median of ${RUNS} interleaved runs; ratio range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×; one stream ${one.map((s) => s.toFixed(2)).join(' / ')} s, ${n} streams ${times.map((s) => s.toFixed(2)).join(' / ')} s; ` +
        `median CPU s/GB, one stream ${perGb(medianCpu(cpu.get(1)!), gb)}, ${n} streams ${perGb(medianCpu(cpu.get(n)!), gb)}`,
    };
  });
};

export default scenario;
