/**
 * Microsoft Entra tokens as PostgreSQL passwords.
 *
 * Azure Database for PostgreSQL (Flexible Server, and Cosmos DB for PostgreSQL / Citus)
 * accepts an Entra access token for the `ossrdbms-aad` resource as the password of an
 * Entra-mapped role: https://learn.microsoft.com/azure/postgresql/flexible-server/how-to-connect-with-managed-identity
 * node-postgres calls `password` once per new connection, so the provider caches the
 * token (tokens live ~1 h; a pool opens connections all the time) and refreshes it a
 * margin before it expires. Concurrent connects share one refresh.
 */
import type { AccessToken, TokenCredential } from '@azure/identity';
import { redactSecrets } from '../redact.js';

export const POSTGRES_ENTRA_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

export interface EntraPasswordProviderOptions {
  credential: TokenCredential;
  /** Refresh when the token expires within this margin. Default 5 minutes. */
  refreshMarginMs?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
  /** The PostgreSQL role the token is for (the identity's name): named in error messages. */
  identityName?: string;
}

export class EntraTokenError extends Error {
  override readonly name = 'EntraTokenError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;

export function createEntraPasswordProvider(options: EntraPasswordProviderOptions): () => Promise<string> {
  const { credential } = options;
  const marginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
  const now = options.now ?? Date.now;
  let cached: AccessToken | undefined;
  let refreshing: Promise<string> | undefined;

  async function refresh(): Promise<string> {
    let token: AccessToken | null;
    try {
      token = await credential.getToken(POSTGRES_ENTRA_SCOPE);
    } catch (err) {
      // A token that is near expiry but still valid beats failing the connection: the
      // next connect tries the refresh again.
      if (cached && cached.expiresOnTimestamp > now()) return cached.token;
      throw tokenError(err, options.identityName);
    }
    if (!token?.token) {
      if (cached && cached.expiresOnTimestamp > now()) return cached.token;
      throw tokenError(new Error('the credential returned no token'), options.identityName);
    }
    cached = token;
    return token.token;
  }

  return async function entraPassword(): Promise<string> {
    if (cached && cached.expiresOnTimestamp - marginMs > now()) return cached.token;
    refreshing ??= refresh().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  };
}

/** What to do when the server refuses the identity: say which identity, and how to grant it. */
export function entraGrantHint(identityName: string | undefined): string {
  const who = identityName ? `'${identityName}'` : `'<managed identity name>'`;
  return (
    `make identity ${who} a Microsoft Entra administrator of the server, or create its role as an ` +
    `Entra administrator with: SELECT * FROM pgaadauth_create_principal(${who}, false, false); ` +
    `then GRANT it the privileges the pipeline needs (CREATE on the database for the ledger schema, ` +
    `INSERT/UPDATE/SELECT on the target tables)`
  );
}

function tokenError(err: unknown, identityName: string | undefined): EntraTokenError {
  const reason = redactSecrets(err instanceof Error ? err.message : String(err));
  const unavailable = err instanceof Error && err.name === 'CredentialUnavailableError';
  const fix = unavailable
    ? 'no Azure identity is available here: in Azure, assign the managed identity to the Function App and set ' +
      'TARGET_POSTGRES__clientId to its client ID; locally, run `az login` (or set a connection string with a password)'
    : `check that the identity exists and can get tokens for ${POSTGRES_ENTRA_SCOPE}, then ${entraGrantHint(identityName)}`;
  return new EntraTokenError(
    `could not get a Microsoft Entra token for PostgreSQL${identityName ? ` as '${identityName}'` : ''}: ${reason}; ${fix}`,
    { cause: err },
  );
}

/**
 * Wraps a PostgreSQL authentication failure (SQLSTATE 28000 / 28P01: the token was valid
 * but the server has no role for it) with the grant that fixes it. Other errors pass through.
 */
export function explainEntraAuthFailure(err: unknown, identityName: string | undefined): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== '28000' && code !== '28P01') return err;
  const reason = redactSecrets(err instanceof Error ? err.message : String(err));
  return new EntraTokenError(`PostgreSQL refused Microsoft Entra sign-in${identityName ? ` for '${identityName}'` : ''} (${code}): ${reason}; ${entraGrantHint(identityName)}`, {
    cause: err,
  });
}

/** True when running on Azure compute that exposes a managed identity endpoint. */
export function hasManagedIdentityEndpoint(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return Boolean(env.IDENTITY_ENDPOINT || env.MSI_ENDPOINT);
}

/**
 * The credential for an identity-based connection. With a client ID on Azure compute,
 * ManagedIdentityCredential straight away (no probing of the DefaultAzureCredential
 * chain on every cold start); otherwise DefaultAzureCredential, which reaches the same
 * user-assigned identity in Azure and the developer's `az login` locally.
 */
export async function createCredential(clientId?: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<TokenCredential> {
  const { DefaultAzureCredential, ManagedIdentityCredential } = await import('@azure/identity');
  if (clientId && hasManagedIdentityEndpoint(env)) return new ManagedIdentityCredential({ clientId });
  return clientId ? new DefaultAzureCredential({ managedIdentityClientId: clientId }) : new DefaultAzureCredential();
}

/**
 * createCredential's credential, created on the first token request. @azure/identity (with
 * MSAL) is the largest import of the app (bench/README.md, "Start-up"), and only Entra
 * connections need it: a connection string never asks for a token, so it never loads.
 */
export function credentialFor(clientId?: string, env: Readonly<Record<string, string | undefined>> = process.env): TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  return {
    getToken: async (scopes, options) => (await (credential ??= createCredential(clientId, env))).getToken(scopes, options),
  };
}
