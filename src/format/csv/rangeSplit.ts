/**
 * Cuts one plain CSV blob into byte ranges that separate COPY streams can load at once
 * (sink/parallelCopy.ts). Where a range starts is first *guessed* from a small window of
 * bytes around the nominal cut, then *proven* while the bytes are loaded:
 *
 *  - guess: the first line end after the cut from which the next records parse (by COPY's
 *    rules, BoundaryScanner) with the file's field count. A quoted field holding line ends
 *    usually fails that test, because its tail reads as records of the wrong width.
 *  - proof: whether a position is a record boundary depends on the quote state there,
 *    which only a scan from a known boundary can tell (a quote toggles it wherever it
 *    appears). The range before a cut is scanned by RecordCounter as it streams into COPY;
 *    if it started on a boundary and ends outside quotes right after a line end, the next
 *    range starts on one too. Range 0 starts after the header, a proven boundary, so the
 *    chain proves every cut, or names the first wrong one (the caller then merges that
 *    range with its neighbour and loads again: nothing commits before every cut is proven).
 */
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import type { DelimitedTextFormat } from '../../pipeline/formatSpec.js';
import type { EncodingName } from '../../pipeline/encodings.js';
import { ByteReader } from '../byteReader.js';
import { sniffUtf16, textDecoding } from '../encoding.js';
import { RecordCounter } from './batches.js';
import { dialectOf, LF } from './dialect.js';
import { detectCr, readDelimitedPrologue, type DelimitedPrologue, type RecordOptions } from './header.js';
import { BoundaryScanner } from './scanner.js';

/** Bytes read around each nominal cut to guess a record start. */
export const CUT_WINDOW_BYTES = 256 * 1024;
/** Records that must parse with the right field count after a guessed start. */
const PROBE_RECORDS = 16;

/**
 * COPY encodings in which a byte below 0x80 is always that ASCII character, so a quote or
 * line-end byte found by a byte scan is one (Shift_JIS, Big5, GBK, GB18030, JOHAB and UHC
 * use ASCII bytes inside multi-byte characters: those files load through one stream).
 */
const ASCII_SAFE = /^(UTF8|LATIN\d+|WIN\d+|ISO_8859_\d+|KOI8[RU]|EUC_(JP|KR|CN))$/;

export interface CsvHead extends DelimitedPrologue {
  /** Byte offset of the first data record (after BOM, skipped lines and header). */
  bodyStart: number;
  /** The dialect's bytes, for guessing cuts. */
  recordOptions: RecordOptions;
  quote: string;
  escape: string;
}

/**
 * Reads the prologue of a CSV blob from `bytes` (the blob from offset 0; the caller
 * destroys it afterwards). Undefined when the file cannot be split by a byte scan:
 * no quote character or COPY text format, lone-CR line ends, an encoding that is
 * transcoded or not ASCII-safe, or an empty file.
 */
export async function readCsvHead(bytes: Readable, format: DelimitedTextFormat): Promise<CsvHead | undefined> {
  if (format.quoteChar === '' || format.rowDelimiter === '\r') return undefined;
  let fed = 0;
  const reader = new ByteReader(
    (async function* () {
      for await (const chunk of bytes as AsyncIterable<Buffer>) {
        fed += chunk.length;
        yield chunk;
      }
    })(),
  );
  const head = await reader.ensure(64 * 1024);
  const declared = format.encodingName as EncodingName;
  if (declared === 'UTF-8' && sniffUtf16(head)) return undefined;
  const text = textDecoding(declared);
  if (text.transcoder || !ASCII_SAFE.test(text.copyEncoding)) return undefined;
  if (!format.rowDelimiter && detectCr(head)) return undefined;
  const prologue = await readDelimitedPrologue(reader, format, text);
  if (prologue.fieldCount === 0 || prologue.copyOptions.format === 'text') return undefined;
  const quote = prologue.copyOptions.quote;
  const escape = prologue.copyOptions.escape;
  return {
    ...prologue,
    bodyStart: fed - reader.buffer.length,
    quote,
    escape,
    recordOptions: dialectOf({ delimiter: format.columnDelimiter, quote, escape }),
  };
}

