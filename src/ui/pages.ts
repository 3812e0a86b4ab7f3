/**
 * The run-history pages, server-rendered: runs list, run detail, a pipeline's chart. Pure
 * functions from rows to HTML; every value goes through html`…` (html.ts). No script, no
 * external resource: the stylesheet and the SVG chart are inline.
 */
import { formatBytes } from '../run/report.js';
import { html, raw, type Html } from './html.js';
import type { ChartPoint, FileRow, RunFilter, RunRow } from './queries.js';
import type { InFlightFile } from '../run/output.js';

/** How links are made: the route's base path, and query parameters every link keeps (none locally). */
export interface LinkContext {
  base: string;
  keep?: Record<string, string>;
}

export function href(links: LinkContext, path: string, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...params, ...links.keep })) if (v) query.set(k, v);
  const q = query.toString();
  return `${links.base}${path}${q ? `?${q}` : ''}`;
}

/** Abandoned: Running with no heartbeat for BLOB2PG_RUN_ABANDONED_MINUTES (its process was killed), or a watch stopped with it waiting. */
export const RUN_STATUSES = ['Running', 'Succeeded', 'PartiallySucceeded', 'Failed', 'Abandoned'] as const;

const STYLE = raw(`<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24}
h1{font-size:1.3rem}h2{font-size:1.1rem}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .5rem;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.s{padding:.1rem .4rem;border-radius:.3rem;font-size:.85em}
.Succeeded{background:#dafbe1}.Failed{background:#ffebe9}.PartiallySucceeded,.Retrying{background:#fff8c5}.Running{background:#ddf4ff}.Abandoned{background:#ffd8b5}.progress{display:block;font-size:.85em;color:#57606a}.Skipped{background:#eaeef2}
.err{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.85em;color:#82071e}
form.f{margin:.5rem 0 1rem}nav a{margin-right:1rem}
</style>`);

/** With a run in flight the page reloads itself (no script: the CSP allows none) every `refresh` seconds. */
function page(title: string, body: Html, options: { refresh?: number } = {}): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
${options.refresh ? html`<meta http-equiv="refresh" content="${options.refresh}">` : ''}<title>${title} · blob2pg</title>${STYLE}</head>
<body>${body}</body></html>
`.text;
}

const n = (value: number) => value.toLocaleString('en-US');

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const when = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '');
const badge = (status: string) => html`<span class="s ${status}">${status}</span>`;

function runDurationMs(run: RunRow): number | undefined {
  return run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : undefined;
}

export function runsListPage(links: LinkContext, runs: RunRow[], filter: RunFilter, pipelines: string[], next?: string, progress = new Map<string, string>()): string {
  const rows = runs.map((run) => {
    const ms = runDurationMs(run);
    const line = progress.get(run.runId);
    return html`<tr data-run="${run.runId}">
<td><a href="${href(links, `/runs/${encodeURIComponent(run.runId)}`)}">${when(run.startedAt)}</a></td>
<td><a href="${href(links, `/pipelines/${encodeURIComponent(run.pipeline)}`)}">${run.pipeline}</a></td>
<td>${run.trigger}</td><td>${badge(run.status)}${line ? html`<span class="progress">${line}</span>` : ''}</td>
<td class="n">${ms === undefined ? '' : formatDuration(ms)}</td>
<td class="n">${n(run.filesLoaded)}</td><td class="n">${n(run.filesSkipped)}</td><td class="n">${n(run.filesFailed)}</td>
<td class="n">${n(run.rowsCopied)}</td>
<td class="n">${ms ? `${formatBytes(Math.round((run.bytes * 1000) / ms))}/s` : ''}</td></tr>`;
  });
  const option = (value: string, current?: string) => html`<option value="${value}"${value === (current ?? '') ? raw(' selected') : ''}>${value || 'all'}</option>`;
  return page(
    'Runs',
    html`<h1>Pipeline runs</h1>
