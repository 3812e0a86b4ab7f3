/**
 * Parquet, read with hyparquet (+ hyparquet-compressors for gzip/zstd/brotli/lz4; snappy
 * is built in) row group by row group over ranged blob reads: only the footer and one row
 * group's column chunks are in memory at a time, so a blob larger than memory loads.
 * Rows become CSV for COPY (toCsvRows.ts). Type rules:
 *  - INT64 → bigint text, no loss; DECIMAL → exact text from the unscaled integer (hyparquet
 *    would give a float, so its annotation is taken off and we scale the raw value).
 *  - TIMESTAMP millis/micros/nanos and INT96 → ISO 8601 text at full precision with `Z`
 *    (a timestamptz column gets the UTC instant; a timestamp column ignores the zone, so
 *    local timestamps keep their wall time); DATE → `YYYY-MM-DD`; TIME → `HH:MM:SS.ffffff`.
 *  - BYTE_ARRAY without a string annotation → bytea; UUID → text form.
 *  - LIST → Postgres array (array column) or JSON; MAP / STRUCT → JSON.
 */
import { Readable } from 'node:stream';
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type FileMetaData, type SchemaElement, type SchemaTree } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DataError } from '../errors.js';
import { fieldAccessor, firstByName, parseJsonPath, type Accessor } from '../pipeline/fieldPath.js';
import { findColumn } from '../pipeline/mapping.js';
import type { SourceMappingEntry as MappingEntry } from '../pipeline/sinkSpec.js';
import type { TableColumn } from '../pipeline/table.js';
import { CsvChunker, fieldText, kindOf, RECORD_CSV_OPTIONS, type ValueKind } from './toCsvRows.js';

/** Rows formatted per block: enough to amortise the per-column loops, small enough to stay in the young generation. */
const BLOCK_ROWS = 4096;

export { RECORD_CSV_OPTIONS };

/** Random access to the file's bytes (a blob read by ranges). */
export type ParquetFile = AsyncBuffer;

function pad(n: bigint | number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Whole-precision ISO text from a count of `unitsPerSecond` since the epoch (any range). */
function isoFromUnits(units: bigint, unitsPerSecond: bigint, digits: number): string {
  let seconds = units / unitsPerSecond;
  let fraction = units % unitsPerSecond;
  if (fraction < 0n) {
    fraction += unitsPerSecond;
    seconds -= 1n;
  }
  const iso = new Date(Number(seconds) * 1000).toISOString(); // 2026-01-02T03:04:05.000Z
  const t = iso.indexOf('T');
  return digits ? `${iso.slice(0, t + 9)}.${pad(fraction, digits)}Z` : `${iso.slice(0, t + 9)}Z`;
}

const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));

/**
 * ISO text of timestamps, the hot path of a Parquet file with a timestamp column: integer
 * arithmetic on doubles (exact below 2^53, i.e. millis and micros of any real date) instead
 * of BigInt division and a Date per value, and the `YYYY-MM-DDTHH:MM:SS` part cached, as
 * consecutive values usually share the day and often the second. Values past 2^53 (and
 * years past 9999) take the BigInt path. One per column: it holds the column's cache.
 */
function timestampText(unitsPerSecond: number, digits: number, wholeSecondsBare = false): (v: number | bigint) => string {
  const bigUnits = BigInt(unitsPerSecond);
  const fractionBase = 10 ** digits;
  let cachedDay = NaN;
  let dayPrefix = '';
  let cachedSecond = NaN;
  let secondPrefix = '';
  return (v) => {
    const units = Number(v);
    if (!Number.isSafeInteger(units)) return isoFromUnits(BigInt(v), bigUnits, digits);
    let fraction = units % unitsPerSecond;
    if (fraction < 0) fraction += unitsPerSecond;
    const seconds = (units - fraction) / unitsPerSecond;
    if (seconds !== cachedSecond) {
      const day = Math.floor(seconds / 86400);
      if (day !== cachedDay) {
        const iso = new Date(day * 86400000).toISOString();
        if (iso.length !== 24) return isoFromUnits(BigInt(v), bigUnits, digits);
        cachedDay = day;
        dayPrefix = iso.slice(0, 11);
      }
      const inDay = seconds - day * 86400;
      const minutes = Math.floor(inDay / 60);
      secondPrefix = `${dayPrefix}${TWO_DIGITS[Math.floor(minutes / 60)]}:${TWO_DIGITS[minutes % 60]}:${TWO_DIGITS[inDay % 60]}`;
      cachedSecond = seconds;
    }
    // A whole second needs no fraction in a CSV field: fewer bytes to write and for COPY to
    // parse. Inside JSON (structs, lists) the text keeps one shape.
    return wholeSecondsBare && fraction === 0 ? `${secondPrefix}Z` : `${secondPrefix}.${String(fractionBase + fraction).slice(1)}Z`;
  };
}

