/**
 * The target server's version: asked once per client, and the one place that says which
 * majors blob2pg supports. The test matrix (test/matrix.mjs) runs the integration tests on
 * every major from OLDEST_SUPPORTED_MAJOR to 18; features that need a newer server have a
 * fallback there (MERGE → UPDATE + INSERT below 15, pg_input_is_valid → PL/pgSQL below 16).
 */
import type pg from 'pg';
import { ConfigError } from '../errors.js';

/** Azure Database for PostgreSQL runs 13 (extended support) to 18; nothing older is tested. */
export const OLDEST_SUPPORTED_MAJOR = 13;

const versions = new WeakMap<object, number>();

/** `server_version_num`, e.g. 140023 for 14.23; cached per client (one client, one server). */
export async function serverVersionNum(client: pg.ClientBase): Promise<number> {
  let version = versions.get(client);
  if (version === undefined) {
    version = Number((await client.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version_num'])).rows[0]!.v);
    versions.set(client, version);
  }
  return version;
}

/** `server_version_num` asked by a caller's own query (ensureLedger's first statement): remembered as serverVersionNum's answer. */
export function rememberServerVersion(client: pg.ClientBase, versionNum: number): void {
  versions.set(client, versionNum);
}

/** Why blob2pg refuses this server, or undefined. Pure. */
export function serverVersionProblem(versionNum: number): string | undefined {
  const major = Math.floor(versionNum / 10000);
  if (major >= OLDEST_SUPPORTED_MAJOR) return undefined;
  return `PostgreSQL ${major} is not supported: blob2pg needs PostgreSQL ${OLDEST_SUPPORTED_MAJOR} or later (tested on ${OLDEST_SUPPORTED_MAJOR} to 18, the majors Azure Database for PostgreSQL runs)`;
}

/** Throws a config error naming the version when the server is older than blob2pg supports. */
export async function assertSupportedServer(client: pg.ClientBase): Promise<void> {
  const problem = serverVersionProblem(await serverVersionNum(client));
  if (problem) throw new ConfigError(problem);
}
