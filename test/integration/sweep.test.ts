/**
 * Sweeps against the real Azurite and PostgreSQL, through the real orchestrator on the local
 * durable runtime: a sweep schedules copies only for versions the ledger does not have, and
 * a blob-created run outlasts a transient outage longer than a sweep's retry budget.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CopyBlobInput, ListBlobsPage, RunInput } from '../../src/app/plan.js';
import { RUN_ORCHESTRATOR } from '../../src/app/triggers.js';
import { withAppEnv } from '../../src/app/appEnv.js';
import { localRuntime } from '../../src/local/run.js';
import type { RunOutput } from '../../src/run/output.js';
import { createHarness, type Harness } from '../support/harness.js';
import { zipStored } from '../support/zipFixture.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('sweep');
});
afterAll(async () => h?.close());

it('a sweep over N loaded + k new blobs schedules copies of the k only, and counts the N as skipped', async () => {
  const N = 40;
  const k = 3;
  const t = await h.table('s', 'id int');
  for (let i = 0; i < N; i++) await h.upload(`s/${String(i).padStart(3, '0')}.csv`, `id\n${i}\n`);
  const spec = h.spec({ source: { prefix: 's/' }, sink: { table: t } });
  const runtime = await localRuntime({ timerScale: 0 });
  const run = (id: string) =>
    withAppEnv(h.env, async () => (await runtime.waitForCompletion(await runtime.startNew(RUN_ORCHESTRATOR, { instanceId: id, input: { spec } satisfies RunInput }))).output as RunOutput);
  expect(await run('first')).toMatchObject({ status: 'Succeeded', filesRead: N });
  for (let i = N; i < N + k; i++) await h.upload(`s/${String(i).padStart(3, '0')}.csv`, `id\n${i}\n`);

  const second = await run('second');
  expect(second).toMatchObject({ status: 'Succeeded', filesRead: k, filesSkipped: N, files: [] });
  const copied = runtime.activityLog.filter((a) => a.instanceId === 'second' && a.name === 'copyBlob');
  const history = runtime.historyOf('second');
  const scheduled = history.filter((e) => e.EventType === 4 && e.Name === 'copyBlob').flatMap((e) => (JSON.parse(e.Input as string) as CopyBlobInput).refs.map((r) => r.name));
  expect(copied).toHaveLength(k);
  expect(scheduled.sort()).toEqual(['s/040.csv', 's/041.csv', 's/042.csv']);
  // The listing's output in the history names the new blobs only.
  const listing = history.find((e) => e.EventType === 5 && e.TaskScheduledId === 0)!;
  expect(JSON.parse(listing.Result as string)).toMatchObject({ listed: N + k, loaded: N, blobs: [{ name: 's/040.csv' }, { name: 's/041.csv' }, { name: 's/042.csv' }] });
  expect(await h.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM "${h.schema}".s`)).toEqual([{ n: N + k, d: N + k }]);
});

it('a blob-created run outlasts a transient outage longer than one retry budget: loaded once, attempts in the output', async () => {
  const t = await h.table('o', 'id int');
  // The first 8 loads fail as a server that is starting up does (57P03, transient); a
  // sequence, because it counts across the rolled-back attempts.
  await h.query(`CREATE SEQUENCE "${h.schema}".outage`);
  const ref = await h.upload('o/a.csv', 'id\n1\n2\n3\n');
  const spec = h.spec({
    name: 'outage',
    source: { prefix: 'o/' },
    sink: { table: t, preCopyScript: `DO $$ BEGIN IF nextval('"${h.schema}".outage') <= 8 THEN RAISE EXCEPTION 'the database system is starting up' USING ERRCODE = '57P03'; END IF; END $$` },
    triggers: [{ type: 'BlobCreated', retryForHours: 2 }],
  });
  const runtime = await localRuntime({ timerScale: 0 });
  const status = await withAppEnv(h.env, async () => {
    const input: RunInput = { spec, blobs: [{ name: 'o/a.csv', etag: ref.etag, size: 10, lastModified: new Date().toISOString() }] };
    return runtime.waitForCompletion(await runtime.startNew(RUN_ORCHESTRATOR, { instanceId: 'outage-event', input }));
  });
  expect(status.runtimeStatus).toBe('Completed');
  expect(status.output).toMatchObject({ status: 'Succeeded', filesRead: 1, rowsCopied: 3, files: [{ blob: 'o/a.csv', status: 'Succeeded', attempts: 9 }] });
  expect(runtime.activityLog.filter((a) => a.instanceId === 'outage-event' && a.name === 'copyBlob')).toHaveLength(9);
  // Durable timers between the attempts: eight of them, past the five a sweep would try.
  expect(runtime.historyOf('outage-event').filter((e) => e.EventType === 11)).toHaveLength(8);
  expect(await h.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM "${h.schema}".o`)).toEqual([{ n: 3, d: 3 }]);
  expect(await h.query(`SELECT count(*)::int AS n FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions WHERE target_table = $1`, [`${h.schema}.o`])).toEqual([{ n: 1 }]);
});

describe('high-water mark (source.highWaterMark)', () => {
  const mark = async (table: string) =>
    (await h.query<{ m: Date }>(`SELECT modified_after AS m FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".sweep_marks WHERE target_table = $1`, [table])).map((r) => r.m.toISOString());
  /** Waits until the wall clock enters a new second (Last-Modified has whole seconds). */
  const nextSecond = () => new Promise((r) => setTimeout(r, 1_050 - (Date.now() % 1_000)));

  it('a sweep after the mark lists and schedules only what is newer; a failed blob holds the mark back; the ledger still guards', async () => {
    const t = await h.table('hw', 'id int');
    const spec = h.spec({ name: 'hw', source: { prefix: 'hw/', highWaterMark: { marginMinutes: 0 } }, sink: { table: t } });
    for (let i = 0; i < 5; i++) await h.upload(`hw/${i}.csv`, `id\n${i}\n`);
    await nextSecond();
    await h.upload('hw/5.csv', 'id\n5\n');
    const runtime = await localRuntime({ timerScale: 0 });
    const run = (id: string, input: RunInput = { spec }) =>
      withAppEnv(h.env, async () => (await runtime.waitForCompletion(await runtime.startNew(RUN_ORCHESTRATOR, { instanceId: id, input }))).output as RunOutput);
    const listing = (id: string) => JSON.parse(runtime.historyOf(id).find((e) => e.EventType === 5 && e.TaskScheduledId === 0)!.Result as string) as ListBlobsPage;
    const copied = (id: string) =>
      runtime.historyOf(id).filter((e) => e.EventType === 4 && e.Name === 'copyBlob').flatMap((e) => (JSON.parse(e.Input as string) as CopyBlobInput).refs.map((r) => r.name)).sort();

    expect(await run('hw-1')).toMatchObject({ status: 'Succeeded', filesRead: 6 });
    // The mark is the newest blob the sweep saw (no later than the listing's start).
    const newest = (await h.container.getBlobClient('hw/5.csv').getProperties()).lastModified!.toISOString();
    expect(await mark(t)).toEqual([newest]);

    await h.upload('hw/6.csv', 'id\n6\n');
    await h.upload('hw/7.csv', 'id\nnot a number\n');
    const second = await run('hw-2');
    // Without the mark the listing would look at all 8 and find 6 loaded; with it, at the
    // blobs modified since the mark: 5.csv (same second as the mark, found loaded), 6 and 7.
    expect(listing('hw-2')).toMatchObject({ listed: 3, loaded: 1 });
    expect(copied('hw-2')).toEqual(['hw/6.csv', 'hw/7.csv']);
    expect(second).toMatchObject({ status: 'PartiallySucceeded', filesRead: 1, filesFailed: 1 });
    // A failed blob: the mark stays, so 7.csv stays in view.
    expect(await mark(t)).toEqual([newest]);

    await h.upload('hw/7.csv', 'id\n7\n');
    expect(await run('hw-3')).toMatchObject({ status: 'Succeeded', filesRead: 1, filesSkipped: 2 });
    expect(copied('hw-3')).toEqual(['hw/7.csv']);
    const advanced = (await h.container.getBlobClient('hw/7.csv').getProperties()).lastModified!.toISOString();
    expect(await mark(t)).toEqual([advanced]);

    // Older than the mark and not in the ledger (its row deleted by hand): a sweep does not
    // look at it — it is loaded by name (or an event), and the ledger stops a second load.
    await h.query(`DELETE FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions WHERE target_table = $1 AND blob_url LIKE '%/hw/0.csv'`, [t]);
    await h.query(`DELETE FROM ${t} WHERE id = 0`);
    await nextSecond();
    expect(await run('hw-4')).toMatchObject({ status: 'Succeeded', filesRead: 0 });
    expect(listing('hw-4').blobs).toEqual([]);
    expect(await run('hw-5', { spec, blobNames: ['hw/0.csv', 'hw/1.csv'] })).toMatchObject({ status: 'Succeeded', filesRead: 1, filesSkipped: 1 });
    expect(await h.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM ${t}`)).toEqual([{ n: 8, d: 8 }]);
  });

  it('an archive has a ledger row of its own: the next sweep does not schedule it again', async () => {
    const t = await h.table('arc', 'id int');
    await h.upload('arc/a.csv.gz', gzipSync('id\n1\n'));
    await h.upload('arc/b.zip', zipStored([['x.csv', 'id\n2\n', true]]));
    const spec = h.spec({ name: 'arc', source: { prefix: 'arc/' }, sink: { table: t } });
    const runtime = await localRuntime({ timerScale: 0 });
    const run = (id: string) =>
      withAppEnv(h.env, async () => (await runtime.waitForCompletion(await runtime.startNew(RUN_ORCHESTRATOR, { instanceId: id, input: { spec } satisfies RunInput }))).output as RunOutput);
    expect(await run('arc-1')).toMatchObject({ status: 'Succeeded', filesRead: 2 });
    expect(await run('arc-2')).toMatchObject({ status: 'Succeeded', filesRead: 0, filesSkipped: 2 });
    expect(runtime.activityLog.filter((a) => a.instanceId === 'arc-2' && a.name === 'copyBlob')).toHaveLength(0);
  });
});
