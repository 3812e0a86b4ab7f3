/**
 * copyBlobs: a group of small blobs in one transaction, a savepoint and a ledger row per
 * blob. Each blob still loads entirely or not at all; a bad blob fails alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlobs } from '../../src/copyBlob.js';
import { ledgerSchemaName } from '../../src/sink/ledger.js';
import type { BlobRef } from '../../src/source/blobs.js';
import { createHarness, type Harness } from '../support/harness.js';

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

describe('copyBlobs (a group of small blobs)', () => {
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
