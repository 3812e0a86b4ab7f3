import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlob } from '../../src/load/index.js';
import { createHarness, type Harness } from '../support/harness.js';
import { loadOne, rowsIn } from '../support/tables.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('skip');
});
afterAll(async () => h?.close());

const logContainer = `log-${Math.random().toString(36).slice(2, 10)}`;

async function load(tableName: string, blob: string, body: string, sink: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const spec = { name: 'skippy', sink: { table: tableName, ...sink }, faultTolerance: { skipIncompatibleRows: true, logContainer }, ...extra };
  return (await loadOne(h, blob, body, spec, { runId: 'run-9' })).result;
}

/** The log lands in the SOURCE connection's account. */
async function readLog(blob: string): Promise<string> {
  const logs = BlobServiceClient.fromConnectionString(h.env.SOURCE_STORAGE!).getContainerClient(logContainer);
  return (await logs.getBlobClient(`skippy/run-9/${blob}.csv`).downloadToBuffer()).toString('utf8');
}

const rows = (sql: string) => rowsIn(h, sql);

// Line 1 header; line 3 bad int; line 4 too few fields; line 5 NULL in NOT NULL;
// line 6 a quoted field spanning two lines (good); line 8 too many fields; line 9 bad date.
const csv = [
  'id,name,born',
  '1,ann,2000-01-01',
  'x2,bob,2000-01-02',
  '3,carl',
  '4,,2000-01-04',
  '5,"multi',
  'line",2000-01-05',
  '6,dan,2000-01-06,extra',
  '7,eve,2000-13-45',
  '8,fay,2000-01-08',
].join('\n') + '\n';

const expectedLog = [
  'line,column,value,reason',
  '3,id,x2,"invalid input syntax for type integer: ""x2"""',
  '4,,"3,carl","expected 3 fields, found 2"',
  '5,name,,NULL in NOT NULL column name',
  '8,,"6,dan,2000-01-06,extra","expected 3 fields, found 4"',
  '9,born,2000-13-45,"date/time field value out of range: ""2000-13-45"""',
].join('\n') + '\n';

describe.each(['CopyCommand', 'BulkInsert', 'Upsert'] as const)('skipIncompatibleRows with %s', (writeMethod) => {
  it('skips bad rows, loads the good ones, logs each skipped row with line, column, value and reason', async () => {
    const name = `people_${writeMethod.toLowerCase()}`;
    const t = await h.table(name, 'id int PRIMARY KEY, name text NOT NULL, born date');
    const blob = `in/${name}.csv`;
    const result = await load(t, blob, csv, { writeMethod, writeBatchSize: 2 });
    expect(result).toMatchObject({ status: 'Succeeded', rowsRead: 8, rowsCopied: 3, rowsSkipped: 5 });
    expect(await rows(`SELECT id, name FROM S.${name} ORDER BY id`)).toEqual([
      { id: 1, name: 'ann' },
      { id: 5, name: 'multi\nline' },
      { id: 8, name: 'fay' },
    ]);
    expect(await readLog(blob)).toBe(expectedLog);
  });
});

describe('skipIncompatibleRows', () => {
  it('Upsert: a NULL key is skipped with its reason', async () => {
    const t = await h.table('keys', 'email text UNIQUE, v int');
    const result = await load(t, 'keys.csv', 'email,v\na@x,1\n,2\nb@x,zz\n', { writeMethod: 'Upsert', upsertSettings: { keys: ['email'] } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 1, rowsSkipped: 2 });
    expect(await readLog('keys.csv')).toBe('line,column,value,reason\n3,email,,NULL in key column email\n4,v,zz,"invalid input syntax for type integer: ""zz"""\n');
  });

  it('with nothing to skip, writes no log; off by default, the first bad row still fails the blob', async () => {
    const t = await h.table('clean', 'id int');
    expect(await load(t, 'clean.csv', 'id\n1\n2\n')).toMatchObject({ status: 'Succeeded', rowsSkipped: 0, rowsCopied: 2 });
    await expect(readLog('clean.csv')).rejects.toThrow();
    const ref = await h.upload('strict.csv', 'id\n1\nx\n');
    const strict = await copyBlob(h.spec({ source: { prefix: 'strict.csv' }, sink: { table: t, writeMethod: 'BulkInsert' } }), { ...ref, size: 0, lastModified: '' }, { runId: 'r', env: h.env });
    expect(strict.error).toMatchObject({ line: 3, column: 'id' });
  });

  it('a failed load leaves no log (post-copy script fails after the rows are skipped)', async () => {
    const t = await h.table('nolog', 'id int');
    const result = await load(t, 'nolog.csv', 'id\n1\nbad\n', { postCopyScript: 'SELECT 1/0' });
    expect(result.status).toBe('Failed');
    await expect(readLog('nolog.csv')).rejects.toThrow();
    expect(await rows(`SELECT count(*)::int AS n FROM S.nolog`)).toEqual([{ n: 0 }]);
  });
});