<form class="f" method="get" action="${href({ base: links.base }, '/')}">
${Object.entries(links.keep ?? {}).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<label>Pipeline <select name="pipeline">${['', ...pipelines].map((p) => option(p, filter.pipeline))}</select></label>
<label>Status <select name="status">${['', ...RUN_STATUSES].map((s) => option(s, filter.status))}</select></label>
<button type="submit">Filter</button></form>
<table><thead><tr><th>Start</th><th>Pipeline</th><th>Trigger</th><th>Status</th><th class="n">Duration</th>
<th class="n">Loaded</th><th class="n">Skipped</th><th class="n">Failed</th><th class="n">Rows</th><th class="n">Throughput</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="10">No runs${filter.pipeline || filter.status ? ' match this filter' : ' in the run log yet'}.</td></tr>`}</tbody></table>
<nav>${filter.after ? html`<a href="${href(links, '/', { pipeline: filter.pipeline, status: filter.status })}">Newest</a>` : ''}${
      next ? html`<a id="older" href="${href(links, '/', { pipeline: filter.pipeline, status: filter.status, after: next })}">Older runs</a>` : ''
    }</nav>`,
    { refresh: runs.some((r) => r.status === 'Running') ? 5 : undefined },
  );
}

export interface RerunForm {
  /** Why the failed files cannot be rerun from here, when they cannot. */
  refused?: string;
  csrfToken?: string;
}

export function runDetailPage(links: LinkContext, run: RunRow, files: FileRow[], rerun: RerunForm, progress?: string, loading: InFlightFile[] = []): string {
  const failed = files.filter((f) => f.status === 'Failed');
  const ms = runDurationMs(run);
  const fileRows = files.map(
    (f) => html`<tr class="file" data-status="${f.status}">
<td class="blob">${f.blob}</td><td>${badge(f.status)}</td>
<td class="n">${n(f.rowsRead)}</td><td class="n">${n(f.rowsCopied)}</td><td class="n">${n(f.rowsSkipped)}${
      f.skipLog
        ? html`<br><a class="skiplog" title="${f.skipLog}" href="${href(links, `/runs/${encodeURIComponent(run.runId)}/skipped-rows`, { blob: f.blob, etag: f.etag })}">skipped rows (CSV)</a>`
        : ''
    }</td>
<td class="n">${formatBytes(f.bytes)}</td><td class="n">${formatDuration(f.durationMs)}</td><td class="n">${f.attempts}</td>
<td class="n">${f.lagSeconds === null ? '' : formatDuration(f.lagSeconds * 1000)}</td>
<td>${f.errorMessage ? html`${f.line !== null ? html`<div class="at">line ${f.line}${f.column ? html`, column ${f.column}` : ''}${f.sqlstate ? html`, SQLSTATE ${f.sqlstate}` : ''}</div>` : f.sqlstate ? html`<div class="at">SQLSTATE ${f.sqlstate}</div>` : ''}<div class="err">${f.errorMessage}</div>` : ''}</td></tr>`,
  );
  const rerunForm = failed.length
    ? rerun.refused
      ? html`<p>Rerun failed files: <button type="button" disabled>Rerun</button> ${rerun.refused}</p>`
      : html`<form class="f" method="post" action="${href(links, '/rerun')}">
<input type="hidden" name="pipeline" value="${run.pipeline}">
${failed.map((f) => html`<input type="hidden" name="blob" value="${f.blob}">`)}
${rerun.csrfToken ? html`<input type="hidden" name="csrf" value="${rerun.csrfToken}">` : ''}
<button type="submit" id="rerun">Rerun ${failed.length} failed file${failed.length > 1 ? 's' : ''}</button> (loads the blobs' current versions)</form>`
    : '';
  return page(
    `Run ${run.runId}`,
    html`<nav><a href="${href(links, '/')}">All runs</a><a href="${href(links, `/pipelines/${encodeURIComponent(run.pipeline)}`)}">${run.pipeline} over time</a></nav>
<h1>Run ${run.runId}</h1>
<p>Pipeline <b>${run.pipeline}</b>, trigger ${run.trigger}, ${badge(run.status)}${progress ? html` <span class="progress" id="progress">${progress}</span>` : ''}<br>
${run.status === 'Abandoned' && !run.finishedAt ? html`no sign of life from the process running it since ${when(run.updatedAt)} (killed?); what it did not load is not in the ledger, so the next run loads it<br>` : ''}
started ${when(run.startedAt)}${ms === undefined ? '' : html`, took ${formatDuration(ms)}`};
${n(run.filesLoaded)} loaded, ${n(run.filesSkipped)} skipped (already loaded), ${n(run.filesFailed)} failed;
${n(run.rowsCopied)} rows copied of ${n(run.rowsRead)} read, ${n(run.rowsSkipped)} skipped; ${formatBytes(run.bytes)} read</p>
${run.error ? html`<div class="err">${run.error}</div>` : ''}
${rerunForm}
${loadingTable(loading)}
<table><thead><tr><th>Blob</th><th>Status</th><th class="n">Rows read</th><th class="n">Copied</th><th class="n">Skipped</th>
<th class="n">Data read</th><th class="n">Duration</th><th class="n">Attempts</th><th class="n">Lag</th><th>Error</th></tr></thead>
<tbody>${fileRows}</tbody></table>`,
    { refresh: run.status === 'Running' ? 2 : undefined },
  );
}

