/**
 * The run-history page in a real headless Chromium: a demo run and a failed run, the failed
 * file's line and column on the page, "rerun failed files" turning the fixed file Succeeded,
 * a hostile blob name rendered as text. Screenshots of the runs list and a run's detail go
 * to docs/ (docs/operations.md shows them).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPipeline } from '../../src/cli/demo.js';
import { parsePipelineSpec, type PipelineSpec } from '../../src/pipeline/spec.js';
import { runPipeline } from '../../src/local/run.js';
import { startLocalUi } from '../../src/local/ui.js';
import { ensureChromium, launchChromium } from '../support/chromium.js';
import { createHarness, type Harness } from '../support/harness.js';

const unavailable = await ensureChromium();
if (unavailable) console.warn(`browser tests skipped: ${unavailable}`);

/** Screenshots go to docs/ only when asked (BLOB2PG_SCREENSHOTS=docs), so a test run leaves the tree clean. */
const shots = process.env.BLOB2PG_SCREENSHOTS ? path.resolve(process.env.BLOB2PG_SCREENSHOTS) : await mkdtemp(path.join(tmpdir(), 'blob2pg-shots-'));

const HOSTILE = 'orders/<img src=x onerror=alert(1)>.csv';

describe.skipIf(unavailable !== undefined)('run-history page in Chromium', () => {
  let h: Harness;
  let ui: Awaited<ReturnType<typeof startLocalUi>>;
  let browser: BrowserContext;
  let page: Page;
  let spec: PipelineSpec;
  let failedRunId: string;
  const alerts: string[] = [];
  const pipelines = new Map<string, PipelineSpec>();

  beforeAll(async () => {
    h = await createHarness('browser');
    await h.table('demo_orders', 'order_id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), ordered_at timestamptz, note text');
    // The demo's pipeline, into this file's schema and container.
    spec = parsePipelineSpec({ ...demoPipeline, source: { ...demoPipeline.source, container: h.container.containerName }, sink: { table: `${h.schema}.demo_orders`, writeMethod: 'CopyCommand' } });
    await h.upload('orders/2026-11-19.csv', 'order_id,customer,amount,ordered_at,note\n1,Ada Lovelace,19.99,2026-11-19T09:15:00Z,gift\n2,Grace Hopper,5.00,2026-11-19T10:02:00Z,\n');
    await runPipeline(spec, { env: h.env });
    await h.upload('orders/2026-11-20.csv', 'order_id,customer,amount,ordered_at,note\n3,Barbara Liskov,42.00,2026-11-20T08:00:00Z,\n4,Donald Knuth,seven,2026-11-20T08:30:00Z,\n');
    await h.upload(HOSTILE, 'order_id,customer,amount,ordered_at,note\n5,Edsger Dijkstra,1.00,2026-11-20T09:00:00Z,\n');
    failedRunId = (await runPipeline(spec, { env: h.env })).runId;
    pipelines.set(spec.name, spec);
    ui = await startLocalUi({ env: h.env, pipelines });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('dialog', (dialog) => {
      alerts.push(dialog.message());
      void dialog.dismiss();
    });
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    await ui?.close();
    await h?.close();
  });

  it('the runs list shows the demo run and the failed run', async () => {
    await page.goto(ui.url);
    const rows = page.locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).locator('.s').textContent()).toBe('PartiallySucceeded');
    expect(await rows.nth(1).locator('.s').textContent()).toBe('Succeeded');
    await page.screenshot({ path: path.join(shots, 'run-history-list.png'), fullPage: true });
  });

  it("the failed run's page shows the failed file's line and column, and the hostile name as text", async () => {
    await page.goto(ui.url);
    await page.locator('tbody tr').first().locator('a').first().click();
    await page.waitForURL(`**/runs/${failedRunId}`);
    const failed = page.locator('tr.file[data-status="Failed"]');
    expect(await failed.locator('.blob').textContent()).toBe('orders/2026-11-20.csv');
    expect(await failed.locator('.at').textContent()).toBe('line 3, column amount, SQLSTATE 22P02');
    const hostile = page.locator('tr.file', { hasText: 'onerror' });
    expect(await hostile.locator('.blob').textContent()).toBe(HOSTILE);
    expect(await page.locator('img').count()).toBe(0);
    expect(alerts).toEqual([]);
    await page.screenshot({ path: path.join(shots, 'run-history-detail.png'), fullPage: true });
  });

  it('after the blob is fixed, "rerun failed files" loads it and the file turns Succeeded', async () => {
    await h.upload('orders/2026-11-20.csv', 'order_id,customer,amount,ordered_at,note\n3,Barbara Liskov,42.00,2026-11-20T08:00:00Z,\n4,Donald Knuth,7.25,2026-11-20T08:30:00Z,\n');
    await page.goto(new URL(`/runs/${failedRunId}`, ui.url).href);
    await page.click('#rerun');
    await page.waitForURL((url) => url.pathname.startsWith('/runs/') && !url.pathname.endsWith(failedRunId));
    // The page refreshes itself while the run is Running.
    const row = page.locator('tr.file', { hasText: 'orders/2026-11-20.csv' });
    await expect.poll(async () => (await row.count()) && row.getAttribute('data-status'), { timeout: 60_000, interval: 500 }).toBe('Succeeded');
    expect(await page.locator('p .s').first().textContent()).toBe('Succeeded');
    expect(await h.query(`SELECT order_id FROM "${h.schema}".demo_orders ORDER BY order_id`)).toEqual(['1', '2', '3', '4', '5'].map((order_id) => ({ order_id })));
  });

  it("a skip-mode run: the file's detail links its skipped-rows log, and following the link downloads that CSV", async () => {
    const table = await h.table('skip_orders', 'order_id bigint, amount numeric(12,2)');
    await h.upload('skip/2026-11-21.csv', 'order_id,amount\n10,1.00\n11,eleven\n12,3.50\n');
    const skipSpec = parsePipelineSpec({ name: 'skip-orders', source: { container: h.container.containerName, prefix: 'skip/' }, sink: { table }, faultTolerance: { skipIncompatibleRows: true } });
    pipelines.set(skipSpec.name, skipSpec);
    const runId = (await runPipeline(skipSpec, { env: h.env })).runId;
    await page.goto(new URL(`/runs/${runId}`, ui.url).href);
    const file = page.locator('tr.file', { hasText: 'skip/2026-11-21.csv' });
    expect(await file.getAttribute('data-status')).toBe('Succeeded');
    const link = file.locator('a.skiplog');
    expect(await link.textContent()).toBe('skipped rows (CSV)');
    expect(await link.getAttribute('title')).toBe(`copy-logs/skip-orders/${runId}/skip/2026-11-21.csv.csv`);
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const csv = await readFile((await download.path())!, 'utf8');
    expect(csv.split('\n')[0]).toBe('line,column,value,reason');
    expect(csv.split('\n')[1]!.startsWith('3,amount,eleven,')).toBe(true);
    expect(csv.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('a slow run shows Running with its progress, refreshing itself, then Succeeded', async () => {
    const table = await h.table('slow_orders', 'order_id bigint');
    for (const i of [1, 2, 3]) await h.upload(`slow/${i}.csv`, `order_id\n${i}\n`);
    // Each blob's transaction sleeps 3 s: a run of ~9 s, one file at a time.
    const slowSpec = parsePipelineSpec({ name: 'slow-orders', source: { container: h.container.containerName, prefix: 'slow/' }, sink: { table, preCopyScript: 'SELECT pg_sleep(3)' }, maxParallelCopies: 1 });
    const run = runPipeline(slowSpec, { env: h.env });
    await page.goto(ui.url);
    const row = page.locator('tbody tr', { hasText: 'slow-orders' });
    // The list refreshes itself (meta refresh, no script) while a run is in flight.
    await expect.poll(async () => (await row.count()) && row.locator('.progress').textContent(), { timeout: 30_000, interval: 250 }).toMatch(/^[12] of 3 files done, [12] rows so far(; loading 1 file: \d+ B of \d+ B read)?$/);
    expect(await row.locator('.s').textContent()).toBe('Running');
    await page.screenshot({ path: path.join(shots, 'run-history-running.png'), fullPage: true });
    await row.locator('a').first().click();
    expect(await page.locator('p .s').first().textContent()).toBe('Running');
    expect(await page.locator('#progress').textContent()).toMatch(/of 3 files done/);
    await run;
    await expect.poll(async () => page.locator('p .s').first().textContent(), { timeout: 30_000, interval: 250 }).toBe('Succeeded');
    expect(await page.locator('#progress').count()).toBe(0);
  }, 60_000);
});
