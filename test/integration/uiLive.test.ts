/**
 * The page's view of runs in flight and of skipped rows: a slow run shows Running with its
 * progress and stays alive through a long load (heartbeat), then Succeeded; a run whose
 * process stopped beating reads Abandoned; a skip-mode run links each file's skipped-rows
 * log, and the download route serves that blob and nothing else.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineSpec } from '../../src/pipeline/spec.js';
import { runPipeline } from '../../src/local/run.js';
import { startLocalUi } from '../../src/local/ui.js';
import { getPage } from '../support/page.js';
import { listRuns } from '../../src/ui/queries.js';
import { formatBytes } from '../../src/run/report.js';
import { plainBlobName } from '../../src/ui/skipLogFile.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let ui: Awaited<ReturnType<typeof startLocalUi>>;
const pipelines = new Map<string, PipelineSpec>();
const logContainer = `skiplogs-${Math.random().toString(36).slice(2, 8)}`;
let s: string;

beforeAll(async () => {
  h = await createHarness('uilive');
  // Heartbeat every 0.3 s, Abandoned after 6 s without one: a 7 s load must stay Running
  // (6 s, not less: starting the local runtime on a loaded machine takes a few seconds).
  Object.assign(h.env, { BLOB2PG_RUN_HEARTBEAT_SECONDS: '0.3', BLOB2PG_RUN_ABANDONED_MINUTES: '0.1' });
  ui = await startLocalUi({ env: h.env, pipelines });
  s = `"${h.env.BLOB2PG_LEDGER_SCHEMA}"`;
});
afterAll(async () => {
  await ui?.close();
  await h?.close();
});

const get = (path: string) => getPage(ui.url, path);

describe('a run in flight', () => {
  it('is Running with files done / total while it loads, alive through a 7 s load, then Succeeded', async () => {
    const table = await h.table('slow', 'id int');
    for (const name of ['a', 'b', 'c']) await h.upload(`slow/${name}.csv`, `id\n1\n`);
    // Each blob's transaction sleeps 7 s before its COPY: longer than the Abandoned threshold.
    const spec = h.spec({ name: 'slow', source: { prefix: 'slow/' }, sink: { table, preCopyScript: 'SELECT pg_sleep(7)' }, maxParallelCopies: 1 });
    const run = runPipeline(spec, { env: h.env });
    let finished = false;
    void run.finally(() => (finished = true));
    const seen: Array<{ status: string; progress: string | undefined; filesDone: number | null }> = [];
    while (!finished) {
      const { runs } = await listRuns(ui.place, { pipeline: 'slow' });
      const page = await get('/?pipeline=slow');
      const progress = /<span class="progress">([^<]*)<\/span>/.exec(page.text)?.[1];
      if (runs[0]) seen.push({ status: runs[0].status, progress, filesDone: runs[0].filesDone });
      await new Promise((r) => setTimeout(r, 250));
    }
    const output = await run;
    expect(output.status).toBe('Succeeded');
    // Never Abandoned although no file finished for 7 s at a time: the heartbeat kept it alive.
    expect(seen.filter((x) => x.status !== 'Running' && x.status !== 'Succeeded')).toEqual([]);
    expect(seen.filter((x) => x.status === 'Running').length).toBeGreaterThan(20);
    // Without the files loading now (their bytes, tested below): the finished files' counters.
    const progressLines = new Set(seen.map((x) => x.progress?.split('; loading')[0]).filter(Boolean));
    expect(seen.map((x) => x.progress).filter((p) => p?.includes('; loading'))).toContainEqual(expect.stringMatching(/; loading 1 file: \d+ B of 5 B read$/));
    expect(progressLines).toContain('0 of 3 files done, 0 rows so far');
    expect(progressLines).toContain('1 of 3 files done, 1 rows so far');
    expect(progressLines).toContain('2 of 3 files done, 2 rows so far');
    const { runs } = await listRuns(ui.place, { pipeline: 'slow' });
    expect(runs[0]).toMatchObject({ status: 'Succeeded', filesLoaded: 3, filesTotal: 3, rowsCopied: 3 });
    expect((await get('/?pipeline=slow')).text).not.toContain('http-equiv="refresh"');
  }, 120_000);

  it('a Running run with no heartbeat for the threshold reads Abandoned, and the status filter agrees', async () => {
    await h.query(`INSERT INTO ${s}.runs (run_id, pipeline, trigger, status, updated_at) VALUES ('dead-1', 'gone', 'CLI', 'Running', clock_timestamp() - interval '10 minutes')`);
    await h.query(`INSERT INTO ${s}.runs (run_id, pipeline, trigger, status) VALUES ('alive-1', 'gone', 'CLI', 'Running')`);
    const abandoned = await listRuns(ui.place, { pipeline: 'gone', status: 'Abandoned' });
    expect(abandoned.runs.map((r) => [r.runId, r.status])).toEqual([['dead-1', 'Abandoned']]);
    const running = await listRuns(ui.place, { pipeline: 'gone', status: 'Running' });
    expect(running.runs.map((r) => [r.runId, r.status])).toEqual([['alive-1', 'Running']]);
    const detail = await get('/runs/dead-1');
    expect(detail.text).toContain('<span class="s Abandoned">Abandoned</span>');
    expect(detail.text).toContain('no sign of life from the process running it since');
    expect(detail.text).not.toContain('http-equiv="refresh"');
  });
});

describe('a file still loading', () => {
  it('shows the bytes read so far, rising before the file finishes, on the runs list and the run detail', async () => {
    const table = await h.table('big', 'id int, pad text');
    // 20 MB in 20,000 rows; the table's trigger sleeps 0.4 s every 1,000 rows, so COPY takes
    // ~8 s and back-pressure holds the blob's stream: bytes come in steps while the file loads.
    await h.query(`CREATE FUNCTION ${h.schema}.slow_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id % 1000 = 0 THEN PERFORM pg_sleep(0.4); END IF; RETURN NEW; END $$`);
    await h.query(`CREATE TRIGGER slow BEFORE INSERT ON ${h.schema}.big FOR EACH ROW EXECUTE FUNCTION ${h.schema}.slow_rows()`);
    const rows = Array.from({ length: 20_000 }, (_, i) => `${i + 1},${'x'.repeat(1000)}\n`);
    const body = `id,pad\n${rows.join('')}`;
    await h.upload('big/one.csv', body);
    const size = Buffer.byteLength(body);
    const spec = h.spec({ name: 'big', source: { prefix: 'big/' }, sink: { table } });
    const run = runPipeline(spec, { env: h.env });
    let finished = false;
    void run.finally(() => (finished = true));
    const reads: number[] = [];
    let listLine: string | undefined;
    let detail: string | undefined;
    while (!finished) {
      const [progress] = await h.query<{ run_id: string; bytes_read: string; size: string; done: boolean }>(
        `SELECT p.run_id, p.bytes_read, p.size, EXISTS (SELECT FROM ${s}.run_files f WHERE f.run_id = p.run_id) AS done
           FROM ${s}.run_progress p JOIN ${s}.runs r USING (run_id) WHERE r.pipeline = 'big'`,
      );
      if (progress && !progress.done && Number(progress.bytes_read) < size) {
        expect(Number(progress.size)).toBe(size);
        reads.push(Number(progress.bytes_read));
        const line = /<span class="progress">([^<]*)<\/span>/.exec((await get('/?pipeline=big')).text)?.[1];
        if (line?.includes('loading 1 file')) listLine = line;
        const page = (await get(`/runs/${progress.run_id}`)).text;
        if (page.includes('<table id="loading">')) detail = page;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await run).status).toBe('Succeeded');
    // Several beats while the file loaded, the bytes read rising between them.
    expect(new Set(reads).size).toBeGreaterThan(2);
    expect(Math.max(...reads)).toBeGreaterThan(Math.min(...reads));
    const total = formatBytes(size).replace('.', '\\.');
    expect(listLine).toMatch(new RegExp(`^0 (of 1 )?files done, 0 rows so far; loading 1 file: [\\d.]+ [KMG]?B of ${total} read$`));
    expect(detail).toMatch(new RegExp(`<tr class="loading"><td class="blob">big/one\\.csv</td><td class="n">[\\d.]+ [KMG]?B of ${total}</td>\\s*<td><progress max="100" value="(\\d+)"></progress> <span class="percent">\\1%</span></td></tr>`));
    // The file's outcome ended its progress row.
    expect(await h.query(`SELECT * FROM ${s}.run_progress p JOIN ${s}.runs r USING (run_id) WHERE r.pipeline = 'big'`)).toEqual([]);
  }, 120_000);
});

describe("a file's skipped-rows log", () => {
  let spec: PipelineSpec;
  let runId: string;
  let etag: string;
  const blob = 'skip/orders.csv';

  beforeAll(async () => {
    const table = await h.table('skipped', 'id int, amount numeric');
    await h.upload(blob, 'id,amount\n1,2.5\nx,3\n3,oops\n4,1\n');
    spec = h.spec({ name: 'skipper', source: { prefix: 'skip/' }, sink: { table }, faultTolerance: { skipIncompatibleRows: true, logContainer } });
    pipelines.set(spec.name, spec);
    runId = (await runPipeline(spec, { env: h.env })).runId;
    etag = (await h.query<{ etag: string }>(`SELECT etag FROM ${s}.run_files WHERE run_id = $1`, [runId]))[0]!.etag;
  });

  it('a Succeeded file with skipped rows records its log, and the detail links it', async () => {
    const [file] = await h.query(`SELECT status, rows_skipped, skip_log FROM ${s}.run_files WHERE run_id = $1`, [runId]);
    expect(file).toEqual({ status: 'Succeeded', rows_skipped: '2', skip_log: `${logContainer}/skipper/${runId}/${blob}.csv` });
    const detail = await get(`/runs/${runId}`);
    const link = /<a class="skiplog" title="([^"]+)" href="([^"]+)">/.exec(detail.text);
    expect(link?.[1]).toBe(`${logContainer}/skipper/${runId}/${blob}.csv`);
    const res = await fetch(new URL(link![2]!.replaceAll('&amp;', '&'), ui.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="orders\.csv\.csv"/);
    const csv = await res.text();
    expect(csv.split('\n')[0]).toBe('line,column,value,reason');
    expect(csv.split('\n').filter(Boolean).map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['line,column,value', '3,id,x', '4,amount,oops']);
  });

  const download = (q: { runId: string; blob: string; etag: string }) =>
    get(`/runs/${encodeURIComponent(q.runId)}/skipped-rows?${new URLSearchParams({ blob: q.blob, etag: q.etag })}`);

  it('serves only the log blob the pipeline writes for a file of the run log: no path from the request, no traversal', async () => {
    // A file the run log does not have, or one without a log.
    expect((await download({ runId, blob: 'skip/nope.csv', etag })).status).toBe(404);
    expect((await download({ runId: 'no-such-run', blob, etag })).status).toBe(404);
    // The run log tampered with: a path outside the pipeline's log prefix is refused, not fetched.
    const secret = h.container.getBlockBlobClient('secret.csv');
    await secret.upload('password\n', 9);
    await h.query(`INSERT INTO ${s}.run_files (run_id, blob, etag, status, skip_log) VALUES ($1, 'other.csv', 'e1', 'Succeeded', $2)`, [runId, `${h.container.containerName}/secret.csv`]);
    const outside = await download({ runId, blob: 'other.csv', etag: 'e1' });
    expect(outside.status).toBe(403);
    expect(outside.text).not.toContain('password');
    // A blob name with .. segments: the expected log name itself would climb out of the run's prefix.
    const climbing = '../../../' + h.container.containerName + '/secret';
    await h.query(`INSERT INTO ${s}.run_files (run_id, blob, etag, status, skip_log) VALUES ($1, $2, 'e2', 'Succeeded', $3)`, [runId, climbing, `${logContainer}/skipper/${runId}/${climbing}.csv`]);
    const climbed = await download({ runId, blob: climbing, etag: 'e2' });
    expect(climbed.status).toBe(403);
    expect(climbed.text).not.toContain('password');
    // A pipeline the page does not know: its storage account is unknown too.
    pipelines.delete(spec.name);
    try {
      expect((await download({ runId, blob, etag })).status).toBe(409);
    } finally {
      pipelines.set(spec.name, spec);
    }
    // The log deleted from storage: 404, said so.
    await BlobServiceClient.fromConnectionString(h.env.SOURCE_STORAGE!).getContainerClient(logContainer).getBlobClient(`skipper/${runId}/${blob}.csv`).delete();
    const gone = await download({ runId, blob, etag });
    expect(gone.status).toBe(404);
    expect(gone.text).toContain('no longer in storage');
  });

  it('plainBlobName refuses . and .. segments, with / or \\', () => {
    expect(plainBlobName('a/b/c.csv')).toBe(true);
    expect(plainBlobName('a/..b/c..csv')).toBe(true);
    expect(plainBlobName('a/../c.csv')).toBe(false);
    expect(plainBlobName('a\\..\\c.csv')).toBe(false);
    expect(plainBlobName('./c.csv')).toBe(false);
  });
});
