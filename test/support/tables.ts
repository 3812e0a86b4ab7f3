/** Helpers shared by the integration tests: one-blob loads, rows of the harness schema, tables. */
import { copyBlob } from '../../src/load/index.js';
import type { FileResult } from '../../src/run/output.js';
import type { Harness } from './harness.js';

/**
 * The one load helper: uploads `body` as `blob` and loads that version through `copyBlob`
 * (no orchestrator), with the pipeline built from `spec` over the harness defaults; the
 * source prefix defaults to the blob itself.
 */
export async function loadOne(
  h: Harness,
  blob: string,
  body: string | Buffer,
  spec: Parameters<Harness['spec']>[0],
  options: { runId?: string; lastModified?: string } = {},
): Promise<{ ref: Awaited<ReturnType<Harness['upload']>>; result: FileResult }> {
  const ref = await h.upload(blob, body);
  const pipeline = h.spec({ ...spec, source: { prefix: blob, ...spec.source } });
  const lastModified = options.lastModified ?? new Date().toISOString();
  return { ref, result: await copyBlob(pipeline, { ...ref, size: 0, lastModified }, { runId: options.runId ?? 'r1', env: h.env }) };
}

/** Runs `sql` with `<placeholder>.` (default `S.`) naming the harness's schema. */
export function rowsIn<R extends Record<string, unknown> = Record<string, unknown>>(h: Harness, sql: string, placeholder = 'S'): Promise<R[]> {
  return h.query<R>(sql.replace(new RegExp(`\\b${placeholder}\\.`, 'g'), `"${h.schema}".`));
}

export function tables(h: Harness) {
  return {
    table: (name: string, ddl: string) => h.table(name, ddl),
    async load(tableName: string, blob: string, body: string | Buffer, source: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<FileResult> {
      return (await loadOne(h, blob, body, { source, sink: { table: tableName }, ...extra })).result;
    },
    rows: <R extends Record<string, unknown> = Record<string, unknown>>(sql: string) => rowsIn<R>(h, sql, 'T'),
  };
}

/**
 * Counts the INSERT statements that reach `table` ("schema.name") and commit: a
 * statement-level trigger fires once per COPY, however many rows it loads, and rolls back
 * with it.
 */
export async function countStatements(h: Harness, table: string): Promise<() => Promise<number>> {
  const [schema, name] = table.split('.');
  const log = `"${schema}"."${name}_statements"`;
  await h.query(`CREATE TABLE ${log} (at timestamptz DEFAULT clock_timestamp())`);
  await h.query(`CREATE FUNCTION "${schema}"."${name}_count"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${log} DEFAULT VALUES; RETURN NULL; END $$`);
  await h.query(`CREATE TRIGGER count_statements AFTER INSERT ON "${schema}"."${name}" FOR EACH STATEMENT EXECUTE FUNCTION "${schema}"."${name}_count"()`);
  return async () => (await h.query(`SELECT count(*)::int AS n FROM ${log}`))[0]!.n as number;
}