/** The files a run is loading now (their copies' last heartbeat): bytes read of the blob's size, as a bar and a percent. */
function loadingTable(loading: InFlightFile[]): Html | '' {
  if (!loading.length) return '';
  const rows = loading.map((f) => {
    const percent = f.size > 0 ? Math.min(100, Math.floor((f.bytesRead * 100) / f.size)) : 0;
    return html`<tr class="loading"><td class="blob">${f.blob}</td><td class="n">${formatBytes(f.bytesRead)} of ${formatBytes(f.size)}</td>
<td><progress max="100" value="${String(percent)}"></progress> <span class="percent">${String(percent)}%</span></td></tr>`;
  });
  return html`<h2>Loading now</h2>
<table id="loading"><thead><tr><th>Blob</th><th class="n">Read</th><th>Progress</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Rows copied per run (bars, left scale) and load lag (line, right scale), oldest run first. */
export function chartSvg(points: ChartPoint[], width = 720, height = 220): Html {
  const pad = { l: 60, r: 60, t: 10, b: 30 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const maxRows = Math.max(1, ...points.map((p) => p.rowsCopied));
  const lags = points.map((p) => p.lagSeconds).filter((l): l is number => l !== null);
  const maxLag = Math.max(1, ...lags);
  const step = points.length ? w / points.length : w;
  const bars = points.map((p, i) => {
    const bh = (p.rowsCopied / maxRows) * h;
    return html`<rect x="${(pad.l + i * step + step * 0.1).toFixed(1)}" y="${(pad.t + h - bh).toFixed(1)}" width="${Math.max(1, step * 0.8).toFixed(1)}" height="${bh.toFixed(1)}" fill="#54aeff"><title>${when(p.startedAt)} run ${p.runId}: ${n(p.rowsCopied)} rows</title></rect>`;
  });
  const lagPoints = points
    .map((p, i) => (p.lagSeconds === null ? undefined : `${(pad.l + i * step + step / 2).toFixed(1)},${(pad.t + h - (p.lagSeconds / maxLag) * h).toFixed(1)}`))
    .filter((p) => p !== undefined)
    .join(' ');
  return html`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="rows per run and load lag">
<line x1="${pad.l}" y1="${pad.t + h}" x2="${pad.l + w}" y2="${pad.t + h}" stroke="#8c959f"/>
<text x="${pad.l - 6}" y="${pad.t + 10}" text-anchor="end" font-size="11">${n(maxRows)}</text>
<text x="${pad.l - 6}" y="${pad.t + h}" text-anchor="end" font-size="11">0</text>
<text x="${pad.l + w + 6}" y="${pad.t + 10}" font-size="11" fill="#cf222e">${formatDuration(maxLag * 1000)}</text>
<text x="${pad.l}" y="${height - 8}" font-size="11">rows copied per run (bars) · load lag, blob modified → loaded (red line)</text>
${bars}${lagPoints ? html`<polyline points="${lagPoints}" fill="none" stroke="#cf222e" stroke-width="2"/>` : ''}</svg>`;
}

export function pipelinePage(links: LinkContext, pipeline: string, points: ChartPoint[]): string {
  return page(
    pipeline,
    html`<nav><a href="${href(links, '/')}">All runs</a><a href="${href(links, '/', { pipeline })}">Runs of ${pipeline}</a></nav>
<h1>${pipeline}: the last ${points.length} runs</h1>${chartSvg(points)}`,
  );
}

export function messagePage(title: string, message: string, links?: LinkContext): string {
  return page(title, html`<h1>${title}</h1><p>${message}</p>${links ? html`<p><a href="${href(links, '/')}">All runs</a></p>` : ''}`);
}
