/**
 * A sweep that costs what is new: a container of 100,000 blobs the ledger already has, plus
 * 10 new ones, swept by the run orchestrator (local durable runtime: ledger-filtered listing
 * pages, continueAsNew per page) against listing the same container alone, in the same run.
 * Also reports the largest orchestration history of the sweep (JSON bytes, as stored) and
 * what the setup cost.
 *
 * The setup is made fast so 100,000 is the default (BENCH_SWEEP_BLOBS changes it):
 *  - its own Azurite with --inMemoryPersistence (on disk each PUT also writes an extent file)
 *    and lokiNameFirst preloaded: Azurite's LokiJS store looks a blob up with
 *    `{ accountName, containerName, name, snapshot }`, and LokiJS evaluates that implicit
 *    $and in key order, so the binary index it uses is accountName's, which every blob
 *    matches — each PUT scanned the whole account (measured here: 6,000 PUTs 28 s, the next
 *    6,000 67 s; with the name first, 11 s and 9 s). Putting an equality on `name` first
 *    changes no result, only which index answers; real Blob Storage has no such scan. The
 *    listing baseline and the sweep run against the same Azurite, so the ratio stays fair;
 *  - the blobs go up as bare PUT Blob requests over keep-alive sockets, 128 in flight, signed
 *    once with a container SAS (the SDK's request pipeline costs more client CPU per tiny
 *    blob than Azurite does);
 *  - "already loaded" is the ledger's state, written straight from the listing's names and
 *    ETags by one INSERT … SELECT unnest: what the sweep sees is the same as after 100,000
 *    loads, and it is the state a real container reaches.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { BlobServiceClient, ContainerSASPermissions } from '@azure/storage-blob';
import { withAppEnv } from '../../src/app/appEnv.js';
import type { RunInput } from '../../src/app/plan.js';
import { RUN_ORCHESTRATOR } from '../../src/app/plan.js';
import { startAzurite } from '../../src/cli/localServices.js';
import { ledgerKey } from '../../src/load/index.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';
import { localRuntime } from '../../src/local/run.js';
import type { RunOutput } from '../../src/run/output.js';
import { poolFor } from '../../src/sink/index.js';
import { ensureLedger, ledgerSchemaName } from '../../src/sink/ledger.js';
import { quoteIdent } from '../../src/sink/sql.js';
import { normalizeEtag } from '../../src/source/blobs.js';
import type { BenchContext, BenchRow, BenchScenario } from '../types.js';

/** Preloaded into the benchmark's Azurite (see above): an equality on `name` is evaluated first. */
const lokiNameFirst = (azuritePackageJson: string) => `
const { createRequire } = require('node:module');
const loki = createRequire(${JSON.stringify(azuritePackageJson)})('lokijs');
const find = loki.Resultset.prototype.find;
loki.Resultset.prototype.find = function (query, firstOnly) {
  if (query && typeof query === 'object' && !Array.isArray(query) && typeof query.name === 'string' && Object.keys(query)[0] !== 'name') {
    query = { name: query.name, ...query };
  }
  return find.call(this, query, firstOnly);
};
`;

/** PUT Blob requests in flight while filling the container. */
const UPLOAD_CONCURRENCY = 128;

/** Uploads `count` one-row CSV blobs named by `name(i)` as bare PUT Blob requests (SAS-signed URL, keep-alive). */
async function putBlobs(containerSasUrl: string, name: (i: number) => string, from: number, to: number): Promise<void> {
  const sas = new URL(containerSasUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: UPLOAD_CONCURRENCY });
  let next = from;
  const put = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const body = Buffer.from(`id\n${i}\n`);
      const req = http.request(
        `${sas.origin}${sas.pathname}/${name(i)}${sas.search}`,
        { method: 'PUT', agent, headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2025-01-05', 'content-length': body.length, 'content-type': 'text/csv' } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`PUT ${name(i)}: HTTP ${res.statusCode}`))));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  try {
    await Promise.all(
      Array.from({ length: UPLOAD_CONCURRENCY }, async () => {
        while (next < to) await put(next++);
      }),
    );
  } finally {
    agent.destroy();
  }
}

