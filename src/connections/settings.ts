/**
 * Reads Functions-style connection settings from an environment object. Pure: no I/O.
 *
 * The convention is the one Azure Functions uses for bindings
 * (https://learn.microsoft.com/azure/azure-functions/functions-reference#connections):
 *  - `NAME` holds a connection string (local dev, Azurite, or a password-based server);
 *  - otherwise `NAME__<property>` settings describe an identity-based connection, e.g.
 *    `NAME__blobServiceUri` + optional `NAME__clientId` for a user-assigned identity.
 * `NAME:property` (the form used in local.settings.json nesting) is accepted too, and
 * lookups fall back to a case-insensitive match because the Functions host's
 * configuration is case-insensitive while Linux environment variables are not.
 *
 * Error messages name the settings that are missing or wrong, never their values: a
 * value may be a connection string with a key or password in it.
 */

import { ConfigError } from '../errors.js';

export { ConfigError };

export type Env = Readonly<Record<string, string | undefined>>;

export type BlobConnection =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; serviceUri: string; clientId?: string };

/**
 * `disable` only for local servers. `require` is upgraded to certificate verification by
 * pgPoolConfigFor (Azure's server certificates chain to public roots in Node's bundle).
 */
export type PgSslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export type PostgresConnection =
  | { kind: 'connectionString'; connectionString: string }
  | {
      kind: 'entra';
      host: string;
      port: number;
      database: string;
      user: string;
      clientId?: string;
      ssl: PgSslMode;
    };

/** The value of `NAME__key` (or `NAME:key`), trimmed; undefined when unset or blank. */
function connectionSetting(env: Env, name: string, key?: string): string | undefined {
  const candidates = key === undefined ? [name] : [`${name}__${key}`, `${name}:${key}`];
  for (const candidate of candidates) {
    const value = nonBlank(env[candidate]);
    if (value !== undefined) return value;
  }
  const wanted = new Set(candidates.map((c) => c.toLowerCase()));
  for (const [k, v] of Object.entries(env)) {
    if (wanted.has(k.toLowerCase())) {
      const value = nonBlank(v);
      if (value !== undefined) return value;
    }
  }
  return undefined;
}

function nonBlank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

// ---------------------------------------------------------------------------------------
// Blob Storage

export function resolveBlobConnection(name: string, env: Env = process.env): BlobConnection {
  const direct = connectionSetting(env, name);
  if (direct !== undefined) {
    // Same rule as the Functions host: a plain `NAME` value is a connection string.
    if (!/^UseDevelopmentStorage=true/i.test(direct) && !/(^|;)\s*[A-Za-z]+\s*=/.test(direct)) {
      throw new ConfigError(
        `storage connection "${name}": setting ${name} is not a storage connection string ` +
          `(expected "AccountName=…;AccountKey=…", "BlobEndpoint=…;SharedAccessSignature=…" or ` +
          `"UseDevelopmentStorage=true"); for identity-based access set ${name}__blobServiceUri instead`,
      );
    }
    return { kind: 'connectionString', connectionString: direct };
  }

  const accountName = connectionSetting(env, name, 'accountName');
  const serviceUri =
    connectionSetting(env, name, 'serviceUri') ??
    connectionSetting(env, name, 'blobServiceUri') ??
    (accountName ? `https://${accountName}.blob.core.windows.net` : undefined);
  if (serviceUri === undefined) {
    throw new ConfigError(
      `storage connection "${name}" is not configured: set ${name} (a connection string) or ` +
        `${name}__blobServiceUri / ${name}__serviceUri (identity-based, optional ${name}__clientId)`,
    );
  }
  checkServiceUri(name, serviceUri);

  const credential = connectionSetting(env, name, 'credential');
  if (credential !== undefined && credential.toLowerCase() !== 'managedidentity') {
    throw new ConfigError(
      `storage connection "${name}": ${name}__credential must be "managedidentity" (or unset for DefaultAzureCredential)`,
    );
  }
  const clientId = connectionSetting(env, name, 'clientId');
  return clientId === undefined ? { kind: 'identity', serviceUri } : { kind: 'identity', serviceUri, clientId };
}

