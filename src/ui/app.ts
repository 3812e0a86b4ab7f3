/**
 * The run-history page's routes, apart from the transport: the local server (server.ts)
 * and the Functions HTTP route (functions/ui.ts) both call handleUi.
 *   GET  /                   runs list (?pipeline=&status=&after=cursor)
 *   GET  /runs/{id}          one run, every file
 *   GET  /runs/{id}/skipped-rows?blob=&etag=   a file's skipped-rows log (CSV, from storage)
 *   GET  /pipelines/{name}   rows per run and load lag over time
 *   POST /rerun              form: pipeline, blob (repeated), csrf → 303 to the new run
 */
import { timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Env } from '../connections/settings.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { redactSecrets } from '../redact.js';
import { formatBytes } from '../run/report.js';
import { getRun, listRuns, loggedPipelines, pipelineSeries, type RunLogView, type RunRow } from './queries.js';
import { openSkipLog } from './skipLogFile.js';
import { href, messagePage, pipelinePage, RUN_STATUSES, runDetailPage, runsListPage, type LinkContext } from './pages.js';

export interface UiRequest {
  method: string;
  /** The path below the page's base, starting with "/". */
  path: string;
  query: URLSearchParams;
  /** The urlencoded body of a POST. */
  form?: URLSearchParams;
  headers: { origin?: string | null; host?: string | null; secFetchSite?: string | null };
}

export interface UiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Instead of body: a download streamed from storage (the transport destroys the response if it fails). */
  stream?: Readable;
}

/** What the orchestration says of a run the log has as Running (Functions: its status; locally: nothing). */
export type LiveRun = { running: true; progress?: string } | { running: false };

export interface UiDeps {
  place: RunLogView;
  env: Env;
  /** The pipelines the page knows (their storage holds the skipped-rows logs). */
  specOf(pipeline: string): PipelineSpec | undefined;
  links: LinkContext;
  /** Why `pipeline` cannot be rerun from here (not deployed here), or undefined when it can. */
  rerunRefusal(pipeline: string): string | undefined;
  /** Starts a run of the deployed pipeline over these blob names (their current versions); its run ID. */
  rerun(pipeline: string, blobs: string[]): Promise<string>;
  /**
   * An in-flight run as its orchestration sees it: Running with its progress, or over (then
   * its end has been recorded in the log). Undefined when nothing is known of it.
   */
  live?(runId: string): Promise<LiveRun | undefined>;
  /** When set, a POST must carry it (the local server's CSRF token). */
  csrfToken?: string;
}

/** Every page: no caching, no framing, no script, nothing from elsewhere. */
const SECURITY_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: under it a browser sends "Origin: null" with the page's own POST, which
  // the same-origin check below must refuse.
  'referrer-policy': 'same-origin',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

const ok = (body: string, status = 200): UiResponse => ({ status, headers: { ...SECURITY_HEADERS }, body });

export const MAX_RERUN_BLOBS = 1000;

export async function handleUi(request: UiRequest, deps: UiDeps): Promise<UiResponse> {
  try {
    return await route(request, deps);
  } catch (err) {
    return ok(messagePage('Error', redactSecrets((err as Error).message), deps.links), 500);
  }
}

