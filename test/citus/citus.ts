/**
 * What the Citus tests share. test/citus/run.sh starts the clusters and sets BLOB2PG_CITUS
 * (`single-node` or `coordinator+worker`) with TARGET_POSTGRES at the coordinator; without
 * it these tests are skipped, and say why.
 */
import { describe, expect } from 'vitest';
import { copyBlob } from '../../src/load/index.js';
import type { FileResult } from '../../src/run/output.js';
import type { PipelineSpec } from '../../src/pipeline/spec.js';
import { quoteLiteral } from '../../src/sink/sql.js';
import type { Harness } from '../support/harness.js';

export const cluster = process.env.BLOB2PG_CITUS;

const SKIPPED = 'Citus tests SKIPPED: BLOB2PG_CITUS is unset; run them with `bash test/citus/run.sh`, which builds Citus and starts the clusters';

/** `describe` for Citus tests: skipped, with the reason in its title, when no cluster was started. */
export function describeCitus(name: string, body: () => void): void {
  if (!cluster) {
    describe.skip(`${name} — ${SKIPPED}`, body);
    return;
  }
  describe(`${name} [Citus ${cluster}]`, body);
}

/** The coordinator really runs Citus, in the shape run.sh said (a worker holds the shards, or the coordinator does). */
export async function expectCitusCluster(h: Harness): Promise<void> {
  const [ext] = await h.query<{ version: string | null }>(`SELECT (SELECT extversion FROM pg_extension WHERE extname = 'citus') AS version`);
  expect(ext?.version, 'the citus extension on TARGET_POSTGRES').toMatch(/^\d+\.\d+/);
  // The shapes run.sh starts; another value (your own cluster) is only checked for Citus.
  if (cluster !== 'single-node' && cluster !== 'coordinator+worker') return;
  const [nodes] = await h.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_dist_node WHERE shouldhaveshards AND isactive`);
  expect(nodes?.n).toBe(1);
  const [workers] = await h.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_dist_node WHERE groupid <> 0`);
  expect(workers?.n).toBe(cluster === 'coordinator+worker' ? 1 : 0);
}

/** `name (ddl)` in the file's schema, distributed by `column`; returns "schema.name". */
export async function distributedTable(h: Harness, name: string, ddl: string, column: string): Promise<string> {
  const table = await h.table(name, ddl);
  await h.query(`SELECT create_distributed_table(${quoteLiteral(`"${h.schema}"."${name}"`)}, ${quoteLiteral(column)})`);
  return table;
}

export async function referenceTable(h: Harness, name: string, ddl: string): Promise<string> {
  const table = await h.table(name, ddl);
  await h.query(`SELECT create_reference_table(${quoteLiteral(`"${h.schema}"."${name}"`)})`);
  return table;
}

/** Uploads `body` as `blob` and loads that one blob version with `spec`. */
export async function loadOne(h: Harness, spec: PipelineSpec, blob: string, body: string, runId = 'r1'): Promise<FileResult> {
  return loadVersion(h, spec, await h.upload(blob, body), runId);
}

/** Loads a blob version uploaded before (the same ETag: the ledger knows it). */
export function loadVersion(h: Harness, spec: PipelineSpec, ref: { name: string; etag: string }, runId = 'r1', env: Record<string, string> = h.env): Promise<FileResult> {
  return copyBlob(spec, { ...ref, size: 0, lastModified: new Date().toISOString() }, { runId, env });
}

/** `SELECT … FROM S.t`: S. becomes the file's schema. */
export function rowsOf(h: Harness) {
  return <R extends Record<string, unknown> = Record<string, unknown>>(sql: string) => h.query<R>(sql.replaceAll('S.', `"${h.schema}".`));
}

/** A load that succeeded with these counters (a failure shows its error message). */
export function expectSucceeded(result: FileResult, counts: Partial<FileResult> = {}): void {
  expect(result.error?.message).toBeUndefined();
  expect(result).toMatchObject({ status: 'Succeeded', ...counts });
}