function checkServiceUri(name: string, serviceUri: string): void {
  let url: URL;
  try {
    url = new URL(serviceUri);
  } catch {
    throw new ConfigError(`storage connection "${name}": ${name}__blobServiceUri / ${name}__serviceUri is not a URL`);
  }
  if (url.search) {
    // A SAS token in the service URI would be a secret stored in a setting: not this form.
    throw new ConfigError(
      `storage connection "${name}": ${name}__blobServiceUri / ${name}__serviceUri must not carry a query string (SAS); ` +
        `put a SAS connection string in ${name} instead`,
    );
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLocalHost(url.hostname))) {
    throw new ConfigError(
      `storage connection "${name}": ${name}__blobServiceUri / ${name}__serviceUri must be https (http only for a local emulator)`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

export function resolvePostgresConnection(name: string, env: Env = process.env): PostgresConnection {
  const direct = connectionSetting(env, name);
  if (direct !== undefined) {
    const isUrl = /^postgres(ql)?:\/\//i.test(direct);
    const isConninfo = /^\s*[A-Za-z_]+\s*=/.test(direct);
    if (!isUrl && !isConninfo) {
      throw new ConfigError(
        `PostgreSQL connection "${name}": setting ${name} is neither a postgres:// URL nor a ` +
          `conninfo string ("host=… dbname=… user=…"); for Microsoft Entra authentication set ` +
          `${name}__host, ${name}__database and ${name}__user instead`,
      );
    }
    return { kind: 'connectionString', connectionString: direct };
  }

  const host = connectionSetting(env, name, 'host');
  const database = connectionSetting(env, name, 'database');
  const user = connectionSetting(env, name, 'user');
  const missing = [
    host === undefined ? `${name}__host` : undefined,
    database === undefined ? `${name}__database` : undefined,
    user === undefined ? `${name}__user` : undefined,
  ].filter((s): s is string => s !== undefined);
  if (host === undefined || database === undefined || user === undefined) {
    const partly = missing.length < 3;
    throw new ConfigError(
      partly
        ? `PostgreSQL connection "${name}" is incomplete: missing ${missing.join(', ')}`
        : `PostgreSQL connection "${name}" is not configured: set ${name} (a postgres:// URL or conninfo string) ` +
            `or ${name}__host, ${name}__database and ${name}__user (Microsoft Entra authentication)`,
    );
  }

  const portSetting = connectionSetting(env, name, 'port');
  let port = 5432;
  if (portSetting !== undefined) {
    port = Number(portSetting);
    if (!/^\d+$/.test(portSetting) || port < 1 || port > 65535) {
      throw new ConfigError(`PostgreSQL connection "${name}": ${name}__port must be a port number (1-65535)`);
    }
  }

  const local = isLocalHost(host);
  const modeSetting = connectionSetting(env, name, 'sslmode')?.toLowerCase();
  if (modeSetting !== undefined && !(SSL_MODES as readonly string[]).includes(modeSetting)) {
    throw new ConfigError(`PostgreSQL connection "${name}": ${name}__sslmode must be one of ${SSL_MODES.join(', ')}`);
  }
  let ssl: PgSslMode;
  if (modeSetting === undefined) ssl = local ? 'disable' : 'verify-full';
  else if (modeSetting === 'require' || modeSetting === 'verify-ca' || modeSetting === 'verify-full') ssl = modeSetting;
  else if (local) ssl = 'disable'; // disable / allow / prefer: node-postgres has no opportunistic TLS.
  else {
    // A Microsoft Entra token is a bearer credential: it must never cross the network in clear.
    throw new ConfigError(
      `PostgreSQL connection "${name}": ${name}__sslmode=${modeSetting} is not allowed for a remote host; ` +
        `use require, verify-ca or verify-full (TLS is required to send a Microsoft Entra token)`,
    );
  }

  const clientId = connectionSetting(env, name, 'clientId');
  return {
    kind: 'entra',
    host,
    port,
    database,
    user,
    ...(clientId === undefined ? {} : { clientId }),
    ssl,
  };
}

/** localhost, loopback addresses and Unix socket directories. */
function isLocalHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h.startsWith('/') || h.endsWith('.localhost');
}
