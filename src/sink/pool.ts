/**
 * One pg Pool per connection setting, shared by every load in the process, and the one way
 * a client is checked out (withClient).
 *
 * Every client has an 'error' listener from the moment it connects until it is gone. pg
 * emits 'error' on a client whose socket fails (reset, server restart, terminated backend)
 * and fails its active query too; the Pool listens only while a client is idle, so a
 * checked-out client — one in a COPY — without a listener of its own crashes the process
 * with an unhandled 'error' event (issue 11). Here the listener records the loss, and
 * withClient hands such a client back to the pool as broken, which discards it.
 */
import pg from 'pg';
import { explainEntraAuthFailure } from '../connections/entraToken.js';
import { pgPoolConfigFor } from '../connections/pgPoolConfig.js';
import type { Env } from '../connections/settings.js';
import { ConfigError, sqlstateOf } from '../errors.js';

const pools = new Map<string, pg.Pool>();

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
    const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
    // Entra sign-in has a password function (pgPoolConfig.ts); a refusal names the grant to run.
    const entraUser = typeof config.password === 'function' && typeof config.user === 'string' ? config.user : undefined;
    const explained = async () => {
      try {
        return await connect();
      } catch (err) {
        throw explainSignInFailure(err, entraUser, connection);
      }
    };
    // pool.query() calls connect with a callback: both forms must keep working.
    pool.connect = ((callback?: (err: Error | undefined, client?: pg.PoolClient, done?: (release?: unknown) => void) => void) => {
      if (!callback) return explained();
      explained().then(
        (client) => callback(undefined, client, (release) => client.release(release as Error | boolean | undefined)),
        (err: Error) => callback(err),
      );
      return undefined;
    }) as pg.Pool['connect'];
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
 * Checks a client out for `work` and always gives it back: a client whose connection was
 * lost, or that was marked broken, is destroyed by the pool, not reused.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await work(client);
  } finally {
    client.release(lost.get(client));
  }
}

/**
 * BEGIN, `work`, COMMIT — or ROLLBACK when `work` throws or `commit(value)` says no. A
 * ROLLBACK that fails (the connection is gone) marks the client broken and the error of
 * `work` is what the caller sees. `setup` statements run right after BEGIN (SET LOCAL …).
 */
export async function withTransaction<T>(
  client: pg.ClientBase,
  work: () => Promise<T>,
  options: { setup?: readonly string[]; commit?: (value: T) => boolean } = {},
): Promise<T> {
  await client.query('BEGIN');
  let value: T;
  try {
    for (const statement of options.setup ?? []) await client.query(statement);
    value = await work();
  } catch (err) {
    await rollback(client);
    throw err;
  }
  if (options.commit && !options.commit(value)) await rollback(client);
  else await client.query('COMMIT');
  return value;
}

async function rollback(client: pg.ClientBase): Promise<void> {
  // A lost connection has rolled the transaction back on the server already.
  if (lost.has(client)) return;
  await client.query('ROLLBACK').catch((err: Error) => markBroken(client, err));
}

export async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((pool) => pool.end()));
}
