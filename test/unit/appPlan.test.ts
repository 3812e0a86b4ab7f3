import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addProgress, chunk, failedFile, failureMessage, flattenFiles, planBatches, planCopies, retryDelayMs, startProgress, ACTIVITY_RETRY, GROUPS_PER_PARALLEL_COPY, MAX_GROUP_BLOBS, SMALL_BLOB_BYTES } from '../../src/app/plan.js';
import type { BlobRef } from '../../src/source/blobs.js';
import { loadPipelineFolder, pipelinesFolder } from '../../src/app/pipelines.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';
import type { FileResult } from '../../src/run/output.js';

const file = (blob: string, status: FileResult['status'], rowsCopied: number): FileResult => ({ blob, etag: '"e"', status, rowsRead: rowsCopied, rowsCopied, rowsSkipped: 0, dataRead: 0, durationMs: 0 });

describe('planning', () => {
  it('chunks in order; batches only past the batch size', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(planBatches(Array.from({ length: 500 }, (_, i) => i))).toHaveLength(1);
    const batches = planBatches(Array.from({ length: 1001 }, (_, i) => i));
    expect(batches.map((b) => b.length)).toEqual([500, 500, 1]);
    expect(batches.flat()).toEqual(Array.from({ length: 1001 }, (_, i) => i));
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });

  it('groups small blobs into copy activities only when there are many per parallel copy, large ones alone, in listing order', () => {
    const ref = (i: number, size = 1000): BlobRef => ({ name: `b${i}`, etag: `e${i}`, size, lastModified: '2026-11-20T00:00:00Z' });
    const names = (copies: BlobRef[][]) => copies.map((c) => c.map((b) => b.name));
    // 32 small blobs, 8 at once: one each (four per parallel copy is not "many"); 33: groups of 3.
    expect(planCopies(Array.from({ length: 32 }, (_, i) => ref(i)), 8).every((c) => c.length === 1)).toBe(true);
    expect(planCopies(Array.from({ length: 33 }, (_, i) => ref(i)), 8).map((c) => c.length)).toEqual([...Array(11).fill(3)]);
    // 500 small blobs (a sub-orchestration's batch), 8 at once: 16 groups, of 32 (ceil(500 / 16)) but the last.
    const batch = planCopies(Array.from({ length: 500 }, (_, i) => ref(i)), 8);
    expect(batch.map((c) => c.length)).toEqual([...Array(15).fill(32), 20]);
    expect(batch).toHaveLength(GROUPS_PER_PARALLEL_COPY * 8);
    expect(batch.flat().map((b) => b.name)).toEqual(Array.from({ length: 500 }, (_, i) => `b${i}`));
    // Never more than MAX_GROUP_BLOBS; a large (or unknown-size) blob is a copy of its own and closes the group.
    expect(Math.max(...planCopies(Array.from({ length: 10_000 }, (_, i) => ref(i)), 8).map((c) => c.length))).toBe(MAX_GROUP_BLOBS);
    const mixed = [...Array.from({ length: 20 }, (_, i) => ref(i)), ref(20, SMALL_BLOB_BYTES + 1), ref(21, 0), ...Array.from({ length: 20 }, (_, i) => ref(22 + i))];
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `b${from + i}`);
    // 40 small blobs, 2 at once: groups of 10.
    expect(names(planCopies(mixed, 2))).toEqual([range(0, 10), range(10, 20), ['b20'], ['b21'], range(22, 32), range(32, 42)]);
  });

  it('backs off exponentially up to the cap', () => {
    expect([2, 3, 4, 5].map((a) => retryDelayMs(ACTIVITY_RETRY, a))).toEqual([5000, 10000, 20000, 40000]);
    expect(retryDelayMs(ACTIVITY_RETRY, 9)).toBe(60000);
  });

  it('progress counts files, failures and rows, flattening archive entries', () => {
    let p = startProgress(4);
    p = addProgress(p, [file('a', 'Succeeded', 10), file('b', 'Failed', 0)]);
    const archive = { ...file('z.zip', 'Succeeded', 7), entries: [file('z/1', 'Succeeded', 3), file('z/2', 'Failed', 0)] } as FileResult;
    p = addProgress(p, [archive, file('c', 'Skipped', 0)]);
    expect(p).toEqual({ filesTotal: 4, filesDone: 4, filesFailed: 2, rowsCopied: 13 });
    expect(flattenFiles([archive]).map((f) => f.blob)).toEqual(['z/1', 'z/2']);
  });

  it('a failed task becomes a Failed file with the message, without the stack', () => {
    const err = new Error('connect ECONNREFUSED 127.0.0.1:5432 \n Error: connect ECONNREFUSED\n    at TCPConnectWrap');
    expect(failureMessage(err)).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(failedFile({ name: 'a.csv', etag: '"1"', size: 1, lastModified: '' }, err)).toMatchObject({ blob: 'a.csv', status: 'Failed', error: { message: 'connect ECONNREFUSED 127.0.0.1:5432' } });
  });
});

describe('triggers in the spec', () => {
  const base = { name: 'p', source: { container: 'incoming' }, sink: { table: 't' } };
  it('default to none and accept BlobCreated and six-field schedules', () => {
    expect(parsePipelineSpec(base).triggers).toEqual([]);
    expect(parsePipelineSpec({ ...base, triggers: [{ type: 'BlobCreated' }, { type: 'Schedule', schedule: '0 */15 * * * *' }] }).triggers).toHaveLength(2);
  });
  it('name the bad field', () => {
    expect(() => parsePipelineSpec({ ...base, triggers: [{ type: 'Schedule', schedule: '*/15 * * * *' }] })).toThrow(/triggers\[0\]\.schedule: a six-field NCRONTAB/);
    expect(() => parsePipelineSpec({ ...base, triggers: [{ type: 'Webhook' }] })).toThrow(/triggers\[0\]/);
  });
});

const dir0 = path.join(tmpdir(), 'elsewhere');

describe('pipelines folder', () => {
  it('loads the valid files and reports each invalid one without stopping the others', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-folder-'));
    const spec = (name: string) => JSON.stringify({ name, source: { container: 'incoming' }, sink: { table: 't' } });
    await writeFile(path.join(dir, 'a.json'), spec('a'));
    await writeFile(path.join(dir, 'b.json'), spec('b'));
    await writeFile(path.join(dir, 'dup.json'), spec('a'));
    await writeFile(path.join(dir, 'bad.json'), JSON.stringify({ name: 'bad', source: { container: 'UPPER' }, sink: { table: 't' } }));
    await writeFile(path.join(dir, 'notes.txt'), 'ignored');
    const loaded = loadPipelineFolder(dir);
    expect([...loaded.pipelines.keys()]).toEqual(['a', 'b']);
    expect(loaded.errors.map((e) => [e.file, e.issues[0]!.path])).toEqual([['bad.json', 'source.container'], ['dup.json', 'name']]);
    expect(loadPipelineFolder(path.join(dir, 'missing')).errors[0]!.issues[0]!.message).toMatch(/cannot read the pipelines folder/);
  });

  it('BLOB2PG_PIPELINES is relative to the app root (where package.json is), default pipelines/', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    expect(pipelinesFolder({})).toBe(path.join(root, 'pipelines'));
    expect(pipelinesFolder({ BLOB2PG_PIPELINES: 'conf/p' })).toBe(path.join(root, 'conf/p'));
    expect(pipelinesFolder({ BLOB2PG_PIPELINES: dir0 })).toBe(dir0);
  });
});
