/**
 * The staging path (DESIGN decision 2): COPY every file field into a temporary table of
 * text columns, then set-based statements move the rows. Each staged row keeps its line,
 * so a value that does not convert can be reported — or skipped — with its line and column.
 *
 * Two stage shapes:
 *  - direct (the default): COPY parses the file; `blob2pg_line` is the record number
 *    (add `lineOffset` for the file line). Fast; COPY itself fails a record with the wrong
 *    field count, naming its line.
 *  - tagged (`skipIncompatibleRows`): records are split in Node (RecordTagger) so a record
 *    with the wrong field count becomes a row flagged `blob2pg_bad` instead of failing the
 *    COPY; `blob2pg_line` is the file line.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataError, locateCopyError } from '../errors.js';
import type { CsvCopyOptions } from '../format/delimited.js';
import { RecordTagger } from '../format/recordTagger.js';
import type { ColumnPlan, SelectPlan } from './convert.js';
import { copyCsvInto, csvCopyOptionsSql } from './copy.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import { withSavepoint } from './transaction.js';
import type { TableColumn } from '../pipeline/table.js';

export const STAGE_LINE_COLUMN = 'blob2pg_line';
const LINE = quoteIdent(STAGE_LINE_COLUMN);
const BAD = quoteIdent('blob2pg_bad');
const RAW = quoteIdent('blob2pg_raw');

/** The staging table's column for file field `i` (0-based). */
export function stageField(i: number): string {
  return quoteIdent(`f${i + 1}`);
}

let stageCounter = 0;
const tempName = (kind: string) => quoteIdent(`blob2pg_${kind}_${process.pid}_${++stageCounter}`);

export interface Stage {
  /** Quoted temp table name. */
  name: string;
  /** Records staged (good and bad). */
  rows: number;
  /** Add to `blob2pg_line` for the file line (0 for a tagged stage). */
  lineOffset: number;
  /** Range of `blob2pg_line` values (inclusive). */
  firstLine: number;
  lastLine: number;
  tagged: boolean;
  /** SQL that orders the staged rows in file order: the line, or `ctid` for a stage without one. */
  order: string;
}

export interface StageOptions {
  fieldCount: number;
  body: Readable;
  copyOptions: CsvCopyOptions;
  lineOffset: number;
  /** Split records in Node so wrong field counts become flagged rows (skip mode). */
  tagged: boolean;
  /** With `tagged`: `body` is in the tagged layout already (a record decoder wrote it); no RecordTagger. */
  pretagged?: boolean;
  /**
   * Direct stage only: the target column behind each field (undefined = text). COPY then
   * parses each value straight into its type, once (the casts in the plan become no-ops),
   * and names a bad value's line and column itself.
   */
  typedAs?: Array<TableColumn | undefined>;
  /**
   * Typed stage only: leave out the line column when the caller needs nothing but file
   * order, which a freshly COPYed temp heap keeps in `ctid` (no updates, no deletes). Even
   * a cached identity costs a measurable share of the COPY.
   */
  orderOnly?: boolean;
}

