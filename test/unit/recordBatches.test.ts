import { describe, expect, it } from 'vitest';
import { RecordCounter, recordBatches } from '../../src/format/csv/batches.js';

async function batches(text: string, maxRecords: number, chunkSize: number, quote = '"', escape = '"') {
  const bytes = Buffer.from(text);
  const chunks = (async function* () {
    for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
  })();
  const out: Array<[string, number]> = [];
  for await (const batch of recordBatches(chunks, { quote, escape, maxRecords })) out.push([batch.bytes.toString(), batch.records]);
  return out;
}

describe('record batches', () => {
  const csv = 'a,b\n"x\ny",2\n"say ""hi""\n",3\nlast,4';
  it('cuts whole records where PostgreSQL would, whatever the chunk size', async () => {
    for (const chunkSize of [1, 2, 3, 7, 1000]) {
      const out = await batches(csv, 2, chunkSize);
      expect(out).toEqual([
        ['a,b\n"x\ny",2\n', 2],
        ['"say ""hi""\n",3\nlast,4', 2],
      ]);
    }
  });

  it('keeps every byte and counts every record', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => (i % 5 === 0 ? `"q,${i}\n"\n` : `${i},v\r\n`)).join('');
    const out = await batches(rows, 64, 333);
    expect(out.map(([t]) => t).join('')).toBe(rows);
    expect(out.map(([, n]) => n).reduce((a, b) => a + b)).toBe(1000);
    expect(out.every(([, n], i) => n === 64 || i === out.length - 1)).toBe(true);
  });

  it('honours an escape character different from the quote', async () => {
    const out = await batches('"a\\"\nb",1\nc,2\n', 1, 3, '"', '\\');
    expect(out).toEqual([
      ['"a\\"\nb",1\n', 1],
      ['c,2\n', 1],
    ]);
  });
});

/** Counts `text` fed in chunks of `chunkSize` bytes. */
function count(text: string, chunkSize: number, quote = '"', escape = '"') {
  const bytes = Buffer.from(text);
  const counter = new RecordCounter({ quote, escape });
  for (let i = 0; i < bytes.length; i += chunkSize) counter.add(bytes.subarray(i, i + chunkSize));
  return { records: counter.records, unterminated: counter.unterminated, insideQuotes: counter.endsInsideQuotes, lineEnd: counter.lineEnd };
}

describe('record counter (one COPY for a group of small blobs)', () => {
  it('counts records as COPY does, whatever the chunk size: quoted line ends and doubled quotes stay inside a record', () => {
    for (const chunkSize of [1, 2, 3, 5, 1000]) {
      expect(count('1,"x\ny"\n2,"say ""hi""\n"\n3,z\n', chunkSize)).toEqual({ records: 3, unterminated: false, insideQuotes: false, lineEnd: '\n' });
    }
  });

  it('counts a last record without a line end, and tells which line end the file uses', () => {
    for (const chunkSize of [1, 4, 1000]) {
      expect(count('1,a\n2,b', chunkSize)).toMatchObject({ records: 2, unterminated: true, lineEnd: '\n' });
      expect(count('1,a\r\n2,b', chunkSize)).toMatchObject({ records: 2, unterminated: true, lineEnd: '\r\n' });
    }
    expect(count('', 10)).toEqual({ records: 0, unterminated: false, insideQuotes: false, lineEnd: '\n' });
    // An empty line is a record to COPY too (a NULL for a one-column table).
    expect(count('1\n\n2\n', 10).records).toBe(3);
  });

  it('tells when the bytes end inside a quoted field (the next file would be read as part of it)', () => {
    for (const chunkSize of [1, 3, 1000]) {
      expect(count('1,"open\n', chunkSize)).toMatchObject({ records: 0, insideQuotes: true });
      expect(count('1,"closed"\n', chunkSize)).toMatchObject({ records: 1, insideQuotes: false });
    }
  });

  it('honours an escape character different from the quote, split across chunks too', () => {
    for (const chunkSize of [1, 2, 3, 1000]) {
      expect(count('"a\\"\nb",1\nc,2\n', chunkSize, '"', '\\')).toMatchObject({ records: 2, insideQuotes: false });
      // The escape is the last byte so far: whether it escapes a quote is not known yet.
      expect(count('"a\\', chunkSize, '"', '\\')).toMatchObject({ insideQuotes: true });
    }
  });
});