/** `n - 1` evenly spaced offsets strictly inside (start, end): where ranges would ideally begin. */
export function nominalCuts(start: number, end: number, n: number): number[] {
  const cuts: number[] = [];
  for (let k = 1; k < n; k++) {
    const cut = start + Math.floor(((end - start) * k) / n);
    if (cut > start && cut < end && cut !== cuts[cuts.length - 1]) cuts.push(cut);
  }
  return cuts;
}

/**
 * A likely record start in `window` (the blob's bytes from `windowStart`, which is one byte
 * before the nominal cut, so a line end just before the cut counts): the position after
 * the first line end from which up to PROBE_RECORDS records parse with `fieldCount` fields.
 * Undefined when no line end in the window qualifies (the cut is dropped: its range is
 * merged with the one before). `atEof`: the window reaches the end of the blob.
 */
export function guessRecordStart(window: Buffer, windowStart: number, fieldCount: number, options: RecordOptions, atEof: boolean): number | undefined {
  for (let lf = window.indexOf(LF); lf !== -1; lf = window.indexOf(LF, lf + 1)) {
    const start = lf + 1;
    if (start >= window.length) return undefined;
    const scanner = new BoundaryScanner(options);
    let plausible = true;
    const { end, records } = scanner.scan(window, start, PROBE_RECORDS, (_end, fields) => {
      if (fields !== fieldCount) plausible = false;
    });
    let parsed = records;
    // At the end of the blob, a last record without a line end counts too.
    if (atEof && parsed < PROBE_RECORDS && end < window.length && !scanner.insideQuotes) {
      parsed++;
      if (scanner.fields !== fieldCount) plausible = false;
    }
    if (plausible && parsed > 0) return windowStart + start;
  }
  return undefined;
}

/**
 * Passes a range's bytes through to COPY, proving where it ends: the range is scanned from
 * its start as a record boundary, and `endsOnBoundary` says whether its last byte ends a
 * record. Records are counted only when asked (`count`): their number matters only for an
 * error's line, and a failed load reads the ranges before the failed one again to count
 * them (sink/parallelCopy.ts, recordsBefore), so a load that succeeds never pays for it.
 *
 * Without counting, when the quote is its own escape (the usual `""`), the proof is the
 * parity of the quote bytes: COPY finds line ends the same way ("if the quote char is also
 * the escape char … we just use the char as a toggle", CopyReadLineText in PostgreSQL's
 * copyfromparse.c), one indexOf per quote instead of a scan per record (bench/README.md,
 * "Node's part of the split path"). A distinct escape (`\"` inside quotes) needs the full
 * scan (RecordCounter), which knows which quotes are escaped.
 */
export class RangeScan extends Transform {
  private readonly counter: RecordCounter | undefined;
  private readonly quote: number;
  private inQuotes = false;
  private lastByte = -1;

  constructor(options: { quote: string; escape: string }, { count = false }: { count?: boolean } = {}) {
    super();
    this.quote = options.quote.charCodeAt(0);
    this.counter = count || options.quote !== options.escape ? new RecordCounter(options) : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.counter) {
      this.counter.add(chunk);
    } else if (chunk.length > 0) {
      const q = this.quote;
      let inQuotes = this.inQuotes;
      for (let at = chunk.indexOf(q); at !== -1; at = chunk.indexOf(q, at + 1)) inQuotes = !inQuotes;
      this.inQuotes = inQuotes;
      this.lastByte = chunk[chunk.length - 1]!;
    }
    callback(null, chunk);
  }

  /** Records COPY reads from this range (a last one without a line end included); undefined when not counted. */
  get records(): number | undefined {
    return this.counter?.records;
  }

  /** The range ends right after a line end, outside quotes: the next range starts on a record boundary (if this one did). */
  get endsOnBoundary(): boolean {
    if (this.counter) return !this.counter.endsInsideQuotes && !this.counter.unterminated;
    return !this.inQuotes && (this.lastByte === -1 || this.lastByte === LF);
  }
}
