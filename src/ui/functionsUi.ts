/**
 * The run-history page as a Functions HTTP route (functions/ui.ts): the app's deployed
 * pipelines can be rerun (a new orchestration over the failed blobs' names), in-flight runs
 * show the orchestration's progress, and a run found finished there while its log row still
 * says Running (the orchestrator itself does no I/O) is completed from its output.
 *
 * Links carry the `code` query parameter the page was opened with, when it was: with a
 * function key and no App Service authentication, that key is what lets the next request
 * in. It is the viewer's own key, already in the address bar; prefer App Service
 * authentication, which needs none.
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Env } from '../connections/settings.js';
import type { LoadedPipelines } from '../app/pipelines.js';
import type { RunProgress, RunInput } from '../app/plan.js';
import { newRunId, startLoggedRun } from '../app/triggers.js';
import type { DurableStarter } from '../app/starter.js';
import { recordOrchestrationEnd, type RunLogPlace } from '../runLog/store.js';
import { ledgerSchemaName } from '../sink/ledger.js';
import { poolFor } from '../sink/pool.js';
import { handleUi } from './app.js';
import { abandonedAfterSeconds } from './queries.js';
import { notice } from '../notices.js';
import { redactSecrets } from '../redact.js';

/** The run log the page reads: BLOB2PG_UI_CONNECTION, else the first pipeline's sink connection, else TARGET_POSTGRES. */
export function uiPlace(pipelines: LoadedPipelines, env: Env): RunLogPlace {
  const first = [...pipelines.pipelines.values()][0];
  const connection = env.BLOB2PG_UI_CONNECTION ?? first?.sink.connection ?? 'TARGET_POSTGRES';
  return { pool: poolFor(connection, env), schema: ledgerSchemaName(first?.sink.ledgerSchema, env) };
}

export async function handleUiRequest(request: HttpRequest, starter: DurableStarter, pipelines: LoadedPipelines, env: Env): Promise<HttpResponseInit> {
  const url = new URL(request.url);
  const code = url.searchParams.get('code');
  const place = uiPlace(pipelines, env);
  const { ensureRunLog } = await import('../runLog/store.js');
  await ensureRunLog(place);
  const response = await handleUi(
    {
      method: request.method,
      path: `/${request.params.path ?? ''}`,
      query: url.searchParams,
      form: request.method === 'POST' ? new URLSearchParams(await request.text()) : undefined,
      headers: { origin: request.headers.get('origin'), host: request.headers.get('host'), secFetchSite: request.headers.get('sec-fetch-site') },
    },
    {
      place: { ...place, abandonedAfterSeconds: abandonedAfterSeconds(env) },
      env,
      specOf: (pipeline) => pipelines.pipelines.get(pipeline),
      links: { base: '/api/ui', ...(code && { keep: { code } }) },
      rerunRefusal: (pipeline) => (pipelines.pipelines.has(pipeline) ? undefined : `pipeline ${pipeline} is not deployed in this app`),
      async rerun(pipeline, blobs) {
        const spec = pipelines.pipelines.get(pipeline)!;
        const input: RunInput = { spec, deployed: true, blobNames: blobs };
        return startLoggedRun(starter, spec, newRunId(), input, 'Rerun', env);
      },
      async live(runId) {
        const status = await starter.getStatus(runId);
        if (!status) return undefined;
        if (status.runtimeStatus === 'Completed' || status.runtimeStatus === 'Failed' || status.runtimeStatus === 'Terminated') {
          await recordOrchestrationEnd(place, '', runId, status);
          return { running: false };
        }
        const p = status.customStatus as RunProgress | undefined;
        return { running: true, progress: p ? `${p.filesDone} of ${p.filesTotal} files done, ${p.filesFailed} failed, ${p.rowsCopied.toLocaleString('en-US')} rows so far` : status.runtimeStatus };
      },
    },
  );
  // A storage stream that fails mid-download ends the response; the host sees the error, the process does not crash on it.
  response.stream?.on('error', (err) => notice(`  warning  run-history page: a skipped-rows log download failed: ${redactSecrets(err.message)}`));
  return { status: response.status, headers: response.headers, body: response.stream ?? response.body };
}
