/**
 * The run-history page as the Functions app serves it (functions/ui.ts), with the run log
 * written by the real registrations: a blob-created run through the queue trigger, the
 * orchestrator and the copy activity (local durable runtime), then the page and a rerun.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventInstanceId } from '../../src/app/events.js';
import type { LocalDurableRuntime } from '../../src/local/durable.js';
import { registeredFunction } from '../../src/local/host.js';
import { startLocalApp, stopLocalApp } from '../support/localApp.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let runtime: LocalDurableRuntime;

const context = (functionName: string) => new InvocationContext({ functionName, invocationId: functionName, logHandler: () => undefined });
const call = async (functionName: string, ...args: unknown[]) => registeredFunction(functionName).callback(...args, context(functionName));

async function page(method: string, pathAndQuery: string, body?: string, headers: Record<string, string> = {}): Promise<HttpResponseInit & { body: string }> {
  const url = new URL(`http://localhost:7071/api/ui${pathAndQuery}`);
  const request = new HttpRequest({ method, url: url.href, headers, body: body === undefined ? undefined : { string: body }, params: { path: url.pathname.replace(/^\/api\/ui\/?/, '') } });
  return (await call('runHistoryPage', request)) as HttpResponseInit & { body: string };
}

beforeAll(async () => {
  h = await createHarness('uiroute');
  Object.assign(process.env, h.env);
  await h.query(`CREATE TABLE "${h.schema}".events (id int, name text)`);
  const dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-pipelines-'));
  await writeFile(
    path.join(dir, 'events.json'),
    JSON.stringify({ name: 'ui-events', source: { container: h.container.containerName, prefix: 'ev/' }, sink: { table: `${h.schema}.events` }, triggers: [{ type: 'BlobCreated' }] }),
  );
  runtime = await startLocalApp(dir);
});

afterAll(async () => {
  stopLocalApp();
  await h?.close();
});

const runRow = async (runId: string) => (await h.query(`SELECT * FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".runs WHERE run_id = $1`, [runId]))[0];

describe('the page in the Functions app', () => {
  it('a blob event run: its failed file on the page, the run completed from the orchestration, rerun after the fix', async () => {
    const body = 'id,name\n1,one\nx,two\n';
    const { etag } = await h.upload('ev/bad.csv', body);
    const blob = h.container.getBlobClient('ev/bad.csv');
    const event = {
      id: 'evt-1',
      topic: '/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
      subject: `/blobServices/default/containers/${h.container.containerName}/blobs/ev/bad.csv`,
      eventType: 'Microsoft.Storage.BlobCreated',
      eventTime: new Date().toISOString(),
      dataVersion: '',
      metadataVersion: '1',
      data: { api: 'PutBlob', eTag: etag.replace(/"/g, ''), contentType: 'text/csv', contentLength: body.length, blobType: 'BlockBlob', url: blob.url },
    };
    await call('blobCreated', event);
    const runId = eventInstanceId('ui-events', h.container.containerName, 'ev/bad.csv', etag);
    await runtime.waitForCompletion(runId);
    // The activity wrote the file; the orchestrator does no I/O, so the run still reads Running.
    expect(await runRow(runId)).toMatchObject({ trigger: 'BlobEvent', status: 'Running', files_failed: 1 });

    const detail = await page('GET', `/runs/${encodeURIComponent(runId)}?code=key1`);
    expect(detail.status).toBe(200);
    expect(detail.body).toContain('line 3, column id, SQLSTATE 22P02');
    expect(detail.body).toContain(`action="/api/ui/rerun?code=key1"`);
    // Opening the page completed the run from the orchestration's output.
    expect(await runRow(runId)).toMatchObject({ status: 'Failed', files_failed: 1 });
    expect((await runRow(runId))!.finished_at).toBeInstanceOf(Date);

    // The event redelivered after the run failed: the same instance runs again, and its row is Running again.
    await call('blobCreated', event);
    expect(await runRow(runId)).toMatchObject({ trigger: 'BlobEvent', status: 'Running', finished_at: null });
    await runtime.waitForCompletion(runId);
    await page('GET', `/runs/${encodeURIComponent(runId)}?code=key1`);
    expect(await runRow(runId)).toMatchObject({ status: 'Failed', files_failed: 1 });

    const forged = await page('POST', '/rerun?code=key1', 'pipeline=ui-events&blob=ev%2Fbad.csv', { origin: 'https://evil.example', host: 'localhost:7071' });
    expect(forged.status).toBe(403);
    const unknown = await page('POST', '/rerun?code=key1', 'pipeline=nope&blob=ev%2Fbad.csv');
    expect(unknown.status).toBe(409);

    await h.upload('ev/bad.csv', 'id,name\n1,one\n2,two\n');
    const rerun = await page('POST', '/rerun?code=key1', 'pipeline=ui-events&blob=ev%2Fbad.csv', { origin: 'http://localhost:7071', host: 'localhost:7071' });
    expect(rerun.status).toBe(303);
    const location = (rerun.headers as Record<string, string>).location!;
    expect(location).toMatch(/^\/api\/ui\/runs\/[^?]+\?code=key1$/);
    const rerunId = decodeURIComponent(location.replace(/^\/api\/ui\/runs\//, '').replace(/\?.*$/, ''));
    await runtime.waitForCompletion(rerunId);
    await page('GET', `/runs/${encodeURIComponent(rerunId)}`);
    expect(await runRow(rerunId)).toMatchObject({ trigger: 'Rerun', status: 'Succeeded', files_loaded: 1, rows_copied: '2' });
    const after = await page('GET', `/runs/${encodeURIComponent(rerunId)}`);
    expect(after.body).toMatch(/<td class="blob">ev\/bad\.csv<\/td><td><span class="s Succeeded">/);
    expect(await h.query(`SELECT id FROM "${h.schema}".events ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
  });
});
