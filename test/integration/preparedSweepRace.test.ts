/**
 * Two orphan sweeps racing for one prepared range transaction (sink/preparedLoads.ts). The
 * sweep that loses must not fail its load with a permanent error: a gid the other one
 * finished is done (42704), one the other is finishing right now is "busy" (55000) — left
 * to it by a sweep, a TransientError for a direct COMMIT / ROLLBACK PREPARED.
 *
 * "Busy" lasts only while another session is inside COMMIT / ROLLBACK PREPARED. To hold one
 * there, this file starts its own server (same major as the suite) and names a synchronous
 * standby that never connects: a session with synchronous_commit = on then waits inside
 * COMMIT PREPARED for that standby (after the decision is in the commit log, before the gid
 * is released), and the second sweep meets the gid busy every time; cancelling the wait
 * (pg_cancel_backend: a WARNING, the commit stands) lets it finish. Sessions with the
 * server's synchronous_commit = off never wait.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../src/cli/localServices.js';
import { classify, TransientError } from '../../src/errors.js';
import { claimIngestion, completeIngestion, ensureLedger } from '../../src/sink/ledger.js';
import type { LedgerKey } from '../../src/sink/ledgerKey.js';
import { finishPrepared, preparedGid, resolvePreparedLoads } from '../../src/sink/preparedLoads.js';

const LEDGER = 'blob2pg';
let dir: string;
let server: Awaited<ReturnType<typeof startPostgres>>;
let pool: pg.Pool;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-sweeprace-'));
  await chmod(dir, 0o755);
  const major = process.env.BLOB2PG_TEST_PG_MAJOR ? Number(process.env.BLOB2PG_TEST_PG_MAJOR) : undefined;
  server = await startPostgres({ dir, persistent: false, major, maxPreparedTransactions: 16 });
  pool = new pg.Pool({ connectionString: server.url, max: 20 });
  // pool.end() may resolve before an idle client has closed; the server's stop can then reach it.
  pool.on('error', () => undefined);
  await ensureLedger(pool, LEDGER);
  await pool.query(`ALTER SYSTEM SET synchronous_standby_names = 'blob2pg_test_nobody'`);
  await pool.query(`SELECT pg_reload_conf()`);
  // The server takes the setting up asynchronously: commit until a commit waits for the standby.
  await pool.query(`CREATE TABLE public.probe (x int)`);
  const probe = await pool.connect();
  try {
    const pid = await syncCommitOn(probe);
    let holds = false;
    for (let i = 0; i < 100 && !holds; i++) {
      const insert = probe.query(`INSERT INTO public.probe VALUES (1)`);
      holds = await waitsForStandby(pid, insert);
      if (holds) await pool.query(`SELECT pg_cancel_backend($1)`, [pid]);
      await insert;
    }
    expect(holds).toBe(true);
  } finally {
    probe.release(true);
  }
}, 120_000);

afterAll(async () => {
  // The server first: a session a failed test left waiting for the standby ends with it.
  await server?.stop();
  await pool?.end();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * synchronous_commit = on for this session (the server runs with it off); its backend pid.
 * Such a client is destroyed, not returned to the pool, when done: its next user's commits would wait.
 */