function dateText(): (days: number) => string {
  let cachedDays = NaN;
  let cached = '';
  return (days) => {
    if (days !== cachedDays) {
      cached = new Date(days * 86400000).toISOString().slice(0, 10);
      cachedDays = days;
    }
    return cached;
  };
}

/** A safe integer as a number (kept unboxed in a double array), else the bigint itself. */
const asNumber = (v: bigint): number | bigint => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
};

/**
 * hyparquet's value parsers, fresh per file (they hold caches). When every column read is a
 * top-level leaf (`flat`), millisecond and microsecond timestamps stay numbers and their
 * text is made a block at a time in leafFormatter: a row group's worth of strings would
 * survive young-generation GCs and be copied; short-lived ones die young. Inside structs
 * and lists there is no later formatting step, so the parsers make the text themselves.
 */
function makeParsers(flat: boolean) {
  return {
    timestampFromMilliseconds: flat ? asNumber : timestampText(1000, 3),
    timestampFromMicroseconds: flat ? asNumber : timestampText(1_000_000, 6),
    timestampFromNanoseconds: (v: bigint) => isoFromUnits(BigInt(v), 1_000_000_000n, 9),
    dateFromDays: dateText(),
  };
}

/** Big-endian two's complement bytes → bigint. */
function bigintFromBytes(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  const bits = BigInt(bytes.length * 8);
  return bytes.length && bytes[0]! & 0x80 ? value - (1n << bits) : value;
}

