import { describe, expect, it } from 'vitest';
import { escapeHtml, html, raw } from '../../src/ui/html.js';
import { chartSvg, href, runDetailPage, runsListPage } from '../../src/ui/pages.js';
import type { FileRow, RunRow } from '../../src/ui/queries.js';

const HOSTILE = '<img src=x onerror=alert(1)>.csv';

const run = (over: Partial<RunRow> = {}): RunRow => ({
  runId: 'r1',
  pipeline: 'orders',
  trigger: 'CLI',
  startedAt: new Date('2026-11-28T10:00:00Z'),
  finishedAt: new Date('2026-11-28T10:00:02Z'),
  status: 'PartiallySucceeded',
  filesLoaded: 1,
  filesSkipped: 0,
  filesFailed: 1,
  rowsRead: 10,
  rowsCopied: 9,
  rowsSkipped: 0,
  bytes: 2048,
  error: null,
  updatedAt: new Date('2026-11-28T10:00:02Z'),
  filesTotal: null,
  filesDone: null,
  loading: { files: 0, bytesRead: 0, size: 0 },
  cursor: '2026-11-28 10:00:00+00|r1',
  ...over,
});

const file = (over: Partial<FileRow> = {}): FileRow => ({
  blob: 'a.csv',
  etag: 'e',
  status: 'Succeeded',
  rowsRead: 9,
  rowsCopied: 9,
  rowsSkipped: 0,
  bytes: 1000,
  durationMs: 120,
  attempts: 1,
  errorMessage: null,
  errorKind: null,
  line: null,
  column: null,
  sqlstate: null,
  blobModifiedAt: null,
  finishedAt: new Date(),
  lagSeconds: 4.2,
  skipLog: null,
  ...over,
});

describe('escaping', () => {
  it('escapes the five HTML-special characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('html`` escapes every interpolated value, nested arrays included, but not Html', () => {
    const inner = html`<b>${HOSTILE}</b>`;
    const out = html`<p title="${'" onmouseover="x'}">${[HOSTILE, inner]}${raw('<i>ok</i>')}${null}${false}${3}</p>`.text;
    expect(out).toBe(
      '<p title="&quot; onmouseover=&quot;x">&lt;img src=x onerror=alert(1)&gt;.csv<b>&lt;img src=x onerror=alert(1)&gt;.csv</b><i>ok</i>3</p>',
    );
  });
});

describe('pages', () => {
  const links = { base: '/api/ui', keep: { code: 'k"ey' } };

  it('a hostile blob name, pipeline and error message appear only as text', () => {
    const page = runDetailPage(
      links,
      run({ pipeline: `<script>alert(2)</script>` }),
      [file({ blob: HOSTILE, status: 'Failed', errorMessage: `bad value "<b>x</b>"`, line: 3, column: 'id', sqlstate: '22P02' })],
      { csrfToken: 'tok' },
    );
    expect(page).not.toContain('<img');
    expect(page).not.toContain('<script>');
    expect(page).not.toContain('<b>x</b>');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;.csv');
    expect(page).toContain('line 3, column id, SQLSTATE 22P02');
    // The rerun form names the pipeline and the failed blob, escaped inside the attribute.
    expect(page).toContain('<input type="hidden" name="blob" value="&lt;img src=x onerror=alert(1)&gt;.csv">');
    expect(page).toContain('<input type="hidden" name="csrf" value="tok">');
    expect(page).toContain('action="/api/ui/rerun?code=k%22ey"');
  });

  it('no rerun form without failed files; a refusal says why', () => {
    expect(runDetailPage(links, run(), [file()], {})).not.toContain('id="rerun"');
    const refused = runDetailPage(links, run(), [file({ status: 'Failed', errorMessage: 'x' })], { refused: 'pipeline orders is not deployed in this app' });
    expect(refused).not.toContain('id="rerun"');
    expect(refused).toContain('pipeline orders is not deployed in this app');
  });

  it('a running run refreshes itself and shows its progress', () => {
    const page = runDetailPage(links, run({ status: 'Running', finishedAt: null }), [], {}, '3 of 10 files done');
    expect(page).toContain('http-equiv="refresh"');
    expect(page).toContain('3 of 10 files done');
  });

  it('a running run lists its loading files: bytes read of size, a bar and a percent, the blob name as text', () => {
    const page = runDetailPage(links, run({ status: 'Running', finishedAt: null }), [], {}, undefined, [{ blob: HOSTILE, etag: 'e', bytesRead: 512 * 1024, size: 2 * 1024 * 1024 }]);
    expect(page).toContain('<td class="blob">&lt;img src=x onerror=alert(1)&gt;.csv</td><td class="n">512.0 KB of 2.0 MB</td>');
    expect(page).toContain('<progress max="100" value="25"></progress> <span class="percent">25%</span>');
    expect(page).not.toContain('<img');
    expect(runDetailPage(links, run({ status: 'Running', finishedAt: null }), [], {})).not.toContain('id="loading"');
  });

  it('runs list: one row per run, links encoded, the next page by cursor, filters kept', () => {
    const page = runsListPage(links, [run({ runId: 'a/b?c' })], { pipeline: 'orders', status: 'Failed' }, ['orders', HOSTILE], 'CUR|1');
    expect(page).toContain('href="/api/ui/runs/a%2Fb%3Fc?code=k%22ey"');
    expect(page).toContain('href="/api/ui/?pipeline=orders&amp;status=Failed&amp;after=CUR%7C1&amp;code=k%22ey"');
    expect(page).toContain('<option value="Failed" selected>');
    expect(page).not.toContain('<img');
    expect(page.match(/<tr data-run=/g)).toHaveLength(1);
  });

  it('href keeps only set parameters', () => {
    expect(href({ base: '' }, '/', { pipeline: undefined, status: '' })).toBe('/');
  });

  it('chart: one bar per run scaled to the largest, a lag line over the runs that loaded', () => {
    const svg = chartSvg([
      { runId: '1', startedAt: new Date(0), rowsCopied: 100, lagSeconds: 10 },
      { runId: '2', startedAt: new Date(1000), rowsCopied: 50, lagSeconds: null },
      { runId: HOSTILE, startedAt: new Date(2000), rowsCopied: 0, lagSeconds: 5 },
    ]).text;
    expect(svg.match(/<rect /g)).toHaveLength(3);
    const heights = [...svg.matchAll(/height="([\d.]+)" fill/g)].map((m) => Number(m[1]));
    expect(heights[0]).toBeCloseTo(heights[1]! * 2);
    expect(heights[2]).toBe(0);
    expect(svg.match(/<polyline points="([^"]+)"/)![1]!.split(' ')).toHaveLength(2);
    expect(svg).not.toContain('<img');
  });
});