async function syncCommitOn(client: pg.PoolClient): Promise<number> {
  await client.query(`SET synchronous_commit = on`);
  return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

/** Whether backend `pid` waits for the standby (SyncRep) before `pending` (its statement) settles. */
async function waitsForStandby(pid: number, pending: Promise<unknown>): Promise<boolean> {
  let settled = false;
  pending.then(() => (settled = true), () => (settled = true));
  for (let i = 0; i < 500 && !settled; i++) {
    if ((await pool.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'SyncRep'`, [pid])).rowCount === 1) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

const prepared = async () => (await pool.query<{ gid: string }>(`SELECT gid FROM pg_prepared_xacts ORDER BY gid`)).rows.map((r) => r.gid);

/**
 * Plays a parallel load that died after preparing its ranges 1…`ranges`: range 0 (the ledger
 * row and rows 1-10) committed when `decided`, aborted otherwise; range k holds rows
 * 10k+1…10k+10, prepared. Returns the gids.
 */
async function crashedLoad(table: string, blob: string, decided: boolean, ranges = 1): Promise<string[]> {
  const key: LedgerKey = { targetTable: table, blobUrl: `https://example.invalid/c/${blob}`, etag: '0x1' };
  const clients = await Promise.all(Array.from({ length: ranges + 1 }, () => pool.connect()));
  const [range0, ...others] = clients;
  try {
    await range0!.query('BEGIN');
    expect(await claimIngestion(range0!, LEDGER, key, { pipeline: 'test', runId: 'crashed' })).toBe(true);
    await range0!.query(`INSERT INTO ${table} SELECT g FROM generate_series(1, 10) g`);
    const xid = (await range0!.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0]!.xid;
    const gids: string[] = [];
    for (const [i, client] of others.entries()) {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${table} SELECT g FROM generate_series(${10 * (i + 1) + 1}, ${10 * (i + 2)}) g`);
      const gid = preparedGid(xid, i + 1, ranges, key);
      await client.query(`PREPARE TRANSACTION '${gid}'`);
      gids.push(gid);
    }
    if (decided) await completeIngestion(range0!, LEDGER, key, { rowsRead: 10 * (ranges + 1), rowsCopied: 10 * (ranges + 1), rowsSkipped: 0, bytes: 1 });
    await range0!.query(decided ? 'COMMIT' : 'ROLLBACK');
    return gids;
  } finally {
    for (const client of clients) client.release();
  }
}

async function rows(table: string): Promise<{ n: number; d: number }> {
  return (await pool.query<{ n: number; d: number }>(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM ${table}`)).rows[0]!;
}

describe('two orphan sweeps racing for one prepared transaction', () => {
  for (const decided of [true, false]) {
    it(`range 0 ${decided ? 'committed' : 'aborted'}: the sweep that finds the gid busy leaves it (no error), the other ${decided ? 'commits' : 'rolls it back'}`, async () => {
      const table = `public.busy_${decided ? 'committed' : 'aborted'}`;
      await pool.query(`CREATE TABLE ${table} (id int)`);
      const [gid] = await crashedLoad(table, table, decided);
      expect(await prepared()).toEqual([gid]);
      const holder = await pool.connect();
      const other = await pool.connect();
      try {
        // Sweep A waits inside COMMIT / ROLLBACK PREPARED for the standby that never comes.
        const holderPid = await syncCommitOn(holder);
        const sweepA = resolvePreparedLoads(holder);
        expect(await waitsForStandby(holderPid, sweepA)).toBe(true);
        // Sweep B, meanwhile: the gid is busy. It is left, and the sweep ends without error.
        expect(await resolvePreparedLoads(other)).toEqual(new Map([[gid, 'busy']]));
        // The same refusal to a direct COMMIT / ROLLBACK PREPARED (the loader's): transient, with its SQLSTATE.
        const direct = await finishPrepared(other, decided ? 'COMMIT' : 'ROLLBACK', gid!).then(() => undefined, (err: unknown) => err);
        expect(direct).toBeInstanceOf(TransientError);
        expect(classify(direct)).toBe('transient');
        expect((direct as Error).message).toContain('(55000)');
        // Sweep A's wait is cancelled: it finishes the gid.
        await pool.query(`SELECT pg_cancel_backend($1)`, [holderPid]);
        expect(await sweepA).toEqual(new Map([[gid, decided ? 'committed' : 'rolled back']]));
        // Finished by A: B's next look is a no-op, and a late COMMIT / ROLLBACK PREPARED of it (42704) is done too.
        expect(await resolvePreparedLoads(other)).toEqual(new Map());
        await finishPrepared(other, decided ? 'COMMIT' : 'ROLLBACK', gid!);
      } finally {
        holder.release(true);
        other.release();
      }
      expect(await prepared()).toEqual([]);
      // Both ranges once, or neither: as range 0 decided.
      expect(await rows(table)).toEqual(decided ? { n: 20, d: 20 } : { n: 0, d: 0 });
    });
  }

  it('many sweeps at once over several orphans: every one ends without error, each orphan resolved once as its range 0 decided', async () => {
    await pool.query(`CREATE TABLE public.many_committed (id int)`);
    await pool.query(`CREATE TABLE public.many_aborted (id int)`);
    const committed = await crashedLoad('public.many_committed', 'many_committed', true, 4);
    const aborted = await crashedLoad('public.many_aborted', 'many_aborted', false, 4);
    expect((await prepared()).length).toBe(8);
    const sweeps = await Promise.all(Array.from({ length: 8 }, () => pool.connect().then(async (client) => {
      try {
        return await resolvePreparedLoads(client);
      } finally {
        client.release();
      }
    })));
    // Each gid finished by some sweep: committed or rolled back per its range 0, or busy / already gone for the others.
    for (const gid of committed) expect(sweeps.some((s) => s.get(gid) === 'committed')).toBe(true);
    for (const gid of aborted) expect(sweeps.some((s) => s.get(gid) === 'rolled back')).toBe(true);
    for (const sweep of sweeps) {
      for (const [gid, resolution] of sweep) expect([committed.includes(gid) ? 'committed' : 'rolled back', 'busy']).toContain(resolution);
    }
    expect(await prepared()).toEqual([]);
    expect(await rows('public.many_committed')).toEqual({ n: 50, d: 50 });
    expect(await rows('public.many_aborted')).toEqual({ n: 0, d: 0 });
  });
});
