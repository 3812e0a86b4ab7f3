/**
 * 1,000 blobs × 1,000 rows through the Functions app's orchestrator (local durable
 * runtime: sub-orchestrations of 500, waves of maxParallelCopies = 8, small blobs grouped
 * 32 to a copy activity, one COPY and a ledger row per blob each) against one blob of the
 * same 1,000,000 rows through the same orchestrator. Target: the many-blob run takes at most 3× the time of the single blob.
 * BENCH_ORCH_BLOBS / BENCH_ORCH_ROWS scale it down for a quick look.
 */
import { parsePipelineSpec } from '../../src/pipeline/spec.js';
import { runPipeline } from '../../src/local/run.js';
import type { BenchContext, BenchRow, BenchScenario } from '../types.js';
import { interleave, median, ratios, spread, times, cpuMedians, type Contender } from '../measure.js';
import { benchEnv } from './common.js';

function csv(first: number, rows: number): string {
  const lines = ['id,ts,x,label,flag'];
  for (let id = first; id < first + rows; id++) lines.push(`${id},2026-11-20 10:${String(id % 60).padStart(2, '0')}:00,${(id * 0.37).toFixed(3)},label ${id},${id % 2 === 0}`);
  return lines.join('\n') + '\n';
}

const orchestrator: BenchScenario = async (ctx: BenchContext): Promise<BenchRow[]> => {
  const blobs = Number(process.env.BENCH_ORCH_BLOBS ?? 1000);
  const rowsPerBlob = Number(process.env.BENCH_ORCH_ROWS ?? 1000);
  const total = blobs * rowsPerBlob;
  const run = `orch${Date.now().toString(36)}`;
  const ledgers: string[] = [];
  await ctx.pg.query(`CREATE TABLE public.${run}_many ${ctx.narrowColumns}`);
  await ctx.pg.query(`CREATE TABLE public.${run}_one ${ctx.narrowColumns}`);
  try {
    ctx.log(`orchestrator: uploading ${blobs} blobs × ${rowsPerBlob} rows and one blob of ${total} rows`);
    let next = 0;
    const upload = async () => {
      while (next < blobs) {
        const b = next++;
        await ctx.container.getBlockBlobClient(`${run}/many/${String(b).padStart(5, '0')}.csv`).uploadData(Buffer.from(csv(b * rowsPerBlob, rowsPerBlob)));
      }
    };
    await Promise.all(Array.from({ length: 32 }, upload));
    let big = 'id,ts,x,label,flag\n';
    for (let b = 0; b < blobs; b++) big += csv(b * rowsPerBlob, rowsPerBlob).slice('id,ts,x,label,flag\n'.length);
    await ctx.container.getBlockBlobClient(`${run}/one/all.csv`).uploadData(Buffer.from(big), { concurrency: 8, blockSize: 8 * 1024 * 1024 });

    const spec = (what: 'many' | 'one') =>
      parsePipelineSpec({ name: `bench-${what}`, source: { container: ctx.container.containerName, prefix: `${run}/${what}/` }, sink: { table: `public.${run}_${what}` }, maxParallelCopies: 8 });
    const contender = (what: 'many' | 'one'): Contender => ({
      name: what,
      // An empty table and a fresh ledger schema each run: a second run would (correctly) skip every blob.
      prepare: () => ctx.pg.query(`TRUNCATE public.${run}_${what}`),
      run: async () => {
        const env = benchEnv(ctx, `${run}_${ledgers.length}`);
        ledgers.push(env.BLOB2PG_LEDGER_SCHEMA!);
        const out = await runPipeline(spec(what), { env });
        if (out.rowsCopied !== total) throw new Error(`rows copied (${what}): ${out.rowsCopied}, expected ${total}`);
      },
    });
    const m = await interleave(ctx.pg, [contender('one'), contender('many')], ctx.repeat, (line) => ctx.log(`orchestrator: ${line}`));
    const many = m.get('many')!;
    const one = m.get('one')!;
    const perRound = ratios(many, one);
    const seconds = median(many.seconds);
    const baselineSeconds = median(one.seconds);
    return [
      {
        case: `${blobs} blobs × ${rowsPerBlob} rows through the orchestrator`,
        baseline: `one blob of ${total} rows through the orchestrator`,
        seconds,
        baselineSeconds,
        ratio: median(perRound),
        target: '≥ 0.33× (≤ 3× the time)',
        notes: `${spread(perRound)}; many ${times(many)}, one ${times(one)}; ${Math.round(blobs / seconds)} blobs/s, ${Math.round(total / seconds)} rows/s vs ${Math.round(total / baselineSeconds)} rows/s; many ${cpuMedians(many)}; one ${cpuMedians(one)}`,
      },
    ];
  } finally {
    await ctx.pg.query(`DROP TABLE IF EXISTS public.${run}_many, public.${run}_one`);
    for (const schema of ledgers) await ctx.pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
};

export default orchestrator;
