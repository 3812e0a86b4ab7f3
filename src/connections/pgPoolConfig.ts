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
}

export const DEFAULT_PG_POOL_MAX = 10;

export function pgPoolConfigFor(name: string, env: Env = process.env, options: PgPoolConfigOptions = {}): pg.PoolConfig {
  const connection = resolvePostgresConnection(name, env);
  const max = options.max ?? poolMaxFrom(env);
  if (connection.kind === 'connectionString') {
    if (/^postgres(ql)?:\/\//i.test(connection.connectionString)) return { connectionString: connection.connectionString, max, application_name: 'blob2pg', ...KEEPALIVE };
    // node-postgres reads only URLs (a conninfo string would be misread as a host name).
    const { sslmode, ...fields } = parseConninfo(name, connection.connectionString);
    return { ...fields, ...(sslmode && { ssl: tlsFor(sslmode) }), max, application_name: fields.application_name ?? 'blob2pg', ...KEEPALIVE };
  }
  const credential = (options.credentialFactory ?? credentialFor)(connection.clientId);
  return {
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: createEntraPasswordProvider({ credential, identityName: connection.user }),
    ssl: tlsFor(connection.ssl),
    max,
    application_name: 'blob2pg',
    ...KEEPALIVE,
  };
}

/**
 * TCP keepalive on every connection: a peer that vanished without a FIN or RST (a failover,
 * a dropped NAT entry) is noticed by the kernel in minutes instead of never.
 */
const KEEPALIVE = { keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as const;

/** The libpq keywords blob2pg reads from a conninfo string; anything else is refused by name. */
const CONNINFO_KEYS = new Set(['host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'sslmode', 'application_name', 'connect_timeout']);

/**
 * A libpq key/value connection string (`host=db port=5432 dbname=app user=u password='p w'`,
 * https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-KEYWORD-VALUE)
 * as pg config. Refused before connecting, naming the keyword (never a value), when it does
 * not parse or uses a keyword this loader does not read.
 */
function parseConninfo(
  name: string,
  text: string,
): { host?: string; port?: number; database?: string; user?: string; password?: string; application_name?: string; connectionTimeoutMillis?: number; sslmode?: PgSslMode } {
  const fields = new Map<string, string>();
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  skipSpace();
  while (i < text.length) {
    const key = /^[A-Za-z_]+/.exec(text.slice(i))?.[0];
    if (!key) throw new ConfigError(`PostgreSQL connection "${name}": setting ${name} is not a valid conninfo string (expected keyword=value at character ${i + 1})`);
    i += key.length;
    skipSpace();
    if (text[i] !== '=') throw new ConfigError(`PostgreSQL connection "${name}": setting ${name}: "${key}" is not followed by "="`);
    i++;
    skipSpace();
    let value = '';
    if (text[i] === "'") {
      i++;
      while (i < text.length && text[i] !== "'") {
        if (text[i] === '\\') i++;
        value += text[i++] ?? '';
      }
      if (text[i] !== "'") throw new ConfigError(`PostgreSQL connection "${name}": setting ${name}: the quoted value of "${key}" is not closed`);
      i++;
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) {
        if (text[i] === '\\') i++;
        value += text[i++] ?? '';
      }
    }
    if (!CONNINFO_KEYS.has(key.toLowerCase())) {
      throw new ConfigError(`PostgreSQL connection "${name}": setting ${name}: conninfo keyword "${key}" is not supported (use ${[...CONNINFO_KEYS].join(', ')}, or a postgres:// URL)`);
    }
    fields.set(key.toLowerCase(), value);
    skipSpace();
  }
  const port = fields.get('port');
  if (port !== undefined && !/^\d{1,5}$/.test(port)) throw new ConfigError(`PostgreSQL connection "${name}": setting ${name}: port must be a number`);
  const timeout = fields.get('connect_timeout');
  if (timeout !== undefined && !/^\d+$/.test(timeout)) throw new ConfigError(`PostgreSQL connection "${name}": setting ${name}: connect_timeout must be whole seconds`);
  const mode = fields.get('sslmode')?.toLowerCase();
  if (mode !== undefined && !['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) {
    throw new ConfigError(`PostgreSQL connection "${name}": setting ${name}: sslmode must be disable, allow, prefer, require, verify-ca or verify-full`);
  }
  const host = fields.get('host') ?? fields.get('hostaddr');
  return {
    ...(host !== undefined && { host }),
    ...(port !== undefined && { port: Number(port) }),
    ...(fields.has('dbname') && { database: fields.get('dbname') }),
    ...(fields.has('user') && { user: fields.get('user') }),
    ...(fields.has('password') && { password: fields.get('password') }),
    ...(fields.has('application_name') && { application_name: fields.get('application_name') }),
    ...(timeout !== undefined && { connectionTimeoutMillis: Number(timeout) * 1000 }),
    // allow / prefer: node-postgres has no opportunistic TLS; as libpq without a server that offers it.
    ...(mode !== undefined && { sslmode: mode === 'allow' || mode === 'prefer' ? 'disable' : (mode as PgSslMode) }),
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
