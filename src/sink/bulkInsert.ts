/**
 * Write method BulkInsert: batched `INSERT … SELECT` of at most `writeBatchSize` rows.
 * Row-level triggers fire per row (why users pick it over COPY); values never enter SQL
 * text and there is no parameter ceiling (ADF's multi-row VALUES fails past 65,535
 * parameters on wide tables).
 *
 * Three shapes, fastest first:
 *  - arrays (UTF-8 CSV, every field in its own column, no array-typed column): each batch
 *    of records is split into fields in Node and sent as one array parameter per column —
 *    binary for integers, float8, boolean and text (src/sink/arrayParams.ts), an array
 *    literal otherwise — `INSERT … SELECT unnest($1::type1[]), …`; Node splits batch N+1
 *    while the server inserts batch N. See writeViaArrays; its speed against
 *    CopyCommand is measured in bench/README.md.
 *  - typed batches (no conversion, no skip mode, any encoding): each batch is COPYed into
 *    a small stage typed like the target, then moved. See writeViaTypedStage. Faster than
 *    the text stage (bench/README.md); also names the line and column of a value the
 *    array shape's INSERT refused.
 *  - text stage (everything else): the whole file COPYed into the shared text staging
 *    table, then batched INSERT … SELECT with casts, conversions, skip mode.
 * A btree index on the staged line (+ ANALYZE: temp tables get no autovacuum statistics)
 * lets each text-stage batch read only its own rows; a BRIN index was measured slower
 * overall (the planner kept seq-scanning the stage).
 */
import type pg from 'pg';
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { DataError, locateCopyError } from '../errors.js';
import { csvColumnSplitter, csvColumnsSupported, type ColumnBuilder } from '../format/csvColumns.js';
import { recordBatches, type RecordBatch } from '../format/recordBatches.js';
import { ArrayLiteralBuilder, columnParam } from './arrayParams.js';
import { copyCsvInto } from './copy.js';
import { quoteIdent, quoteIdentList, quoteTable } from './sql.js';
import { withSavepoint } from './transaction.js';
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

/** Text-stage batches: `sql` selects staged lines in ($a, $b]. */
async function insertBatches(client: pg.ClientBase, sql: string, params: unknown[], range: { first: number; last: number; batchSize: number }): Promise<number> {
  let rows = 0;
  for (let from = range.first - 1; from < range.last; from += range.batchSize) {
    rows += (await client.query(sql, [...params, from, from + range.batchSize])).rowCount ?? 0;
  }
  return rows;
}

/** Single-byte-safe encodings only: in SJIS/BIG5 a trail byte can equal the escape. */
const BATCHABLE_ENCODINGS = /^(UTF8|SQL_ASCII|LATIN\d+|WIN\d+|ISO_8859_\d+|KOI8[RU])$/;

function canUseTypedStage(request: WriteRequest): boolean {
  const { copyOptions } = request;
  return (
    !skipMode(request) &&
    request.mapping.allFieldsMapped &&
    request.mapping.values.length === 0 &&
    !request.spec.typeConversion &&
    copyOptions.format !== 'text' &&
    (copyOptions.escape === copyOptions.quote || BATCHABLE_ENCODINGS.test(copyOptions.encoding))
  );
}

/** A temp table typed like the target (NOT NULL too, so COPY names a missing value's line and column). */
interface TypedStage {
  /** COPYs one batch into the stage and moves it into the target; returns the rows inserted. */
  load(batch: RecordBatch, offset: number): Promise<number>;
  /** COPYs one batch into the stage only, to let COPY name the first bad value's line and column. */
  copy(batch: RecordBatch, offset: number): Promise<void>;
}