const sweep: BenchScenario = async (ctx: BenchContext): Promise<BenchRow[]> => {
  const loaded = Number(process.env.BENCH_SWEEP_BLOBS ?? 100_000);
  const fresh = 10;
  const run = `sweep${Date.now().toString(36)}`;
  const setupStarted = performance.now();
  const preload = path.join(ctx.scratchDir, 'lokiNameFirst.cjs');
  await writeFile(preload, lokiNameFirst(createRequire(import.meta.url).resolve('azurite/package.json')));
  const azurite = await startAzurite({ dir: ctx.scratchDir, persistent: false, inMemory: true, preload });
  const env = { ...ctx.env, SOURCE_STORAGE: azurite.connectionString };
  const container = BlobServiceClient.fromConnectionString(env.SOURCE_STORAGE).getContainerClient(run);
  await container.create();
  await ctx.pg.query(`CREATE TABLE public.${run} (id int)`);
  const spec = parsePipelineSpec({ name: run, source: { container: run }, sink: { table: `public.${run}` }, maxParallelCopies: 8 });
  try {
    ctx.log(`sweep: uploading ${loaded.toLocaleString('en-US')} blobs …`);
    const sasUrl = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rcw'), expiresOn: new Date(Date.now() + 6 * 3_600_000) });
    const name = (i: number) => `in/${String(i).padStart(7, '0')}.csv`;
    const uploadStarted = performance.now();
    await putBlobs(sasUrl, name, 0, loaded);
    const uploadSeconds = (performance.now() - uploadStarted) / 1000;

    // The ledger rows of the "loaded" blobs, from the listing's own names and ETags.
    const ledgerStarted = performance.now();
    const names: string[] = [];
    const etags: string[] = [];
    for await (const item of container.listBlobsFlat()) {
      names.push(item.name);
      etags.push(normalizeEtag(item.properties.etag));
    }
    if (names.length !== loaded) throw new Error(`listed ${names.length} blobs after the upload, expected ${loaded}`);
    const first = ledgerKey(spec, { name: names[0]!, etag: etags[0]!, size: 0, lastModified: '' }, env);
    // Plain ASCII names: the ledger's URL is the container URL + the name (checked on the first).
    const urlPrefix = first.blobUrl.slice(0, first.blobUrl.length - names[0]!.length);
    if (urlPrefix + names[0] !== first.blobUrl) throw new Error(`unexpected ledger URL ${first.blobUrl}`);
    const schema = ledgerSchemaName(undefined, env);
    await ensureLedger(poolFor('TARGET_POSTGRES', env), schema);
    await ctx.pg.query(
      `INSERT INTO ${quoteIdent(schema)}.ingestions (target_table, blob_url, etag, pipeline, run_id, finished_at)
       SELECT $1, $2 || n, e, $5, 'bench', now() FROM unnest($3::text[], $4::text[]) AS k(n, e)`,
      [first.targetTable, urlPrefix, names, etags, run],
    );
    const ledgerSeconds = (performance.now() - ledgerStarted) / 1000;
    await putBlobs(sasUrl, name, loaded, loaded + fresh);
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    ctx.log(`sweep: ${loaded} blobs uploaded in ${uploadSeconds.toFixed(1)} s, listed into the ledger in ${ledgerSeconds.toFixed(1)} s; setup ${setupSeconds.toFixed(1)} s`);

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
          withAppEnv(env, async () => {
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
      notes: `setup ${setupSeconds.toFixed(0)} s (upload ${uploadSeconds.toFixed(0)} s at ${Math.round(loaded / uploadSeconds)} blobs/s, ledger ${ledgerSeconds.toFixed(1)} s); largest history ${(history.maxBytes / 1024).toFixed(1)} KB over ${history.generations} generation(s); sweeps ${fmt(sweepSeconds)} s, listings ${fmt(listSeconds)} s`,
    });
    return [row(0, `${fresh} new (loads them)`), row(1, '0 new')];
  } finally {
    await ctx.pg.query(`DROP TABLE IF EXISTS public.${run}`);
    await ctx.pg.query(`DELETE FROM ${quoteIdent(ledgerSchemaName(undefined, env))}.ingestions WHERE pipeline = $1`, [run]).catch(() => undefined);
    await azurite.stop();
  }
};

export default sweep;
