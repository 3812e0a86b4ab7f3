import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import { parsePipelineJson, parsePipelineSpec, parseTableName, pipelineJsonSchema } from '../../src/pipeline/spec.js';

const minimal = { name: 'orders', source: { container: 'incoming' }, sink: { table: 'public.orders' } };

function issuesOf(input: unknown): string[] {
  try {
    parsePipelineSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as SpecError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a SpecError');
}

describe('pipeline spec', () => {
  it('fills ADF / RFC 4180 defaults', () => {
    const spec = parsePipelineSpec(minimal);
    expect(spec.source).toMatchObject({ connection: 'SOURCE_STORAGE', prefix: '' });
    expect(spec.source.format).toMatchObject({
      type: 'DelimitedText',
      columnDelimiter: ',',
      quoteChar: '"',
      escapeChar: '"',
      firstRowAsHeader: true,
      nullValue: '',
      skipLineCount: 0,
      compressionCodec: 'auto',
    });
    expect(spec.sink).toMatchObject({ connection: 'TARGET_POSTGRES', writeMethod: 'CopyCommand', table: { schema: 'public', name: 'orders' } });
    expect(spec.maxParallelCopies).toBe(8);
  });

  it('names the JSON path and the allowed values of a bad field', () => {
    expect(issuesOf({ ...minimal, sink: { table: 't', writeMethod: 'Copy' } })).toContain('sink.writeMethod: expected CopyCommand | BulkInsert | Upsert, got "Copy"');
    expect(issuesOf({ ...minimal, source: { container: 'incoming', format: { type: 'DelimitedText', skipLineCount: '2' } } })).toContain(
      'source.format.skipLineCount: expected number, got "2"',
    );
    expect(issuesOf({ ...minimal, mapping: [{ source: 'a' }] })).toContain('mapping[0].sink: required (string)');
    expect(issuesOf({ ...minimal, sink: { table: 't', writeMetod: 'CopyCommand' } })).toContain('sink: unknown field "writeMetod"');
    expect(issuesOf({ ...minimal, source: { container: 'AB' } })[0]).toMatch(/^source\.container: /);
  });

  it('reports every problem at once', () => {
    expect(issuesOf({ name: 'x y', source: {}, sink: {} })).toHaveLength(3);
  });

  it('rejects mapping one column twice', () => {
    expect(issuesOf({ ...minimal, mapping: [{ source: 'a', sink: 'id' }, { source: 'b', sink: 'id' }] })).toContain('mapping[1].sink: column "id" is mapped twice');
  });

  it('splits "schema.table" on the first dot only and keeps names literal', () => {
    expect(parseTableName('Sales.Order.Lines')).toEqual({ schema: 'Sales', name: 'Order.Lines' });
    expect(parseTableName('orders')).toEqual({ schema: 'public', name: 'orders' });
    expect(parsePipelineSpec({ ...minimal, sink: { table: { schema: 'My Schema', name: 'T"x' } } }).sink.table).toEqual({ schema: 'My Schema', name: 'T"x' });
  });

  it('reports invalid JSON as a spec error', () => {
    expect(() => parsePipelineJson('{ "name": ', 'p.json')).toThrow(/p\.json: invalid pipeline spec:\n {2}\(root\): not valid JSON/);
  });

  it('publishes a JSON Schema generated from the same zod schema, committed and up to date', () => {
    const committed = JSON.parse(readFileSync(new URL('../../pipeline.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(pipelineJsonSchema());
    expect(JSON.stringify(committed)).toContain('CopyCommand');
  });
});

describe('sink settings in the spec', () => {
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
