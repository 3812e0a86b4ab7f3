import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineSpec } from '../../src/pipeline/spec.js';
import { runPipeline } from '../../src/local/run.js';
import { startLocalUi } from '../../src/local/ui.js';
import { getPage } from '../support/page.js';
import { listRuns } from '../../src/ui/queries.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let ui: Awaited<ReturnType<typeof startLocalUi>>;
let spec: PipelineSpec;
let failedRunId: string;
const HOSTILE = 'ui/<img src=x onerror=alert(1)>.csv';

beforeAll(async () => {
  h = await createHarness('ui');
  const table = await h.table('orders', 'id int NOT NULL, amount numeric');
  await h.upload('ui/good.csv', 'id,amount\n1,2.5\n');
  await h.upload('ui/bad.csv', 'id,amount\n2,1\nx3,3\n');
  await h.upload(HOSTILE, 'id,amount\n4,1\n');
  spec = h.spec({ name: 'ui-orders', source: { prefix: 'ui/' }, sink: { table } });
  failedRunId = (await runPipeline(spec, { env: h.env })).runId;
  ui = await startLocalUi({ env: h.env, pipelines: new Map([[spec.name, spec]]) });
});
afterAll(async () => {
  await ui?.close();
  await h?.close();
});

const get = (path: string) => getPage(ui.url, path);

async function waitForStatus(runId: string, status: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = await h.query(`SELECT status FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".runs WHERE run_id = $1`, [runId]);
    if (rows[0]?.status === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} never became ${status}`);
}

describe('blob2pg ui', () => {
  it('listens on 127.0.0.1 only and refuses another Host header', async () => {
    expect(new URL(ui.url).hostname).toBe('127.0.0.1');
    // fetch cannot set Host: a raw request, as a DNS-rebinding page's would arrive.
    const status = await new Promise<number>((resolve, reject) =>
      http.get(ui.url, { headers: { host: 'evil.example' } }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject),
    );
    expect(status).toBe(421);
  });

  it('the runs list shows the failed run; the detail its failed file with line and column, hostile names as text', async () => {
    const list = await get('/?status=PartiallySucceeded');
    expect(list.status).toBe(200);
    expect(list.text).toContain(`/runs/${failedRunId}`);
    expect(list.headers.get('content-security-policy')).toContain("default-src 'none'");
    const detail = await get(`/runs/${failedRunId}`);
    expect(detail.text).toContain('line 3, column id, SQLSTATE 22P02');
    expect(detail.text).toContain('ui/&lt;img src=x onerror=alert(1)&gt;.csv');
    expect(detail.text).not.toContain('<img');
  });

  it('rerun refuses a POST without the page token or from another origin', async () => {
    const body = new URLSearchParams({ pipeline: spec.name, blob: 'ui/bad.csv' });
    expect((await fetch(new URL('/rerun', ui.url), { method: 'POST', body })).status).toBe(403);
    const page = await get(`/runs/${failedRunId}`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const forged = await fetch(new URL('/rerun', ui.url), { method: 'POST', body: new URLSearchParams({ pipeline: spec.name, blob: 'ui/bad.csv', csrf }), headers: { origin: 'http://evil.example' } });
    expect(forged.status).toBe(403);
  });

  it('rerun of the failed file, once fixed, loads it and its new run shows Succeeded', async () => {
    await h.upload('ui/bad.csv', 'id,amount\n2,1\n3,3\n');
    const page = await get(`/runs/${failedRunId}`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const res = await fetch(new URL('/rerun', ui.url), {
      method: 'POST',
      body: new URLSearchParams([['pipeline', spec.name], ['blob', 'ui/bad.csv'], ['csrf', csrf]]),
      headers: { origin: new URL(ui.url).origin },
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    const runId = decodeURIComponent(res.headers.get('location')!.replace('/runs/', ''));
    await waitForStatus(runId, 'Succeeded');
    const detail = await get(`/runs/${runId}`);
    expect(detail.text).toMatch(/<td class="blob">ui\/bad\.csv<\/td><td><span class="s Succeeded">/);
    expect(detail.text).toContain('trigger Rerun');
    expect(await h.query(`SELECT id FROM "${h.schema}".orders ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
  });

  it('the pipeline page draws one bar per run', async () => {
    const page = await get(`/pipelines/${spec.name}`);
    expect(page.text.match(/<rect /g)?.length).toBe(2);
  });

  it('10,000 runs: keyset pages walk them all, newest first, on the index', async () => {
    const s = `"${h.env.BLOB2PG_LEDGER_SCHEMA}"`;
    await h.query(
      `INSERT INTO ${s}.runs (run_id, pipeline, trigger, started_at, status)
       SELECT 'bulk-' || g, 'bulk', 'Schedule', now() - g * interval '1 minute', CASE WHEN g % 10 = 0 THEN 'Failed' ELSE 'Succeeded' END
         FROM generate_series(1, 10000) g`,
    );
    await h.query(`ANALYZE ${s}.runs`);
    let after: string | undefined;
    let seen = 0;
    let previous = Infinity;
    do {
      const page = await listRuns(ui.place, { pipeline: 'bulk', after }, 500);
      for (const run of page.runs) {
        expect(run.startedAt.getTime()).toBeLessThan(previous);
        previous = run.startedAt.getTime();
      }
      seen += page.runs.length;
      after = page.next;
    } while (after);
    expect(seen).toBe(10_000);
    const plan = await h.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT * FROM ${s}.runs WHERE pipeline = 'bulk' AND (started_at, run_id) < (now(), 'x') ORDER BY started_at DESC, run_id DESC LIMIT 51`,
    );
    // Either index serves the filter and the order: no sort, no sequential scan.
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Index Scan using runs_(pipeline_)?started/);
    expect(text).not.toMatch(/Sort|Seq Scan/);
    const failedPage = await get('/?pipeline=bulk&status=Failed');
    expect(failedPage.text.match(/<span class="s Failed">/g)).toHaveLength(50);
    expect(failedPage.text).toContain('id="older"');
  });
});
