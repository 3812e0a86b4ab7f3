/** Helpers shared by the format tests: a table in the file's schema, and one-blob loads. */
import { copyBlob } from '../../src/copyBlob.js';
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
