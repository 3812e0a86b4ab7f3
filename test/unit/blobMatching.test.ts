import { describe, expect, it } from 'vitest';
import { blobMatches, wildcardToRegExp } from '../../src/source/blobs.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';

const spec = (source: Record<string, unknown>) => parsePipelineSpec({ name: 'p', source: { container: 'abc', ...source }, sink: { table: 't' } });
const at = '2026-06-01T00:00:00Z';

describe('blob selection', () => {
  it('matches wildcards on the file name, never across "/"', () => {
    expect(wildcardToRegExp('*.csv.gz').test('a.csv.gz')).toBe(true);
    expect(wildcardToRegExp('*.csv').test('dir/a.csv')).toBe(false);
    expect(wildcardToRegExp('2026-??-*.csv').test('2026-11-20.csv')).toBe(true);
    expect(wildcardToRegExp('a+b(1).csv').test('a+b(1).csv')).toBe(true);
  });

  it('applies prefix, wildcard and the modified window (start inclusive, end exclusive)', () => {
    const s = spec({ prefix: 'orders/', wildcard: '*.csv', modifiedAfter: '2026-01-01T00:00:00Z', modifiedBefore: at });
    expect(blobMatches(s, { name: 'orders/2026/a.csv', lastModified: '2026-01-01T00:00:00Z' })).toBe(true);
    expect(blobMatches(s, { name: 'orders/a.json', lastModified: '2026-03-01T00:00:00Z' })).toBe(false);
    expect(blobMatches(s, { name: 'other/a.csv', lastModified: '2026-03-01T00:00:00Z' })).toBe(false);
    expect(blobMatches(s, { name: 'orders/a.csv', lastModified: at })).toBe(false);
    expect(blobMatches(s, { name: 'orders/a.csv', lastModified: '2025-12-31T23:59:59Z' })).toBe(false);
    expect(blobMatches(s, { name: 'orders/folder/', lastModified: '2026-03-01T00:00:00Z' })).toBe(false);
  });

  it('matches a wildcard with "/" against the whole name', () => {
    expect(blobMatches(spec({ wildcard: 'orders/*/part-*.csv' }), { name: 'orders/2026/part-1.csv', lastModified: at })).toBe(true);
  });
});
