/**
 * Write method Upsert, with ADF's key-column rules (keys = all primary-key columns, one or
 * more unique columns, or omitted → the primary key), then better:
 *  - staged by COPY, then ONE set-based statement;
 *  - keys with a matching unique index → `INSERT … ON CONFLICT (keys) DO UPDATE`. It runs
 *    first without deduplication (no sort: the common case of unique keys per file pays
 *    nothing); when a key repeats in the file Postgres refuses with 21000 "cannot affect
 *    row a second time", and the statement re-runs on `DISTINCT ON (keys) … ORDER BY line
 *    DESC` so the last occurrence in file order wins;
 *  - keys without one (ADF allows unconstrained "unique columns") → `MERGE` (PostgreSQL
 *    15+) on deduplicated rows, under a transaction-scoped advisory lock on the table: with
 *    no unique index, two concurrent loads would otherwise both see "not matched" and both
 *    insert the key. Older servers and Citus tables: UPDATE … FROM, then INSERT of the keys
 *    not there (an anti-join), same lock.
 *  - Citus: the keys must contain a distributed table's distribution column.
 *  - only mapped columns are written; generated / GENERATED ALWAYS identity columns never.
 */
import { DataError } from '../errors.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { ColumnPlan } from './convert.js';
import { serverVersionNum } from './serverVersion.js';
import { displayTable, quoteIdent, quoteIdentList, quoteLiteral, quoteTable } from './sql.js';
import { stageForWrite, stagedCounters, type StagedLoad } from './staged.js';
import { withStageDiagnosis } from './staging.js';
import type { TableInfo } from '../pipeline/table.js';
import { withSavepoint } from './transaction.js';
import type { PrepareRequest, SinkWriter, WriteCounters, WriteRequest } from './writer.js';
import type pg from 'pg';

