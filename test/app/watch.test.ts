/**
 * `blob2pg watch`: blob versions not in the ledger reach the queue-trigger handler as Event
 * Grid messages and load through the orchestrator — those there at start as well as new
 * uploads, since the watcher keeps no memory of its own; killed mid-load (SIGKILL) and
 * started again, it loads the blob exactly once, without flags.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { watch } from '../../src/cli/watch.js';
import type { FileResult } from '../../src/run/output.js';
import { buildCli } from '../support/cliProcess.js';
import { createHarness, type Harness } from '../support/harness.js';
import { copyingBackends } from '../support/copyProgress.js';
import { listRuns } from '../../src/ui/queries.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('watch');
  await buildCli();
}, 120_000);
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

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

function startWatch(folder: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [CLI, 'watch', folder, '--interval', '200'], { env: { ...process.env, ...h.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await check()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('killed with SIGKILL mid-load and started again (no flags), loads the blob exactly once', async () => {
  const rows = 1_000_000;
  await h.query(`CREATE TABLE "${h.schema}".k (id int)`);
  const lines = ['id'];
  for (let i = 1; i <= rows; i++) lines.push(String(i));
  await h.upload('k/big.csv', lines.join('\n') + '\n');
  const folder = await mkdtemp(path.join(tmpdir(), 'blob2pg-watch-kill-'));
  await writeFile(path.join(folder, 'k.json'), JSON.stringify({ name: 'k', source: { container: h.container.containerName, prefix: 'k/' }, sink: { table: `${h.schema}.k` }, triggers: [{ type: 'BlobCreated' }] }));
  const ledger = () => h.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions WHERE target_table = $1`, [`${h.schema}.k`]);

  const first = startWatch(folder);
  // Mid-load: PostgreSQL reports the COPY into the table under way.
  await until('the COPY to start', async () => (await copyingBackends(h, `${h.schema}.k`, { minBytes: 1 })).length > 0, 60_000);
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  // The dropped connection rolls the load's transaction back: no rows, no ledger row.
  await until('the killed backend to go', async () => (await copyingBackends(h, `${h.schema}.k`)).length === 0, 20_000);
  expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".k`)).toEqual([{ n: 0 }]);
  expect(await ledger()).toEqual([{ n: 0 }]);
  // Its run is left Running in the log with no heartbeat: the page reads it Abandoned once the
  // threshold passes (here 1 s after its last heartbeat), never Running forever.
  const view = { pool: h.pg, schema: h.env.BLOB2PG_LEDGER_SCHEMA!, abandonedAfterSeconds: 1 };
  await new Promise((r) => setTimeout(r, 1500));
  expect((await listRuns(view, { pipeline: 'k' })).runs.map((r) => r.status)).toEqual(['Abandoned']);

  const second = startWatch(folder);
  try {
    await until('the blob to load after the restart', async () => (await ledger())[0]!.n === 1, 120_000);
    await new Promise((r) => setTimeout(r, 600)); // a few more polls: nothing may load twice
  } finally {
    second.child.kill('SIGINT');
    await once(second.child, 'exit');
  }
  expect(second.output()).toMatch(/loaded\s+k\/big\.csv: 1,000,000 rows/);
  expect(await h.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM "${h.schema}".k`)).toEqual([{ n: rows, d: rows }]);
  expect(await ledger()).toEqual([{ n: 1 }]);
  // The second watcher ran the same instance ID again: one run, Succeeded (the follower recorded its end).
  expect((await listRuns(view, { pipeline: 'k' })).runs.map((r) => [r.status, r.filesLoaded, r.rowsCopied])).toEqual([['Succeeded', 1, rows]]);
}, 240_000);
