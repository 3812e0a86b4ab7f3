/**
 * What each trigger does, apart from the Functions plumbing: parse the input, pick the
 * pipelines, start the run orchestrator. functions/*.ts bind these to triggers.
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Env } from '../connections/settings.js';
import { SpecError } from '../errors.js';
import { parsePipelineSpec, type PipelineSpec } from '../pipeline/spec.js';
import { containerFor } from '../source/blobs.js';
import { blobRefFromEvent, eventInstanceId, EventParseError, parseBlobEvents, pipelinesForEvent, scheduledInstanceId, type PipelineTarget } from './events.js';
import type { LoadedPipelines } from './pipelines.js';
import { redactError, redactSecrets } from '../connections/redact.js';
import type { RunInput } from './plan.js';
import { isActive, type DurableStarter, type InstanceStatus } from './starter.js';

export const RUN_ORCHESTRATOR = 'blob2pgRun';

export interface Logger {
  debug(...args: unknown[]): void;
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Every line the app logs passes through redactSecrets (connection strings, tokens, SAS). */
export function redactingLogger(inner: Logger): Logger {
  const clean = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a instanceof Error ? redactError(a) : a));
  return {
    debug: (...args) => inner.debug(...clean(args)),
    log: (...args) => inner.log(...clean(args)),
    warn: (...args) => inner.warn(...clean(args)),
    error: (...args) => inner.error(...clean(args)),
  };
}

export function pipelineTargets(pipelines: Iterable<PipelineSpec>, env: Env = process.env): PipelineTarget[] {
  return [...pipelines].map((spec) => {
    try {
      return { spec, containerUrl: containerFor(spec, env).url };
    } catch {
      return { spec };
    }
  });
}

export interface BlobEventOutcome {
  started: string[];
  duplicates: string[];
}

/**
 * One orchestration per (pipeline, blob version) whose container / prefix / wildcard
 * match. A message that is not JSON throws: the queue retries it, then moves it to the
 * poison queue, where it can be inspected.
 */
export async function handleBlobCreatedMessage(message: unknown, starter: DurableStarter, targets: PipelineTarget[], logger: Logger): Promise<BlobEventOutcome> {
  const log = redactingLogger(logger);
  const outcome: BlobEventOutcome = { started: [], duplicates: [] };
  let parsed;
  try {
    parsed = parseBlobEvents(message);
  } catch (err) {
    if (err instanceof EventParseError) log.error(err.message);
    throw err;
  }
  for (const reason of parsed.ignored) log.debug(`ignored: ${reason}`);
  for (const event of parsed.events) {
    const specs = pipelinesForEvent(event, targets);
    if (!specs.length) {
      log.debug(`no pipeline loads ${event.container}/${event.blob}; dropped`);
      continue;
    }
    for (const spec of specs) {
      const instanceId = eventInstanceId(spec.name, event.container, event.blob, event.etag);
      // A running instance, or one that loaded the blob, means this version is handled; a
      // run that ended without loading it (failed for good, terminated) starts again.
      const existing = await starter.getStatus(instanceId);
      if (existing && !needsRestart(existing)) {
        log.log(`duplicate event for ${event.container}/${event.blob} (${spec.name}): ${instanceId} already exists`);
        outcome.duplicates.push(instanceId);
        continue;
      }
      const input: RunInput = { spec, deployed: true, blobs: [blobRefFromEvent(event)] };
      await starter.startNew(RUN_ORCHESTRATOR, { instanceId, input });
      log.log(`${existing ? 'restarted' : 'started'} ${instanceId}: pipeline ${spec.name}, blob ${event.container}/${event.blob}${existing ? ` (the previous run ended ${describeEnd(existing)})` : ''}`);
      outcome.started.push(instanceId);
    }
  }
  return outcome;
}

/** A finished event run that did not load its blob: Failed, Terminated, or Completed with a failed file. */
function needsRestart(status: InstanceStatus): boolean {
  if (isActive(status)) return false;
  if (status.runtimeStatus !== 'Completed') return true;
  return (status.output as { filesFailed?: number } | undefined)?.filesFailed !== 0;
}

function describeEnd(status: InstanceStatus): string {
  const output = status.output as { status?: string } | undefined;
  return status.runtimeStatus === 'Completed' ? `with status ${output?.status ?? 'unknown'}` : status.runtimeStatus;
}

