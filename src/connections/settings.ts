/**
 * Reads Functions-style connection settings (`NAME`, or `NAME__serviceUri` …) from an
 * environment. Pure: no I/O. Error messages name settings, never their values.
 */
import { ConfigError } from '../errors.js';

export type Env = Record<string, string | undefined>;

export type BlobConnection =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; serviceUri: string; clientId?: string };

export type PostgresConnection = { kind: 'connectionString'; connectionString: string };

export function resolveBlobConnection(name: string, env: Env): BlobConnection {
  const direct = env[name];
  if (direct) return { kind: 'connectionString', connectionString: direct };
  const serviceUri = env[`${name}__blobServiceUri`] ?? env[`${name}__serviceUri`];
  if (serviceUri) return { kind: 'identity', serviceUri, clientId: env[`${name}__clientId`] };
  throw new ConfigError(
    `storage connection "${name}" is not configured: set ${name} (a connection string) or ${name}__blobServiceUri / ${name}__serviceUri (identity)`,
  );
}

export function resolvePostgresConnection(name: string, env: Env): PostgresConnection {
  const direct = env[name];
  if (direct) return { kind: 'connectionString', connectionString: direct };
  throw new ConfigError(`PostgreSQL connection "${name}" is not configured: set ${name} to a postgres:// URL or a conninfo string`);
}
