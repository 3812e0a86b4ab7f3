import { describe, it, expect } from 'vitest';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { pgPoolConfigFor } from '../../src/connections/pgPoolConfig.js';
import { POSTGRES_ENTRA_SCOPE } from '../../src/connections/entraToken.js';

function fakeCredentialFactory() {
  const seen: Array<string | undefined> = [];
  let calls = 0;
  const factory = (clientId?: string): TokenCredential => {
    seen.push(clientId);
    return {
      async getToken(scopes): Promise<AccessToken> {
        calls++;
        expect([scopes].flat()).toEqual([POSTGRES_ENTRA_SCOPE]); // getBearerTokenProvider passes an array
        return { token: `tok-${calls}`, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
  };
  return { factory, seen, calls: () => calls };
}

const ENTRA = {
  TARGET_POSTGRES__host: 'psql-abc.postgres.database.azure.com',
  TARGET_POSTGRES__database: 'blob2pg',
  TARGET_POSTGRES__user: 'id-blob2pg-abc',
  TARGET_POSTGRES__clientId: '00000000-0000-0000-0000-000000000004',
};

describe('pgPoolConfigFor', () => {
  it('passes a connection string through, password and all', () => {
    const url = 'postgres://app:pw@localhost:5432/app';
    expect(pgPoolConfigFor('TARGET_POSTGRES', { TARGET_POSTGRES: url })).toEqual({
      connectionString: url,
      max: 10,
      application_name: 'blob2pg',
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
  });

  it('builds a passwordless Entra config: token function, verified TLS, the identity client ID', async () => {
    const fake = fakeCredentialFactory();
    const config = pgPoolConfigFor('TARGET_POSTGRES', ENTRA, { credentialFactory: fake.factory });
    expect(config).toMatchObject({
      host: 'psql-abc.postgres.database.azure.com',
      port: 5432,
      database: 'blob2pg',
      user: 'id-blob2pg-abc',
      ssl: { rejectUnauthorized: true },
      max: 10,
    });
    expect(config.connectionString).toBeUndefined();
    expect(fake.seen).toEqual(['00000000-0000-0000-0000-000000000004']);
    expect(typeof config.password).toBe('function');
    const password = config.password as () => Promise<string>;
    expect(await password()).toBe('tok-1');
    expect(await password()).toBe('tok-1');
    expect(fake.calls()).toBe(1);
  });

  it('verifies TLS even for sslmode=require; verify-ca skips the host name check', () => {
    const fake = fakeCredentialFactory();
    const require = pgPoolConfigFor('TARGET_POSTGRES', { ...ENTRA, TARGET_POSTGRES__sslmode: 'require' }, { credentialFactory: fake.factory });
    expect(require.ssl).toEqual({ rejectUnauthorized: true });
    const ca = pgPoolConfigFor('TARGET_POSTGRES', { ...ENTRA, TARGET_POSTGRES__sslmode: 'verify-ca' }, { credentialFactory: fake.factory });
    expect(ca.ssl).toMatchObject({ rejectUnauthorized: true });
    expect(typeof (ca.ssl as { checkServerIdentity?: unknown }).checkServerIdentity).toBe('function');
  });

  it('uses no TLS for a local host', () => {
    const fake = fakeCredentialFactory();
    const config = pgPoolConfigFor('T', { T__host: 'localhost', T__database: 'd', T__user: 'u', T__port: '5433' }, { credentialFactory: fake.factory });
    expect(config).toMatchObject({ host: 'localhost', port: 5433, ssl: false });
  });

  it('takes the pool size from the option, then BLOB2PG_PG_POOL_MAX, then 10', () => {
    const url = 'postgres://a@localhost/d';
    expect(pgPoolConfigFor('T', { T: url, BLOB2PG_PG_POOL_MAX: '4' }).max).toBe(4);
    expect(pgPoolConfigFor('T', { T: url, BLOB2PG_PG_POOL_MAX: '4' }, { max: 2 }).max).toBe(2);
    expect(() => pgPoolConfigFor('T', { T: url, BLOB2PG_PG_POOL_MAX: 'lots' })).toThrow(/BLOB2PG_PG_POOL_MAX/);
  });
});

describe('libpq key/value connection strings', () => {
  it('are parsed into host, port, database, user and password (quoted values with escapes)', () => {
    const config = pgPoolConfigFor('TARGET_POSTGRES', { TARGET_POSTGRES: String.raw`host=db.internal port=6432 dbname=app user=loader password='p w \'q\' \\ x' sslmode=disable` });
    expect(config).toMatchObject({ host: 'db.internal', port: 6432, database: 'app', user: 'loader', ssl: false, keepAlive: true });
    expect(config.password).toBe(String.raw`p w 'q' \ x`);
    expect(config.connectionString).toBeUndefined();
  });

  it('are refused before connecting, naming the keyword and never a value', () => {
    expect(() => pgPoolConfigFor('TARGET_POSTGRES', { TARGET_POSTGRES: 'host=db service=prod password=hunter2' })).toThrow(/conninfo keyword "service" is not supported/);
    expect(() => pgPoolConfigFor('TARGET_POSTGRES', { TARGET_POSTGRES: "host=db password='hunter2" })).toThrow(/quoted value of "password" is not closed/);
    expect(() => pgPoolConfigFor('TARGET_POSTGRES', { TARGET_POSTGRES: "host=db password='hunter2" })).not.toThrow(/hunter2/);
  });
});
