/**
 * The pg.Pool configuration for a named PostgreSQL connection (see settings.ts).
 *
 * Connection-string form: passed to pg as is (a password in it keeps working).
 * Entra form: no password anywhere; pg calls `password()` per new connection and gets a
 * cached Microsoft Entra token (entraToken.ts). TLS with certificate verification for
 * every non-local host: the token is a bearer credential.
 */
import type { ConnectionOptions } from 'node:tls';
import type { TokenCredential } from '@azure/identity';
import type pg from 'pg';
import { createEntraPasswordProvider, credentialFor } from './entraToken.js';
import { ConfigError, resolvePostgresConnection, type Env, type PgSslMode } from './settings.js';

export interface PgPoolConfigOptions {
  /** Pool size for this process. Default: BLOB2PG_PG_POOL_MAX, else 10. */
  max?: number;
  /** Builds the credential for the Entra form. Default credentialFor (entraToken.ts). */
  credentialFactory?: (clientId?: string) => TokenCredential;
  /** Refresh margin of the token cache. Default 5 minutes. */
  refreshMarginMs?: number;
}

export const DEFAULT_PG_POOL_MAX = 10;

export function pgPoolConfigFor(name: string, env: Env = process.env, options: PgPoolConfigOptions = {}): pg.PoolConfig {
  const connection = resolvePostgresConnection(name, env);
  const max = options.max ?? poolMaxFrom(env);
  if (connection.kind === 'connectionString') {
    return { connectionString: connection.connectionString, max, application_name: 'blob2pg' };
  }
  const credential = (options.credentialFactory ?? credentialFor)(connection.clientId);
  return {
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: createEntraPasswordProvider({
      credential,
      identityName: connection.user,
      ...(options.refreshMarginMs === undefined ? {} : { refreshMarginMs: options.refreshMarginMs }),
    }),
    ssl: tlsFor(connection.ssl),
    max,
    application_name: 'blob2pg',
  };
}

function poolMaxFrom(env: Env): number {
  const raw = env.BLOB2PG_PG_POOL_MAX?.trim();
  if (!raw) return DEFAULT_PG_POOL_MAX;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1) {
    throw new ConfigError('BLOB2PG_PG_POOL_MAX must be a positive integer (connections per instance)');
  }
  return n;
}

/**
 * `require` verifies too: unlike libpq's `require`, there is no reason not to, since Azure
 * Database for PostgreSQL certificates chain to roots in Node's CA bundle (DigiCert Global
 * Root G2 / Microsoft RSA Root 2017), and an unverified TLS session would hand the token
 * to whoever answers. `verify-ca` checks the chain but not the host name, as in libpq.
 */
function tlsFor(mode: PgSslMode): false | ConnectionOptions {
  switch (mode) {
    case 'disable':
      return false;
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'require':
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}
