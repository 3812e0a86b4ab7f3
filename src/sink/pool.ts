/**
 * One pg Pool per connection setting, shared by every load in the process, and the one way
 * a client is checked out (withClient).
 *
 * Every client has an 'error' listener from the moment it connects until it is gone. pg
 * emits 'error' on a client whose socket fails (reset, server restart, terminated backend)
 * and fails its active query too; the Pool listens only while a client is idle, so a
 * checked-out client — one in a COPY — without a listener of its own crashes the process
 * with an unhandled 'error' event (issue 11). Here the listener, attached in the Pool's
 * 'connect' event (before any caller gets the client, including `pool.query()`), records
 * the loss, and withClient hands such a client back to the pool as broken, which discards it.
 * The pool itself is pg's, unchanged: `pool.connect()` and `pool.query()` work as documented.
 */
import pg from 'pg';
import { explainEntraAuthFailure } from '../connections/entraToken.js';
import { pgPoolConfigFor } from '../connections/pgPoolConfig.js';
import type { Env } from '../connections/settings.js';
import { ConfigError, sqlstateOf } from '../errors.js';

const pools = new Map<string, pg.Pool>();

/** How each pool signs in, to explain a refusal (checkOut). */
const signIns = new WeakMap<pg.Pool, { connection: string; entraUser: string | undefined }>();

/** Clients whose connection failed, with the error that says how. */
const lost = new WeakMap<pg.ClientBase, Error>();

/** The error that broke this client's connection, if it broke. */
export function connectionLossOf(client: pg.ClientBase): Error | undefined {
  return lost.get(client);
}

export function poolFor(connection: string, env: Env = process.env): pg.Pool {
  const config = pgPoolConfigFor(connection, env);
  const key = `${connection}\0${config.connectionString ?? JSON.stringify({ ...config, password: undefined })}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new pg.Pool(config);
    // Entra sign-in has a password function (pgPoolConfig.ts); a refusal names the grant to run.
    signIns.set(pool, { connection, entraUser: typeof config.password === 'function' && typeof config.user === 'string' ? config.user : undefined });
    pool.on('connect', (client) => {
      client.on('error', (err: Error) => {
        if (!lost.has(client)) lost.set(client, err);
      });
    });
    // An idle client's socket dropping: the listener above recorded it; the pool drops the client.
    pool.on('error', () => undefined);
    pools.set(key, pool);
  }
  return pool;
}

/**
 * A refused sign-in (28000 / 28P01) is a setup error. With Entra it names the grant to run
 * (entraToken.ts); with a password it says the password or user is wrong — and nothing
 * about Entra, which that connection does not use.
 */
function explainSignInFailure(err: unknown, entraUser: string | undefined, connection: string): unknown {
  const state = sqlstateOf(err);
  if (state !== '28000' && state !== '28P01') return err;
  if (entraUser !== undefined) return explainEntraAuthFailure(err, entraUser);
  return new ConfigError(
    `PostgreSQL refused the sign-in of connection "${connection}" (${state}): ${(err as Error).message}; check the user and password in setting ${connection}`,
    { cause: err },
  );
}

/** The server process of a client's session (pg sets it from BackendKeyData; @types/pg omits it). */
export function backendPid(client: pg.ClientBase): number | undefined {
  return (client as { processID?: number | null }).processID ?? undefined;
}

/** Marks a client as not to be reused (a ROLLBACK that failed leaves it in an unknown state). */
export function markBroken(client: pg.ClientBase, err: Error): void {
  if (!lost.has(client)) lost.set(client, err);
}

/**
 * `pool.connect()`, with a refused sign-in explained (explainSignInFailure). For code that
 * holds clients longer than one `work` (parallel COPY); release them with
 * `client.release(connectionLossOf(client))` so a lost one is destroyed.
 */
export async function checkOut(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    const signIn = signIns.get(pool);
    throw signIn ? explainSignInFailure(err, signIn.entraUser, signIn.connection) : err;
  }
}

/**
 * Checks a client out for `work` and always gives it back: a client whose connection was
 * lost, or that was marked broken, is destroyed by the pool, not reused.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await checkOut(pool);
  try {
    return await work(client);
  } finally {
    client.release(lost.get(client));
  }
}

export async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((pool) => pool.end()));
}