async function route(request: UiRequest, deps: UiDeps): Promise<UiResponse> {
  const { links, place } = deps;
  const path = request.path.replace(/\/+$/, '') || '/';
  if (request.method === 'GET' && path === '/') {
    const status = request.query.get('status') ?? undefined;
    const filter = {
      pipeline: request.query.get('pipeline') || undefined,
      status: status && (RUN_STATUSES as readonly string[]).includes(status) ? status : undefined,
      after: request.query.get('after') || undefined,
    };
    let [{ runs, next }, pipelines] = await Promise.all([listRuns(place, filter), loggedPipelines(place)]);
    let live = await liveOf(runs, deps);
    // Runs found finished by their orchestration were just completed in the log: read again.
    if ([...live.values()].some((l) => !l.running)) {
      ({ runs, next } = await listRuns(place, filter));
      live = await liveOf(runs, deps);
    }
    return ok(runsListPage(links, runs, filter, pipelines, next, progressLines(runs, live)));
  }
  const skipLogMatch = /^\/runs\/([^/]+)\/skipped-rows$/.exec(path);
  if (request.method === 'GET' && skipLogMatch) {
    const file = { runId: decodeURIComponent(skipLogMatch[1]!), blob: request.query.get('blob') ?? '', etag: request.query.get('etag') ?? '' };
    const opened = await openSkipLog(place, file, deps.specOf, deps.env);
    if ('refused' in opened) return ok(messagePage('Skipped-rows log', opened.refused, links), opened.status);
    // An ASCII fallback name and the exact one (RFC 6266); nosniff and a sandbox keep the CSV from ever running as a page.
    const ascii = opened.fileName.replace(/[^A-Za-z0-9._-]/g, '_');
    return {
      status: 200,
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(opened.fileName)}`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
        ...(opened.length !== undefined && { 'content-length': String(opened.length) }),
      },
      body: '',
      stream: opened.stream,
    };
  }
  const runMatch = /^\/runs\/([^/]+)$/.exec(path);
  if (request.method === 'GET' && runMatch) {
    const runId = decodeURIComponent(runMatch[1]!);
    const found = await getRun(place, runId);
    if (!found) return ok(messagePage('Not found', `No run ${runId} in the run log (runs past the retention are pruned).`, links), 404);
    let { run, files, loading } = found;
    let live = await liveOf([run], deps);
    if (live.get(runId)?.running === false) {
      ({ run, files, loading } = (await getRun(place, runId)) ?? found);
      live = await liveOf([run], deps);
    }
    const refused = deps.rerunRefusal(run.pipeline);
    const progress = progressLines([run], live).get(runId);
    return ok(runDetailPage(links, run, files, { refused, csrfToken: deps.csrfToken }, progress, run.status === 'Running' ? loading : []));
  }
  const pipelineMatch = /^\/pipelines\/([^/]+)$/.exec(path);
  if (request.method === 'GET' && pipelineMatch) {
    const pipeline = decodeURIComponent(pipelineMatch[1]!);
    return ok(pipelinePage(links, pipeline, await pipelineSeries(place, pipeline)));
  }
  if (path === '/rerun') {
    if (request.method !== 'POST') return ok(messagePage('Method not allowed', 'Rerun is a POST from a run page.', links), 405);
    return rerun(request, deps);
  }
  return ok(messagePage('Not found', `No page ${request.path}.`, links), 404);
}

/** Same origin: a browser sends Origin (or Sec-Fetch-Site) with a form POST; another site's page cannot forge them. */
function crossSite(request: UiRequest): boolean {
  const { origin, host, secFetchSite } = request.headers;
  if (secFetchSite && secFetchSite !== 'same-origin' && secFetchSite !== 'none') return true;
  if (origin && host) {
    try {
      return new URL(origin).host !== host;
    } catch {
      return true;
    }
  }
  return false;
}

function tokenMatches(expected: string, given: string | null | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function rerun(request: UiRequest, deps: UiDeps): Promise<UiResponse> {
  const form = request.form ?? new URLSearchParams();
  if (crossSite(request) || (deps.csrfToken !== undefined && !tokenMatches(deps.csrfToken, form.get('csrf')))) {
    return ok(messagePage('Forbidden', 'This form did not come from this page (cross-site request refused).', deps.links), 403);
  }
  const pipeline = form.get('pipeline') ?? '';
  const blobs = [...new Set(form.getAll('blob').filter(Boolean))];
  if (!pipeline || !blobs.length || blobs.length > MAX_RERUN_BLOBS) {
    return ok(messagePage('Bad request', `Name a pipeline and 1 to ${MAX_RERUN_BLOBS} blobs.`, deps.links), 400);
  }
  const refused = deps.rerunRefusal(pipeline);
  if (refused) return ok(messagePage('Cannot rerun', refused, deps.links), 409);
  const runId = await deps.rerun(pipeline, blobs);
  return { status: 303, headers: { ...SECURITY_HEADERS, location: href(deps.links, `/runs/${encodeURIComponent(runId)}`) }, body: '' };
}

/** The orchestration's word on the runs the log has in flight (Running, or Abandoned by the heartbeat rule). */
async function liveOf(runs: RunRow[], deps: UiDeps): Promise<Map<string, LiveRun>> {
  const live = new Map<string, LiveRun>();
  if (!deps.live) return live;
  const inFlight = runs.filter((r) => r.status === 'Running' || (r.status === 'Abandoned' && !r.finishedAt));
  await Promise.all(
    inFlight.map(async (r) => {
      const found = await deps.live!(r.runId).catch(() => undefined);
      if (found) live.set(r.runId, found);
    }),
  );
  return live;
}

/** The files a run is loading now, from their copies' heartbeats: rows so far count finished files, these count bytes. */
function loadingPart(run: RunRow): string {
  const { files, bytesRead, size } = run.loading;
  if (!files) return '';
  return `; loading ${files.toLocaleString('en-US')} file${files > 1 ? 's' : ''}: ${formatBytes(bytesRead)} of ${formatBytes(size)} read`;
}

/**
 * One progress line per run in flight: the orchestration's when it answered (and then the
 * run is Running whatever its heartbeat says), else the log's own counters.
 */
function progressLines(runs: RunRow[], live: Map<string, LiveRun>): Map<string, string> {
  const lines = new Map<string, string>();
  for (const run of runs) {
    const l = live.get(run.runId);
    if (l?.running) {
      run.status = 'Running';
      if (l.progress) lines.set(run.runId, l.progress + loadingPart(run));
    } else if (run.status === 'Running') {
      const done = run.filesDone ?? run.filesLoaded + run.filesSkipped + run.filesFailed;
      const files = run.filesTotal === null ? `${done.toLocaleString('en-US')} files done` : `${done.toLocaleString('en-US')} of ${run.filesTotal.toLocaleString('en-US')} files done`;
      lines.set(run.runId, `${files}, ${run.rowsCopied.toLocaleString('en-US')} rows so far${loadingPart(run)}`);
    }
  }
  return lines;
}
