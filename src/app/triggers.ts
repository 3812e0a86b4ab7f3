/**
 * What each trigger does, apart from the Functions plumbing: parse the input, pick the
 * pipelines, start the run orchestrator. functions/*.ts bind these to triggers.
 */
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Env } from '../connections/settings.js';
import { SpecError } from '../errors.js';
import { parsePipelineSpec, type PipelineSpec } from '../pipeline/spec.js';
import { containerFor } from '../source/blobs.js';
import { blobRefFromEvent, EventParseError, instanceIdForEvent, parseBlobEvents, pipelinesForEvent, scheduledInstanceId, type PipelineTarget } from './events.js';
import type { LoadedPipelines } from './pipelines.js';
import { redactError, redactSecrets } from '../redact.js';
import { RUN_ORCHESTRATOR, type RunInput } from './plan.js';
import { adHocConnectionProblem, adHocRunsAllowed, ALLOW_ADHOC_RUNS_SETTING, deployedConnections, pipelineRunBodySchema, requestIssues, runBodySchema } from './runRequest.js';
import { isActive, type DurableStarter, type InstanceStatus } from './starter.js';
import { findActiveRun, logRunFailed, logRunStart } from '../runLog/start.js';
import type { TriggerKind } from '../runLog/store.js';
import { appEnv } from './appEnv.js';

