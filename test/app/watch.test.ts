/**
 * `blob2pg watch`: blob versions not in the ledger reach the queue-trigger handler as Event
 * Grid messages and load through the orchestrator — those there at start as well as new
 * uploads, since the watcher keeps no memory of its own. Killed mid-load: watchKill.test.ts.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { watch } from '../../src/cli/watch.js';
import type { FileResult } from '../../src/run/output.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('watch');
});
afterAll(async () => h?.close());

it('loads each blob version not in the ledger — there at start or uploaded while watching — once', async () => {
  await h.query(`CREATE TABLE "${h.schema}".w (id int)`);
  await h.upload('in/before.csv', 'id\n1\n');
  const folder = await mkdtemp(path.join(tmpdir(), 'blob2pg-watch-'));
  await writeFile(path.join(folder, 'w.json'), JSON.stringify({ name: 'w', source: { container: h.container.containerName, prefix: 'in/' }, sink: { table: `${h.schema}.w` }, triggers: [{ type: 'BlobCreated' }] }));
  const stop = new AbortController();
  const files: FileResult[] = [];
  const lines: string[] = [];
  const done = watch({ folder, env: h.env, intervalMs: 100, abortSignal: stop.signal, onFile: (f) => files.push(f), log: (l) => lines.push(l) });
  // The watcher says "watching" once it knows what was there before it started.
  for (const until = Date.now() + 20_000; !lines.some((l) => l.startsWith('watching ')) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
  await h.upload('in/new-1.csv', 'id\n2\n3\n');
  await h.upload('in/new-2.csv', 'id\n4\n');
  const deadline = Date.now() + 20_000;
  while (files.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300)); // a few more polls: nothing may load twice
  stop.abort();
  await done;
  expect(files.map((f) => [f.blob, f.status, f.rowsCopied]).sort()).toEqual([
    ['in/before.csv', 'Succeeded', 1],
    ['in/new-1.csv', 'Succeeded', 2],
    ['in/new-2.csv', 'Succeeded', 1],
  ]);
  expect(await h.query(`SELECT id FROM "${h.schema}".w ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
  expect(lines.some((l) => l.startsWith('watching '))).toBe(true);
  // Each blob's run is recorded to its end in the run log (the watcher's follower), none left Running.
  const runs = await h.query(`SELECT status, trigger, files_loaded, finished_at IS NOT NULL AS finished FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".runs WHERE pipeline = 'w'`);
  expect(runs).toEqual([1, 2, 3].map(() => ({ status: 'Succeeded', trigger: 'BlobEvent', files_loaded: 1, finished: true })));
});