/** A tick while the previous scheduled run of the pipeline is still going is skipped. */
export async function handleScheduleTick(spec: PipelineSpec, starter: DurableStarter, logger: Logger): Promise<{ started?: string; skipped?: string }> {
  const log = redactingLogger(logger);
  const instanceId = scheduledInstanceId(spec.name);
  const current = await starter.getStatus(instanceId);
  if (isActive(current)) {
    log.warn(`pipeline ${spec.name}: the previous scheduled run (${instanceId}) is ${current!.runtimeStatus}; tick skipped`);
    return { skipped: instanceId };
  }
  const input: RunInput = { spec, deployed: true };
  await starter.startNew(RUN_ORCHESTRATOR, { instanceId, input });
  log.log(`pipeline ${spec.name}: scheduled run ${instanceId} started`);
  return { started: instanceId };
}

function badRequest(message: string, errors?: unknown): HttpResponseInit {
  return { status: 400, jsonBody: { error: message, ...(errors !== undefined && { errors }) } };
}

async function readJson(request: HttpRequest): Promise<{ ok: true; value: unknown } | { ok: false; response: HttpResponseInit }> {
  const text = await request.text();
  if (!text.trim()) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, response: badRequest(`the body is not valid JSON: ${(err as Error).message}`) };
  }
}

function accepted(starter: DurableStarter, request: HttpRequest, instanceId: string): HttpResponseInit {
  const urls = starter.managementUrls(request, instanceId);
  return { status: 202, jsonBody: urls, headers: { Location: urls.statusQueryGetUri, 'Retry-After': '10' } };
}

/** POST /api/pipelines/{name}/runs, optional body { "blobs": ["name", …] }. */
export async function handleStartRun(request: HttpRequest, starter: DurableStarter, pipelines: LoadedPipelines): Promise<HttpResponseInit> {
  const name = request.params.name ?? '';
  const spec = pipelines.pipelines.get(name);
  if (!spec) return { status: 404, jsonBody: { error: `no pipeline named "${name}"`, pipelines: [...pipelines.pipelines.keys()] } };
  const body = await readJson(request);
  if (!body.ok) return body.response;
  const value = body.value as { blobs?: unknown } | undefined;
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    return badRequest('invalid request body', [{ path: '', message: 'expected an object like { "blobs": ["name"] }' }]);
  }
  const extra = value ? Object.keys(value).filter((k) => k !== 'blobs') : [];
  if (extra.length) return badRequest('invalid request body', [{ path: extra[0], message: 'unknown field' }]);
  const blobs = value?.blobs;
  if (blobs !== undefined && (!Array.isArray(blobs) || blobs.some((b) => typeof b !== 'string' || !b))) {
    return badRequest('invalid request body', [{ path: 'blobs', message: 'expected an array of blob names' }]);
  }
  const input: RunInput = { spec, deployed: true, ...(blobs?.length && { blobNames: blobs as string[] }) };
  const instanceId = await starter.startNew(RUN_ORCHESTRATOR, { input });
  return accepted(starter, request, instanceId);
}

/** POST /api/runs: a whole pipeline spec in the body, run once without deploying it (ADF "Debug"). */
export async function handleDebugRun(request: HttpRequest, starter: DurableStarter): Promise<HttpResponseInit> {
  const body = await readJson(request);
  if (!body.ok) return body.response;
  if (body.value === undefined) return badRequest('invalid pipeline spec', [{ path: '', message: 'the body must be a pipeline spec' }]);
  let spec: PipelineSpec;
  try {
    spec = parsePipelineSpec(body.value);
  } catch (err) {
    if (err instanceof SpecError) return badRequest('invalid pipeline spec', err.issues);
    throw err;
  }
  const instanceId = await starter.startNew(RUN_ORCHESTRATOR, { input: { spec } satisfies RunInput });
  return accepted(starter, request, instanceId);
}

/** GET /api/runs/{id}: status, progress and (when finished) the run output. */
export async function handleGetRun(request: HttpRequest, starter: DurableStarter): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const status = await starter.getStatus(id);
  if (!status) return { status: 404, jsonBody: { error: `no run with id "${id}"` } };
  return {
    status: 200,
    jsonBody: {
      id,
      runtimeStatus: status.runtimeStatus,
      progress: status.customStatus ?? null,
      output: status.output ?? null,
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
    },
  };
}

/** GET /api/pipelines: the loaded pipelines and the files that failed validation. */
export function handleListPipelines(pipelines: LoadedPipelines): HttpResponseInit {
  return {
    status: 200,
    jsonBody: {
      pipelines: [...pipelines.pipelines.values()].map((spec) => ({
        name: spec.name,
        description: spec.description,
        container: spec.source.container,
        prefix: spec.source.prefix,
        wildcard: spec.source.wildcard,
        table: `${spec.sink.table.schema}.${spec.sink.table.name}`,
        triggers: spec.triggers,
      })),
      errors: pipelines.errors,
    },
  };
}