async function createTypedStage(request: WriteRequest): Promise<TypedStage> {
  const { client, table, mapping, copyOptions } = request;
  const stage = quoteIdent(`blob2pg_typed_${process.pid}_${++typedStages}`);
  const names = mapping.columns.map((c) => c.column.name);
  const columns = mapping.columns.map((c) => `${quoteIdent(c.column.name)} ${c.column.type}${c.column.notNull ? ' NOT NULL' : ''}`);
  await client.query(`CREATE TEMP TABLE ${stage} (${columns.join(', ')}) ON COMMIT DROP`);
  const insert = `INSERT INTO ${quoteTable(table.table)} (${quoteIdentList(names)}) SELECT ${quoteIdentList(names)} FROM ${stage}`;
  const copy = async (batch: RecordBatch, offset: number) => {
    try {
      await copyCsvInto(client, stage, names, Readable.from([batch.bytes]), copyOptions);
    } catch (err) {
      throw locateCopyError(err, offset);
    }
  };
  return {
    copy,
    async load(batch, offset) {
      await copy(batch, offset);
      try {
        // One round trip for both (neither takes parameters): the batch's rows move, the stage empties.
        const [inserted] = (await client.query(`${insert}; TRUNCATE ${stage}`)) as unknown as pg.QueryResult[];
        return inserted!.rowCount ?? 0;
      } catch (err) {
        throw batchError(err, offset, batch.records);
      }
    },
  };
}

/** A constraint or trigger refused a row of this batch: name the batch's lines. */
function batchError(err: unknown, offset: number, records: number): unknown {
  const code = (err as { code?: string }).code;
  if (!code || !/^(22|23|P0)/.test(code)) return err;
  return new DataError(`${(err as Error).message} (in the batch of lines ${offset + 1}-${offset + records})`, { sqlstate: code }, { cause: err });
}

/**
 * The typed-stage shape: the file is cut into batches of writeBatchSize records in Node
 * (only quote/newline bytes are scanned), each batch is COPYed into a small stage typed like
 * the target — COPY parses each value once and names a bad one's line and column — then one
 * `INSERT … SELECT` moves it and the stage is truncated. Used when the array shape cannot be.
 */
async function writeViaTypedStage(request: WriteRequest): Promise<WriteCounters> {
  const { copyOptions } = request;
  const stage = await createTypedStage(request);
  let before = 0;
  let copied = 0;
  for await (const batch of recordBatches(request.body, { quote: copyOptions.quote, escape: copyOptions.escape, maxRecords: request.spec.sink.writeBatchSize })) {
    copied += await stage.load(batch, request.lineOffset + before);
    before += batch.records;
  }
  return { rowsRead: before, rowsCopied: copied, rowsSkipped: 0 };
}

/**
 * The array shape needs UTF-8 CSV (JS strings are sent as UTF-8), a splitter-friendly
 * delimiter/quote/escape, every field in its own column in file order, and no array-typed
 * column (`unnest` flattens a multidimensional array: one row per element, not per record).
 */
function canUseArrays(request: WriteRequest): boolean {
  const { copyOptions, mapping } = request;
  return (
    copyOptions.format !== 'text' &&
    copyOptions.encoding === 'UTF8' &&
    csvColumnsSupported(copyOptions) &&
    mapping.columns.every((c, i) => c.field === i && !c.column.type.endsWith(']'))
  );
}

const SAVEPOINT = 'blob2pg_bulk';

type InFlight = { rows: number } | { err: unknown; batch: RecordBatch; offset: number };

/**
 * The fast shape: batches cut as for the typed stage, each split into fields in Node and
 * sent as one array parameter per column, `INSERT … SELECT unnest($1::type1[]), …`: every
 * value is a bound parameter, converted once (by Node for the binary kinds, exactly as the
 * input function would, or by the column type's input function), the parameter typed
 * without the column's modifier so assignment checks varchar(n)/bit(n) as COPY does, and
 * Node splits batch N+1 while the server inserts batch N. A batch the splitter cannot
 * reproduce exactly (wrong field count, bare CR, invalid UTF-8 …) goes through the typed
 * stage instead. When an INSERT refuses a value (22xxx, 23xxx), everything rolls
 * back to one savepoint taken at the start (one subtransaction per blob, not per batch) and
 * the failing batch is COPYed into the typed stage, so COPY names the line and column.
 */