export interface UpsertKeys {
  keys: string[];
  /** A unique index on exactly these columns exists: ON CONFLICT can use it. */
  arbiter: boolean;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** ADF's three key-column rules, checked against the catalog. Pure. */
export function resolveUpsertKeys(keys: readonly string[] | undefined, table: TableInfo): UpsertKeys {
  const name = displayTable(table.table);
  let chosen: string[];
  if (keys?.length) {
    chosen = [...keys];
    for (const key of chosen) {
      const column = table.columns.find((c) => c.name === key);
      if (!column) throw new DataError(`upsert key column "${key}" is not a column of ${name}`, { column: key });
      if (!column.writable) throw new DataError(`upsert key column "${key}" of ${name} is generated and cannot be written`, { column: key });
    }
  } else {
    if (!table.primaryKey.length) {
      throw new DataError(`Upsert into ${name}: no upsertSettings.keys and the table has no primary key; name the key columns in sink.upsertSettings.keys`, {});
    }
    chosen = [...table.primaryKey];
  }
  return { keys: chosen, arbiter: table.uniqueKeys.some((u) => sameSet(u, chosen)) };
}

/**
 * Citus (Azure Cosmos DB for PostgreSQL): a distributed table can only be upserted on keys
 * that include its distribution column (the unique index must, and MERGE needs it to route
 * rows). Pure: `distributionColumn` is the catalog's answer, null for a local/reference table.
 */
export function citusKeyProblem(table: string, keys: readonly string[], distributionColumn: string | null | undefined): string | undefined {
  if (!distributionColumn || keys.includes(distributionColumn)) return undefined;
  return `${table} is a distributed (Citus) table: the upsert keys (${keys.join(', ')}) must include its distribution column "${distributionColumn}"; add "${distributionColumn}" to sink.upsertSettings.keys`;
}

/**
 * The keys an upsert into `table` uses, or a DataError saying why the spec cannot upsert
 * into it. Needs only the table: runs before the blob is read, and in `validate`.
 */
export function checkUpsertTarget(keys: readonly string[] | undefined, table: TableInfo): UpsertKeys {
  const resolved = resolveUpsertKeys(keys, table);
  const problem = citusKeyProblem(displayTable(table.table), resolved.keys, table.citus?.distributionColumn);
  if (problem) throw new DataError(problem, {});
  return resolved;
}

function keysOf(spec: PipelineSpec): readonly string[] | undefined {
  return spec.sink.upsertSettings?.keys;
}

async function supportsMerge(client: pg.ClientBase): Promise<boolean> {
  return (await serverVersionNum(client)) >= 150000;
}

/** Test hook: force the pre-15 UPDATE + INSERT path on a server that has MERGE. */
export const upsertOptions = { forceNoMerge: false };

export const upsertWriter: SinkWriter = {
  async prepare({ spec, table }: PrepareRequest): Promise<void> {
    checkUpsertTarget(keysOf(spec), table);
  },

  async write(request: WriteRequest): Promise<WriteCounters> {
    const { client, table, mapping } = request;
    const { keys, arbiter } = resolveUpsertKeys(keysOf(request.spec), table);
    const mapped = new Set([...mapping.columns.map((c) => c.column.name), ...mapping.values.map((v) => v.column.name)]);
    const unmapped = keys.filter((k) => !mapped.has(k));
    if (unmapped.length) {
      throw new DataError(`upsert key column${unmapped.length > 1 ? 's' : ''} ${unmapped.map((k) => `"${k}"`).join(', ')} not mapped: nothing in the file feeds ${unmapped.length > 1 ? 'them' : 'it'}`, {});
    }
    const load = await stageForWrite(request, { keyColumns: keys }, { orderOnly: true });
    const copied = await withStageDiagnosis(
      client,
      load.stage,
      load.plan,
      async () => (arbiter ? onConflict(client, quoteTable(table.table), load, keys) : merge(client, quoteTable(table.table), load, keys, { citus: table.citus !== undefined })),
      { keyColumns: keys },
    );
    return stagedCounters(load, copied);
  },
};

interface Parts {
  columns: ColumnPlan[];
  keyPlans: ColumnPlan[];
  updates: ColumnPlan[];
  names: string;
}

function parts(load: StagedLoad, keys: string[]): Parts {
  const columns = load.plan.columns;
  return {
    columns,
    keyPlans: keys.map((k) => columns.find((c) => c.column.name === k)!),
    updates: columns.filter((c) => !keys.includes(c.column.name)),
    names: quoteIdentList(columns.map((c) => c.column.name)),
  };
}

/** Rows of the stage with typed values, one per key: the last in file order wins. */
function dedupedSource(load: StagedLoad, p: Parts): string {
  const keyExprs = p.keyPlans.map((k) => k.expr).join(', ');
  return `SELECT DISTINCT ON (${keyExprs}) ${p.columns.map((c) => `${c.expr} AS ${quoteIdent(c.column.name)}`).join(', ')}
            FROM ${load.stage.name} ORDER BY ${keyExprs}, ${load.stage.order} DESC`;
}

async function onConflict(client: pg.ClientBase, target: string, load: StagedLoad, keys: string[]): Promise<number> {
  const p = parts(load, keys);
  const action = p.updates.length
    ? `DO UPDATE SET ${p.updates.map((c) => `${quoteIdent(c.column.name)} = EXCLUDED.${quoteIdent(c.column.name)}`).join(', ')}`
    : 'DO NOTHING';
  const insert = (source: string) => `INSERT INTO ${target} AS t (${p.names}) ${source} ON CONFLICT (${quoteIdentList(keys)}) ${action}`;
  try {
    const result = await withSavepoint(client, 'blob2pg_upsert', () =>
      client.query(insert(`SELECT ${p.columns.map((c) => c.expr).join(', ')} FROM ${load.stage.name}`), load.plan.params),
    );
    return result.rowCount ?? 0;
  } catch (err) {
    // 21000 cardinality_violation: a key repeats within the file.
    if ((err as { code?: string }).code !== '21000') throw err;
  }
  const result = await client.query(insert(dedupedSource(load, p)), load.plan.params);
  return result.rowCount ?? 0;
}

/**
 * Keys without a unique index. `citus`: the target is a Citus table, which MERGE cannot
 * write from the load's temp tables (Citus 13: "MERGE INTO an distributed table from
 * Postgres table is not yet supported", XX000; "Reference table as target is not allowed in
 * MERGE command", 0A000), so it takes the UPDATE + INSERT path, which Citus plans by
 * sending the deduplicated rows to the shards.
 */
async function merge(client: pg.ClientBase, target: string, load: StagedLoad, keys: string[], options: { citus: boolean }): Promise<number> {
  const p = parts(load, keys);
  // Taken in its own statement so the MERGE's snapshot, taken after the wait, sees what
  // the load that held the lock committed.
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('blob2pg:' || $1::text))`, [target]);
  const on = keys.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
  const set = p.updates.map((c) => `${quoteIdent(c.column.name)} = s.${quoteIdent(c.column.name)}`).join(', ');
  const values = p.columns.map((c) => `s.${quoteIdent(c.column.name)}`).join(', ');
  if (!options.citus && (await supportsMerge(client)) && !upsertOptions.forceNoMerge) {
    const result = await client.query(
      `MERGE INTO ${target} AS t USING (${dedupedSource(load, p)}) AS s ON ${on}
       ${set ? `WHEN MATCHED THEN UPDATE SET ${set}` : ''}
       WHEN NOT MATCHED THEN INSERT (${p.names}) VALUES (${values})`,
      load.plan.params,
    );
    return result.rowCount ?? 0;
  }
  const source = quoteIdent(`blob2pg_upsert_${process.pid}_${Date.now()}`);
  await client.query(`CREATE TEMP TABLE ${source} ON COMMIT DROP AS ${dedupedSource(load, p)}`.replace(/\$(\d+)/g, (_, n) => literalParam(load.plan.params[Number(n) - 1])));
  // The temp table is read through a subquery and the INSERT finds new keys with an anti-join
  // (no NULL keys reach here): Citus refuses a temp table joined directly to, or correlated
  // with, a distributed table ("direct joins between distributed and local tables are not
  // supported"), but plans a subquery by sending its rows to the shards. PostgreSQL flattens
  // the subquery and plans the LEFT JOIN … IS NULL as the same anti-join as NOT EXISTS.
  let rows = 0;
  if (set) rows += (await client.query(`UPDATE ${target} AS t SET ${set} FROM (SELECT * FROM ${source}) AS s WHERE ${on}`)).rowCount ?? 0;
  rows += (
    await client.query(
      `INSERT INTO ${target} (${p.names}) SELECT ${values} FROM (SELECT * FROM ${source}) AS s LEFT JOIN ${target} AS t ON ${on} WHERE t.${quoteIdent(keys[0]!)} IS NULL`,
    )
  ).rowCount ?? 0;
  return rows;
}

/** CREATE TABLE AS cannot take parameters: the (few, small) plan values become quoted literals. */
function literalParam(value: unknown): string {
  if (Array.isArray(value)) return `ARRAY[${value.map((v) => quoteLiteral(String(v))).join(', ')}]::text[]`;
  return quoteLiteral(String(value));
}
