import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { tables } from '../support/tables.js';

let h: Harness;
let t: ReturnType<typeof tables>;
beforeAll(async () => {
  h = await createHarness('json');
  t = tables(h);
});
afterAll(async () => h?.close());

const JSON_FORMAT = { format: { type: 'Json' } };

describe('JSON source', () => {
  it('reads JSON Lines by property name (exact, then case-insensitive), blank lines ignored, missing property NULL', async () => {
    const tab = await t.table('lines', 'id int, name text, amount numeric, active bool');
    const body = '{"id":1,"Name":"Ann","amount":12.5,"active":true,"extra":"x"}\n\n{"id":2,"Name":"Bob, \\"B\\"\\nline"}\r\n   \n{"id":3,"Name":"","amount":null,"active":false}\n';
    const result = await t.load(tab, 'lines.jsonl', body, JSON_FORMAT);
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 3 });
    expect(await t.rows('SELECT id, name, amount, active FROM T.lines ORDER BY id')).toEqual([
      { id: 1, name: 'Ann', amount: '12.5', active: true },
      { id: 2, name: 'Bob, "B"\nline', amount: null, active: null },
      { id: 3, name: '', amount: null, active: false },
    ]);
  });

  it('reads a top-level array and concatenated pretty-printed objects (detected from content)', async () => {
    const tab = await t.table('arr', 'id int, tag text');
    const array = JSON.stringify([{ id: 1, tag: 'a]}' }, { id: 2, tag: '{"x":[' }], null, 2);
    expect(await t.load(tab, 'arr.json', array, JSON_FORMAT)).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    const concatenated = JSON.stringify({ id: 3, tag: 'c' }, null, 2) + '\n' + JSON.stringify({ id: 4, tag: 'd' }, null, 2) + JSON.stringify({ id: 5 });
    expect(await t.load(tab, 'concat.json', concatenated, JSON_FORMAT)).toMatchObject({ status: 'Succeeded', rowsCopied: 3 });
    expect(await t.rows('SELECT id, tag FROM T.arr ORDER BY id')).toEqual([
      { id: 1, tag: 'a]}' },
      { id: 2, tag: '{"x":[' },
      { id: 3, tag: 'c' },
      { id: 4, tag: 'd' },
      { id: 5, tag: null },
    ]);
  });

  it('maps JSON paths, stores nested values in jsonb as JSON, arrays into Postgres arrays', async () => {
    const tab = await t.table('nested', 'id int, city text, first_sku text, items jsonb, tags text[], scores int[], customer jsonb, label jsonb');
    const rec = (id: number, city: string | undefined) => ({
      id,
      customer: { name: 'N' + id, address: city === undefined ? {} : { city } },
      items: [{ sku: `S${id}`, qty: 2 }, { sku: 'Z', qty: 1 }],
      tags: ['a b', 'c"d', null, 'e\\f'],
      scores: [1, 2, 3],
      label: 'plain',
    });
    const body = [rec(1, 'Oslo'), rec(2, undefined)].map((r) => JSON.stringify(r)).join('\n');
    const mapping = [
      { source: '$.id', sink: 'id' },
      { source: '$.customer.address.city', sink: 'city' },
      { source: '$.items[0].sku', sink: 'first_sku' },
      { source: 'items', sink: 'items' },
      { source: '$.tags', sink: 'tags' },
      { source: '$.scores', sink: 'scores' },
      { source: "$['customer']", sink: 'customer' },
      { source: 'label', sink: 'label' },
    ];
    const result = await t.load(tab, 'nested.ndjson', body, JSON_FORMAT, { mapping });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    const rows = await t.rows(`SELECT id, city, first_sku, items, jsonb_typeof(items) AS items_type, tags, scores, customer->'address' AS address, label FROM T.nested ORDER BY id`);
    expect(rows[0]).toEqual({
      id: 1,
      city: 'Oslo',
      first_sku: 'S1',
      items: [{ sku: 'S1', qty: 2 }, { sku: 'Z', qty: 1 }],
      items_type: 'array',
      tags: ['a b', 'c"d', null, 'e\\f'],
      scores: [1, 2, 3],
      address: { city: 'Oslo' },
      label: 'plain',
    });
    expect(rows[1]).toMatchObject({ id: 2, city: null, address: {} });
  });

  it('fails bad JSON Lines with the line number and loads nothing', async () => {
    const tab = await t.table('badline', 'id int');
    const body = '{"id":1}\n\n{"id":2}\n{"id":3,}\n{"id":4}\n';
    const result = await t.load(tab, 'badline.jsonl', body, JSON_FORMAT);
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 4 });
    expect(result.error!.message).toMatch(/badline\.jsonl line 4: invalid JSON/);
    expect(await t.rows('SELECT count(*)::int AS n FROM T.badline')).toEqual([{ n: 0 }]);
  });

  it('fails a bad array with the byte offset of the problem', async () => {
    const tab = await t.table('badarr', 'id int');
    const body = '[{"id":1},\n {"id":2} {"id":3}]';
    const result = await t.load(tab, 'badarr.json', body, JSON_FORMAT);
    expect(result.status).toBe('Failed');
    expect(result.error!.message).toContain(`invalid JSON at byte offset ${body.indexOf('{"id":3}')}`);
    expect(result.error).toMatchObject({ line: 2 });
    const truncated = await t.load(tab, 'trunc.json', '[{"id":1},{"id":2', JSON_FORMAT);
    expect(truncated.error!.message).toContain('the file ends inside an object');
  });

  it('a value Postgres rejects is reported at its file line, not its record number', async () => {
    const tab = await t.table('badval', 'id int, n int');
    const body = '{"id":1,"n":1}\n\n\n{"id":2,"n":"two"}\n';
    const result = await t.load(tab, 'badval.jsonl', body, JSON_FORMAT);
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 4, column: 'n', sqlstate: '22P02' });
    const pretty = JSON.stringify([{ id: 1, n: 1 }, { id: 2, n: 'x' }], null, 2);
    const arr = await t.load(tab, 'badval.json', pretty, JSON_FORMAT);
    // The second object starts on line 6 of the pretty-printed file.
    expect(pretty.split('\n')[5]).toBe('  {');
    expect(arr.error).toMatchObject({ line: 6, column: 'n' });
  });

  it('reads gzip-compressed JSON Lines chosen by format auto from the name', async () => {
    const tab = await t.table('auto', 'id int, v text');
    const body = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ id: i, v: `v${i}` })).join('\n');
    const result = await t.load(tab, 'auto/data.jsonl.gz', gzipSync(body), { format: { type: 'auto' } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 5000 });
    expect(await t.rows('SELECT count(DISTINCT v)::int AS n, sum(id)::int AS s FROM T.auto')).toEqual([{ n: 5000, s: 12497500 }]);
  });

  it('rejects a document whose first record matches no column, naming both sides', async () => {
    const tab = await t.table('nomatch', 'id int');
    const result = await t.load(tab, 'nomatch.json', '[{"x":1}]', JSON_FORMAT);
    expect(result.status).toBe('Failed');
    expect(result.error!.message).toContain('no property of the first record matches a table column (properties: x; table: id)');
  });
});
