/** What the target table looks like, read from the catalog once per blob load. */
import type pg from 'pg';
import { DataError } from '../errors.js';
import type { TableName } from '../pipeline/spec.js';
import { displayTable, quoteTable } from './sql.js';

export interface TableColumn {
  name: string;
  /** `format_type()` text, e.g. `numeric(12,2)`, usable in a cast. */
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  /** Generated or GENERATED ALWAYS identity: never written. */
  writable: boolean;
}

export interface TableInfo {
  table: TableName;
  columns: TableColumn[];
}

export async function describeTable(client: pg.ClientBase, table: TableName): Promise<TableInfo> {
  let result: pg.QueryResult<{ name: string; type: string; notnull: boolean; hasdef: boolean; generated: string; identity: string }>;
  try {
    result = await client.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
              a.atthasdef AS hasdef, a.attgenerated AS generated, a.attidentity AS identity
         FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [quoteTable(table)],
    );
  } catch (err) {
    if ((err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '3F000') {
      throw new DataError(`target table ${displayTable(table)} does not exist`, { sqlstate: (err as { code: string }).code }, { cause: err });
    }
    throw err;
  }
  return {
    table,
    columns: result.rows.map((row) => ({
      name: row.name,
      type: row.type,
      notNull: row.notnull,
      hasDefault: row.hasdef || row.identity !== '',
      writable: row.generated === '' && row.identity !== 'a',
    })),
  };
}