async function writeViaArrays(request: WriteRequest): Promise<WriteCounters> {
  const { client, table, mapping, copyOptions } = request;
  const names = mapping.columns.map((c) => c.column.name);
  const params = mapping.columns.map((c) => columnParam(c.column.baseType));
  // unnest() in the select list streams rows (ProjectSet); `FROM unnest(…)` first
  // materializes them in a tuplestore, which was measured slower.
  const unnests = params.map((p, i) => `unnest($${i + 1}::${p.sqlType}[])`);
  const insert = `INSERT INTO ${quoteTable(table.table)} (${quoteIdentList(names)}) SELECT ${unnests.join(', ')}`;
  const split = csvColumnSplitter({ delimiter: copyOptions.delimiter, quote: copyOptions.quote, escape: copyOptions.escape, null: copyOptions.null, fieldCount: mapping.columns.length });
  // Two sets of column builders, alternating: batch N's buffers stay untouched while its
  // INSERT is in flight and batch N+1 is split.
  const builderSet = (): ColumnBuilder[] => params.map((p) => p.binary() ?? new ArrayLiteralBuilder());
  const sets = [builderSet(), builderSet()];
  let turn = 0;
  const splitBatch = (bytes: Buffer, records: number): unknown[] | undefined => {
    const builders = sets[(turn ^= 1)]!;
    for (;;) {
      const out = split(bytes, records, builders);
      if (Array.isArray(out)) return out;
      if ('malformed' in out) return undefined;
      // A value the binary form cannot carry exactly: this column goes as text from now on.
      for (const set of sets) set[out.declined] = new ArrayLiteralBuilder();
    }
  };
  let stage: TypedStage | undefined;
  const typedStage = async () => (stage ??= await createTypedStage(request));

  /** The batch whose INSERT failed, once one has. */
  let failed: { err: unknown; batch: RecordBatch; offset: number } | undefined;
  let before = 0;
  let copied = 0;
  const insertAll = async () => {
    let inFlight: Promise<InFlight> | undefined;
    const settle = async () => {
      if (!inFlight) return;
      const done = await inFlight;
      inFlight = undefined;
      if ('err' in done) {
        failed = done;
        throw done.err;
      }
      copied += done.rows;
    };
    try {
      for await (const batch of recordBatches(request.body, { quote: copyOptions.quote, escape: copyOptions.escape, maxRecords: request.spec.sink.writeBatchSize })) {
        const offset = request.lineOffset + before;
        // Split while the previous batch's INSERT runs on the server.
        const columns = isUtf8(batch.bytes) ? splitBatch(batch.bytes, batch.records) : undefined;
        await settle();
        if (columns) {
          inFlight = client.query(insert, columns).then(
            (result) => ({ rows: result.rowCount ?? 0 }),
            (err: unknown) => ({ err, batch, offset }),
          );
        } else {
          copied += await (await typedStage()).load(batch, offset);
        }
        before += batch.records;
      }
      await settle();
    } finally {
      // Never leave a query behind unobserved (its outcome is already caught above).
      if (inFlight) await inFlight;
    }
  };

  try {
    await withSavepoint(client, SAVEPOINT, insertAll);
  } catch (err) {
    if (!failed || err !== failed.err) throw err;
    const { batch, offset } = failed;
    // Rolled back to the savepoint; a typed stage created after it (for a declined batch) went with it.
    stage = undefined;
    const code = (err as { code?: string }).code ?? '';
    // A value its type (22xxx) or domain refuses, a NULL in a NOT NULL column: COPY names it.
    // Others (a unique key, a table CHECK) pass the stage and get the batch's line range.
    if (code.startsWith('22') || code.startsWith('23')) {
      const diagnosis = await typedStage();
      await diagnosis.copy(batch, offset).catch((copyErr: unknown) => {
        if (copyErr instanceof DataError && copyErr.location.line !== undefined) throw copyErr;
      });
    }
    throw batchError(err, offset, batch.records);
  }
  return { rowsRead: before, rowsCopied: copied, rowsSkipped: 0 };
}

export const bulkInsertWriter: SinkWriter = {
  async write(request: WriteRequest): Promise<WriteCounters> {
    if (canUseTypedStage(request)) return canUseArrays(request) ? writeViaArrays(request) : writeViaTypedStage(request);
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
