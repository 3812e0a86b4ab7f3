/** What the target table looks like, read from the catalog once per blob load. */
import type pg from 'pg';
import { ConfigError, sqlstateOf } from '../errors.js';
import type { TableName } from '../pipeline/spec.js';
import { displayTable, quoteTable } from './sql.js';

export interface TableColumn {
  name: string;
  /** `format_type()` text, e.g. `numeric(12,2)`, usable in a cast. */
  type: string;
  /**
   * The type without its modifier (`character varying`, `bpchar`, `numeric`; `format_type(oid, -1)`).
   * Casts use it: an explicit cast to `varchar(3)` or `bit(3)` silently truncates, while
   * assigning the unmodified value to the column checks the modifier the way the column's
   * input function (and so COPY) does.
   */
  baseType: string;
  notNull: boolean;
  hasDefault: boolean;
  /** Generated or GENERATED ALWAYS identity: never written. */
  writable: boolean;
}

export interface TableInfo {
  table: TableName;
  columns: TableColumn[];
  /** Primary-key columns in key order; empty when the table has none. */
  primaryKey: string[];
  /**
   * Column sets of unique indexes an `ON CONFLICT (cols)` can use as arbiter: plain
   * columns, no predicate, not deferrable (https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT).
   */
  uniqueKeys: string[][];
}

export async function describeTable(client: pg.ClientBase, table: TableName): Promise<TableInfo> {
  let result: pg.QueryResult<{ name: string; type: string; basetype: string; notnull: boolean; hasdef: boolean; generated: string; identity: string }>;
  try {
    result = await client.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, format_type(a.atttypid, -1) AS basetype, a.attnotnull AS notnull,
              a.atthasdef AS hasdef, a.attgenerated AS generated, a.attidentity AS identity
         FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [quoteTable(table)],
    );
  } catch (err) {
    if ((err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '3F000') {
      throw new ConfigError(`target table ${displayTable(table)} does not exist (${sqlstateOf(err)})`, { cause: err });
    }
    throw err;
  }
  const keys = await client.query<{ primary: boolean; arbiter: boolean; columns: string[] }>(
    `SELECT i.indisprimary AS primary,
            i.indimmediate AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL AS arbiter,
            array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns
       FROM pg_index i
      WHERE i.indrelid = $1::regclass AND i.indisunique`,
    [quoteTable(table)],
  );
  return {
    table,
    primaryKey: keys.rows.find((k) => k.primary)?.columns ?? [],
    uniqueKeys: keys.rows.filter((k) => k.arbiter).map((k) => k.columns),
    columns: result.rows.map((row) => ({
      name: row.name,
      type: row.type,
      baseType: row.basetype,
      notNull: row.notnull,
      hasDefault: row.hasdef || row.identity !== '',
      writable: row.generated === '' && row.identity !== 'a',
    })),
  };
}
