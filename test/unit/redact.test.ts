import { describe, it, expect } from 'vitest';
import { redactError, redactSecrets } from '../../src/redact.js';

const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL29zc3JkYm1zLWFhZC5kYXRhYmFzZS53aW5kb3dzLm5ldCJ9.c2lnbmF0dXJlLXZhbHVl';
const KEY = 'Zm9vYmFyYmF6cXV4K2tleS92YWx1ZQ==';

describe('redactSecrets', () => {
  const cases: Array<[string, string, string]> = [
    ['postgres URL password', 'connect postgres://app:S3cr%40t@db.example.com:5432/app failed', 'connect postgres://app:***@db.example.com:5432/app failed'],
    ['postgresql URL, unencoded @', 'postgresql://app:p@ss@db:5432/app', 'postgresql://app:***@db:5432/app'],
    ['conninfo password', "host=db user=app password=hunter2 dbname=app", 'host=db user=app password=*** dbname=app'],
    ['quoted conninfo password', "host=db password='a b\\'c' dbname=app", 'host=db password=*** dbname=app'],
    ['PGPASSWORD', 'PGPASSWORD=hunter2 psql', 'PGPASSWORD=*** psql'],
    ['JSON password', '{"user":"app","password":"hunter2"}', '{"user":"app","password":"***"}'],
    [
      'storage AccountKey',
      `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
      'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net',
    ],
    [
      'SharedAccessSignature',
      'BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&sig=abc%2Fdef%3D',
      'BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=***',
    ],
    [
      'SAS blob URL: the whole query',
      'GET https://acct.blob.core.windows.net/in/a.csv?sv=2022-11-02&se=2030-01-01&sp=r&sig=abc%2Fdef%3D 403',
      'GET https://acct.blob.core.windows.net/in/a.csv?*** 403',
    ],
    ['bare sig', 'token sv=2022&sig=abc%2Fdef&se=x', 'token sv=2022&sig=***&se=x'],
    ['bearer', 'Authorization: Bearer abc.def-ghi', 'Authorization: Bearer ***'],
    ['JWT', `password was ${JWT} ok`, 'password was *** ok'],
  ];
  for (const [what, input, expected] of cases) {
    it(`redacts ${what}`, () => {
      expect(redactSecrets(input)).toBe(expected);
    });
  }

  it('leaves ordinary text alone', () => {
    const text = 'orders/2026-11-20.csv line 48213, column amount: invalid input syntax for type numeric (22P02) https://acct.blob.core.windows.net/in/a.csv';
    expect(redactSecrets(text)).toBe(text);
  });
});

describe('redactError', () => {
  it('redacts message, stack, string fields and cause; keeps name and code; drops objects', () => {
    const cause = new Error(`AccountKey=${KEY}`);
    const err = Object.assign(new Error(`could not connect to postgres://app:hunter2@db/app`, { cause }), {
      code: '28P01',
      detail: `token ${JWT}`,
      severity: 5,
      request: { headers: { authorization: `Bearer ${JWT}` } },
    });
    err.name = 'DatabaseError';
    const safe = redactError(err) as Error & Record<string, unknown>;
    expect(safe).not.toBe(err);
    expect(safe.name).toBe('DatabaseError');
    expect(safe.message).toBe('could not connect to postgres://app:***@db/app');
    expect(safe.stack).not.toContain('hunter2');
    expect(safe.code).toBe('28P01');
    expect(safe.severity).toBe(5);
    expect(safe.detail).toBe('token ***');
    expect(safe.request).toBeUndefined();
    expect((safe.cause as Error).message).toBe('AccountKey=***');
    expect(JSON.stringify(safe) + String(safe.stack)).not.toMatch(/hunter2|eyJ0|Zm9v/);
    // the original is untouched
    expect(err.message).toContain('hunter2');
  });

  it('wraps non-errors', () => {
    expect(redactError('password=hunter2').message).toBe('password=***');
    expect(redactError({ url: 'postgres://a:b@h/d' }).message).toBe('{"url":"postgres://a:***@h/d"}');
  });
});
