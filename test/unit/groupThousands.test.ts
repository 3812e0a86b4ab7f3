/** The CLI's number format (src/run/report.ts) prints what toLocaleString('en-US') prints, without loading ICU's locale data. */
import { describe, expect, it } from 'vitest';
import { formatFileLine, groupThousands } from '../../src/run/report.js';

describe('groupThousands', () => {
  it('matches toLocaleString("en-US") on integers, fractions, negatives and the edges', () => {
    const values = [0, 1, 12, 123, 1234, 12345, 123456, 1234567, 1000000, 5_000_000, 999_999_999_999, -1, -1234, -0.0001, 0.5, 1234.5, 1234.5678, 0.0004, 9.9995, 1e21, Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity];
    for (const value of values) expect(groupThousands(value), String(value)).toBe(value.toLocaleString('en-US'));
  });

  it('is what a file line prints', () => {
    expect(formatFileLine({ blob: 'a.csv', etag: 'e', status: 'Succeeded', rowsRead: 1234567, rowsCopied: 1234567, rowsSkipped: 0, dataRead: 10, durationMs: 1500 } as Parameters<typeof formatFileLine>[0])).toBe('  loaded   a.csv: 1,234,567 rows, 10 B in 1,500 ms');
  });
});
