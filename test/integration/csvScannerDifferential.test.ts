/**
 * Differential test of src/format/csv against PostgreSQL's own CSV reader: seeded random
 * CSV (quoted delimiters, doubled and escaped quotes, quote sections in mid-field, CR / LF /
 * CRLF inside quotes, empty fields vs empty quoted strings, multi-byte UTF-8, with or without
 * a last line end) goes through `COPY … FROM STDIN (FORMAT csv)` into a text table, and
 * through every scanner here: their record counts, record boundaries and field values must
 * be what COPY loaded.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordCounter, recordBatches } from '../../src/format/csv/batches.js';
import { csvColumnSplitter, type ColumnBuilder } from '../../src/format/csv/columns.js';
import { dialectOf } from '../../src/format/csv/dialect.js';
import { parseRecord } from '../../src/format/csv/header.js';
import { RecordTagger } from '../../src/format/csv/tagger.js';
import { quoteIdent, quoteLiteral } from '../../src/sink/sql.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('csvdiff');
});
afterAll(async () => h?.close());

/** mulberry32: a small seeded PRNG, so a failure names a seed that reproduces it. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Dialect {
  delimiter: string;
  quote: string;
  escape: string;
}

const FIELDS = 3;
const WORDS = ['a', 'plain', 'Zoë', '東京', '🚀', 'x y', '0', 'NULL', 'tab\tin'];

/** One random field, as CSV text, in this dialect. */
function field(rand: () => number, d: Dialect): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const word = () => pick(WORDS);
  const backslashEscape = d.escape !== d.quote;
  // Inside quotes: anything. With a backslash escape, `\"` and `\\` are escapes and a
  // backslash before anything else stays itself (`\z`); otherwise a backslash is plain data.
  const tokens = [d.delimiter, '\n', '\r\n', '\r', d.escape + d.quote, d.quote + d.quote, ' ', backslashEscape ? '\\\\' : '\\', backslashEscape ? '\\z' : 'z\\'];
  const quotedBody = () => {
    let s = '';
    const n = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) s += rand() < 0.4 ? word() : pick(tokens);
    return s;
  };
  switch (Math.floor(rand() * 8)) {
    case 0:
      return ''; // unquoted empty: NULL
    case 1:
      return d.quote + d.quote; // quoted empty: ''
    case 2:
      return d.quote + quotedBody() + d.quote;
    case 3:
      // Quote sections in mid-field: COPY toggles quoting wherever a quote appears.
      return word() + d.quote + quotedBody() + d.quote + word().replace('\t', '');
    case 4:
      return d.quote + d.quote + d.quote + word() + d.quote + d.quote + d.quote;
    default:
      return word();
  }
}

function csvFile(seed: number, d: Dialect): Buffer {
  const rand = prng(seed);
  const eol = rand() < 0.5 ? '\n' : '\r\n';
  const records = 50 + Math.floor(rand() * 150);
  const lines: string[] = [];
  for (let r = 0; r < records; r++) {
    const fields = Array.from({ length: FIELDS }, () => field(rand, d));
    lines.push(fields.join(d.delimiter));
  }
  let text = lines.join(eol);
  if (rand() < 0.7) text += eol; // or the last record has no line end
  return Buffer.from(text, 'utf8');
}

/** What COPY loads: each row's fields, NULL as null, in file order. */
async function copyRows(bytes: Buffer, d: Dialect): Promise<Array<Array<string | null>>> {
  const table = `diff_${Math.random().toString(36).slice(2, 10)}`;
  const target = `${quoteIdent(h.schema)}.${quoteIdent(table)}`;
  const columns = Array.from({ length: FIELDS }, (_, i) => `c${i}`);
  await h.pg.query(`CREATE TABLE ${target} (ord bigint GENERATED ALWAYS AS IDENTITY, ${columns.map((c) => `${c} text`).join(', ')})`);
  const client = await h.pg.connect();
  try {
    const sql = `COPY ${target} (${columns.join(', ')}) FROM STDIN (FORMAT csv, DELIMITER ${quoteLiteral(d.delimiter)}, QUOTE ${quoteLiteral(d.quote)}, ESCAPE ${quoteLiteral(d.escape)})`;
    await pipeline(Readable.from([bytes]), client.query(copyFrom(sql)));
  } finally {
    client.release();
  }
  const { rows } = await h.pg.query<{ f: Array<string | null> }>(`SELECT ARRAY[${columns.join(', ')}] AS f FROM ${target} ORDER BY ord`);
  return rows.map((row) => row.f);
}

