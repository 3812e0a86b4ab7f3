/**
 * The run-history page's routes, apart from the transport: the local server (server.ts)
 * and the Functions HTTP route (functions/ui.ts) both call handleUi.
 *   GET  /                   runs list (?pipeline=&status=&after=cursor)
 *   GET  /runs/{id}          one run, every file
 *   GET  /pipelines/{name}   rows per run and load lag over time
 *   POST /rerun              form: pipeline, blob (repeated), csrf → 303 to the new run
 */
import { timingSafeEqual } from 'node:crypto';
import type { RunLogPlace } from '../runLog/store.js';
import { redactSecrets } from '../redact.js';
import { getRun, listRuns, loggedPipelines, pipelineSeries } from './queries.js';
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
}

export interface UiDeps {
  place: RunLogPlace;
  links: LinkContext;
  /** Why `pipeline` cannot be rerun from here (not deployed here), or undefined when it can. */
  rerunRefusal(pipeline: string): string | undefined;
  /** Starts a run of the deployed pipeline over these blob names (their current versions); its run ID. */
  rerun(pipeline: string, blobs: string[]): Promise<string>;
  /** Live progress of an in-flight run (the orchestration's custom status), as one line. */
  progress?(runId: string): Promise<string | undefined>;
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
    const [{ runs, next }, pipelines] = await Promise.all([listRuns(place, filter), loggedPipelines(place)]);
    return ok(runsListPage(links, runs, filter, pipelines, next));
  }
  const runMatch = /^\/runs\/([^/]+)$/.exec(path);
  if (request.method === 'GET' && runMatch) {
    const runId = decodeURIComponent(runMatch[1]!);
    const found = await getRun(place, runId);
    if (!found) return ok(messagePage('Not found', `No run ${runId} in the run log (runs past the retention are pruned).`, links), 404);
    const refused = deps.rerunRefusal(found.run.pipeline);
    const progress = found.run.status === 'Running' ? await deps.progress?.(runId).catch(() => undefined) : undefined;
    return ok(runDetailPage(links, found.run, found.files, { refused, csrfToken: deps.csrfToken }, progress));
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
