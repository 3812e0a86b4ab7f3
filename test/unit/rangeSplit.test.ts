import { describe, expect, it } from 'vitest';
import { guessRecordStart, nominalCuts, RangeScan } from '../../src/format/csv/rangeSplit.js';
import type { RecordOptions } from '../../src/format/csv/header.js';

const options: RecordOptions = { delimiter: 0x2c, quote: 0x22, escape: 0x22 };

describe('range split (format/csv/rangeSplit.ts)', () => {
  it('nominal cuts are evenly spaced, inside the body, without duplicates', () => {
    expect(nominalCuts(10, 110, 4)).toEqual([35, 60, 85]);
    expect(nominalCuts(0, 3, 8)).toEqual([1, 2]);
  });

  it('guesses the first line end after which records have the right field count', () => {
    const text = 'a,"x\ny\nz",1\n2,b,3\n4,c,5\n';
    // From the start of the window: the first line ends inside the quoted field; those after it do not parse as 3 fields.
    const start = guessRecordStart(Buffer.from(text), 100, 3, options, true);
    expect(start).toBe(100 + text.indexOf('2,b'));
    expect(guessRecordStart(Buffer.from('no line end here'), 0, 3, options, true)).toBeUndefined();
  });

  it('RangeScan proves a range ends on a record boundary only when it ends outside quotes, after a line end', async () => {
    const scan = async (text: string) => {
      const s = new RangeScan({ quote: '"', escape: '"' });
      s.end(Buffer.from(text));
      for await (const _ of s);
      return [s.records, s.endsOnBoundary];
    };
    expect(await scan('1,"a\nb"\n2,c\n')).toEqual([2, true]);
    expect(await scan('1,"a\nb\n')).toEqual([0, false]);
    expect(await scan('1,a\n2,b')).toEqual([2, false]);
  });
});
