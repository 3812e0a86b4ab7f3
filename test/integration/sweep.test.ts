/**
 * Sweeps against the real Azurite and PostgreSQL, through the real orchestrator on the local
 * durable runtime: a sweep schedules copies only for versions the ledger does not have, and
 * a blob-created run outlasts a transient outage longer than a sweep's retry budget.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CopyBlobInput, RunInput } from '../../src/app/plan.js';
import { RUN_ORCHESTRATOR } from '../../src/app/triggers.js';
import { withAppEnv } from '../../src/app/appEnv.js';
import { localRuntime } from '../../src/local/run.js';
import type { RunOutput } from '../../src/run/output.js';
import { createHarness, type Harness } from '../support/harness.js';

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
