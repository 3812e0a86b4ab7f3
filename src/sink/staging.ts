/**
 * The staging path (DESIGN decision 2): COPY every file field into a temporary table of
 * text columns, then one set-based statement moves the rows. Each staged row keeps its
 * record number, so a value that does not convert can still be reported with its line.
 */
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { DataError } from '../errors.js';
import type { CsvCopyOptions } from '../format/delimited.js';
import type { ResolvedColumn } from '../pipeline/mapping.js';
import { copyCsvInto } from './copy.js';
import { quoteIdent, quoteLiteral } from './sql.js';

export const STAGE_LINE_COLUMN = 'blob2pg_line';

/** The staging table's column for file field `i` (0-based). */
export function stageField(i: number): string {
  return quoteIdent(`f${i + 1}`);
}

let stageCounter = 0;

/** Creates a temp table dropped at COMMIT/ROLLBACK and COPYs `body` into it. */
export async function stageCsv(
  client: pg.ClientBase,
  fieldCount: number,
  body: Readable,
  copyOptions: CsvCopyOptions,
): Promise<{ stage: string; rows: number }> {
  const stage = quoteIdent(`blob2pg_stage_${process.pid}_${++stageCounter}`);
  const fields = Array.from({ length: fieldCount }, (_, i) => `${stageField(i)} text`);
  await client.query(
    `CREATE TEMP TABLE ${stage} (${quoteIdent(STAGE_LINE_COLUMN)} bigint GENERATED ALWAYS AS IDENTITY, ${fields.join(', ')}) ON COMMIT DROP`,
  );
  const rows = await copyCsvInto(
    client,
    stage,
    Array.from({ length: fieldCount }, (_, i) => `f${i + 1}`),
    body,
    copyOptions,
  );
  return { stage, rows };
}

/** `"f3"::numeric(12,2)` — the explicit cast from the staged text to the column's type. */
export function castField(c: ResolvedColumn): string {
  return `${stageField(c.field)}::${c.column.type}`;
}

/**
 * Runs `statement` (which reads the stage) under a savepoint; when a value does not
 * convert, finds the first bad record with pg_input_is_valid (PostgreSQL 16+) and
 * throws a DataError naming its line and column.
 */
export async function runFromStage(
  client: pg.ClientBase,
  stage: string,
  columns: ResolvedColumn[],
  lineOffset: number,
  statement: string,
  params: unknown[] = [],
): Promise<pg.QueryResult> {
  await client.query('SAVEPOINT blob2pg_stage');
  try {
    const result = await client.query(statement, params);
    await client.query('RELEASE SAVEPOINT blob2pg_stage');
    return result;
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('22') && !code.startsWith('23')) throw err;
    await client.query('ROLLBACK TO SAVEPOINT blob2pg_stage');
    const bad = await firstInvalidValue(client, stage, columns).catch(() => undefined);
    if (!bad) throw err;
    throw new DataError(
      `${(err as Error).message}: ${JSON.stringify(bad.value)} is not a valid ${bad.type}`,
      { line: Number(bad.line) + lineOffset, column: bad.column, sqlstate: code },
      { cause: err },
    );
  }
}

async function firstInvalidValue(
  client: pg.ClientBase,
  stage: string,
  columns: ResolvedColumn[],
): Promise<{ line: string; column: string; value: string; type: string } | undefined> {
  if (!columns.length) return undefined;
  const checks = columns.map(
    (c) =>
      `WHEN NOT pg_input_is_valid(${stageField(c.field)}, ${quoteLiteral(c.column.type)}) ` +
      `THEN ARRAY[${quoteLiteral(c.column.name)}, ${stageField(c.field)}, ${quoteLiteral(c.column.type)}]`,
  );
  const result = await client.query<{ line: string; bad: string[] }>(
    `SELECT line, bad FROM (
       SELECT ${quoteIdent(STAGE_LINE_COLUMN)} AS line, CASE ${checks.join(' ')} END AS bad FROM ${stage}
     ) s WHERE bad IS NOT NULL ORDER BY line LIMIT 1`,
  );
  const row = result.rows[0];
  return row ? { line: row.line, column: row.bad[0]!, value: row.bad[1]!, type: row.bad[2]! } : undefined;
}