// JSON Lines: line 1 invalid JSON (before any good record fixes the columns); line 3 blank;
// line 4 a bad int; line 5 not an object; line 6 a value with a newline (good); line 7 cut short.
const jsonl = [
  '{"id":0, oops}',
  '{"id":1,"name":"ann","born":"2000-01-01"}',
  '',
  '{"id":"x3","name":"carl","born":"2000-01-03"}',
  '[1,2]',
  '{"id":5,"name":"multi\\nline","born":"2000-01-05"}',
  '{"id":6,"name":"dan","born":"2000-01-06"',
  '{"id":7,"name":"eve","born":"2000-01-07"}',
].join('\n') + '\n';

const csvQuote = (s: string) => `"${s.replaceAll('"', '""')}"`;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The log's lines, with the JSON parser's own wording (it varies across Node versions) matched loosely. */
function expectJsonLog(log: string, expected: Array<[line: number, column: string, value: string, reason: string | RegExp]>): void {
  const lines = log.split('\n');
  expect(lines[0]).toBe('line,column,value,reason');
  expect(lines.slice(1, -1)).toHaveLength(expected.length);
  expected.forEach(([line, column, value, reason], i) => {
    const prefix = `${line},${column},${/[",\n]/.test(value) ? csvQuote(value) : value},`;
    if (typeof reason === 'string') expect(lines[i + 1]).toBe(prefix + (/[",\n]/.test(reason) ? csvQuote(reason) : reason));
    else expect(lines[i + 1]).toMatch(new RegExp(`^${escapeRe(prefix)}"?${reason.source}`));
  });
}

describe.each(['CopyCommand', 'BulkInsert', 'Upsert'] as const)('skipIncompatibleRows, JSON Lines, %s', (writeMethod) => {
  it('skips a bad JSON line and logs it like a bad CSV row (file line, raw text, reason), with the bad values', async () => {
    const name = `json_${writeMethod.toLowerCase()}`;
    const t = await h.table(name, 'id int PRIMARY KEY, name text NOT NULL, born date');
    const blob = `in/${name}.jsonl`;
    const result = await load(t, blob, jsonl, { writeMethod, writeBatchSize: 2 }, { source: { prefix: blob, format: { type: 'Json' } } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsRead: 7, rowsCopied: 3, rowsSkipped: 4 });
    expect(await rows(`SELECT id, name FROM S.${name} ORDER BY id`)).toEqual([
      { id: 1, name: 'ann' },
      { id: 5, name: 'multi\nline' },
      { id: 7, name: 'eve' },
    ]);
    expectJsonLog(await readLog(blob), [
      [1, '', '{"id":0, oops}', /invalid JSON: /],
      [4, 'id', 'x3', 'invalid input syntax for type integer: "x3"'],
      [5, '', '[1,2]', 'expected a JSON object, got an array'],
      [7, '', '{"id":6,"name":"dan","born":"2000-01-06"', /invalid JSON: /],
    ]);
  });
});

describe('skipIncompatibleRows, JSON', () => {
  it('an array element that is not valid JSON is skipped and logged with its line; off, it fails the blob', async () => {
    const t = await h.table('json_array', 'id int, name text');
    const body = '[\n  {"id": 1, "name": "a"},\n  {"id": 2, "name": bad},\n  {"id": 3, "name": "c"}\n]\n';
    const result = await load(t, 'arr.json', body, {}, { source: { prefix: 'arr.json', format: { type: 'Json' } } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsRead: 3, rowsCopied: 2, rowsSkipped: 1 });
    expect(await rows('SELECT id FROM S.json_array ORDER BY id')).toEqual([{ id: 1 }, { id: 3 }]);
    expectJsonLog(await readLog('arr.json'), [[3, '', '{"id": 2, "name": bad}', /invalid JSON at byte offset 30: /]]);

    const ref = await h.upload('strict.jsonl', '{"id": 1}\n{"id": 2, oops}\n');
    const strict = await copyBlob(h.spec({ source: { prefix: 'strict.jsonl', format: { type: 'Json' } }, sink: { table: t } }), { ...ref, size: 0, lastModified: '' }, { runId: 'r', env: h.env });
    expect(strict).toMatchObject({ status: 'Failed', error: { line: 2 } });
  });

  it('only bad lines: with a mapping every line is logged; without one the file fails (no record names the fields)', async () => {
    const t = await h.table('json_bad', 'id int');
    const body = '{"id": oops}\n{"id": 2\n';
    const mapped = await load(t, 'bad1.jsonl', body, {}, { source: { prefix: 'bad1.jsonl', format: { type: 'Json' } }, mapping: [{ source: 'id', sink: 'id' }] });
    expect(mapped).toMatchObject({ status: 'Succeeded', rowsRead: 2, rowsCopied: 0, rowsSkipped: 2 });
    expectJsonLog(await readLog('bad1.jsonl'), [
      [1, '', '{"id": oops}', /invalid JSON: /],
      [2, '', '{"id": 2', /invalid JSON: /],
    ]);
    const unmapped = await load(t, 'bad2.jsonl', body, {}, { source: { prefix: 'bad2.jsonl', format: { type: 'Json' } } });
    expect(unmapped).toMatchObject({ status: 'Failed', error: { line: 1 } });
    expect(unmapped.error?.message).toContain('no valid JSON object in the file');
  });
});
