/** The SELECT plan's mapping values (src/sink/selectPlan.ts). */
import { describe, expect, it } from 'vitest';
import { mappingValue } from '../../src/sink/selectPlan.js';

describe('mappingValue', () => {
  const ctx = { blob: { name: 'a/b/c.csv', etag: '"e"', size: 1, lastModified: '2026-01-01T00:00:00.000Z' }, runId: 'r' };
  it('expands ADF variables; anything else is a literal', () => {
    expect(['$$FILEPATH', '$$FILENAME', '$$ETAG', '$$LASTMODIFIED', '$$RUNID', 'lit'].map((v) => mappingValue(v, ctx))).toEqual(['a/b/c.csv', 'c.csv', '"e"', '2026-01-01T00:00:00.000Z', 'r', 'lit']);
  });
});