/** Creates a temp table dropped at COMMIT/ROLLBACK and COPYs the records into it. */
export async function stageRecords(client: pg.ClientBase, options: StageOptions): Promise<Stage> {
  const { fieldCount, body, copyOptions, lineOffset } = options;
  const name = tempName('stage');
  const fields = Array.from({ length: fieldCount }, (_, i) => `${stageField(i)} text`);
  const fieldNames = Array.from({ length: fieldCount }, (_, i) => `f${i + 1}`);
  if (!options.tagged) {
    const typed = options.typedAs;
    const columns = typed
      ? fields.map((field, i) => (typed[i] ? `${stageField(i)} ${typed[i]!.type}${typed[i]!.notNull ? ' NOT NULL' : ''}` : field))
      : fields;
    // A cached identity: an uncached one costs a sequence access per row, a large share of
    // the COPY into the stage (measured; CACHE 10000 much less). Values stay ascending
    // within this one session, which is all the line order needs.
    const lineColumn = typed && options.orderOnly ? [] : [`${LINE} bigint GENERATED ALWAYS AS IDENTITY (CACHE 10000)`];
    await client.query(`CREATE TEMP TABLE ${name} (${[...lineColumn, ...columns].join(', ')}) ON COMMIT DROP`);
    let rows: number;
    try {
      rows = await copyCsvInto(client, name, fieldNames, body, copyOptions);
    } catch (err) {
      // A typed stage's columns are `fN`: COPY's error names the target column instead.
      throw typed ? locateCopyError(err, lineOffset, (name) => (/^f\d+$/.test(name) ? (typed[Number(name.slice(1)) - 1]?.name ?? name) : name)) : err;
    }
    return { name, rows, lineOffset, firstLine: 1, lastLine: rows, tagged: false, order: lineColumn.length ? LINE : 'ctid' };
  }
  await client.query(`CREATE TEMP TABLE ${name} (${LINE} bigint, ${BAD} text, ${RAW} text, ${fields.join(', ')}) ON COMMIT DROP`);
  const copy = client.query(
    copyFrom(`COPY ${name} (${[STAGE_LINE_COLUMN, 'blob2pg_bad', 'blob2pg_raw', ...fieldNames].map(quoteIdent).join(', ')}) FROM STDIN ${csvCopyOptionsSql(copyOptions)}`),
  );
  if (options.pretagged) {
    await pipeline(body, copy);
    const range = await client.query<{ first: string | null; last: string | null }>(`SELECT min(${LINE}) AS first, max(${LINE}) AS last FROM ${name}`);
    const { first, last } = range.rows[0]!;
    return { name, rows: copy.rowCount, lineOffset: 0, firstLine: Number(first ?? lineOffset + 1), lastLine: Number(last ?? 0), tagged: true, order: LINE };
  }
  const tagger = new RecordTagger({ ...copyOptions, fieldCount, lineOffset });
  await pipeline(body, tagger, copy);
  return { name, rows: copy.rowCount, lineOffset: 0, firstLine: lineOffset + 1, lastLine: tagger.lastLine, tagged: true, order: LINE };
}

/**
 * Creates the pg_temp helpers when a plan needs them. Every time, not once per session:
 * created inside a load that then rolls back, they vanish with it. Only the diagnosis
 * and skip paths call this.
 */
export async function ensureTryFunctions(client: pg.ClientBase, plan: SelectPlan): Promise<void> {
  const helpers = new Set(plan.columns.flatMap((c) => c.helpers));
  if (helpers.size) await client.query([...helpers].join('\n'));
}

export interface RowChecks {
  /** Columns whose NULL is an error (upsert keys), reported as `NULL in key column`. */
  keyColumns?: readonly string[];
}

/**
 * SQL CASE giving, for a staged row, `ARRAY[column, raw value, reason]` for its first
 * problem (wrong field count, a value that does not convert, NULL in a key or NOT NULL
 * column), or NULL for a good row. The order mirrors what would fail first on insert.
 */
export function rowProblemSql(stage: Stage, plan: SelectPlan, checks: RowChecks = {}): string {
  const whens: string[] = [];
  if (stage.tagged) whens.push(`WHEN coalesce(${BAD}, '') <> '' THEN ARRAY[NULL, ${RAW}, ${BAD}]`);
  const name = (c: ColumnPlan) => quoteLiteral(c.column.name);
  for (const c of plan.columns) whens.push(`WHEN NOT ${c.valid} THEN ARRAY[${name(c)}, ${c.raw}, ${c.reason}]`);
  for (const c of plan.columns) {
    if (checks.keyColumns?.includes(c.column.name)) {
      whens.push(`WHEN ${c.raw} IS NULL THEN ARRAY[${name(c)}, NULL, 'NULL in key column ' || ${name(c)}]`);
    } else if (c.column.notNull) {
      const what = c.column.distribution ? 'NULL in distribution column ' : 'NULL in NOT NULL column ';
      whens.push(`WHEN ${c.raw} IS NULL THEN ARRAY[${name(c)}, NULL, ${quoteLiteral(what)} || ${name(c)}]`);
    }
  }
  return whens.length ? `CASE ${whens.join(' ')} END` : 'NULL::text[]';
}

