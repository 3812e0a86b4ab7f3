/** What the target table looks like, read from the catalog once per blob load. */
import type pg from 'pg';
import { ConfigError, sqlstateOf } from '../errors.js';
import type { TableName } from '../pipeline/spec.js';
import type { CitusTable, TableInfo } from '../pipeline/table.js';
import { displayTable, quoteTable } from './sql.js';

export async function describeTable(client: pg.ClientBase, table: TableName): Promise<TableInfo> {
  let result: pg.QueryResult<{ name: string; type: string; basetype: string; notnull: boolean; hasdef: boolean; generated: string; identity: string; citus: boolean }>;
  try {
    result = await client.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, format_type(a.atttypid, -1) AS basetype, a.attnotnull AS notnull,
              a.atthasdef AS hasdef, a.attgenerated AS generated, a.attidentity AS identity, ${CITUS_PRESENT} AS citus
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
  const citus = result.rows[0]?.citus ? await describeCitusTable(client, table) : undefined;
  return {
    table,
    ...(citus && { citus }),
    primaryKey: keys.rows.find((k) => k.primary)?.columns ?? [],
    uniqueKeys: keys.rows.filter((k) => k.arbiter).map((k) => k.columns),
    columns: result.rows.map((row) => ({
      name: row.name,
      type: row.type,
      baseType: row.basetype,
      notNull: row.notnull,
      hasDefault: row.hasdef || row.identity !== '',
      writable: row.generated === '' && row.identity !== 'a',
      ...(row.name === citus?.distributionColumn && { notNull: true, distribution: true as const }),
    })),
  };
}

/**
 * True where the citus extension is created: its catalog exists only there, and a query that
 * names it elsewhere fails, so ask this first.
 */
export const CITUS_PRESENT = `to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL`;

/** The table in Citus' catalog, or undefined. https://docs.citusdata.com/en/stable/develop/api_metadata.html#partition-table */
async function describeCitusTable(client: pg.ClientBase, table: TableName): Promise<CitusTable | undefined> {
  const result = await client.query<{ repmodel: string; col: string | null }>(
    `SELECT repmodel, column_to_column_name(logicalrelid, partkey) AS col FROM pg_dist_partition WHERE logicalrelid = $1::regclass`,
    [quoteTable(table)],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  if (row.col) return { kind: 'distributed', distributionColumn: row.col };
  return { kind: row.repmodel === 't' ? 'reference' : 'local', distributionColumn: null };
}
