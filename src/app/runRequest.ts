/**
 * Bodies of the run-starting HTTP requests, validated once at the edge (zod).
 *
 * A run started over HTTP names a deployed pipeline — what was reviewed and deployed is what
 * runs. A whole spec in the body ("ad-hoc", ADF's Debug) can carry SQL (preCopyScript,
 * postCopyScript) and name any app setting as a connection, so it is refused unless the
 * admin setting BLOB2PG_ALLOW_ADHOC_RUNS is "true", and even then only with connections the
 * deployed pipelines use (never AzureWebJobsStorage or any other setting).
 */
import { z } from 'zod';
import type { Env } from '../connections/settings.js';
import type { SpecIssue } from '../errors.js';
import type { PipelineSpec } from '../pipeline/spec.js';

export const ALLOW_ADHOC_RUNS_SETTING = 'BLOB2PG_ALLOW_ADHOC_RUNS';

/** Bounded: the names travel in the orchestration input. */
export const MAX_BLOB_NAMES = 1000;

const blobNames = z.array(z.string().min(1).max(1024)).min(1).max(MAX_BLOB_NAMES);

/** POST /api/pipelines/{name}/runs */
export const pipelineRunBodySchema = z.strictObject({
  /** Load only these blobs (names in the pipeline's container); default: list the pipeline's blobs. */
  blobs: blobNames.optional(),
  /** Check connections, table and mapping (`blob2pg validate`) and start nothing. */
  validate: z.boolean().optional(),
});

/** POST /api/runs */
export const runBodySchema = z
  .strictObject({
    pipeline: z.string().min(1).optional(),
    spec: z.unknown().optional(),
    blobs: blobNames.optional(),
    validate: z.boolean().optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.pipeline === undefined) === (body.spec === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['pipeline'], message: 'name a deployed pipeline ("pipeline"), or give an ad-hoc "spec" — exactly one of them' });
    }
  });

export function requestIssues(error: z.ZodError): SpecIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

export function adHocRunsAllowed(env: Env): boolean {
  return env[ALLOW_ADHOC_RUNS_SETTING]?.trim().toLowerCase() === 'true';
}

/** The connections the deployed pipelines use: the only ones an ad-hoc spec may name. */
export function deployedConnections(pipelines: Iterable<PipelineSpec>): Set<string> {
  const names = new Set<string>();
  for (const spec of pipelines) {
    names.add(spec.source.connection);
    names.add(spec.sink.connection);
  }
  return names;
}

/** Why an ad-hoc spec may not run here (undefined: it may). */
export function adHocConnectionProblem(spec: PipelineSpec, allowed: ReadonlySet<string>): SpecIssue | undefined {
  for (const [path, name] of [
    ['source.connection', spec.source.connection],
    ['sink.connection', spec.sink.connection],
  ] as const) {
    if (!allowed.has(name)) return { path, message: `"${name}" is not a connection of any deployed pipeline (allowed: ${[...allowed].sort().join(', ') || 'none'})` };
  }
  return undefined;
}
