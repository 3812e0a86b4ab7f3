/**
 * A sweep that costs what is new: a container of 100,000 blobs the ledger already has, plus
 * 10 new ones, swept by the run orchestrator (local durable runtime: ledger-filtered listing
 * pages, continueAsNew per page) against listing the same container alone, in the same run.
 * Also reports the largest orchestration history of the sweep (JSON bytes, as stored).
 *
 * The 100,000 "loaded" blobs get their ledger rows directly (one INSERT … SELECT unnest),
 * not through 100,000 loads: what the sweep sees is the same, and the setup stays minutes.
 * BENCH_SWEEP_BLOBS scales the container (uploading 100,000 blobs to Azurite takes a few
 * minutes on a shared machine).
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { withAppEnv } from '../../src/app/appEnv.js';
import type { RunInput } from '../../src/app/plan.js';
import { RUN_ORCHESTRATOR } from '../../src/app/triggers.js';
import { ledgerKey } from '../../src/load/index.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';
import { localRuntime } from '../../src/local/run.js';
import type { RunOutput } from '../../src/run/output.js';
import { poolFor } from '../../src/sink/index.js';
import { ensureLedger, ledgerSchemaName } from '../../src/sink/ledger.js';
import { quoteIdent } from '../../src/sink/sql.js';
import { normalizeEtag } from '../../src/source/blobs.js';
import type { BenchContext, BenchRow, BenchScenario } from '../types.js';

const sweep: BenchScenario = async (ctx: BenchContext): Promise<BenchRow[]> => {
  const loaded = Number(process.env.BENCH_SWEEP_BLOBS ?? 100_000);
  const fresh = 10;
  const run = `sweep${Date.now().toString(36)}`;
  const container = BlobServiceClient.fromConnectionString(ctx.env.SOURCE_STORAGE!).getContainerClient(run);
  await container.create();
  await ctx.pg.query(`CREATE TABLE public.${run} (id int)`);
  const spec = parsePipelineSpec({ name: run, source: { container: run }, sink: { table: `public.${run}` }, maxParallelCopies: 8 });
  try {
    ctx.log(`sweep: uploading ${loaded.toLocaleString('en-US')} blobs …`);
    const uploadStarted = performance.now();
    const name = (i: number) => `in/${String(i).padStart(7, '0')}.csv`;
    let next = 0;
    const keys: Array<{ blobUrl: string; etag: string; targetTable: string }> = [];
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < loaded) {
          const i = next++;
          const response = await container.getBlockBlobClient(name(i)).uploadData(Buffer.from(`id\n${i}\n`));
          keys.push(ledgerKey(spec, { name: name(i), etag: normalizeEtag(response.etag!), size: 0, lastModified: '' }, ctx.env));
        }
      }),
    );
    const uploadSeconds = (performance.now() - uploadStarted) / 1000;
    const schema = ledgerSchemaName(undefined, ctx.env);
    await ensureLedger(poolFor('TARGET_POSTGRES', ctx.env), schema);
    await ctx.pg.query(
      `INSERT INTO ${quoteIdent(schema)}.ingestions (target_table, blob_url, etag, pipeline, run_id, finished_at)
       SELECT $1, u, e, $4, 'bench', now() FROM unnest($2::text[], $3::text[]) AS k(u, e)`,
      [keys[0]!.targetTable, keys.map((k) => k.blobUrl), keys.map((k) => k.etag), run],
    );
    for (let i = loaded; i < loaded + fresh; i++) await container.getBlockBlobClient(name(i)).uploadData(Buffer.from(`id\n${i}\n`));
    ctx.log(`sweep: ${loaded} blobs uploaded in ${uploadSeconds.toFixed(0)} s; ledger filled`);

    const listSeconds: number[] = [];
    const sweepSeconds: number[] = [];
    let output: RunOutput | undefined;
    let history = { maxBytes: 0, generations: 0 };
    for (let round = 0; round < 2; round++) {
      listSeconds.push(
        await ctx.time(async () => {
          let n = 0;
          for await (const _ of container.listBlobsFlat()) n++;
          if (n !== loaded + fresh) throw new Error(`listed ${n} blobs, expected ${loaded + fresh}`);
        }),
      );
      // The first sweep loads the 10; a second one finds nothing new (both are reported).
      const runtime = await localRuntime();
      const id = `${run}-${round}`;
      sweepSeconds.push(
        await ctx.time(() =>
          withAppEnv(ctx.env, async () => {
            output = (await runtime.waitForCompletion(await runtime.startNew(RUN_ORCHESTRATOR, { instanceId: id, input: { spec } satisfies RunInput }))).output as RunOutput;
          }),
        ),
      );
      const expected = round === 0 ? fresh : 0;
      if (output!.filesRead !== expected || output!.filesSkipped !== loaded + fresh - expected) {
        throw new Error(`sweep ${round}: ${output!.filesRead} loaded, ${output!.filesSkipped} skipped; expected ${expected} and ${loaded + fresh - expected}`);
      }
      const size = runtime.historySize(id)!;
      history = { maxBytes: Math.max(history.maxBytes, size.maxBytes), generations: size.generations };
    }
    const [rows] = (await ctx.pg.query(`SELECT count(*)::int AS n FROM public.${run}`)).rows as Array<{ n: number }>;
    if (rows!.n !== fresh) throw new Error(`the sweeps loaded ${rows!.n} rows, expected ${fresh}`);
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' / ');
    const row = (i: number, what: string): BenchRow => ({
      case: `sweep of ${loaded.toLocaleString('en-US')} loaded + ${what}`,
      baseline: 'listing the container alone',
      seconds: sweepSeconds[i]!,
      baselineSeconds: listSeconds[i]!,
      ratio: listSeconds[i]! / sweepSeconds[i]!,
      target: 'a small factor',
      notes: `largest history ${(history.maxBytes / 1024).toFixed(1)} KB over ${history.generations} generation(s); sweeps ${fmt(sweepSeconds)} s, listings ${fmt(listSeconds)} s`,
    });
    return [row(0, `${fresh} new (loads them)`), row(1, '0 new')];
  } finally {
    await ctx.pg.query(`DROP TABLE IF EXISTS public.${run}`);
    await container.delete().catch(() => undefined);
  }
};

export default sweep;