export function decimalText(raw: unknown, scale: number): string {
  const unscaled = raw instanceof Uint8Array ? bigintFromBytes(raw) : BigInt(raw as number | bigint);
  if (!scale) return unscaled.toString();
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

function timeText(raw: unknown, unitsPerSecond: bigint, digits: number): string {
  const units = BigInt(raw as number | bigint);
  const seconds = units / unitsPerSecond;
  const fraction = units % unitsPerSecond;
  return `${pad(seconds / 3600n, 2)}:${pad((seconds / 60n) % 60n, 2)}:${pad(seconds % 60n, 2)}.${pad(fraction, digits)}`;
}

type Formatter = (raw: unknown) => unknown;

/** Top-level leaves whose raw value we format ourselves (DECIMAL, TIME, TIMESTAMP). */
function leafFormatter(element: SchemaElement): Formatter | undefined {
  const ltype = element.logical_type;
  if (element.converted_type === 'DECIMAL' || ltype?.type === 'DECIMAL') {
    const scale = element.scale ?? (ltype?.type === 'DECIMAL' ? ltype.scale : 0);
    return (raw) => (raw === null || raw === undefined ? raw : decimalText(raw, scale));
  }
  let unit: 'MILLIS' | 'MICROS' | 'NANOS' | undefined;
  if (element.converted_type === 'TIME_MILLIS') unit = 'MILLIS';
  else if (element.converted_type === 'TIME_MICROS') unit = 'MICROS';
  else if (ltype?.type === 'TIME') unit = ltype.unit;
  if (unit) {
    const [per, digits] = unit === 'MILLIS' ? [1000n, 3] : unit === 'MICROS' ? [1000000n, 6] : [1000000000n, 9];
    return (raw) => (raw === null || raw === undefined ? raw : timeText(raw, per, digits));
  }
  // Timestamps hyparquet passes through as numbers (makeParsers, flat files); text passes as is.
  let stamp: 'MILLIS' | 'MICROS' | undefined;
  if (element.converted_type === 'TIMESTAMP_MILLIS') stamp = 'MILLIS';
  else if (element.converted_type === 'TIMESTAMP_MICROS') stamp = 'MICROS';
  else if (!element.converted_type && ltype?.type === 'TIMESTAMP' && ltype.unit !== 'NANOS') stamp = ltype.unit;
  if (stamp) {
    const text = stamp === 'MILLIS' ? timestampText(1000, 3, true) : timestampText(1_000_000, 6, true);
    return (raw) => (typeof raw === 'number' || typeof raw === 'bigint' ? text(raw) : raw);
  }
  return undefined;
}

/**
 * hyparquet converts DECIMAL to a float: drop the annotation on top-level decimal leaves
 * so it hands over the unscaled integer (or bytes), which leafFormatter scales exactly.
 */
function withRawDecimals(metadata: FileMetaData): FileMetaData {
  return {
    ...metadata,
    schema: metadata.schema.map((element, i) => {
      if (i === 0 || element.num_children) return element;
      if (element.converted_type !== 'DECIMAL' && element.logical_type?.type !== 'DECIMAL') return element;
      const { converted_type: _c, logical_type: _l, ...rest } = element;
      return rest;
    }),
  };
}

/**
 * `text(format(raw))` without the quote test when `format` made new text. A value it passes
 * through unchanged (null, or text hyparquet already made) still goes through `text`.
 */
export function formattedCsv(format: Formatter, text: (value: unknown) => string): (raw: unknown) => string {
  return (raw) => {
    const value = format(raw);
    return typeof value === 'string' && value !== raw ? value : text(value);
  };
}

interface ParquetField {
  /** Top-level column read. */
  column: string;
  /** Path inside its (assembled) value. */
  path: Array<string | number>;
  /** Reads `path` out of the value. */
  read: Accessor;
  kind: ValueKind;
  format?: Formatter;
  /**
   * A scalar column's CSV field straight from the raw value, when `format` makes the text
   * (DECIMAL, TIME, TIMESTAMP): that text is digits, `-`, `:`, `.`, `T` and `Z`, never in
   * need of quotes, so the per-value quote test (which also flattens the string) is skipped.
   */
  csv?: (raw: unknown) => string;
  /** The column read is a top-level leaf (not a struct, list or map). */
  leaf: boolean;
}

function topLevel(children: SchemaTree[], name: string): SchemaTree | undefined {
  return firstByName(children, name, (c) => c.element.name);
}

function parquetFields(tree: SchemaTree, tableColumns: TableColumn[], mapping: MappingEntry[] | undefined): { header: string[]; fields: ParquetField[] } {
  const header: string[] = [];
  const fields: ParquetField[] = [];
  const top = tree.children;
  const add = (name: string, node: SchemaTree, path: Array<string | number>, column: TableColumn | undefined) => {
    header.push(name);
    const kind = kindOf(column);
    const format = !path.length && !node.children.length ? leafFormatter(node.element) : undefined;
    fields.push({
      column: node.element.name,
      path,
      read: fieldAccessor(path),
      kind,
      format,
      csv: format && kind === 'scalar' ? formattedCsv(format, fieldText(kind)) : undefined,
      leaf: !node.children.length,
    });
  };
  if (mapping) {
    for (const entry of mapping) {
      if (typeof entry.source === 'number') {
        const node = top[entry.source - 1];
        if (!node) throw new DataError(`mapping source ${entry.source} is past the file's ${top.length} columns`, {});
        // Resolved by position in copyBlob: the header name is the column's own.
        const column = findColumn(tableColumns, entry.sink);
        add(node.element.name, node, [], column === 'ambiguous' ? undefined : column);
        continue;
      }
      const steps = entry.source.startsWith('$') ? parseJsonPath(entry.source) : topLevel(top, entry.source) ? [entry.source] : entry.source.split('.');
      const node = typeof steps[0] === 'string' ? topLevel(top, steps[0]) : undefined;
      if (!node) throw new DataError(`the Parquet file has no column "${String(steps[0])}" (columns: ${top.map((c) => c.element.name).join(', ')})`, {});
      const column = findColumn(tableColumns, entry.sink);
      add(entry.source, node, steps.slice(1), column === 'ambiguous' ? undefined : column);
    }
    return { header, fields };
  }
  const writable = tableColumns.filter((c) => c.writable);
  for (const node of top) {
    const column = findColumn(writable, node.element.name);
    if (column && column !== 'ambiguous') add(node.element.name, node, [], column);
  }
  if (!header.length) {
    throw new DataError(`no Parquet column matches a table column (file: ${top.map((c) => c.element.name).join(', ')}; table: ${writable.map((c) => c.name).join(', ')}); add a mapping`, {});
  }
  return { header, fields };
}

export interface ParquetDecodeResult {
  header: string[];
  fieldCount: number;
  body: Readable;
  /** COPY's record N is row N of the file (1-based). */
  lineOf(record: number): number;
}

export async function decodeParquet(file: ParquetFile, tableColumns: TableColumn[], mapping: MappingEntry[] | undefined): Promise<ParquetDecodeResult> {
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new DataError(`not a readable Parquet file: ${(err as Error).message}`, {}, { cause: err });
  }
  const raw = withRawDecimals(metadata);
  const { header, fields } = parquetFields(parquetSchema(metadata), tableColumns, mapping);
  const columns = [...new Set(fields.map((f) => f.column))];
  const columnIndex = new Map(columns.map((c, i) => [c, i]));
  const fieldColumn = fields.map((f) => columnIndex.get(f.column)!);

  async function* rows(): AsyncGenerator<Buffer> {
    const out = new CsvChunker();
    const texts = fields.map((f) => fieldText(f.kind));
    const blockTexts: string[][] = fields.map(() => new Array<string>(BLOCK_ROWS));
    const fieldCount = fields.length;
    const parsers = makeParsers(fields.every((f) => f.leaf));
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      const groupRows = Number(group.num_rows);
      const chunks: Array<Array<{ rowStart: number; values: ArrayLike<unknown> }>> = columns.map(() => []);
      try {
        await parquetRead({
          file,
          metadata: raw,
          columns,
          rowStart: groupStart,
          rowEnd: groupStart + groupRows,
          compressors,
          utf8: false,
          parsers,
          onChunk: (chunk) => {
            const i = columnIndex.get(chunk.columnName);
            if (i !== undefined) chunks[i]!.push({ rowStart: chunk.rowStart, values: chunk.columnData as ArrayLike<unknown> });
          },
        });
      } catch (err) {
        throw new DataError(`Parquet row group starting at row ${groupStart + 1} cannot be read: ${(err as Error).message}`, { line: groupStart + 1 }, { cause: err });
      }
      // One array per column, covering exactly this group's rows.
      const values = chunks.map((list) => {
        list.sort((a, b) => a.rowStart - b.rowStart);
        if (list.length === 1 && list[0]!.rowStart === groupStart) return list[0]!.values;
        const merged: unknown[] = new Array(groupRows);
        for (const { rowStart, values: part } of list) {
          for (let r = 0; r < part.length; r++) {
            const at = rowStart - groupStart + r;
            if (at >= 0 && at < groupRows) merged[at] = part[r];
          }
        }
        return merged;
      });
      // Column at a time (one monomorphic loop per field), then rows joined, a block at a time.
      for (let from = 0; from < groupRows; from += BLOCK_ROWS) {
        const n = Math.min(BLOCK_ROWS, groupRows - from);
        for (let f = 0; f < fields.length; f++) {
          const field = fields[f]!;
          const column = values[fieldColumn[f]!]!;
          const out = blockTexts[f]!;
          const text = texts[f]!;
          const csv = field.csv;
          if (field.path.length) for (let r = 0; r < n; r++) out[r] = text(field.read(column[from + r]));
          else if (csv) for (let r = 0; r < n; r++) out[r] = csv(column[from + r]);
          else if (field.format) for (let r = 0; r < n; r++) out[r] = text(field.format(column[from + r]));
          else for (let r = 0; r < n; r++) out[r] = text(column[from + r]);
        }
        // The block as one string built by `+=` (a rope V8 flattens once, when the chunk
        // becomes bytes): measured faster than a string per row joined, or one array of
        // fields and separators joined (microbenchmark, 1M rows × 5 fields: 0.5-0.7 s vs
        // 0.8-1.2 s vs 1.4-1.6 s).
        let block = '';
        for (let r = 0; r < n; r++) {
          block += blockTexts[0]![r]!;
          for (let f = 1; f < fieldCount; f++) {
            block += ',';
            block += blockTexts[f]![r]!;
          }
          block += '\n';
        }
        out.pushLines(block, n);
        const chunk = out.take();
        if (chunk) yield chunk;
      }
      groupStart += groupRows;
    }
    const last = out.take(true);
    if (last) yield last;
  }

  return { header, fieldCount: Number(metadata.num_rows) > 0 ? header.length : 0, body: Readable.from(rows(), { objectMode: false }), lineOf: (record) => record };
}
