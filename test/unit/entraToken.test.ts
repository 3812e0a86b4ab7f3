import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AccessToken, TokenCredential } from '@azure/identity';
import {
  POSTGRES_ENTRA_SCOPE,
  createEntraPasswordProvider,
  createCredential,
  credentialFor,
  explainEntraAuthFailure,
} from '../../src/connections/entraToken.js';

const HOUR = 3_600_000;
const MIN = 60_000;

/** A fake credential that counts calls and hands out numbered tokens valid for `lifetimeMs` (from the faked clock). */
class CountingCredential implements TokenCredential {
  calls = 0;
  scopes: string[] = [];
  failWith: Error | undefined;
  delayMs = 0;
  constructor(private readonly lifetimeMs = HOUR) {}
  async getToken(scopes: string | string[]): Promise<AccessToken | null> {
    this.calls++;
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failWith) throw this.failWith;
    return { token: `token-${this.calls}`, expiresOnTimestamp: Date.now() + this.lifetimeMs };
  }
}

// getBearerTokenProvider reads Date.now and waits with setTimeout: both faked, so the clock
// is ours. The refresh window (2 minutes) and the last-second wait are the library's.
beforeEach(() => {
  vi.useFakeTimers({ now: 0, toFake: ['Date', 'setTimeout', 'clearTimeout'] }); // setImmediate stays real: a real turn of the event loop
});
afterEach(() => {
  vi.useRealTimers();
});

/** Lets a background refresh started by the previous call finish. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('createEntraPasswordProvider', () => {
  it('asks for the ossrdbms-aad scope and caches the token', async () => {
    const credential = new CountingCredential();
    const password = createEntraPasswordProvider({ credential });
    expect(await password()).toBe('token-1');
    vi.setSystemTime(30 * MIN);
    expect(await password()).toBe('token-1');
    expect(await password()).toBe('token-1');
    expect(credential.calls).toBe(1);
    expect(credential.scopes).toEqual([POSTGRES_ENTRA_SCOPE]);
    expect(POSTGRES_ENTRA_SCOPE).toBe('https://ossrdbms-aad.database.windows.net/.default');
  });

  it('refreshes in the background before expiry, so connects never wait for it', async () => {
    const credential = new CountingCredential();
    const password = createEntraPasswordProvider({ credential });
    await password();
    vi.setSystemTime(HOUR - 2 * MIN - 1000); // outside the refresh window
    expect(await password()).toBe('token-1');
    await settle();
    expect(credential.calls).toBe(1);
    vi.setSystemTime(HOUR - MIN); // inside it: this connect still gets the cached token, the next one the new token
    expect(await password()).toBe('token-1');
    await settle();
    expect(await password()).toBe('token-2');
    expect(credential.calls).toBe(2);
  });

  it('shares one refresh between concurrent connects', async () => {
    const credential = new CountingCredential();
    credential.delayMs = 20;
    const password = createEntraPasswordProvider({ credential });
    const all = Promise.all(Array.from({ length: 10 }, () => password()));
    await vi.advanceTimersByTimeAsync(20);
    expect(new Set(await all)).toEqual(new Set(['token-1']));
    expect(credential.calls).toBe(1);
  });

  it('keeps using a still-valid token when a refresh fails, retries on the next connect, and leaves no unhandled rejection', async () => {
    // Without keepValidTokenOnFailure the library retries the background refresh every 3 s
    // until the token expires and then rejects a promise nobody holds: the process dies.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const credential = new CountingCredential(90_000); // inside the 2-minute window from the start
      const password = createEntraPasswordProvider({ credential });
      expect(await password()).toBe('token-1');
      credential.failWith = new Error('network blip');
      expect(await password()).toBe('token-1'); // starts a background refresh, which fails
      await vi.advanceTimersByTimeAsync(60_000);
      expect(await password()).toBe('token-1'); // still valid: still used, and a new refresh tried
      await vi.advanceTimersByTimeAsync(60_000); // past the token's expiry, no connect waiting
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
      credential.failWith = undefined;
      expect(await password()).toMatch(/^token-\d+$/);
      expect(await password()).not.toBe('token-1');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('fails with an error naming the identity and the grant when there is no valid token', async () => {
    const credential = new CountingCredential();
    credential.failWith = new Error('AADSTS700016: identity not found');
    const password = createEntraPasswordProvider({ credential, identityName: 'id-blob2pg-abc' });
    const err = (await password().catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('EntraTokenError');
    expect(err.message).toContain("'id-blob2pg-abc'");
    expect(err.message).toContain("pgaadauth_create_principal('id-blob2pg-abc', false, false)");
    expect(err.message).toMatch(/Microsoft Entra administrator/);
    expect(err.message).toContain('AADSTS700016');
    expect((err as Error & { cause?: unknown }).cause).toBe(credential.failWith);
    // a failed refresh is not cached: the next call asks again
    credential.failWith = undefined;
    expect(await password()).toBe('token-2');
  });

  it('says what to do when no identity is available at all, without leaking secrets', async () => {
    const credential = new CountingCredential();
    const unavailable = new Error('ManagedIdentityCredential: no endpoint; tried Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln');
    unavailable.name = 'CredentialUnavailableError';
    credential.failWith = unavailable;
    const password = createEntraPasswordProvider({ credential, identityName: 'id-x' });
    const err = (await password().catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/az login/);
    expect(err.message).toMatch(/TARGET_POSTGRES__clientId/);
    expect(err.message).not.toContain('eyJ');
  });

  it('rejects an empty token', async () => {
    const credential: TokenCredential = { getToken: async () => null };
    const password = createEntraPasswordProvider({ credential });
    await expect(password()).rejects.toThrow(/returned no token/);
  });
});

describe('explainEntraAuthFailure', () => {
  it('adds the grant to PostgreSQL auth failures (28000 / 28P01) only', () => {
    const denied = Object.assign(new Error('password authentication failed for user "id-x"'), { code: '28P01' });
    const explained = explainEntraAuthFailure(denied, 'id-x') as Error;
    expect(explained.message).toContain("pgaadauth_create_principal('id-x', false, false)");
    const other = Object.assign(new Error('relation does not exist'), { code: '42P01' });
    expect(explainEntraAuthFailure(other, 'id-x')).toBe(other);
  });
});

describe('credentialFor', () => {
  it('uses ManagedIdentityCredential for a client ID on Azure compute, else DefaultAzureCredential', async () => {
    const id = '00000000-0000-0000-0000-000000000003';
    expect((await createCredential(id, { IDENTITY_ENDPOINT: 'http://localhost:4141/msi/token' })).constructor.name).toBe('ManagedIdentityCredential');
    expect((await createCredential(id, {})).constructor.name).toBe('DefaultAzureCredential');
    expect((await createCredential(undefined, { IDENTITY_ENDPOINT: 'http://x' })).constructor.name).toBe('DefaultAzureCredential');
  });

  it('creates the credential on the first token request and asks it for every token', async () => {
    // A managed identity endpoint that refuses: the error must come from the real credential.
    const credential = credentialFor('00000000-0000-0000-0000-000000000004', { IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token' });
    await expect(credential.getToken(POSTGRES_ENTRA_SCOPE)).rejects.toThrow(/ManagedIdentityCredential/);
  });
});
