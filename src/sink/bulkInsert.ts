/**
 * Write method BulkInsert: batched `INSERT … SELECT` of at most `writeBatchSize` rows.
 * Row-level triggers fire per row (why users pick it over COPY); values never enter SQL
 * text and there is no parameter ceiling (ADF's multi-row VALUES fails past 65,535
 * parameters on wide tables).
 *
 * Two stage shapes, both filled by COPY (Postgres parses the CSV at COPY speed):
 *  - typed (every file field lands in its own column, no conversion, no skip mode): the
 *    stage has the target's column types and names, so COPY parses each value once and
 *    reports a bad one with its line and column itself; each batch only moves tuples.
 *    Measured ~1.3× faster than the text stage (bench/README.md).
 *  - text (everything else): the shared staging path with casts, conversions, skip mode.
 * Why not `unnest($1::type[], …)` arrays built in Node: the CSV would be parsed in Node
 * and every value serialised twice. A btree index on the staged line (+ ANALYZE: temp
 * tables get no autovacuum statistics) lets each batch read only its own rows; a BRIN
 * index was measured 2× slower overall (the planner kept seq-scanning the stage).
 */
import type pg from 'pg';
import { DataError } from '../errors.js';
import { copyCsvInto } from './copy.js';
import { quoteIdent, quoteIdentList, quoteTable } from './sql.js';
import { skipMode, stageForWrite, stagedCounters } from './staged.js';
import { STAGE_LINE_COLUMN, withStageDiagnosis } from './staging.js';
import type { SinkWriter, WriteCounters, WriteRequest } from './writer.js';

const LINE = quoteIdent(STAGE_LINE_COLUMN);
let typedStages = 0;

/** Index the staged line so each batch reads only its rows. */
async function indexStage(client: pg.ClientBase, stage: string, rows: number, batchSize: number): Promise<void> {
  if (rows <= batchSize) return;
  await client.query(`CREATE INDEX ON ${stage} (${LINE})`);
  await client.query(`ANALYZE ${stage}`);
}

async function insertBatches(
  client: pg.ClientBase,
  sql: string,
  params: unknown[],
  range: { first: number; last: number; batchSize: number },
  lineOffset?: number,
): Promise<number> {
  let rows = 0;
  for (let from = range.first - 1; from < range.last; from += range.batchSize) {
    try {
      rows += (await client.query(sql, [...params, from, from + range.batchSize])).rowCount ?? 0;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (lineOffset === undefined || !code || !/^(22|23|P0)/.test(code)) throw err;
      // A constraint or trigger refused a row of this batch: name the batch's lines.
      const first = from + 1 + lineOffset;
      const last = Math.min(from + range.batchSize, range.last) + lineOffset;
      throw new DataError(`${(err as Error).message} (in the batch of lines ${first}-${last})`, { sqlstate: code }, { cause: err });
    }
  }
  return rows;
}

function canUseTypedStage(request: WriteRequest): boolean {
  return !skipMode(request) && request.mapping.allFieldsMapped && request.mapping.values.length === 0 && !request.spec.typeConversion;
}

async function writeViaTypedStage(request: WriteRequest): Promise<WriteCounters> {
  const { client, table, mapping } = request;
  const batchSize = request.spec.sink.writeBatchSize;
  const stage = quoteIdent(`blob2pg_typed_${process.pid}_${++typedStages}`);
  const names = mapping.columns.map((c) => c.column.name);
  // NOT NULL too, so COPY names the line and column of a missing value itself.
  const columns = mapping.columns.map((c) => `${quoteIdent(c.column.name)} ${c.column.type}${c.column.notNull ? ' NOT NULL' : ''}`);
  await client.query(`CREATE TEMP TABLE ${stage} (${LINE} bigint GENERATED ALWAYS AS IDENTITY, ${columns.join(', ')}) ON COMMIT DROP`);
  const rows = await copyCsvInto(client, stage, names, request.body, request.copyOptions);
  await indexStage(client, stage, rows, batchSize);
  const sql = `INSERT INTO ${quoteTable(table.table)} (${quoteIdentList(names)})
    SELECT ${quoteIdentList(names)} FROM ${stage} WHERE ${LINE} > $1 AND ${LINE} <= $2 ORDER BY ${LINE}`;
  const copied = await insertBatches(client, sql, [], { first: 1, last: rows, batchSize }, request.lineOffset);
  return { rowsRead: rows, rowsCopied: copied, rowsSkipped: 0 };
}

export const bulkInsertWriter: SinkWriter = {
  async write(request: WriteRequest): Promise<WriteCounters> {
    if (canUseTypedStage(request)) return writeViaTypedStage(request);
    const { client, table } = request;
    const load = await stageForWrite(request);
    const { stage, plan } = load;
    const batchSize = request.spec.sink.writeBatchSize;
    await indexStage(client, stage.name, stage.rows, batchSize);
    const lo = `$${plan.params.length + 1}`;
    const hi = `$${plan.params.length + 2}`;
    const sql = `INSERT INTO ${quoteTable(table.table)} (${quoteIdentList(plan.columns.map((c) => c.column.name))})
      SELECT ${plan.columns.map((c) => c.expr).join(', ')} FROM ${stage.name}
       WHERE ${LINE} > ${lo} AND ${LINE} <= ${hi} ORDER BY ${LINE}`;
    const copied = await withStageDiagnosis(client, stage, plan, () =>
      insertBatches(client, sql, plan.params, { first: stage.firstLine, last: stage.lastLine, batchSize }),
    );
    return stagedCounters(load, copied);
  },
};
