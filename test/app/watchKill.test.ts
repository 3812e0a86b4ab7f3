/**
 * `blob2pg watch` killed mid-load (SIGKILL) and started again, without flags: the blob loads
 * exactly once. A heavy file (1M rows; vitest.config.ts HEAVY_TESTS): `npm run test:all`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildCli } from '../support/cliProcess.js';
import { createHarness, type Harness } from '../support/harness.js';
import { copyingBackends } from '../support/copyProgress.js';
import { listRuns } from '../../src/ui/queries.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('watchkill');
  await buildCli();
}, 120_000);
afterAll(async () => h?.close());

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

  const view = { pool: h.pg, schema: h.env.BLOB2PG_LEDGER_SCHEMA!, abandonedAfterSeconds: 1 };
  const first = startWatch(folder);
  // Mid-load: PostgreSQL reports the COPY into the table under way.
  await until('the COPY to start', async () => (await copyingBackends(h, `${h.schema}.k`, { minBytes: 1 })).length > 0, 60_000);
  // The run's start is written beside the load, not before it: wait for its row too, or the
  // kill can land before the run log exists (seen once in CI: "relation …runs does not exist").
  const runLogged = async () => (await h.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = 'runs'`, [h.env.BLOB2PG_LEDGER_SCHEMA]))[0]!.n === 1 && (await listRuns(view, { pipeline: 'k' })).runs.length > 0;
  await until('the run to be in the run log', runLogged, 60_000);
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  // The dropped connection rolls the load's transaction back: no rows, no ledger row.
  await until('the killed backend to go', async () => (await copyingBackends(h, `${h.schema}.k`)).length === 0, 20_000);
  expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".k`)).toEqual([{ n: 0 }]);
  expect(await ledger()).toEqual([{ n: 0 }]);
  // Its run is left Running in the log with no heartbeat: the page reads it Abandoned once the
  // threshold passes (here 1 s after its last heartbeat), never Running forever.
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
