/** Helpers shared by the format tests: a table in the file's schema, and one-blob loads. */
import { copyBlob } from '../../src/load/index.js';
import type { FileResult } from '../../src/run/output.js';
import type { Harness } from './harness.js';

export function tables(h: Harness) {
  return {
    table: (name: string, ddl: string) => h.table(name, ddl),
    async load(tableName: string, blob: string, body: string | Buffer, source: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<FileResult> {
      const ref = await h.upload(blob, body);
      const spec = h.spec({ source: { prefix: blob, ...source }, sink: { table: tableName }, ...extra });
      return copyBlob(spec, { ...ref, size: 0, lastModified: new Date().toISOString() }, { runId: 'r1', env: h.env });
    },
    rows<R extends Record<string, unknown> = Record<string, unknown>>(sql: string): Promise<R[]> {
      return h.query<R>(sql.replace(/\bT\./g, `"${h.schema}".`));
    },
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
