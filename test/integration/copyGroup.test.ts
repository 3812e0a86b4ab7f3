/**
 * copyBlobs: a group of small blobs in one transaction with a ledger row per blob — through
 * one COPY when they are plain CSV, blob by blob with a savepoint each otherwise. Each blob
 * still loads entirely or not at all; a bad blob fails alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlob, copyBlobs } from '../../src/load/index.js';
import { TransientError } from '../../src/errors.js';
import { ledgerSchemaName } from '../../src/sink/ledger.js';
import type { FileResult } from '../../src/run/output.js';
import type { BlobRef } from '../../src/source/blobs.js';
import { createHarness, type Harness } from '../support/harness.js';
import { countStatements as countStatementsOf } from '../support/tables.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('group');
});
afterAll(async () => h?.close());

async function uploadAll(prefix: string, bodies: string[]): Promise<BlobRef[]> {
  const refs: BlobRef[] = [];
  for (const [i, body] of bodies.entries()) {
    const ref = await h.upload(`${prefix}/${i}.csv`, body);
    refs.push({ ...ref, size: body.length, lastModified: new Date().toISOString() });
  }
  return refs;
}

const countStatements = (table: string) => countStatementsOf(h, table);

async function ledgerRows(table: string): Promise<Array<[string, number]>> {
  const ledger = `"${ledgerSchemaName(undefined, h.env)}".ingestions`;
  const rows = await h.query(`SELECT blob_url, rows_copied::int AS rows_copied FROM ${ledger} WHERE target_table = $1 ORDER BY blob_url`, [table]);
  return rows.map((r) => [String(r.blob_url).split('/').slice(-2).join('/'), r.rows_copied as number]);
}

describe('copyBlobs (a group of small blobs)', () => {
  it('plain CSV blobs share one COPY (a new one where the columns change), each with its own row count and ledger row', async () => {
    const t = await h.table('cat', 'id int NOT NULL, v text');
    const statements = await countStatements(t);
    const refs = await uploadAll('cat', [
      'id,v\n1,a\n2,b\n',
      // A quoted line end, and no line end after the last record.
      'id,v\n3,"two\nlines"\n4,"say ""hi"""',
      // Header only.
      'id,v\n',
      'id,v\n5,e\n',
      // Other column order: the COPY so far ends, another starts.
      'v,id\nf,6\ng,7\n',
    ]);
    const spec = h.spec({ source: { prefix: 'cat/' }, sink: { table: t } });
    const results = await copyBlobs(spec, refs, { runId: 'c1', env: h.env });
    expect(results.map((r) => [r.blob, r.status, r.rowsRead, r.rowsCopied])).toEqual([
      ['cat/0.csv', 'Succeeded', 2, 2],
      ['cat/1.csv', 'Succeeded', 2, 2],
      ['cat/2.csv', 'Succeeded', 0, 0],
      ['cat/3.csv', 'Succeeded', 1, 1],
      ['cat/4.csv', 'Succeeded', 2, 2],
    ]);
    expect(results.map((r) => r.dataRead)).toEqual(refs.map((r) => r.size));
    // One COPY per column list; blob by blob it would be five.
    expect(await statements()).toBe(2);
    expect(await h.query(`SELECT id, v FROM "${h.schema}".cat ORDER BY id`)).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
      { id: 3, v: 'two\nlines' },
      { id: 4, v: 'say "hi"' },
      { id: 5, v: 'e' },
      { id: 6, v: 'f' },
      { id: 7, v: 'g' },
    ]);
    expect(await ledgerRows(t)).toEqual([
      ['cat/0.csv', 2],
      ['cat/1.csv', 2],
      ['cat/2.csv', 0],
      ['cat/3.csv', 1],
      ['cat/4.csv', 2],
    ]);
    // Loaded versions are skipped on a rerun; the same version twice in a group loads once.
    const again = await copyBlobs(spec, [refs[0]!, refs[1]!], { runId: 'c2', env: h.env });
    expect(again.map((r) => r.status)).toEqual(['Skipped', 'Skipped']);
    const fresh = await uploadAll('cat2', ['id,v\n8,h\n']);
    const twice = await copyBlobs(h.spec({ source: { prefix: 'cat2/' }, sink: { table: t } }), [fresh[0]!, fresh[0]!], { runId: 'c3', env: h.env });
    expect(twice.map((r) => [r.status, r.rowsCopied])).toEqual([
      ['Succeeded', 1],
      ['Skipped', 0],
    ]);
    // Blob by blob too (a post-copy script runs per blob): the repeat finds this load's own
    // ledger row, which is not one this run loaded before.
    const fresh3 = await uploadAll('cat3', ['id,v\n9,i\n']);
    const twiceOneByOne = await copyBlobs(h.spec({ source: { prefix: 'cat3/' }, sink: { table: t, postCopyScript: 'SELECT 1' } }), [fresh3[0]!, fresh3[0]!], { runId: 'c4', env: h.env });
    expect(twiceOneByOne.map((r) => [r.status, r.rowsCopied])).toEqual([
      ['Succeeded', 1],
      ['Skipped', 0],
    ]);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".cat`)).toEqual([{ n: 9 }]);
  });

  it('a transient error in the shared COPY throws for a retry and leaves nothing behind; the retry loads each blob once', async () => {
    const t = await h.table('flaky', 'id int');
    const [schema, name] = t.split('.');
    // While the switch has a row, every COPY fails with a serialization failure (40001: transient, retried).
    await h.query(`CREATE TABLE "${schema}".flaky_switch (on_ boolean)`);
    await h.query(`INSERT INTO "${schema}".flaky_switch VALUES (true)`);
    await h.query(`CREATE FUNCTION "${schema}".flaky_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF EXISTS (SELECT 1 FROM "${schema}".flaky_switch) THEN RAISE EXCEPTION 'try again' USING ERRCODE = '40001'; END IF; RETURN NULL; END $$`);
    await h.query(`CREATE TRIGGER flaky AFTER INSERT ON "${schema}"."${name}" FOR EACH STATEMENT EXECUTE FUNCTION "${schema}".flaky_fail()`);
    const refs = await uploadAll('flaky', ['id\n1\n2\n', 'id\n3\n', 'id\n4\n']);
    const spec = h.spec({ source: { prefix: 'flaky/' }, sink: { table: t } });
    await expect(copyBlobs(spec, refs, { runId: 'f1', env: h.env })).rejects.toBeInstanceOf(TransientError);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${schema}"."${name}"`)).toEqual([{ n: 0 }]);
    expect(await ledgerRows(t)).toEqual([]);
    await h.query(`DELETE FROM "${schema}".flaky_switch`);
    const retried = await copyBlobs(spec, refs, { runId: 'f2', env: h.env });
    expect(retried.map((r) => [r.status, r.rowsCopied])).toEqual([
      ['Succeeded', 2],
      ['Succeeded', 1],
      ['Succeeded', 1],
    ]);
    expect(await h.query(`SELECT id FROM "${schema}"."${name}" ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
    expect(await ledgerRows(t)).toEqual([
      ['flaky/0.csv', 2],
      ['flaky/1.csv', 1],
      ['flaky/2.csv', 1],
    ]);
  });

  it('a transient error in the shared COPY names the blob that owns the line the server reports', async () => {
    const t = await h.table('owned', 'id int');
    const [schema, name] = t.split('.');
    // Row 3 — the second blob's only record, COPY line 3 — fails with a serialization failure (40001: transient).
    await h.query(`CREATE FUNCTION "${schema}".owned_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = 3 THEN RAISE EXCEPTION 'try again' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$`);
    await h.query(`CREATE TRIGGER owned BEFORE INSERT ON "${schema}"."${name}" FOR EACH ROW EXECUTE FUNCTION "${schema}".owned_fail()`);
    const refs = await uploadAll('owned', ['id\n1\n2\n', 'id\n3\n', 'id\n4\n5\n']);
    const spec = h.spec({ source: { prefix: 'owned/' }, sink: { table: t } });
    const err = await copyBlobs(spec, refs, { runId: 'o1', env: h.env }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    // Neither the first blob (what an unlocated error falls back to) nor the last one sent.
    expect((err as Error).message).toContain('owned/1.csv');
    expect((err as Error).message).not.toMatch(/owned\/[02]\.csv/);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${schema}"."${name}"`)).toEqual([{ n: 0 }]);
    expect(await ledgerRows(t)).toEqual([]);
  });

  it('JSON blobs of a group share one COPY too (their records re-encoded as CSV are counted the same way)', async () => {
    const t = await h.table('jcat', 'id int, name text');
    const statements = await countStatements(t);
    const refs = await uploadAll('jcat', [
      '{"id":1,"name":"a, \\"quoted\\"\\nand a line end"}\n{"id":2}\n',
      '[{"id":3,"name":"c"}]',
      '{"id":4,"name":"d"}',
    ]);
    const results = await copyBlobs(h.spec({ source: { prefix: 'jcat/', format: { type: 'Json' } }, sink: { table: t } }), refs, { runId: 'j1', env: h.env });
    expect(results.map((r) => [r.status, r.rowsCopied])).toEqual([
      ['Succeeded', 2],
      ['Succeeded', 1],
      ['Succeeded', 1],
    ]);
    expect(await statements()).toBe(1);
    expect(await h.query(`SELECT id, name FROM "${h.schema}".jcat ORDER BY id`)).toEqual([
      { id: 1, name: 'a, "quoted"\nand a line end' },
      { id: 2, name: null },
      { id: 3, name: 'c' },
      { id: 4, name: 'd' },
    ]);
  });

  it('blobs that cannot share a COPY load exactly as they load one by one', async () => {
    const bodies = [
      'id,v\n1,a\n',
      // CRLF after LF: COPY takes the line end of its first line, so this one is refused in a shared COPY.
      'id,v\r\n2,b\r\n3,c\r\n',
      // Ends inside a quoted field: it fails on its own, and must not swallow the next blob.
      'id,v\n4,"open\n',
      'id,v\n5,e\n',
      // PostgreSQL's end-of-data marker as a line.
      'id,v\n6,f\n\\.\n7,g\n',
      'id,v\n8,h',
    ];
    const together = await h.table('together', 'id int, v text');
    const alone = await h.table('alone', 'id int, v text');
    const refs = await uploadAll('odd', bodies);
    const spec = (table: string) => h.spec({ source: { prefix: 'odd/' }, sink: { table } });
    const grouped = await copyBlobs(spec(together), refs, { runId: 'o1', env: h.env });
    const single = [];
    for (const ref of refs) single.push(await copyBlob(spec(alone), ref, { runId: 'o2', env: h.env }));
    const outcome = (r: FileResult) => [r.blob, r.status, r.rowsCopied, r.error?.line, r.error?.sqlstate];
    expect(grouped.map(outcome)).toEqual(single.map(outcome));
    expect(grouped.find((r) => r.blob === 'odd/2.csv')).toMatchObject({ status: 'Failed' });
    expect(grouped.filter((r) => r.status === 'Succeeded').length).toBeGreaterThanOrEqual(4);
    const rows = (table: string) => h.query(`SELECT id, v FROM ${table.split('.').map((p) => `"${p}"`).join('.')} ORDER BY id, v`);
    expect(await rows(together)).toEqual(await rows(alone));
    expect((await rows(together)).map((r) => r.id)).toEqual(expect.arrayContaining([1, 2, 3, 5, 8]));
  });

  it('a bad blob fails alone with its line and column; the others load with their own ledger rows; a rerun skips them', async () => {
    const t = await h.table('grp', 'id int NOT NULL, v text');
    const refs = await uploadAll('grp', ['id,v\n1,a\n2,b\n', 'id,v\n3,c\n4,oops\nx,d\n', 'v,id\ne,5\n']);
    const spec = h.spec({ source: { prefix: 'grp/' }, sink: { table: t } });
    const results = await copyBlobs(spec, refs, { runId: 'g1', env: h.env });
    expect(results.map((r) => [r.blob, r.status, r.rowsCopied])).toEqual([
      ['grp/0.csv', 'Succeeded', 2],
      ['grp/1.csv', 'Failed', 0],
      ['grp/2.csv', 'Succeeded', 1],
    ]);
    expect(results[1]!.error).toMatchObject({ line: 4, column: 'id', sqlstate: '22P02' });
    expect(results[1]!.error!.message).toContain('grp/1.csv');
    // Nothing of the bad blob; the third blob's own header order was used.
    expect(await h.query(`SELECT id, v FROM "${h.schema}".grp ORDER BY id`)).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
      { id: 5, v: 'e' },
    ]);
    const ledger = `"${ledgerSchemaName(undefined, h.env)}".ingestions`;
    const loaded = await h.query(`SELECT blob_url, rows_copied::int AS rows_copied FROM ${ledger} WHERE target_table = $1 ORDER BY blob_url`, [`"${h.schema}".grp`.replaceAll('"', '')]);
    expect(loaded.map((r) => [String(r.blob_url).split('/').slice(-2).join('/'), r.rows_copied])).toEqual([
      ['grp/0.csv', 2],
      ['grp/2.csv', 1],
    ]);

    const again = await copyBlobs(spec, refs, { runId: 'g2', env: h.env });
    expect(again.map((r) => r.status)).toEqual(['Skipped', 'Failed', 'Skipped']);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".grp`)).toEqual([{ n: 3 }]);
  });

  it('a pre-copy script runs per blob and, for a failed blob, is rolled back with it', async () => {
    const t = await h.table('grp_pre', 'id int');
    await h.query(`CREATE TABLE "${h.schema}".grp_audit (n int)`);
    const refs = await uploadAll('grp_pre', ['id\n1\n', 'id\nbad\n', 'id\n3\n']);
    const spec = h.spec({ source: { prefix: 'grp_pre/' }, sink: { table: t, preCopyScript: `INSERT INTO "${h.schema}".grp_audit VALUES (1)` } });
    const results = await copyBlobs(spec, refs, { runId: 'g3', env: h.env });
    expect(results.map((r) => r.status)).toEqual(['Succeeded', 'Failed', 'Succeeded']);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".grp_audit`)).toEqual([{ n: 2 }]);
  });
});
