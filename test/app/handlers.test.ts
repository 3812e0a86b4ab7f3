/**
 * The registered trigger handlers, called as the host calls them (a real InvocationContext
 * / HttpRequest), starting orchestrations on the local durable runtime, against Azurite
 * and PostgreSQL: queue message → orchestration → rows in the table.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventInstanceId, instanceIdForEvent, parseBlobEvents } from '../../src/app/events.js';
import type { LocalDurableRuntime } from '../../src/local/durable.js';
import { registeredFunction } from '../../src/local/host.js';
import { handleBlobCreatedMessage, handleScheduleTick, handleStartRun, pipelineTargets, timerFunctionName } from '../../src/app/triggers.js';
import { appPipelines } from '../../src/app/pipelines.js';
import type { DurableStarter } from '../../src/app/starter.js';
import { logRunStart } from '../../src/runLog/start.js';
import type { RunOutput } from '../../src/run/output.js';
import { startLocalApp, stopLocalApp } from '../support/localApp.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let runtime: LocalDurableRuntime;
const logs: string[] = [];

function context(functionName: string): InvocationContext {
  return new InvocationContext({ functionName, invocationId: `${functionName}-${logs.length}`, logHandler: (level, ...args) => logs.push(`${level}: ${args.join(' ')}`) });
}

async function call(functionName: string, ...args: unknown[]): Promise<unknown> {
  return registeredFunction(functionName).callback(...args, context(functionName));
}

async function http(functionName: string, init: { method: string; path: string; body?: string; params?: Record<string, string> }): Promise<HttpResponseInit> {
  const request = new HttpRequest({ method: init.method, url: `http://localhost:7071/api/${init.path}`, body: init.body === undefined ? undefined : { string: init.body }, params: init.params });
  return (await call(functionName, request)) as HttpResponseInit;
}

function blobCreatedEvent(blob: string, etag: string, size: number) {
  return {
    id: `evt-${blob}`,
    topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
    subject: `/blobServices/default/containers/${h.container.containerName}/blobs/${blob}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: new Date().toISOString(),
    dataVersion: '',
    metadataVersion: '1',
    data: { api: 'PutBlob', eTag: etag.replace(/"/g, ''), contentType: 'text/csv', contentLength: size, blobType: 'BlockBlob', url: h.container.getBlobClient(blob).url },
  };
}

beforeAll(async () => {
  h = await createHarness('app');
  Object.assign(process.env, h.env);
  await h.query(`CREATE TABLE "${h.schema}".events (id int, name text)`);
  const dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-pipelines-'));
  const sink = { table: `${h.schema}.events` };
  const container = h.container.containerName;
  await writeFile(path.join(dir, 'events.json'), JSON.stringify({ name: 'events', source: { container, prefix: 'ev/', wildcard: '*.csv' }, sink, triggers: [{ type: 'BlobCreated' }] }));
  await writeFile(path.join(dir, 'sched.json'), JSON.stringify({ name: 'sched', source: { container, prefix: 'sched/' }, sink, triggers: [{ type: 'Schedule', schedule: '0 0 * * * *' }] }));
  await writeFile(path.join(dir, 'invalid.json'), '{ "name": "invalid", "source": {} ');
  runtime = await startLocalApp(dir);
});

afterAll(async () => {
  stopLocalApp();
  await h?.close();
});

describe('blob-created queue trigger', () => {
  it('loads the blob of an Event Grid BlobCreated message end to end; a duplicate starts nothing', async () => {
    const body = 'id,name\n1,one\n2,two\n';
    const { etag } = await h.upload('ev/a.csv', body);
    const message = blobCreatedEvent('ev/a.csv', etag, body.length);
    await call('blobCreated', message);
    const id = eventInstanceId('events', h.container.containerName, 'ev/a.csv', etag);
    const status = await runtime.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toMatchObject({ pipeline: 'events', runId: id, status: 'Succeeded', filesRead: 1, rowsCopied: 2 } satisfies Partial<RunOutput>);
    expect(status.customStatus).toEqual({ filesTotal: 1, filesDone: 1, filesFailed: 0, rowsCopied: 2 });
    expect(await h.query(`SELECT id, name FROM "${h.schema}".events ORDER BY id`)).toEqual([
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ]);

    // Event Grid delivers at least once: the same event again (here base64-encoded, as a
    // queue holds it when the host does not decode it) starts no orchestration.
    const copies = runtime.activityLog.length;
    await call('blobCreated', Buffer.from(JSON.stringify(message)).toString('base64'));
    expect(runtime.activityLog.length).toBe(copies);
    expect(logs.some((l) => l.includes(`duplicate event for ${h.container.containerName}/ev/a.csv`))).toBe(true);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".events`)).toEqual([{ n: 2 }]);

    // The ledger knows that blob version whichever way it is reached next: listed, or named.
    for (const body of [undefined, JSON.stringify({ blobs: ['ev/a.csv'] })]) {
      const response = await http('startPipelineRun', { method: 'POST', path: 'pipelines/events/runs', body, params: { name: 'events' } });
      const rerun = await runtime.waitForCompletion((response.jsonBody as { id: string }).id);
      expect(rerun.output).toMatchObject({ status: 'Succeeded', filesRead: 0, filesSkipped: 1, rowsCopied: 0 });
    }
  });

  it('a redelivered event for a version the run did not load starts the run again (a loaded one stays a duplicate)', async () => {
    // A check the row breaks: the run ends with the blob Failed.
    await h.query(`ALTER TABLE "${h.schema}".events ADD CONSTRAINT not_eight CHECK (id <> 8)`);
    const body = 'id,name\n8,eight\n';
    const { etag } = await h.upload('ev/late.csv', body);
    const message = blobCreatedEvent('ev/late.csv', etag, body.length);
    const id = eventInstanceId('events', h.container.containerName, 'ev/late.csv', etag);
    await call('blobCreated', message);
    expect((await runtime.waitForCompletion(id)).output).toMatchObject({ status: 'Failed', filesFailed: 1 });
    // Fixed by the operator; Event Grid delivers the event again: the run starts over and loads it.
    await h.query(`ALTER TABLE "${h.schema}".events DROP CONSTRAINT not_eight`);
    await call('blobCreated', message);
    expect(logs.some((l) => l.includes(`restarted ${id}`) && l.includes('with status Failed'))).toBe(true);
    expect((await runtime.waitForCompletion(id)).output).toMatchObject({ status: 'Succeeded', filesRead: 1, rowsCopied: 1 });
    const copies = runtime.activityLog.length;
    await call('blobCreated', message);
    expect(runtime.activityLog.length).toBe(copies);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".events WHERE id = 8`)).toEqual([{ n: 1 }]);
  });

  it('loads a file renamed into place (BlobRenamed: no ETag) by name; a redelivery starts nothing', async () => {
    await h.upload('ev/renamed.csv', 'id,name\n7,seven\n');
    const url = h.container.getBlobClient('ev/renamed.csv').url;
    const renamed = {
      id: 'evt-renamed',
      subject: `/blobServices/default/containers/${h.container.containerName}/blobs/ev/renamed.csv`,
      eventType: 'Microsoft.Storage.BlobRenamed',
      eventTime: new Date().toISOString(),
      data: { api: 'RenameFile', sourceUrl: url.replace('renamed.csv', 'tmp.part'), destinationUrl: url, sequencer: '0000000000000000000000000000ABCD' },
    };
    await call('blobCreated', renamed);
    const id = instanceIdForEvent('events', parseBlobEvents(renamed).events[0]!);
    const status = await runtime.waitForCompletion(id);
    expect(status.output).toMatchObject({ pipeline: 'events', status: 'Succeeded', filesRead: 1, rowsCopied: 1, files: [] });
    expect(runtime.activityLog.filter((a) => a.instanceId === id && a.name === 'listBlobs')).toHaveLength(1);
    const before = runtime.activityLog.length;
    await call('blobCreated', renamed);
    expect(runtime.activityLog.length).toBe(before);
    expect(await h.query(`SELECT name FROM "${h.schema}".events WHERE id = 7`)).toEqual([{ name: 'seven' }]);
  });

  it('drops events for blobs no pipeline matches, logged at warning level', async () => {
    const before = runtime.activityLog.length;
    await call('blobCreated', blobCreatedEvent('other/x.csv', '"0x1"', 10));
    await call('blobCreated', blobCreatedEvent('ev/x.txt', '"0x2"', 10));
    expect(runtime.activityLog.length).toBe(before);
    expect(logs.filter((l) => l.startsWith('warning: no pipeline loads'))).toHaveLength(2);
  });

  it('a message that is not an event fails the invocation (the queue retries, then poisons it)', async () => {
    await expect(call('blobCreated', 'not json at all')).rejects.toThrow(/cannot parse the queue message/);
  });
});

describe('HTTP API', () => {
  it('POST /api/pipelines/{name}/runs → 202 with check-status URLs; GET /api/runs/{id} → status, progress, output', async () => {
    await h.upload('ev/b.csv', 'id,name\n10,ten\n');
    await h.upload('ev/c.csv', 'id,name\n11,eleven\n');
    const response = await http('startPipelineRun', { method: 'POST', path: 'pipelines/events/runs', body: JSON.stringify({ blobs: ['ev/b.csv'] }), params: { name: 'events' } });
    expect(response.status).toBe(202);
    const body = response.jsonBody as { id: string; statusQueryGetUri: string };
    expect(body.statusQueryGetUri).toMatch(new RegExp(`^http://localhost:7071/runtime/webhooks/durabletask/instances/${body.id}\\?`));
    expect((response.headers as Record<string, string>).Location).toBe(body.statusQueryGetUri);
    await runtime.waitForCompletion(body.id);
    const run = await http('getRun', { method: 'GET', path: `runs/${body.id}`, params: { id: body.id } });
    expect(run.status).toBe(200);
    expect(run.jsonBody).toMatchObject({
      id: body.id,
      runtimeStatus: 'Completed',
      progress: { filesTotal: 1, filesDone: 1, filesFailed: 0, rowsCopied: 1 },
      output: { status: 'Succeeded', filesRead: 1, rowsCopied: 1, files: [] },
    });
  });

  it('POST /api/runs names a deployed pipeline (blobs optional); bad bodies and bad JSON → 400 with field errors', async () => {
    await h.upload('ev/named.csv', 'id,name\n20,twenty\n');
    const ok = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ pipeline: 'events', blobs: ['ev/named.csv'] }) });
    expect(ok.status).toBe(202);
    const status = await runtime.waitForCompletion((ok.jsonBody as { id: string }).id);
    expect(status.output).toMatchObject({ pipeline: 'events', status: 'Succeeded', rowsCopied: 1, filesRead: 1, files: [] });

    const unknown = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ pipeline: 'nope' }) });
    expect(unknown.status).toBe(404);
    const both = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ pipeline: 'events', spec: {} }) });
    expect(both).toMatchObject({ status: 400, jsonBody: { errors: [{ path: 'pipeline' }] } });
    const extra = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ pipeline: 'events', connection: 'AzureWebJobsStorage' }) });
    expect(extra.status).toBe(400);
    const badJson = await http('startRun', { method: 'POST', path: 'runs', body: '{"name": ' });
    expect(badJson.status).toBe(400);
    expect((badJson.jsonBody as { error: string }).error).toMatch(/not valid JSON/);
    const badBody = await http('startPipelineRun', { method: 'POST', path: 'pipelines/events/runs', body: '{"blobs": "ev/b.csv"}', params: { name: 'events' } });
    expect(badBody).toMatchObject({ status: 400, jsonBody: { errors: [{ path: 'blobs' }] } });
    const tooMany = await http('startPipelineRun', { method: 'POST', path: 'pipelines/events/runs', body: JSON.stringify({ blobs: Array.from({ length: 1001 }, (_, i) => `ev/${i}.csv`) }), params: { name: 'events' } });
    expect(tooMany).toMatchObject({ status: 400, jsonBody: { errors: [{ path: 'blobs' }] } });
  });

  it('validate: true checks the deployed pipeline (connections, table, mapping) and starts nothing', async () => {
    const before = runtime.activityLog.length;
    const valid = await http('startPipelineRun', { method: 'POST', path: 'pipelines/events/runs', body: JSON.stringify({ validate: true }), params: { name: 'events' } });
    expect(valid).toMatchObject({ status: 200, jsonBody: { pipeline: 'events', valid: true, problems: [] } });
    const sched = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ pipeline: 'sched', validate: true }) });
    // sched/ has no blob yet: reported, as `blob2pg validate` does, and still nothing starts.
    expect(sched).toMatchObject({ status: 200, jsonBody: { pipeline: 'sched', valid: false, problems: [expect.stringMatching(/no blob matches prefix "sched\/"/)] } });
    expect(runtime.activityLog.length).toBe(before);
  });

  it('an ad-hoc spec is refused unless BLOB2PG_ALLOW_ADHOC_RUNS=true, and then only with the deployed connections', async () => {
    await h.upload('adhoc/d.csv', 'id,name\n25,twenty-five\n');
    const spec = { name: 'adhoc', source: { container: h.container.containerName, prefix: 'adhoc/' }, sink: { table: `${h.schema}.events` } };
    const refused = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ spec }) });
    expect(refused.status).toBe(403);
    expect((refused.jsonBody as { error: string }).error).toMatch(/BLOB2PG_ALLOW_ADHOC_RUNS/);

    process.env.BLOB2PG_ALLOW_ADHOC_RUNS = 'true';
    try {
      // Any other app setting as a connection (the host's own storage, say) is refused.
      const hostStorage = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ spec: { ...spec, source: { ...spec.source, connection: 'AzureWebJobsStorage' } } }) });
      expect(hostStorage).toMatchObject({ status: 403, jsonBody: { errors: [{ path: 'spec.source.connection' }] } });
      const otherDb = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ spec: { ...spec, sink: { ...spec.sink, connection: 'OTHER_PG' } } }) });
      expect(otherDb).toMatchObject({ status: 403, jsonBody: { errors: [{ path: 'spec.sink.connection' }] } });
      const invalid = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ spec: { ...spec, sink: { table: 'x', writeMethod: 'Teleport' }, maxParallelCopies: 0 } }) });
      expect(invalid.status).toBe(400);
      expect((invalid.jsonBody as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toEqual(expect.arrayContaining(['spec.sink.writeMethod', 'spec.maxParallelCopies']));

      const ok = await http('startRun', { method: 'POST', path: 'runs', body: JSON.stringify({ spec }) });
      expect(ok.status).toBe(202);
      const status = await runtime.waitForCompletion((ok.jsonBody as { id: string }).id);
      expect(status.output).toMatchObject({ pipeline: 'adhoc', status: 'Succeeded', rowsCopied: 1 });
    } finally {
      delete process.env.BLOB2PG_ALLOW_ADHOC_RUNS;
    }
  });

  it('unknown pipeline or run → 404', async () => {
    const missing = await http('startPipelineRun', { method: 'POST', path: 'pipelines/nope/runs', params: { name: 'nope' } });
    expect(missing.status).toBe(404);
    expect((missing.jsonBody as { pipelines: string[] }).pipelines.sort()).toEqual(['events', 'sched']);
    expect((await http('getRun', { method: 'GET', path: 'runs/nope', params: { id: 'nope' } })).status).toBe(404);
  });

  it('GET /api/pipelines lists the loaded pipelines and the invalid files', async () => {
    const response = await http('listPipelines', { method: 'GET', path: 'pipelines' });
    const body = response.jsonBody as { pipelines: Array<{ name: string; triggers: unknown[] }>; errors: Array<{ file: string; issues: Array<{ message: string }> }> };
    expect(body.pipelines.map((p) => p.name).sort()).toEqual(['events', 'sched']);
    expect(body.pipelines.find((p) => p.name === 'sched')!.triggers).toEqual([{ type: 'Schedule', schedule: '0 0 * * * *' }]);
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]!.file).toBe('invalid.json');
    expect(body.errors[0]!.issues[0]!.message).toMatch(/not valid JSON/);
  });
});

describe('schedule timer', () => {
  const runsOf = (pipeline: string) =>
    h.query<{ run_id: string; trigger: string; status: string; files_loaded: number; files_skipped: number; error: string | null }>(
      `SELECT run_id, trigger, status, files_loaded, files_skipped, error FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".runs WHERE pipeline = $1 ORDER BY started_at, run_id`,
      [pipeline],
    );

  it('each tick is its own run in the run log; a tick while the previous one runs is skipped, never overlapped', async () => {
    await h.upload('sched/1.csv', 'id,name\n30,thirty\n');
    await h.upload('sched/2.csv', 'id,name\n31,thirty-one\n');
    const timer = { isPastDue: false, scheduleStatus: undefined };
    await call(timerFunctionName('sched', 0), timer);
    await call(timerFunctionName('sched', 0), timer);
    const [first, ...others] = await runsOf('sched');
    expect(others).toEqual([]);
    expect(first).toMatchObject({ trigger: 'Schedule', status: 'Running' });
    expect(first!.run_id).toMatch(/^sched-scheduled-\d{8}T\d{9}Z$/);
    expect(logs.some((l) => l.includes(`pipeline sched: the previous scheduled run (${first!.run_id})`) && l.includes('tick skipped'))).toBe(true);
    const status = await runtime.waitForCompletion(first!.run_id);
    expect(status.output).toMatchObject({ pipeline: 'sched', status: 'Succeeded', filesRead: 2, rowsCopied: 2 });
    expect(runtime.activityLog.filter((a) => a.instanceId === first!.run_id && a.name === 'listBlobs')).toHaveLength(1);

    // Finished: the next tick is a new run (the ledger skips what is already loaded), and
    // completes the previous one in the log from its orchestration's output.
    await call(timerFunctionName('sched', 0), timer);
    const runs = await runsOf('sched');
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatchObject({ run_id: first!.run_id, status: 'Succeeded', files_loaded: 2 });
    expect(runs[1]!.run_id).not.toBe(first!.run_id);
    const again = await runtime.waitForCompletion(runs[1]!.run_id);
    expect(again.output).toMatchObject({ status: 'Succeeded', filesRead: 0, filesSkipped: 2 });
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".events WHERE id >= 30`)).toEqual([{ n: 2 }]);
  });

  it('a scheduled run whose orchestration never started (the process died after its row) is marked Failed; the tick runs', async () => {
    const spec = appPipelines().pipelines.get('sched')!;
    await logRunStart(spec, 'sched-scheduled-lost', 'Schedule', process.env);
    const result = await handleScheduleTick(spec, runtime, context('tick'), new Date('2030-01-01T00:00:00Z'));
    expect(result).toEqual({ started: 'sched-scheduled-20300101T000000000Z' });
    await runtime.waitForCompletion(result.started!);
    const lost = (await runsOf('sched')).find((r) => r.run_id === 'sched-scheduled-lost');
    expect(lost).toMatchObject({ status: 'Failed' });
    expect(lost!.error).toMatch(/no orchestration has this run ID/);
  });

  it('a tick that cannot tell whether a scheduled run is going fails, logged, and starts nothing', async () => {
    const spec = appPipelines().pipelines.get('sched')!;
    await logRunStart(spec, 'sched-scheduled-unsure', 'Schedule', process.env);
    const started: string[] = [];
    const blind: DurableStarter = {
      startNew: async (_name, options) => (started.push(options.instanceId!), options.instanceId!),
      getStatus: () => Promise.reject(new Error('task hub unreachable')),
      managementUrls: (request, id) => runtime.managementUrls(request, id),
    };
    await expect(handleScheduleTick(spec, blind, context('tick'), new Date('2030-06-01T00:00:00Z'))).rejects.toThrow(/task hub unreachable/);
    expect(started).toEqual([]);
    expect(logs.some((l) => l.includes('pipeline sched: tick failed: cannot tell whether a scheduled run is still going') && l.includes('task hub unreachable'))).toBe(true);
    expect((await runsOf('sched')).find((r) => r.run_id === 'sched-scheduled-unsure')).toMatchObject({ status: 'Running' });
  });
});

/**
 * The run's row is written before its orchestration starts, whatever started it: a starter
 * that looks at the run log when asked to start (as a process killed right after the start
 * would leave it), then starts on the real runtime, or fails to.
 */
