import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBlob } from '../../src/load/index.js';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPostgres } from '../../src/cli/localServices.js';
import { closePools } from '../../src/sink/pool.js';
import { createHarness, type Harness } from '../support/harness.js';
import { loadOne, rowsIn } from '../support/tables.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('ups');
});
afterAll(async () => h?.close());

async function load(tableName: string, blob: string, body: string | Buffer, sink: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return (await loadOne(h, blob, body, { sink: { table: tableName, writeMethod: 'Upsert', ...sink }, ...extra })).result;
}

const rows = (sql: string) => rowsIn(h, sql);

describe('Upsert', () => {
  it('auto-detects a composite primary key, updates only mapped columns, never writes generated columns', async () => {
    const t = await h.table(
      'comp',
      `region text, id int, name text, note text DEFAULT 'keep', total int GENERATED ALWAYS AS (id * 10) STORED,
       serial int GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (region, id)`,
    );
    await rows(`INSERT INTO S.comp (region, id, name, note) VALUES ('eu', 1, 'old', 'mine'), ('us', 1, 'other', 'x')`);
    const result = await load(t, 'comp.csv', 'id,region,name\n1,eu,new\n2,eu,fresh\n');
    expect(result).toMatchObject({ status: 'Succeeded', rowsRead: 2, rowsCopied: 2 });
    expect(await rows(`SELECT region, id, name, note, total FROM S.comp ORDER BY region, id`)).toEqual([
      { region: 'eu', id: 1, name: 'new', note: 'mine', total: 10 },
      { region: 'eu', id: 2, name: 'fresh', note: 'keep', total: 20 },
      { region: 'us', id: 1, name: 'other', note: 'x', total: 10 },
    ]);
  });

  it('uses unique-index keys named in upsertSettings (ON CONFLICT path)', async () => {
    const t = await h.table('uniq', 'id serial PRIMARY KEY, email text NOT NULL, name text, UNIQUE (email)');
    await rows(`INSERT INTO S.uniq (email, name) VALUES ('a@x', 'A')`);
    const result = await load(t, 'uniq.csv', 'email,name\na@x,A2\nb@x,B\n', { upsertSettings: { keys: ['email'] } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    // The existing row keeps its id (a conflicting INSERT still consumes a sequence value).
    expect(await rows(`SELECT id = 1 AS kept, email, name FROM S.uniq ORDER BY email`)).toEqual([
      { kept: true, email: 'a@x', name: 'A2' },
      { kept: false, email: 'b@x', name: 'B' },
    ]);
  });

  it('duplicate keys within one file: the last occurrence in file order wins (both paths)', async () => {
    const t1 = await h.table('dup_pk', 'id int PRIMARY KEY, v text');
    const t2 = await h.table('dup_nokey', 'id int, v text');
    const csv = 'id,v\n1,first\n2,x\n1,second\n1,third\n3,y\n2,z\n';
    expect(await load(t1, 'dup1.csv', csv)).toMatchObject({ status: 'Succeeded', rowsRead: 6 });
    expect(await load(t2, 'dup2.csv', csv, { upsertSettings: { keys: ['id'] } })).toMatchObject({ status: 'Succeeded', rowsRead: 6, rowsCopied: 3 });
    for (const name of ['dup_pk', 'dup_nokey']) {
      expect(await rows(`SELECT id, v FROM S.${name} ORDER BY id`)).toEqual([
        { id: 1, v: 'third' },
        { id: 2, v: 'z' },
        { id: 3, v: 'y' },
      ]);
    }
  });

  it('keys with no index (MERGE path): two blobs upserting the same keys concurrently leave no duplicate keys', async () => {
    const t = await h.table('merge', 'k text, n int, src text');
    await rows(`INSERT INTO S.merge VALUES ('k0', 0, 'seed')`);
    const make = (src: string) => 'k,n,src\n' + Array.from({ length: 2000 }, (_, i) => `k${i},${i},${src}`).join('\n') + '\n';
    const [a, b] = await Promise.all([
      load(t, 'merge/a.csv', make('a'), { upsertSettings: { keys: ['k'] } }),
      load(t, 'merge/b.csv', make('b'), { upsertSettings: { keys: ['k'] } }),
    ]);
    expect(a.status).toBe('Succeeded');
    expect(b.status).toBe('Succeeded');
    expect(await rows(`SELECT count(*)::int AS n, count(DISTINCT k)::int AS keys, count(DISTINCT src)::int AS srcs FROM S.merge`)).toEqual([
      { n: 2000, keys: 2000, srcs: 1 },
    ]);
  });

  it('no keys and no primary key: fails before reading the blob, saying so', async () => {
    const t = await h.table('nokey', 'id int, v text');
    const spec = h.spec({ source: { prefix: 'never' }, sink: { table: t, writeMethod: 'Upsert' } });
    // The blob does not exist: had the load tried to read it, the error would say so.
    const result = await copyBlob(spec, { name: 'never-uploaded.csv', etag: '"x"', size: 0, lastModified: new Date().toISOString() }, { runId: 'r1', env: h.env });
    expect(result.status).toBe('Failed');
    expect(result.error!.message).toMatch(/no upsertSettings\.keys and the table has no primary key/);
  });

  it('a blob version in the ledger fails, not Skipped, once the spec no longer fits the table; a pre-copy script may still create the table', async () => {
    const t = await h.table('respec', 'id int PRIMARY KEY, v text');
    const ref = await h.upload('respec.csv', 'id,v\n1,a\n');
    const at = (spec: ReturnType<typeof h.spec>, runId = 'r1') => copyBlob(spec, { ...ref, size: 0, lastModified: new Date().toISOString() }, { runId, env: h.env });
    const good = h.spec({ source: { prefix: 'respec' }, sink: { table: t, writeMethod: 'Upsert' } });
    expect(await at(good)).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    // Another run finds it loaded (the same run would be told what it loaded: Succeeded).
    expect(await at(good, 'r2')).toMatchObject({ status: 'Skipped' });
    const renamed = h.spec({ source: { prefix: 'respec' }, sink: { table: t, writeMethod: 'Upsert', upsertSettings: { keys: ['key'] } } });
    expect(await at(renamed)).toMatchObject({ status: 'Failed', error: { message: expect.stringMatching(/upsert key column "key" is not a column of/) } });
    const created = h.spec({
      source: { prefix: 'respec' },
      sink: { table: `${h.schema}.created_by_script`, preCopyScript: `CREATE TABLE "${h.schema}".created_by_script (id int, v text)` },
    });
    expect(await at(created)).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
  });

  it('a NULL in a key column is an error naming the line; nothing is written', async () => {
    const t = await h.table('nullkey', 'email text UNIQUE, v int');
    const result = await load(t, 'nullkey.csv', 'email,v\na@x,1\n,2\n', { upsertSettings: { keys: ['email'] } });
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 3, column: 'email' });
    expect(await rows(`SELECT count(*)::int AS n FROM S.nullkey`)).toEqual([{ n: 0 }]);
  });

  it('a bad value fails the blob naming line and column, table unchanged', async () => {
    const t = await h.table('badval', 'id int PRIMARY KEY, amount numeric');
    await rows(`INSERT INTO S.badval VALUES (1, 1)`);
    const result = await load(t, 'badval.csv', 'id,amount\n1,2\n2,abc\n');
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 3, column: 'amount', sqlstate: '22P02' });
    expect(await rows(`SELECT id, amount::int AS amount FROM S.badval`)).toEqual([{ id: 1, amount: 1 }]);
  });

  it('upserts 100k rows with half the keys existing', async () => {
    const t = await h.table('big', 'id bigint PRIMARY KEY, v text, n int');
    await rows(`INSERT INTO S.big SELECT g, 'old', 0 FROM generate_series(1, 100000, 2) g`);
    const csv = 'id,v\n' + Array.from({ length: 100_000 }, (_, i) => `${i + 1},new${i + 1}`).join('\n') + '\n';
    const result = await load(t, 'big.csv', csv);
    expect(result).toMatchObject({ status: 'Succeeded', rowsRead: 100_000, rowsCopied: 100_000 });
    expect(await rows(`SELECT count(*)::int AS n, count(*) FILTER (WHERE v = 'new' || id)::int AS updated, count(n)::int AS kept FROM S.big`)).toEqual([
      { n: 100_000, updated: 100_000, kept: 50_000 },
    ]);
  });
});