/** The first bad staged row in line order, or undefined. */
export async function firstBadRow(
  client: pg.ClientBase,
  stage: Stage,
  plan: SelectPlan,
  checks: RowChecks = {},
): Promise<{ line: number; column?: string; value: string | null; reason: string } | undefined> {
  await ensureTryFunctions(client, plan);
  const result = await client.query<{ line: string; bad: Array<string | null> }>(
    `SELECT line, bad FROM (SELECT ${LINE} AS line, ${rowProblemSql(stage, plan, checks)} AS bad FROM ${stage.name}) s
      WHERE bad IS NOT NULL ORDER BY line LIMIT 1`,
    plan.params,
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return { line: Number(row.line) + stage.lineOffset, column: row.bad[0] ?? undefined, value: row.bad[1] ?? null, reason: row.bad[2] ?? 'invalid value' };
}

/**
 * Skip mode: moves every bad staged row into a temp table `(line, column, value, reason)`
 * and deletes it from the stage. Returns that table (for the log) and how many rows it holds.
 */
export async function skipBadRows(client: pg.ClientBase, stage: Stage, plan: SelectPlan, checks: RowChecks = {}): Promise<{ table: string; count: number }> {
  await ensureTryFunctions(client, plan);
  const table = tempName('skipped');
  await client.query(`CREATE TEMP TABLE ${table} (line bigint, "column" text, value text, reason text) ON COMMIT DROP`);
  const inserted = await client.query(
    `INSERT INTO ${table} (line, "column", value, reason)
     SELECT line, bad[1], bad[2], bad[3] FROM (SELECT ${LINE} AS line, ${rowProblemSql(stage, plan, checks)} AS bad FROM ${stage.name}) s
      WHERE bad IS NOT NULL`,
    plan.params,
  );
  const count = inserted.rowCount ?? 0;
  if (count) await client.query(`DELETE FROM ${stage.name} WHERE ${LINE} IN (SELECT line FROM ${table})`);
  return { table, count };
}

/** Throws a DataError naming the line of the first NULL key (NULL keys never conflict, so nothing else would catch them). */
export async function assertNoNullKeys(client: pg.ClientBase, stage: Stage, keys: ColumnPlan[]): Promise<void> {
  const fed = keys.filter((k) => k.field !== undefined);
  if (!fed.length) return;
  const result = await client.query<{ line: string; col: string }>(
    `SELECT ${LINE} AS line, CASE ${fed.map((k) => `WHEN ${k.raw} IS NULL THEN ${quoteLiteral(k.column.name)}`).join(' ')} END AS col
       FROM ${stage.name} WHERE ${fed.map((k) => `${k.raw} IS NULL`).join(' OR ')} ORDER BY ${LINE} LIMIT 1`,
  );
  const row = result.rows[0];
  if (row) throw new DataError(`NULL in key column ${row.col}: an upsert key must have a value`, { line: Number(row.line) + stage.lineOffset, column: row.col });
}

/**
 * Runs `work` (statements reading the stage) under ONE savepoint, not one per batch
 * (withSavepoint says why). When a
 * value does not convert or a NOT NULL / key column gets NULL, finds the first bad record
 * and throws a DataError naming its line and column.
 */
export async function withStageDiagnosis<T>(
  client: pg.ClientBase,
  stage: Stage,
  plan: SelectPlan,
  work: () => Promise<T>,
  checks: RowChecks = {},
): Promise<T> {
  try {
    return await withSavepoint(client, 'blob2pg_stage', work);
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('22') && !code.startsWith('23')) throw err;
    const bad = await firstBadRow(client, stage, plan, checks).catch(() => undefined);
    if (!bad) throw err;
    const value = bad.value === null ? '' : `: ${JSON.stringify(bad.value)}`;
    throw new DataError(`${(err as Error).message} (${bad.reason}${value})`, { line: bad.line, column: bad.column, sqlstate: code }, { cause: err });
  }
}

