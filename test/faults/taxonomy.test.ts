/**
 * One taxonomy, acted on, against the real services: a setup error fails once and is never
 * retried (and says what to fix), a corrupt gzip says so, a binary file's message carries
 * no raw bytes, an overlong first record is refused as soon as the limit is passed, and a
 * libpq key/value connection string works.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/local/run.js';
import { ORDERS_DDL, ordersCsv } from '../support/faultChecks.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('taxo');
});
afterAll(async () => h?.close());

async function load(name: string, env: Record<string, string | undefined>) {
  const t = await h.table(name, ORDERS_DDL);
  const notices: string[] = [];
  const started = performance.now();
  const output = await runPipeline(h.spec({ name, source: { prefix: `${name}/` }, sink: { table: t } }), {
    env: env as Record<string, string>,
    // Real back-off delays: a retry would show in the time taken.
    log: (line) => notices.push(line),
  });
  return { output, notices, ms: performance.now() - started, table: t };
}

describe('setup errors fail once, never retried', () => {
  it('a wrong password: a sign-in error that names the setting, nothing about Entra', async () => {
    await h.upload('badpw/a.csv', ordersCsv(3));
    const url = new URL(h.env.TARGET_POSTGRES!);
    url.password = 'not-the-password';
    const { output, notices, ms } = await load('badpw', { ...h.env, TARGET_POSTGRES: url.toString() });
    // The sweep's listing asks the ledger first: the run fails there, once, before any copy.
    expect(output).toMatchObject({ status: 'Failed', files: [] });
    const message = output.error!;
    expect(message).toMatch(/PostgreSQL refused the sign-in of connection "TARGET_POSTGRES" \(28P01\): password authentication failed .*check the user and password in setting TARGET_POSTGRES/);
    expect(message).not.toMatch(/Entra|pgaadauth/);
    expect(message).not.toContain('not-the-password');
    expect(notices.filter((line) => line.includes('retry'))).toEqual([]);
    expect(ms).toBeLessThan(5_000); // the first retry would wait 5 s
  });

  it('a missing TARGET_POSTGRES setting: the blob fails with the setting named, not retried', async () => {
    await h.upload('nosetting/a.csv', ordersCsv(3));
    const { TARGET_POSTGRES: _, ...env } = h.env;
    const started = performance.now();
    const notices: string[] = [];
    const output = await runPipeline(h.spec({ name: 'nosetting', source: { prefix: 'nosetting/' }, sink: { table: `${h.schema}.nosetting` } }), { env, log: (line) => notices.push(line) });
    expect(output).toMatchObject({ status: 'Failed', files: [], error: expect.stringMatching(/TARGET_POSTGRES.* is not configured/) });
    expect(notices.filter((line) => line.includes('retry'))).toEqual([]);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('a table that does not exist: config (42P01), not retried', async () => {
    await h.upload('notable/a.csv', ordersCsv(3));
    const output = await runPipeline(h.spec({ name: 'notable', source: { prefix: 'notable/' }, sink: { table: `${h.schema}.does_not_exist` } }), { env: h.env, log: () => undefined });
    expect(output.files).toMatchObject([{ status: 'Failed', error: { kind: 'config' } }]);
    expect(output.files[0]!.attempts).toBeUndefined();
  });
});

describe('what a message says about bad input', () => {
  it('a corrupt gzip is reported as a corrupt gzip, not as a CSV error', async () => {
    const gz = gzipSync(Buffer.from(ordersCsv(20_000)));
    // Garble the middle of the deflate stream (header and trailer intact).
    for (let i = Math.floor(gz.length / 2); i < Math.floor(gz.length / 2) + 64; i++) gz[i] = gz[i]! ^ 0x5a;
    await h.upload('corrupt/a.csv.gz', gz);
    const { output, table } = await load('corrupt', h.env);
    expect(output.files).toMatchObject([{ status: 'Failed', error: { kind: 'data', message: expect.stringMatching(/gzip data is truncated or corrupt/) } }]);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}"."${table.split('.')[1]}"`)).toEqual([{ n: 0 }]);
  });

  it('random binary input: no raw control bytes in the message, and it stays short', async () => {
    const bytes = Buffer.alloc(64 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 251;
    await h.upload('binary/a.csv', Buffer.concat([Buffer.from('id,name,amount\n'), bytes]));
    const { output } = await load('binary', h.env);
    const message = output.files[0]!.error!.message;
    expect(output.files[0]!.status).toBe('Failed');
    // eslint-disable-next-line no-control-regex
    expect(message).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/);
    expect(message.length).toBeLessThan(1_000);
  });

  it('a first record past the 4 MB limit is refused once the limit is passed, not after the whole line', async () => {
    // 40 MB without a line end: the header never ends.
    await h.upload('longline/a.csv', Buffer.alloc(40 * 1024 * 1024, 'a'));
    const { output } = await load('longline', h.env);
    expect(output.files).toMatchObject([{ status: 'Failed', error: { message: expect.stringMatching(/first record is longer than 4194304 bytes/) } }]);
    expect(output.files[0]!.dataRead).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('libpq key/value connection strings', () => {
  it('load like a postgres:// URL', async () => {
    const url = new URL(h.env.TARGET_POSTGRES!);
    const conninfo = `host=${url.hostname} port=${url.port} dbname=${url.pathname.slice(1)} user=${url.username} password='${decodeURIComponent(url.password)}' sslmode=disable`;
    await h.upload('conninfo/a.csv', ordersCsv(100));
    const { output } = await load('conninfo', { ...h.env, TARGET_POSTGRES: conninfo });
    expect(output.files).toMatchObject([{ status: 'Succeeded', rowsCopied: 100 }]);
  });
});
