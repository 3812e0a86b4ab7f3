/**
 * sink/pool.ts: the pool is pg's own (no patched `connect`), so `pool.query()` works, and a
 * client whose connection is lost while idle — in the pool, or checked out between
 * statements — is recorded as lost with a transient (retryable) error, destroyed rather
 * than reused, and never raises an unhandled 'error' event (the test run would fail on one).
 */
import { once } from 'node:events';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../src/errors.js';
import { backendPid, connectionLossOf, poolFor, withClient } from '../../src/sink/pool.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await createHarness('pool');
});

afterAll(async () => {
  await h?.close();
});

async function terminate(client: pg.PoolClient): Promise<void> {
  const errored = once(client, 'error');
  const [row] = await h.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [backendPid(client)]);
  expect(row!.ok).toBe(true);
  await errored;
}

describe('poolFor', () => {
  it("is pg's Pool as pg made it: pool.query() (which checks out with connect(callback)) works", async () => {
    const pool = poolFor('TARGET_POSTGRES', h.env);
    expect(Object.hasOwn(pool, 'connect')).toBe(false);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('a client lost while idle in the pool: its loss is recorded as transient, and the pool hands out a live one', async () => {
    const pool = poolFor('TARGET_POSTGRES', h.env);
    const idle = await withClient(pool, async (client) => client);
    const pid = backendPid(idle);
    await terminate(idle);
    expect(connectionLossOf(idle)?.message).toMatch(/terminating connection/);
    expect(classify(connectionLossOf(idle))).toBe('transient');
    const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(rows[0]!.pid).not.toBe(pid);
  });

  it('a checked-out client lost between statements: the next statement fails, the loss is transient, and the client is destroyed, not reused', async () => {
    const pool = poolFor('TARGET_POSTGRES', h.env);
    let lost: pg.PoolClient | undefined;
    const failure = await withClient(pool, async (client) => {
      lost = client;
      await terminate(client);
      return client.query('SELECT 1').then(
        () => undefined,
        (err: unknown) => err,
      );
    });
    expect(failure).toBeInstanceOf(Error);
    expect(classify(connectionLossOf(lost!))).toBe('transient');
    const clients = await Promise.all([withClient(pool, async (c) => c), withClient(pool, async (c) => c)]);
    expect(clients).not.toContain(lost);
  });
});