describe('run-log row before the orchestration', () => {
  const rowOf = async (runId: string) =>
    (await h.query<{ trigger: string; status: string; error: string | null }>(`SELECT trigger, status, error FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".runs WHERE run_id = $1`, [runId]))[0];

  function lookingStarter(fail?: string): DurableStarter & { seen: Map<string, unknown> } {
    const seen = new Map<string, unknown>();
    return {
      seen,
      async startNew(orchestrator, options) {
        seen.set(options.instanceId!, await rowOf(options.instanceId!));
        if (fail) throw new Error(fail);
        return runtime.startNew(orchestrator, options);
      },
      getStatus: (id) => runtime.getStatus(id),
      managementUrls: (request, id) => runtime.managementUrls(request, id),
    };
  }

  it('blob event, schedule tick, HTTP run: the Running row exists when the orchestration is started', async () => {
    const pipelines = appPipelines();
    const body = 'id,name\n40,forty\n';
    const { etag } = await h.upload('ev/first.csv', body);
    const starter = lookingStarter();
    const events = await handleBlobCreatedMessage(blobCreatedEvent('ev/first.csv', etag, body.length), starter, pipelineTargets(pipelines.pipelines.values()), context('blobCreated'));
    const tick = await handleScheduleTick(pipelines.pipelines.get('sched')!, starter, context('tick'), new Date('2031-01-01T00:00:00Z'));
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost:7071/api/pipelines/events/runs', params: { name: 'events' } });
    const http = await handleStartRun(request, starter, pipelines);
    const ids = [events.started[0]!, tick.started!, (http.jsonBody as { id: string }).id];
    expect(ids.map((id) => starter.seen.get(id))).toEqual([
      { trigger: 'BlobEvent', status: 'Running', error: null },
      { trigger: 'Schedule', status: 'Running', error: null },
      { trigger: 'HTTP', status: 'Running', error: null },
    ]);
    for (const id of ids) await runtime.waitForCompletion(id);
  });

  it('a start that fails leaves the run Failed in the log, saying why, and fails the trigger', async () => {
    const pipelines = appPipelines();
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost:7071/api/pipelines/events/runs', params: { name: 'events' } });
    const starter = lookingStarter('task hub unreachable');
    await expect(handleStartRun(request, starter, pipelines)).rejects.toThrow(/task hub unreachable/);
    const [id] = [...starter.seen.keys()];
    expect(starter.seen.get(id!)).toMatchObject({ status: 'Running' });
    expect(await rowOf(id!)).toMatchObject({ trigger: 'HTTP', status: 'Failed', error: 'the orchestration could not be started: task hub unreachable' });
  });
});
