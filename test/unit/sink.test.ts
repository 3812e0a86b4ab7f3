import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RecordTagger } from '../../src/format/recordTagger.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';
import { mappingValue } from '../../src/sink/convert.js';
import type { TableInfo } from '../../src/pipeline/table.js';
import { citusKeyProblem, resolveUpsertKeys } from '../../src/sink/upsert.js';

const col = (name: string, writable = true) => ({ name, type: 'text', baseType: 'text', notNull: false, hasDefault: false, writable });
const info = (over: Partial<TableInfo>): TableInfo => ({ table: { schema: 'public', name: 't' }, columns: [col('id'), col('email'), col('g', false)], primaryKey: [], uniqueKeys: [], ...over });

describe('resolveUpsertKeys (ADF key-column rules)', () => {
  it('omitted keys → the primary key, with its index as arbiter', () => {
    expect(resolveUpsertKeys(undefined, info({ primaryKey: ['id'], uniqueKeys: [['id']] }))).toEqual({ keys: ['id'], arbiter: true });
  });
  it('unique columns with a matching index (any order) → ON CONFLICT; without one → MERGE', () => {
    const t = info({ primaryKey: ['id'], uniqueKeys: [['id'], ['email', 'id']] });
    expect(resolveUpsertKeys(['id', 'email'], t).arbiter).toBe(true);
    expect(resolveUpsertKeys(['email'], t)).toEqual({ keys: ['email'], arbiter: false });
  });
  it('no keys and no primary key, unknown or generated key columns: errors that say so', () => {
    expect(() => resolveUpsertKeys(undefined, info({}))).toThrow(/no upsertSettings\.keys and the table has no primary key/);
    expect(() => resolveUpsertKeys(['nope'], info({}))).toThrow(/"nope" is not a column/);
    expect(() => resolveUpsertKeys(['g'], info({}))).toThrow(/generated/);
  });
});

describe('citusKeyProblem (catalog answer as input; no Citus server here)', () => {
  it('no Citus or a local/reference table: fine', () => {
    expect(citusKeyProblem('public.t', ['id'], null)).toBeUndefined();
  });
  it('distributed table: keys must include the distribution column, and the message names it', () => {
    expect(citusKeyProblem('public.t', ['tenant_id', 'id'], 'tenant_id')).toBeUndefined();
    expect(citusKeyProblem('public.t', ['id'], 'tenant_id')).toMatch(/add "tenant_id" to sink\.upsertSettings\.keys/);
  });
});

describe('spec', () => {
  const base = { name: 'p', source: { container: 'abc' } };
  it('accepts BulkInsert/Upsert settings, value mappings, typeConversion, faultTolerance with defaults', () => {
    const spec = parsePipelineSpec({
      ...base,
      sink: { table: 't', writeMethod: 'Upsert', upsertSettings: { keys: ['id'] } },
      mapping: [{ source: 'id', sink: 'id' }, { sink: 'loaded_from', value: '$$FILEPATH' }],
      typeConversion: { dateFormat: 'DD/MM/YYYY' },
      faultTolerance: { skipIncompatibleRows: true },
    });
    expect(spec.sink.writeBatchSize).toBe(10_000);
    expect(spec.mapping![1]).toEqual({ sink: 'loaded_from', value: '$$FILEPATH' });
  });
  it('rejects upsertSettings on another write method, duplicate keys, a bad log container', () => {
    expect(() => parsePipelineSpec({ ...base, sink: { table: 't', upsertSettings: { keys: ['id'] } } })).toThrow(/only used with writeMethod Upsert/);
    expect(() => parsePipelineSpec({ ...base, sink: { table: 't', writeMethod: 'Upsert', upsertSettings: { keys: ['a', 'a'] } } })).toThrow(/listed twice/);
    expect(() => parsePipelineSpec({ ...base, sink: { table: 't' }, faultTolerance: { logContainer: 'Bad_Name' } })).toThrow(/faultTolerance\.logContainer/);
  });
});

describe('mappingValue', () => {
  const ctx = { blob: { name: 'a/b/c.csv', etag: '"e"', size: 1, lastModified: '2026-01-01T00:00:00.000Z' }, runId: 'r' };
  it('expands ADF variables; anything else is a literal', () => {
    expect(['$$FILEPATH', '$$FILENAME', '$$ETAG', '$$LASTMODIFIED', '$$RUNID', 'lit'].map((v) => mappingValue(v, ctx))).toEqual(['a/b/c.csv', 'c.csv', '"e"', '2026-01-01T00:00:00.000Z', 'r', 'lit']);
  });
});

async function tag(input: string[], fieldCount: number, lineOffset = 1): Promise<string> {
  const tagger = new RecordTagger({ delimiter: ',', quote: '"', escape: '"', fieldCount, lineOffset });
  const out: Buffer[] = [];
  tagger.on('data', (b: Buffer) => out.push(b));
  const done = new Promise((resolve) => tagger.on('end', resolve));
  const src = new PassThrough();
  src.pipe(tagger);
  for (const chunk of input) src.write(chunk);
  src.end();
  await done;
  return Buffer.concat(out).toString('utf8');
}

describe('RecordTagger', () => {
  it('prefixes good records with their file line, flags wrong field counts, across chunk boundaries and quoted newlines', async () => {
    const out = await tag(['1,"a\n', 'b"\n2\n3,"x""', '"\n4,z'], 2);
    expect(out).toBe('2,,,1,"a\nb"\n4,"expected 2 fields, found 1","2",,\n5,,,3,"x"""\n6,,,4,z\n');
  });
  it('keeps CRLF line ends consistent and flags an unterminated quote at EOF', async () => {
    expect(await tag(['1,a\r\n2,"b'], 2, 0)).toBe('1,,,1,a\r\n2,"unterminated quoted field at end of file","2,""b",,\r\n');
  });
});
