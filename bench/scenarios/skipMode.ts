/**
 * Skip mode's value checks: `pg_input_is_valid` (PostgreSQL 16+) against the PL/pgSQL
 * helpers older servers use (src/sink/inputCheck.ts), forced on the same server, same blob,
 * same run. 1M narrow rows (capped at the standard row count), one bad value in every
 * 1,000 rows; CopyCommand with skipIncompatibleRows. Below 16 only the helpers can run: the
 * row then gives their time alone (run with BENCH_PG_MAJOR=15 to compare across servers).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { copyBlob } from '../../src/load/index.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';
import { inputCheckOptions } from '../../src/sink/inputCheck.js';
import { narrowRow, NARROW_HEADER } from '../narrowCsv.js';
import type { BenchScenario } from '../types.js';
import { benchEnv, blobRef } from './common.js';

const scenario: BenchScenario = async (ctx) => {
  const rows = Math.min(1_000_000, ctx.rows);
  const file = path.join(ctx.scratchDir, 'skip.csv');
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  out.write(NARROW_HEADER);
  for (let i = 1; i <= rows; i++) {
    const row = i % 1000 === 0 ? `${i},not a time,${i},bad-${i},t\n` : narrowRow(i);
    if (!out.write(row)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const blob = 'bench-skip.csv';
  await ctx.container.getBlockBlobClient(blob).uploadFile(file);
  const version = Number((await ctx.pg.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
  const major = Math.floor(version / 10000);

  const load = async (mode: 'native' | 'plpgsql' | 'no skip'): Promise<number> => {
    const table = `bench_skip_${mode.replace(' ', '_')}`;
    await ctx.pg.query(`DROP TABLE IF EXISTS public.${table}`);
    await ctx.pg.query(`CREATE TABLE public.${table} ${ctx.narrowColumns}`);
    const skip = mode !== 'no skip';
    const spec = parsePipelineSpec({
      name: 'bench',
      source: { container: ctx.container.containerName, prefix: blob },
      sink: { table: `public.${table}`, writeMethod: 'CopyCommand' },
      // Without skip mode the blob would fail on its first bad row: the reference loads the ts column as text.
      ...(skip ? { faultTolerance: { skipIncompatibleRows: true } } : {}),
    });
    if (!skip) await ctx.pg.query(`ALTER TABLE public.${table} ALTER ts TYPE text`);
    const ref = await blobRef(ctx, blob);
    inputCheckOptions.forcePlpgsql = mode === 'plpgsql';
    try {
      let result: Awaited<ReturnType<typeof copyBlob>> | undefined;
      const seconds = await ctx.time(async () => {
        result = await copyBlob(spec, ref, { runId: `bench-${Date.now()}`, env: benchEnv(ctx, `skip_${mode.replace(' ', '_')}`) });
      });
      const expected = skip ? rows / 1000 : 0;
      if (result!.status !== 'Succeeded' || result!.rowsSkipped !== Math.floor(expected)) {
        throw new Error(`skip bench (${mode}): ${result!.status}, ${result!.rowsSkipped} skipped ${result!.error?.message ?? ''}`);
      }
      ctx.log(`skip mode ${mode} on PostgreSQL ${major}: ${rows} rows in ${seconds.toFixed(2)} s`);
      return seconds;
    } finally {
      inputCheckOptions.forcePlpgsql = false;
      await ctx.pg.query(`DROP TABLE IF EXISTS public.${table}`);
    }
  };

  const modes = version >= 160000 ? (['no skip', 'native', 'plpgsql'] as const) : (['no skip', 'plpgsql'] as const);
  const best: Record<string, number> = {};
  // Two rounds, modes interleaved, best of each: the machine is shared and noisy.
  for (let round = 0; round < 2; round++) for (const mode of modes) best[mode] = Math.min(best[mode] ?? Infinity, await load(mode));
  const n = `${rows.toLocaleString('en-US')} rows, 1 bad in 1,000`;
  const rowsOut = [
    { case: `skip mode, PL/pgSQL helpers (PostgreSQL ${major}), ${n}`, baseline: 'same blob loaded without skip mode (ts as text)', seconds: best.plpgsql!, baselineSeconds: best['no skip']!, ratio: best['no skip']! / best.plpgsql!, target: '—', notes: 'best of 2, interleaved' },
  ];
  if (best.native !== undefined) {
    rowsOut.unshift({ case: `skip mode, pg_input_is_valid (PostgreSQL ${major}), ${n}`, baseline: 'same blob loaded without skip mode (ts as text)', seconds: best.native, baselineSeconds: best['no skip']!, ratio: best['no skip']! / best.native, target: '—', notes: 'best of 2, interleaved' });
    rowsOut.push({ case: `skip mode, PL/pgSQL helpers vs pg_input_is_valid, same server (${major})`, baseline: 'pg_input_is_valid', seconds: best.plpgsql!, baselineSeconds: best.native, ratio: best.native / best.plpgsql!, target: '—', notes: 'ratio < 1: the helpers are slower' });
  }
  return rowsOut;
};

export default scenario;
