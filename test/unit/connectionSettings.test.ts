import { describe, it, expect } from 'vitest';
import type { TokenCredential } from '@azure/identity';
import { blobServiceClientFor } from '../../src/connections/blobServiceClient.js';
import { ConfigError, resolveBlobConnection, resolvePostgresConnection } from '../../src/connections/settings.js';

const ACCOUNT_KEY = 'c2VjcmV0LWtleS12YWx1ZQ==';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('resolveBlobConnection', () => {
  it('reads NAME as a connection string', () => {
    const cs = `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${ACCOUNT_KEY};EndpointSuffix=core.windows.net`;
    expect(resolveBlobConnection('SOURCE_STORAGE', { SOURCE_STORAGE: cs })).toEqual({ kind: 'connectionString', connectionString: cs });
    expect(resolveBlobConnection('S', { S: 'UseDevelopmentStorage=true' })).toEqual({
      kind: 'connectionString',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });

  it('prefers NAME over NAME__* (the Functions host rule)', () => {
    const env = { S: 'UseDevelopmentStorage=true', S__blobServiceUri: 'https://acct.blob.core.windows.net' };
    expect(resolveBlobConnection('S', env).kind).toBe('connectionString');
  });

  it('reads NAME__blobServiceUri / NAME__serviceUri with an optional client ID', () => {
    expect(resolveBlobConnection('S', { S__blobServiceUri: 'https://acct.blob.core.windows.net' })).toEqual({
      kind: 'identity',
      serviceUri: 'https://acct.blob.core.windows.net',
    });
    expect(
      resolveBlobConnection('S', {
        S__serviceUri: 'https://acct.blob.core.windows.net/',
        S__clientId: '00000000-0000-0000-0000-000000000001',
        S__credential: 'managedidentity',
      }),
    ).toEqual({ kind: 'identity', serviceUri: 'https://acct.blob.core.windows.net/', clientId: '00000000-0000-0000-0000-000000000001' });
  });

  it('accepts NAME__accountName, NAME:key and case differences', () => {
    expect(resolveBlobConnection('S', { S__accountName: 'acct' })).toMatchObject({ serviceUri: 'https://acct.blob.core.windows.net' });
    expect(resolveBlobConnection('S', { 'S:blobServiceUri': 'https://a.blob.core.windows.net' })).toMatchObject({ kind: 'identity' });
    expect(resolveBlobConnection('S', { s__BLOBSERVICEURI: 'https://a.blob.core.windows.net' })).toMatchObject({ kind: 'identity' });
  });

  it('allows http only for a local emulator', () => {
    expect(resolveBlobConnection('S', { S__blobServiceUri: 'http://127.0.0.1:10000/devstoreaccount1' }).kind).toBe('identity');
    expect(thrown(() => resolveBlobConnection('S', { S__blobServiceUri: 'http://acct.blob.core.windows.net' })).message).toMatch(/https/);
  });

  it('names the missing settings in a ConfigError', () => {
    const err = thrown(() => resolveBlobConnection('SOURCE_STORAGE', {}));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.name).toBe('ConfigError');
    expect(err.message).toContain('SOURCE_STORAGE__blobServiceUri');
  });

  it('never puts a value in an error message', () => {
    const sas = 'https://acct.blob.core.windows.net/?sv=2022-11-02&sig=SECRETSIG';
    for (const env of [
      { S: 'not a connection string SECRETVALUE' },
      { S__blobServiceUri: sas },
      { S__blobServiceUri: 'SECRETVALUE' },
      { S__blobServiceUri: 'https://acct.blob.core.windows.net', S__credential: 'SECRETVALUE' },
    ]) {
      const err = thrown(() => resolveBlobConnection('S', env));
      expect(err.name).toBe('ConfigError');
      expect(err.message).not.toMatch(/SECRET/);
    }
  });
});

describe('resolvePostgresConnection', () => {
  it('reads NAME as a URL or conninfo string, password and all', () => {
    const url = 'postgres://app:pw@db.example.com:5432/app?sslmode=require';
    expect(resolvePostgresConnection('TARGET_POSTGRES', { TARGET_POSTGRES: url })).toEqual({ kind: 'connectionString', connectionString: url });
    const conninfo = 'host=localhost dbname=app user=app password=pw';
    expect(resolvePostgresConnection('T', { T: conninfo })).toEqual({ kind: 'connectionString', connectionString: conninfo });
  });

  it('builds the Entra form from NAME__host/__database/__user with TLS verified by default', () => {
    expect(
      resolvePostgresConnection('T', {
        T__host: 'psql-abc.postgres.database.azure.com',
        T__database: 'blob2pg',
        T__user: 'id-blob2pg-abc',
        T__clientId: '00000000-0000-0000-0000-000000000002',
      }),
    ).toEqual({
      kind: 'entra',
      host: 'psql-abc.postgres.database.azure.com',
      port: 5432,
      database: 'blob2pg',
      user: 'id-blob2pg-abc',
      clientId: '00000000-0000-0000-0000-000000000002',
      ssl: 'verify-full',
    });
  });

  it('reads port and sslmode', () => {
    const c = resolvePostgresConnection('T', { T__host: 'h.example.com', T__database: 'd', T__user: 'u', T__port: '6432', T__sslmode: 'REQUIRE' });
    expect(c).toMatchObject({ port: 6432, ssl: 'require' });
  });

  it('requires TLS for any host that is not local', () => {
    for (const mode of ['disable', 'allow', 'prefer']) {
      const err = thrown(() => resolvePostgresConnection('T', { T__host: 'h.example.com', T__database: 'd', T__user: 'u', T__sslmode: mode }));
      expect(err.name).toBe('ConfigError');
      expect(err.message).toMatch(/TLS is required/);
    }
    for (const host of ['localhost', '127.0.0.1', '::1', '/var/run/postgresql']) {
      expect(resolvePostgresConnection('T', { T__host: host, T__database: 'd', T__user: 'u' })).toMatchObject({ ssl: 'disable' });
      expect(resolvePostgresConnection('T', { T__host: host, T__database: 'd', T__user: 'u', T__sslmode: 'prefer' })).toMatchObject({ ssl: 'disable' });
    }
  });

  it('names exactly the missing settings', () => {
    const err = thrown(() => resolvePostgresConnection('TARGET_POSTGRES', { TARGET_POSTGRES__host: 'h.example.com' }));
    expect(err.name).toBe('ConfigError');
    expect(err.message).toContain('TARGET_POSTGRES__database');
    expect(err.message).toContain('TARGET_POSTGRES__user');
    expect(err.message).not.toContain('TARGET_POSTGRES__host');
    expect(thrown(() => resolvePostgresConnection('X', {})).message).toMatch(/X__host, X__database and X__user/);
  });

  it('rejects bad ports, sslmodes and values without echoing them', () => {
    const base = { T__host: 'h.example.com', T__database: 'd', T__user: 'u' };
    expect(thrown(() => resolvePostgresConnection('T', { ...base, T__port: '99999' })).message).toMatch(/T__port/);
    expect(thrown(() => resolvePostgresConnection('T', { ...base, T__sslmode: 'SECRETMODE' })).message).not.toMatch(/SECRET/);
    expect(thrown(() => resolvePostgresConnection('T', { T: 'SECRETVALUE' })).message).not.toMatch(/SECRET/);
  });
});

describe('blobServiceClientFor', () => {
  it('builds an identity client with the credential for NAME__clientId', () => {
    const seen: Array<string | undefined> = [];
    const credential: TokenCredential = { getToken: async () => null };
    const client = blobServiceClientFor(
      'S',
      { S__blobServiceUri: 'https://acct.blob.core.windows.net', S__clientId: 'cid' },
      { credentialFactory: (id) => (seen.push(id), credential) },
    );
    expect(client.url).toBe('https://acct.blob.core.windows.net/');
    expect(client.credential).toBe(credential);
    expect(seen).toEqual(['cid']);
  });

  it('builds a client from a connection string and caches it', () => {
    const env = { S: 'UseDevelopmentStorage=true' };
    const client = blobServiceClientFor('S', env);
    expect(client.accountName).toBe('devstoreaccount1');
    expect(blobServiceClientFor('S', env)).toBe(client);
  });

  it('reports an unusable connection string by setting name, redacted', () => {
    const err = thrown(() => blobServiceClientFor('S', { S: `AccountName=acct;AccountKey=${ACCOUNT_KEY}` }));
    expect(err.name).toBe('ConfigError');
    expect(err.message).toContain('setting S');
    expect(err.message).not.toContain(ACCOUNT_KEY);
  });
});
