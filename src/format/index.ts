/**
 * From a blob to what a writer consumes: split archives into entries, decompress,
 * transcode where PostgreSQL cannot, then decode. Every decoder ends in CSV bytes (the
 * writer contract): delimited text is decoded only up to its header and the body stays
 * the file's own bytes for COPY; JSON and Parquet records are re-encoded as CSV in Node.
 *
 * The JSON and Parquet decoders (and hyparquet with its codecs) are imported when a file
 * needs them, not with this module: a CSV load, `validate` of a CSV pipeline and the
 * Functions app's start-up never pay for them (bench/README.md, "Start-up").
 */
import type { Readable } from 'node:stream';
import type { AsyncBuffer } from 'hyparquet';
import { DataError } from '../errors.js';
import { delimitedTextFormatSchema, type ConcreteFormat, type DelimitedTextFormat, type SourceFormat } from '../pipeline/formatSpec.js';
import type { MappingEntry } from '../pipeline/spec.js';
import { sourceMappingEntries } from '../pipeline/sinkSpec.js';
import type { TableColumn } from '../pipeline/table.js';
import { ByteReader } from './byteReader.js';
import { archiveEntries, decompress, isArchive, resolveCodec, stripCodecExtension, type StreamCodec } from './compression.js';
import { guardNoQuote, readDelimitedPrologue, type DelimitedPrologue } from './delimited.js';
import { sniffUtf16, textDecoding, transcoderFor } from './encoding.js';
import type { EncodingName } from '../pipeline/encodings.js';
import { RECORD_CSV_OPTIONS } from './records.js';

export interface DecodedBlob extends DelimitedPrologue {
  /** CSV records after the prologue, in ≥ 64 KB chunks. */
  body: Readable;
  /**
   * Record decoders (JSON, Parquet): COPY's line N — record N of `body` — is this line
   * of the file (JSON Lines skip blank lines; an array's objects span lines). Without it,
   * the file line is COPY's line + lineOffset.
   */
  lineOf?(record: number): number;
  /**
   * Record decoders apply the spec's mapping themselves (its sources are JSON paths or
   * Parquet column paths) and emit one field per entry: resolve this positional mapping
   * against `header` instead of the spec's.
   */
  mapping?: MappingEntry[];
  /**
   * `body` is already in the tagged stage layout (`line, bad, raw, f1 … fN`; see
   * sink/staging.ts): a record decoder in skip mode that kept its bad records (JSON).
   */
  tagged?: boolean;
}

/** What record decoders need to know about the target (see records.ts for why). */
export interface DecodeContext {
  tableColumns: TableColumn[];
  mapping?: MappingEntry[];
  /** `faultTolerance.skipIncompatibleRows`: decoders that can keep bad records do (JSON). */
  skipBadRecords?: boolean;
}

/** One blob, as a stream and (for Parquet) by ranges. */
export interface BlobSource {
  name: string;
  open(): Promise<Readable>;
  randomAccess(): Promise<AsyncBuffer>;
}

/** One file to load: the blob itself, or one entry of a zip / tar blob. */
export interface SourceFile {
  /** The entry's path inside the archive; undefined for a plain blob. */
  entry?: string;
  decode(context: DecodeContext): Promise<DecodedBlob>;
}

/** The spec's own DelimitedText defaults (RFC 4180, header row), for `auto` on .csv/.tsv/.txt. */
const DEFAULT_DELIMITED: DelimitedTextFormat = delimitedTextFormatSchema.parse({ type: 'DelimitedText' });

/** `auto` → the decoder named by the file's extension (after any compression extension). */
export function resolveFormat(format: SourceFormat, fileName: string): ConcreteFormat {
  if (format.type !== 'auto') return format;
  const name = stripCodecExtension(fileName).toLowerCase();
  const { type: _type, compressionCodec, encodingName, ...delimited } = format;
  if (/\.(json|jsonl|ndjson)$/.test(name)) return { type: 'Json', encodingName: encodingName ?? 'UTF-8', compressionCodec };
  if (name.endsWith('.parquet')) return { type: 'Parquet', compressionCodec: 'auto' };
  if (/\.(csv|tsv|txt)$/.test(name)) {
    const options = Object.fromEntries(Object.entries(delimited).filter(([, v]) => v !== undefined));
    return {
      ...DEFAULT_DELIMITED,
      ...(name.endsWith('.tsv') && { columnDelimiter: '\t' }),
      ...options,
      ...(encodingName && { encodingName }),
      compressionCodec,
    };
  }
  throw new DataError(`format "auto" cannot tell the format of ${fileName}: expected .csv, .tsv, .txt, .json, .jsonl, .ndjson or .parquet (optionally compressed)`, {});
}

