import { describe, expect, it } from 'vitest';
import { checkMapping } from '../../src/pipeline/mapping.js';
import type { TableColumn } from '../../src/pipeline/table.js';

const col = (name: string, extra: Partial<TableColumn> = {}): TableColumn => ({ name, type: 'text', baseType: 'text', notNull: false, hasDefault: false, writable: true, ...extra });
const table = [col('id', { notNull: true }), col('Name'), col('note'), col('total', { writable: false })];

describe('column mapping', () => {
  it('maps headers by exact name, then by a unique case-insensitive match, ignoring unknown fields', () => {
    const { mapping } = checkMapping(undefined, ['NAME', 'id', 'extra'], 3, table);
    expect(mapping?.columns.map((c) => [c.field, c.column.name])).toEqual([
      [0, 'Name'],
      [1, 'id'],
    ]);
    expect(mapping?.allFieldsMapped).toBe(false);
  });

  it('maps by position without a header, skipping generated columns', () => {
    const { mapping } = checkMapping(undefined, null, 3, table);
    expect(mapping?.columns.map((c) => c.column.name)).toEqual(['id', 'Name', 'note']);
    expect(mapping?.allFieldsMapped).toBe(true);
  });

  it('follows an explicit mapping by name or 1-based ordinal', () => {
    const { mapping } = checkMapping([{ source: 'OrderId', sink: 'id' }, { source: 3, sink: 'note' }], ['OrderId', 'x', 'y'], 3, table);
    expect(mapping?.columns.map((c) => [c.field, c.column.name])).toEqual([
      [0, 'id'],
      [2, 'note'],
    ]);
  });

  it('reports unknown columns, past-the-end ordinals, generated targets and unmapped NOT NULL columns', () => {
    const { problems } = checkMapping(
      [{ source: 'a', sink: 'nope' }, { source: 9, sink: 'note' }, { source: 'a', sink: 'total' }],
      ['a'],
      1,
      table,
    );
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'mapping[0].sink: the table has no column "nope"',
      'mapping[1].source: column 9 is past the file\'s 1 columns',
      'mapping[2].sink: column "total" is generated and cannot be written',
      'mapping: NOT NULL column "id" has no default and nothing maps to it',
    ]);
  });
});
