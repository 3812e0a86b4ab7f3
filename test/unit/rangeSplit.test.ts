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

  /** Runs `chunks` through a RangeScan; what it proved and counted. */
  async function scan(chunks: string[], dialect = { quote: '"', escape: '"' }, count = false) {
    const s = new RangeScan(dialect, { count });
    const out: Buffer[] = [];
    s.on('data', (b: Buffer) => out.push(b));
    for (const chunk of chunks) s.write(Buffer.from(chunk));
    s.end();
    await new Promise((resolve) => s.on('end', resolve));
    return { records: s.records, boundary: s.endsOnBoundary, bytes: Buffer.concat(out).toString() };
  }

  it('RangeScan proves a range ends on a record boundary only when it ends outside quotes, after a line end', async () => {
    for (const count of [false, true]) {
      expect((await scan(['1,"a\nb"\n2,c\n'], undefined, count)).boundary).toBe(true);
      expect((await scan(['1,"a\nb\n'], undefined, count)).boundary).toBe(false);
      expect((await scan(['1,a\n2,b'], undefined, count)).boundary).toBe(false);
      // A doubled quote split across chunks toggles twice: still outside quotes.
      expect((await scan(['1,"say "', '"hi""",x\n'], undefined, count)).boundary).toBe(true);
    }
    // The bytes pass through unchanged.
    expect((await scan(['1,"a', '\nb"\n'])).bytes).toBe('1,"a\nb"\n');
  });

  it('RangeScan counts records only when asked (a load that succeeds never needs them)', async () => {
    expect(await scan(['1,"a\nb"\n2,c\n'])).toMatchObject({ records: undefined, boundary: true });
    expect(await scan(['1,"a\nb"\n2,c\n'], undefined, true)).toMatchObject({ records: 2, boundary: true });
    expect(await scan(['1,a\n2,b'], undefined, true)).toMatchObject({ records: 2, boundary: false });
  });

  it('RangeScan with a distinct escape: an escaped quote inside quotes does not close them (full scan)', async () => {
    const backslash = { quote: '"', escape: '\\' };
    // `\"` inside quotes is a literal quote: the field (and its line end) goes on to the next quote.
    expect(await scan(['1,"a\\"\n', 'b"\n'], backslash)).toMatchObject({ records: 1, boundary: true });
    expect(await scan(['1,"a\\"\n'], backslash)).toMatchObject({ boundary: false });
  });

  it('the quote-parity proof agrees with the full record scan on random CSV cut anywhere, in random chunks', async () => {
    // Park-Miller: exact in doubles, the same texts every run.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed % n;
    };
    const pieces = ['a', 'b,', ',', '\n', '"', '""', '"x\ny"', '1'];
    let disagreements = 0;
    let boundaries = 0;
    for (let trial = 0; trial < 400; trial++) {
      let text = '';
      for (let i = 0, n = 1 + random(40); i < n; i++) text += pieces[random(pieces.length)];
      // Half the ranges end on a line end, where a cut is placed.
      if (trial % 2 === 0) text += '\n';
      const chunks: string[] = [];
      for (let at = 0; at < text.length; ) {
        const size = 1 + random(5);
        chunks.push(text.slice(at, at + size));
        at += size;
      }
      const fast = await scan(chunks);
      const full = await scan(chunks, undefined, true);
      if (fast.boundary !== full.boundary) disagreements++;
      if (full.boundary) boundaries++;
    }
    expect(disagreements).toBe(0);
    // Both answers occur, so the comparison means something.
    expect(boundaries).toBeGreaterThan(40);
    expect(boundaries).toBeLessThan(360);
  });
});