/** The decoders emit one field per source entry, in order; value entries pass through. */
function positional(mapping: MappingEntry[] | undefined): MappingEntry[] | undefined {
  let field = 0;
  return mapping?.map((entry) => ('source' in entry ? { source: ++field, sink: entry.sink } : entry));
}

/** Decodes a stream of (already decompressed) bytes in a stream format. */
export async function decodeStream(bytes: Readable, format: Exclude<ConcreteFormat, { type: 'Parquet' }>, context: DecodeContext): Promise<DecodedBlob> {
  let reader = new ByteReader(bytes);
  const head = await reader.ensure(4);
  // Imported here, where `bytes` is already being read (its errors are caught by the reader)
  // and before a transcoder stage exists that nothing would listen to during the import.
  const jsonDecoder = format.type === 'Json' ? await import('./json.js') : undefined;
  // A UTF-16 BOM wins over a UTF-8 default: such a file cannot be UTF-8.
  const declared = format.encodingName as EncodingName;
  const encoding = (declared === 'UTF-8' && sniffUtf16(head)) || declared;
  const text = textDecoding(encoding);
  if (text.transcoder || (format.type === 'Json' && text.copyEncoding !== 'UTF8')) {
    // JSON is parsed in Node, so it is always read as UTF-8.
    const transcoder = text.transcoder?.() ?? transcoderFor(encoding);
    const rest = reader.rest();
    rest.on('error', (err) => transcoder.destroy(err));
    reader = new ByteReader(rest.pipe(transcoder));
  }
  if (format.type === 'Json') {
    const json = await jsonDecoder!.decodeJson(reader, context.tableColumns, sourceMappingEntries(context.mapping), { skipBadRecords: context.skipBadRecords });
    return { ...json, lineOffset: 0, copyOptions: RECORD_CSV_OPTIONS, mapping: positional(context.mapping) };
  }
  const prologue = await readDelimitedPrologue(reader, format, text.transcoder ? { copyEncoding: 'UTF8', decode: (b) => b.toString('utf8') } : text);
  let body = reader.rest();
  if (format.quoteChar === '' && prologue.copyOptions.format !== 'text') {
    const guard = guardNoQuote(prologue.lineOffset);
    body.on('error', (err) => guard.destroy(err));
    body = body.pipe(guard);
  }
  return { ...prologue, body };
}

/** Opens one stream-format file (decompressing by `codec`) as a SourceFile. */
function streamFile(entry: string | undefined, open: () => Promise<Readable>, codec: StreamCodec, format: ConcreteFormat): SourceFile {
  return {
    entry,
    async decode(context) {
      if (format.type === 'Parquet') {
        throw new DataError(`${entry ?? 'this blob'}: Parquet inside an archive or a compressed stream cannot be read (Parquet needs random access; its column chunks are compressed already)`, {});
      }
      return decodeStream(await decompress(await open(), codec), format, context);
    },
  };
}

/**
 * The files in a blob: one for a plain or compressed blob, one per entry for zip / tar.
 * Entries come one at a time: load (read to the end) each before asking for the next.
 */
export async function* sourceFiles(source: BlobSource, format: SourceFormat): AsyncGenerator<SourceFile> {
  const codec = resolveCodec(format.compressionCodec, source.name);
  if (!isArchive(codec)) {
    const concrete = resolveFormat(format, source.name);
    if (concrete.type === 'Parquet' && codec === 'none') {
      yield {
        async decode(context) {
          const { decodeParquet } = await import('./parquet.js');
          const parquet = await decodeParquet(await source.randomAccess(), context.tableColumns, sourceMappingEntries(context.mapping));
          return { ...parquet, lineOffset: 0, copyOptions: RECORD_CSV_OPTIONS, mapping: positional(context.mapping) };
        },
      };
      return;
    }
    yield streamFile(undefined, () => source.open(), codec, concrete);
    return;
  }
  for await (const entry of archiveEntries(await source.open(), codec)) {
    // An entry may itself be compressed (`a.csv.gz` inside a tar): decided by its name.
    const inner = resolveCodec('auto', entry.path);
    if (isArchive(inner)) throw new DataError(`archive entry ${entry.path} is itself an archive; nested archives are not read`, {});
    yield streamFile(entry.path, async () => entry.body, inner, resolveFormat(format, entry.path));
  }
}
