import { describe, expect, it } from 'vitest';
import { recordBatches } from '../../src/format/recordBatches.js';

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