/** `bytes` in chunks of random sizes (1 byte to ~200), so records and escapes straddle chunk edges. */
function chunks(bytes: Buffer, seed: number): Buffer[] {
  const rand = prng(seed ^ 0x5eed);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(rand() * (rand() < 0.3 ? 8 : 200));
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** Collects a column's values as strings (null for NULL). */
function collector(): ColumnBuilder<Array<string | null>> {
  let values: Array<string | null> = [];
  let parts: Buffer[] = [];
  return {
    begin: () => void (values = []),
    value: (src, from, to) => (values.push(src.toString('utf8', from, to)), true),
    open: () => void (parts = []),
    bytes: (src, from, to) => void parts.push(Buffer.from(src.subarray(from, to))),
    close: () => (values.push(Buffer.concat(parts).toString('utf8')), true),
    null: () => void values.push(null),
    end: () => values,
  };
}

async function collect(readable: Readable): Promise<string> {
  const out: Buffer[] = [];
  for await (const chunk of readable) out.push(chunk as Buffer);
  return Buffer.concat(out).toString('utf8');
}

const DIALECTS: Array<[string, Dialect]> = [
  ['RFC 4180 (escape = quote)', { delimiter: ',', quote: '"', escape: '"' }],
  ['backslash escape', { delimiter: ',', quote: '"', escape: '\\' }],
  ['semicolon delimiter', { delimiter: ';', quote: '"', escape: '"' }],
];
const SEEDS = [1, 2, 3, 4, 5, 6];

describe('CSV scanners agree with COPY (FORMAT csv) on generated files', () => {
  for (const [name, d] of DIALECTS) {
    it(`${name}: record count, record boundaries and field values`, async () => {
      for (const seed of SEEDS) {
        const bytes = csvFile(seed, d);
        const expected = await copyRows(bytes, d);
        const at = `seed ${seed}`;
        expect(expected.length, at).toBeGreaterThan(40);

        // Record boundaries (BoundaryScanner via recordBatches, one record per batch) and each
        // record's values as the header reader parses them (no NULLs there: '' instead).
        const records: Buffer[] = [];
        for await (const batch of recordBatches(Readable.from(chunks(bytes, seed)), { quote: d.quote, escape: d.escape, maxRecords: 1 })) {
          expect(batch.records, at).toBe(1);
          records.push(batch.bytes);
        }
        expect(Buffer.concat(records).equals(bytes), at).toBe(true);
        const options = { ...dialectOf(d), decode: (b: Buffer) => b.toString('utf8') };
        const parsed = records.map((record) => {
          const result = parseRecord(record, 0, options, true);
          expect(result?.end, at).toBe(record.length);
          return result!.fields;
        });
        expect(parsed, at).toEqual(expected.map((row) => row.map((v) => v ?? '')));

        // Batches of several records cut at the same places.
        let batched = 0;
        for await (const batch of recordBatches(Readable.from(chunks(bytes, seed + 1)), { quote: d.quote, escape: d.escape, maxRecords: 7 })) {
          expect(batch.bytes.equals(Buffer.concat(records.slice(batched, batched + batch.records))), at).toBe(true);
          batched += batch.records;
        }
        expect(batched, at).toBe(expected.length);

        // RecordCounter (group COPY, range-split proofs).
        const counter = new RecordCounter(d);
        for (const chunk of chunks(bytes, seed + 2)) counter.add(chunk);
        expect(counter.records, at).toBe(expected.length);
        expect(counter.endsInsideQuotes, at).toBe(false);

        // Column splitter: the values with NULL told from '' as COPY tells them.
        const split = csvColumnSplitter({ ...d, null: '', fieldCount: FIELDS });
        const columns = split(bytes, expected.length, Array.from({ length: FIELDS }, collector));
        expect(Array.isArray(columns), at).toBe(true);
        const rows = expected.map((_, r) => (columns as Array<Array<string | null>>).map((column) => column[r]));
        expect(rows, at).toEqual(expected);

        // Skip-mode tagger: every record good (right field count), numbered by its file line.
        const tagger = new RecordTagger({ ...d, fieldCount: FIELDS, lineOffset: 0 });
        const tagged = collect(tagger);
        await pipeline(Readable.from(chunks(bytes, seed + 3)), tagger);
        const out = await tagged;
        expect(tagger.records, at).toBe(expected.length);
        const lines = records.map((_, i) => 1 + records.slice(0, i).reduce((n, r) => n + r.toString('latin1').split('\n').length - 1, 0));
        const prefixes = records.map((_, i) => `${lines[i]}${d.delimiter}${d.delimiter}${d.delimiter}`);
        const eol = records[0]!.toString().endsWith('\r\n') ? '\r\n' : '\n';
        const unterminated = !bytes.toString().endsWith('\n');
        expect(out, at).toBe(records.map((r, i) => prefixes[i] + r.toString() + (unterminated && i === records.length - 1 ? eol : '')).join(''));
      }
    });
  }
});