/**
 * Keys without a unique index on a server without MERGE (before 15; Citus tables take the
 * same path): UPDATE … FROM, then INSERT of the new keys. Run on a real PostgreSQL 14,
 * started here, whatever server the suite runs on.
 */
describe('Upsert on PostgreSQL 14 (no MERGE)', () => {
  let server: Awaited<ReturnType<typeof startPostgres>>;
  let dir: string;
  let env: Record<string, string>;
  const old = async (sql: string) => {
    const client = new (await import('pg')).default.Client({ connectionString: server.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };
  const loadOld = async (table: string, blob: string, body: string) => {
    const ref = await h.upload(blob, body);
    const spec = h.spec({ source: { prefix: blob }, sink: { table, writeMethod: 'Upsert', upsertSettings: { keys: ['k'] } } });
    return copyBlob(spec, { ...ref, size: 0, lastModified: new Date().toISOString() }, { runId: 'r14', env });
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-pg14-'));
    await chmod(dir, 0o755);
    server = await startPostgres({ dir, persistent: false, major: 14 });
    env = { ...h.env, TARGET_POSTGRES: server.url };
    expect(await old('SHOW server_version_num')).toEqual([{ server_version_num: expect.stringMatching(/^14/) }]);
  });

  afterAll(async () => {
    // The load's pools go before their server does (a stopping server ends their sessions).
    await closePools();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('UPDATE … FROM then INSERT of the new keys: the last occurrence in the file wins', async () => {
    await old(`CREATE TABLE public.old (k int, v text); INSERT INTO public.old VALUES (1, 'a'), (2, 'b')`);
    const result = await loadOld('public.old', 'old14.csv', 'k,v\n2,B\n3,C\n3,C2\n');
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await old(`SELECT k, v FROM public.old ORDER BY k`)).toEqual([
      { k: 1, v: 'a' },
      { k: 2, v: 'B' },
      { k: 3, v: 'C2' },
    ]);
  });

  it('a column named x$1 is a name, not a placeholder (values are bound, never written into the SQL)', async () => {
    await old(`CREATE TABLE public.dollar (k int, "x$1" text)`);
    const result = await loadOld('public.dollar', 'dollar14.csv', 'k,x$1\n1,one\n1,uno\n2,two\n');
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await old(`SELECT k, "x$1" FROM public.dollar ORDER BY k`)).toEqual([
      { k: 1, x$1: 'uno' },
      { k: 2, x$1: 'two' },
    ]);
  });
});