export { RUN_ORCHESTRATOR };
export { scheduleRegistrations, timerFunctionName, type ScheduleRegistration } from './schedules.js';

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
      // Warning: Event Grid only sends the source container's events, so one that loads
      // nothing is usually a pipeline whose prefix / wildcard / connection does not match.
      log.warn(`no pipeline loads ${event.container}/${event.blob} (${event.url}); dropped`);
      continue;
    }
    for (const spec of specs) {
      const instanceId = instanceIdForEvent(spec.name, event);
      // A running instance, or one that loaded the blob, means this version is handled; a
      // run that ended without loading it (failed for good, terminated) starts again.
      const existing = await starter.getStatus(instanceId);
      if (existing && !needsRestart(existing)) {
        log.log(`duplicate event for ${event.container}/${event.blob} (${spec.name}): ${instanceId} already exists`);
        outcome.duplicates.push(instanceId);
        continue;
      }
      // A renamed file names no version: the run lists it by name and loads what is there.
      const ref = blobRefFromEvent(event);
      const input: RunInput = ref ? { spec, deployed: true, blobs: [ref] } : { spec, deployed: true, blobNames: [event.blob] };
      // A restart reuses the instance ID: its run-log row is Running again.
      await startLoggedRun(starter, spec, instanceId, input, 'BlobEvent', appEnv(), { restarted: Boolean(existing) });
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

/**
 * The run's row first, then the orchestration: a process that dies in between leaves a
 * Running row (shown Abandoned, or Failed by the next scheduled tick), never a run the log
 * does not know. A start that fails marks the row Failed and throws.
 */
export async function startLoggedRun(
  starter: DurableStarter,
  spec: PipelineSpec,
  instanceId: string,
  input: RunInput,
  trigger: TriggerKind,
  env: Env = process.env,
  options: { restarted?: boolean } = {},
): Promise<string> {
  await logRunStart(spec, instanceId, trigger, env, options);
  try {
    await starter.startNew(RUN_ORCHESTRATOR, { instanceId, input });
  } catch (err) {
    await logRunFailed(spec, instanceId, `the orchestration could not be started: ${redactSecrets((err as Error).message)}`, env);
    throw err;
  }
  return instanceId;
}

/** A new instance ID, chosen before the start so the run log can have the row first (the durable client's own form: a GUID without dashes). */
export function newRunId(): string {
  return randomUUID().replace(/-/g, '');
}

/**
 * Each tick starts its own run (`<pipeline>-scheduled-<tick time>`), unless a scheduled run
 * of the pipeline is still going: an unfinished Schedule row in the run log whose
 * orchestration is active. The scheduled runs found over on the way are completed in the
 * log. A run log or status that cannot be read fails the tick (logged; the next tick tries
 * again): without them there is no telling whether a run is going (the run log is in the
 * sink database, which the run needs anyway).
 */
export async function handleScheduleTick(spec: PipelineSpec, starter: DurableStarter, logger: Logger, now: Date = new Date()): Promise<{ started?: string; skipped?: string }> {
  const log = redactingLogger(logger);
  const env = appEnv();
  let current;
  try {
    // 'Unknown' counts as going: when in doubt, skip rather than overlap.
    current = await findActiveRun(spec, 'Schedule', (id) => starter.getStatus(id), (s) => isActive(s as InstanceStatus | undefined) || s?.runtimeStatus === 'Unknown', env);
  } catch (err) {
    log.error(`pipeline ${spec.name}: tick failed: cannot tell whether a scheduled run is still going (run log or orchestration status): ${(err as Error).message}`);
    throw err;
  }
  if (current) {
    log.warn(`pipeline ${spec.name}: the previous scheduled run (${current.runId}) is ${current.status!.runtimeStatus}; tick skipped`);
    return { skipped: current.runId };
  }
  const instanceId = await startLoggedRun(starter, spec, scheduledInstanceId(spec.name, now), { spec, deployed: true }, 'Schedule', env);
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

type Validate = (spec: PipelineSpec, env: Env) => Promise<string[]>;

/** `blob2pg validate`'s checks, loaded on first use (the CLI module is not needed to start the app). */
const validateWithCli: Validate = async (spec, env) => (await import('../load/validate.js')).validatePipeline(spec, env);

export interface RunRequestOptions {
  env?: Env;
  validate?: Validate;
}

/** Validate (200, nothing started) or start (202) a run of `spec`. */
async function startOrValidate(
  request: HttpRequest,
  starter: DurableStarter,
  spec: PipelineSpec,
  body: { blobs?: string[]; validate?: boolean },
  options: RunRequestOptions,
  // A deployed pipeline's activities load it by name; an ad-hoc spec travels with the run.
  deployed = true,
): Promise<HttpResponseInit> {
  if (body.validate) {
    const problems = await (options.validate ?? validateWithCli)(spec, options.env ?? process.env);
    return { status: 200, jsonBody: { pipeline: spec.name, valid: problems.length === 0, problems } };
  }
  const input: RunInput = { spec, deployed, ...(body.blobs?.length && { blobNames: body.blobs }) };
  const instanceId = await startLoggedRun(starter, spec, newRunId(), input, 'HTTP', options.env);
  return accepted(starter, request, instanceId);
}

function notFound(name: string, pipelines: LoadedPipelines): HttpResponseInit {
  return { status: 404, jsonBody: { error: `no pipeline named "${name}"`, pipelines: [...pipelines.pipelines.keys()] } };
}

/** POST /api/pipelines/{name}/runs, optional body { "blobs": ["name", …], "validate": true }. */
export async function handleStartRun(request: HttpRequest, starter: DurableStarter, pipelines: LoadedPipelines, options: RunRequestOptions = {}): Promise<HttpResponseInit> {
  const name = request.params.name ?? '';
  const spec = pipelines.pipelines.get(name);
  if (!spec) return notFound(name, pipelines);
  const json = await readJson(request);
  if (!json.ok) return json.response;
  const body = pipelineRunBodySchema.safeParse(json.value ?? {});
  if (!body.success) return badRequest('invalid request body', requestIssues(body.error));
  return startOrValidate(request, starter, spec, body.data, options);
}

/**
 * POST /api/runs: { "pipeline": "<deployed name>", "blobs"?, "validate"? }, or — only with
 * BLOB2PG_ALLOW_ADHOC_RUNS=true — { "spec": { … }, … } whose connections are the deployed ones.
 */
export async function handleRunRequest(request: HttpRequest, starter: DurableStarter, pipelines: LoadedPipelines, options: RunRequestOptions = {}): Promise<HttpResponseInit> {
  const json = await readJson(request);
  if (!json.ok) return json.response;
  const body = runBodySchema.safeParse(json.value ?? {});
  if (!body.success) return badRequest('invalid request body', requestIssues(body.error));
  const { pipeline, spec: raw, ...rest } = body.data;
  if (pipeline !== undefined) {
    const spec = pipelines.pipelines.get(pipeline);
    return spec ? startOrValidate(request, starter, spec, rest, options) : notFound(pipeline, pipelines);
  }
  if (!adHocRunsAllowed(options.env ?? process.env)) {
    return { status: 403, jsonBody: { error: `ad-hoc pipeline specs are disabled: name a deployed pipeline, or set the app setting ${ALLOW_ADHOC_RUNS_SETTING}=true` } };
  }
  let spec: PipelineSpec;
  try {
    spec = parsePipelineSpec(raw);
  } catch (err) {
    if (err instanceof SpecError) return badRequest('invalid pipeline spec', err.issues.map((i) => ({ ...i, path: i.path ? `spec.${i.path}` : 'spec' })));
    throw err;
  }
  const problem = adHocConnectionProblem(spec, deployedConnections(pipelines.pipelines.values()));
  if (problem) return { status: 403, jsonBody: { error: 'ad-hoc specs may only use the deployed pipelines\' connections', errors: [{ ...problem, path: `spec.${problem.path}` }] } };
  return startOrValidate(request, starter, spec, rest, options, false);
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
