import { describe, expect, it } from 'vitest';
import { fieldAccessor, findByName, firstByName, parseJsonPath, property } from '../../src/pipeline/fieldPath.js';

describe('field resolver (pipeline/fieldPath.ts)', () => {
  it('parses JSON paths and leaves plain names whole', () => {
    expect(parseJsonPath("$.a.b[0]['c d'][\"e\\\"f\"]")).toEqual(['a', 'b', 0, 'c d', 'e"f']);
    expect(parseJsonPath('a.b')).toEqual(['a.b']);
    expect(() => parseJsonPath('$.a[x]')).toThrow(/not a JSON path this loader reads .* at character 4/);
  });

  it('finds a name exactly first, else case-insensitively; a mapping refuses an ambiguous fold, a file takes the first', () => {
    const names = ['Id', 'id', 'Name', 'NAME'];
    const self = (s: string) => s;
    expect(findByName(names, 'id', self)).toBe('id');
    expect(findByName(names, 'ID', self)).toBe('ambiguous');
    expect(findByName(names, 'name', self)).toBe('ambiguous');
    expect(findByName(['Id', 'Name'], 'name', self)).toBe('Name');
    expect(findByName(names, 'other', self)).toBeUndefined();
    expect(firstByName(names, 'NAME', self)).toBe('NAME');
    expect(firstByName(names, 'name', self)).toBe('Name');
  });

  it('reads record properties: own exact name (even when undefined), else the first case-insensitive one; never inherited ones', () => {
    expect(property({ ID: 1, id: 2 }, 'id')).toBe(2);
    expect(property({ ID: 1 }, 'id')).toBe(1);
    expect(property({ id: undefined, ID: 1 }, 'id')).toBeUndefined();
    expect(property({}, 'constructor')).toBeUndefined();
    expect(property({ Constructor: 3 }, 'constructor')).toBe(3);
    expect(property(JSON.parse('{"constructor":5,"toString":"x","__proto__":7}'), 'constructor')).toBe(5);
    expect(property(JSON.parse('{"toString":"x"}'), 'toString')).toBe('x');
    expect(property(JSON.parse('{"__proto__":7}'), '__proto__')).toBe(7);
    expect(property([1], '0')).toBeUndefined();
    expect(property('text', 'length')).toBeUndefined();
  });

  it('follows a path through objects and arrays, case-insensitively, stopping where it breaks off', () => {
    const record = { Order: { Lines: [{ SKU: 'a' }, { sku: 'b' }] }, n: null };
    expect(fieldAccessor(parseJsonPath('$.order.lines[1].sku'))(record)).toBe('b');
    expect(fieldAccessor(parseJsonPath('$.order.lines[0].sku'))(record)).toBe('a');
    expect(fieldAccessor(parseJsonPath('$.order.lines[5].sku'))(record)).toBeUndefined();
    expect(fieldAccessor(parseJsonPath('$.n.x'))(record)).toBeNull(); // NULL in the row, as undefined is
    expect(fieldAccessor(parseJsonPath('$.toString'))(record)).toBeUndefined();
    expect(fieldAccessor(['order'])(record)).toEqual(record.Order);
    expect(fieldAccessor([])(record)).toBe(record);
  });
});
