/**
 * sink.parallelCopies: one CSV blob through several COPY streams, each range in its own
 * transaction, committed together by two-phase commit — against the real PostgreSQL the
 * test setup starts with max_prepared_transactions > 0.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../src/cli/localServices.js';
import { validatePipeline } from '../../src/load/validate.js';
import { copyBlob } from '../../src/load/index.js';
import { TransientError } from '../../src/errors.js';
import { nominalCuts } from '../../src/format/csv/rangeSplit.js';
import { claimIngestion, completeIngestion, ensureLedger, ledgerSchemaName } from '../../src/sink/ledger.js';
import type { LedgerKey } from '../../src/sink/ledgerKey.js';
import { closePools } from '../../src/sink/index.js';
import { preparedGid } from '../../src/sink/preparedLoads.js';
import { blobUrl, normalizeEtag, type BlobRef } from '../../src/source/blobs.js';
import { createHarness, type Harness } from '../support/harness.js';
import { countStatements as countStatementsOf } from '../support/tables.js';
import { copyingBackends } from '../support/copyProgress.js';
import { serviceAddress, startFaultProxy, throughProxy } from '../support/faultProxy.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('par');
});
afterAll(async () => h?.close());

const HEADER = 'id,v\n';
const row = (i: number) => `${i},value ${i}\n`;

async function upload(name: string, body: string): Promise<BlobRef> {
  const ref = await h.upload(name, body);
  return { ...ref, size: Buffer.byteLength(body), lastModified: new Date().toISOString() };
}

/** Committed COPY statements into `table`: one per stream. */
const countStatements = (table: string) => countStatementsOf(h, table);

const ledger = () => `"${ledgerSchemaName(undefined, h.env)}".ingestions`;
const ledgerRows = async (table: string) => (await h.query(`SELECT rows_copied::int AS n FROM ${ledger()} WHERE target_table = $1`, [table])).map((r) => r.n);
const prepared = async () => (await h.query(`SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'blob2pg:%'`)).map((r) => r.gid);
const count = async (table: string) => (await h.query(`SELECT count(*)::int AS n FROM ${quoted(table)}`))[0]!.n;
const quoted = (table: string) => table.split('.').map((p) => `"${p}"`).join('.');

function spec(prefix: string, table: string, parallelCopies: number) {
  return h.spec({ source: { prefix }, sink: { table, parallelCopies } });
}

function csv(rows: number, line: (i: number) => string = row): string {
  let body = HEADER;
  for (let i = 1; i <= rows; i++) body += line(i);
  return body;
}

/**
 * Loads 2,000 records through 2 streams, record 1,000 holding `long` as a quoted field
 * that the nominal cut falls inside (checked); expects all rows loaded.
 */
async function loadStraddling(name: string, long: string) {
  const t = await h.table(name, 'id int, v text');
  const statements = await countStatements(t);
  const body = csv(2_000, (i) => (i === 1_000 ? `${i},"${long}"\n` : row(i)));
  const cut = nominalCuts(HEADER.length, body.length, 2)[0]!;
  const field = body.indexOf(long);
  expect(cut > field && cut < field + long.length).toBe(true);
  const result = await copyBlob(spec(`${name}/`, t, 2), await upload(`${name}/a.csv`, body), { runId: name, env: h.env });
  expect([result.status, result.rowsCopied]).toEqual(['Succeeded', 2_000]);
  return { t, statements };
}

describe('parallel COPY streams (sink.parallelCopies)', () => {
  it('loads one blob through 4 COPY streams, all rows once, one ledger row, no prepared transaction left', async () => {
    const t = await h.table('four', 'id int, v text');
    const statements = await countStatements(t);
    const ref = await upload('four/a.csv', csv(20_000));
    const result = await copyBlob(spec('four/', t, 4), ref, { runId: 'p1', env: h.env });
    expect([result.status, result.rowsCopied, result.dataRead]).toEqual(['Succeeded', 20_000, ref.size]);
    expect(await statements()).toBe(4);
    expect(await h.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d, min(id) AS lo, max(id) AS hi FROM ${quoted(t)}`)).toEqual([{ n: 20_000, d: 20_000, lo: 1, hi: 20_000 }]);
    expect(await ledgerRows(t)).toEqual([20_000]);
    expect(await prepared()).toEqual([]);
    // The same version again: Skipped, nothing added.
    expect((await copyBlob(spec('four/', t, 4), ref, { runId: 'p2', env: h.env })).status).toBe('Skipped');
    expect(await count(t)).toBe(20_000);
  });

  it('two loads of the same version racing: one loads, the other waits on its ledger row and is Skipped', async () => {
    const t = await h.table('race', 'id int, v text');
    const ref = await upload('race/a.csv', csv(20_000));
    const results = await Promise.all([1, 2].map((n) => copyBlob(spec('race/', t, 2), ref, { runId: `r${n}`, env: h.env })));
    expect(results.map((r) => r.status).sort()).toEqual(['Skipped', 'Succeeded']);
    expect(await count(t)).toBe(20_000);
    expect(await ledgerRows(t)).toEqual([20_000]);
  });

  it('a quoted field with line ends straddling the cut: the cut moves past it, two streams load it', async () => {
    const long = Array.from({ length: 400 }, (_, i) => `prose line ${i} without a delimiter`).join('\n');
    const { t, statements } = await loadStraddling('straddle', long);
    expect(await statements()).toBe(2);
    expect(await h.query(`SELECT v FROM ${quoted(t)} WHERE id = 1000`)).toEqual([{ v: long }]);
  });

  it('a quoted field whose lines look like records fools the guess; the proof catches it, the ranges merge, the rows are right', async () => {
    // Inside the quotes: lines of two fields, exactly like the records around them.
    const long = Array.from({ length: 400 }, (_, i) => `${900_000 + i},inside`).join('\n');
    const { t, statements } = await loadStraddling('fooled', long);
    // Merged into one stream: the cut inside the field never committed.
    expect(await statements()).toBe(1);
    expect(await h.query(`SELECT v FROM ${quoted(t)} WHERE id = 1000`)).toEqual([{ v: long }]);
    expect(await h.query(`SELECT count(*)::int AS n FROM ${quoted(t)} WHERE id >= 900000`)).toEqual([{ n: 0 }]);
    expect(await prepared()).toEqual([]);
  });

  it('a bad value in the third of four ranges: nothing loads, the error names the file line and column', async () => {
    const t = await h.table('bad', 'id int, v text');
    const body = csv(20_000, (i) => (i === 12_345 ? `12x45,value\n` : row(i)));
    const cuts = nominalCuts(HEADER.length, body.length, 4);
    const at = body.indexOf('12x45');
    expect(at > cuts[1]! && at < cuts[2]!).toBe(true);
    const result = await copyBlob(spec('bad/', t, 4), await upload('bad/a.csv', body), { runId: 'b1', env: h.env });
    expect(result.status).toBe('Failed');
    // Line 1 is the header: record 12,345 is line 12,346.
    expect(result.error).toMatchObject({ line: 12_346, column: 'id', sqlstate: '22P02' });
    expect(result.error!.message).toContain('bad/a.csv line 12346, column id');
    expect(await count(t)).toBe(0);
    expect(await ledgerRows(t)).toEqual([]);
    expect(await prepared()).toEqual([]);
  });

  it('a bad value in the first record of a range: the line is still exact', async () => {
    const t = await h.table('edge', 'id int, v text');
    const clean = csv(20_000);
    const cut = nominalCuts(HEADER.length, clean.length, 4)[2]!;
    // The record that starts first at or after the cut (the range's first record).
    const start = clean.indexOf('\n', cut - 1) + 1;
    const id = Number(clean.slice(start, clean.indexOf(',', start)));
    const body = clean.slice(0, start) + clean.slice(start).replace(`${id},`, `${id}y,`);
    const result = await copyBlob(spec('edge/', t, 4), await upload('edge/a.csv', body), { runId: 'e1', env: h.env });
    expect(result.error).toMatchObject({ line: id + 1, column: 'id', sqlstate: '22P02' });
    expect(await count(t)).toBe(0);
  });

  it('the same key in two ranges of a unique table: no hang, the blob loads through one stream, which names the duplicate', async () => {
    const t = await h.table('dupes', 'id int PRIMARY KEY, v text');
    const body = csv(20_000, (i) => (i === 19_000 ? row(3) : row(i)));
    const result = await copyBlob(spec('dupes/', t, 4), await upload('dupes/a.csv', body), { runId: 'd1', env: h.env });
    expect(result.status).toBe('Failed');
    expect(result.error).toMatchObject({ line: 19_001, sqlstate: '23505' });
    expect(await count(t)).toBe(0);
    expect(await prepared()).toEqual([]);
  }, 60_000);

  it('a partitioned table loads through several streams', async () => {
    await h.query(`CREATE TABLE "${h.schema}".parts (id int, v text) PARTITION BY RANGE (id)`);
    await h.query(`CREATE TABLE "${h.schema}".parts_lo PARTITION OF "${h.schema}".parts FOR VALUES FROM (MINVALUE) TO (10000)`);
    await h.query(`CREATE TABLE "${h.schema}".parts_hi PARTITION OF "${h.schema}".parts FOR VALUES FROM (10000) TO (MAXVALUE)`);
    const t = `${h.schema}.parts`;
    const statements = await countStatements(t);
    const result = await copyBlob(spec('parts/', t, 3), await upload('parts/a.csv', csv(20_000)), { runId: 'pt', env: h.env });
    expect([result.status, result.rowsCopied]).toEqual(['Succeeded', 20_000]);
    expect(await statements()).toBe(3);
    expect(await h.query(`SELECT (SELECT count(*)::int FROM "${h.schema}".parts_lo) AS lo, (SELECT count(*)::int FROM "${h.schema}".parts_hi) AS hi`)).toEqual([{ lo: 9_999, hi: 10_001 }]);
  });

  it('a backend killed mid-range: a transient error, everything rolled back; the retry loads every row once', async () => {
    const t = await h.table('killed', 'id int, v text');
    const [schema, name] = t.split('.');
    // Row 15,000 (third range of four) sleeps, so its COPY is surely running when it is killed.
    await h.query(`CREATE FUNCTION "${schema}".killed_slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = 15000 THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$`);
    await h.query(`CREATE TRIGGER slow BEFORE INSERT ON "${schema}"."${name}" FOR EACH ROW EXECUTE FUNCTION "${schema}".killed_slow()`);
    const ref = await upload('killed/a.csv', csv(20_000));
    const loading = copyBlob(spec('killed/', t, 4), ref, { runId: 'k1', env: h.env });
    loading.catch(() => undefined);
    let victim: number | undefined;
    for (let i = 0; i < 300 && victim === undefined; i++) {
      // The COPY into this table whose backend sleeps in the trigger.
      victim = (await copyingBackends(h, t, { waitEvent: 'PgSleep' }))[0];
      if (victim === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(victim).toBeDefined();
    expect((await copyingBackends(h, t)).length).toBeGreaterThan(0);
    await h.query('SELECT pg_terminate_backend($1)', [victim]);
    const error = await loading.then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(TransientError);
    expect(await count(t)).toBe(0);
    expect(await ledgerRows(t)).toEqual([]);
    expect(await prepared()).toEqual([]);
    // The retry (as Durable Functions would): loads once.
    await h.query(`DROP TRIGGER slow ON "${schema}"."${name}"`);
    const retried = await copyBlob(spec('killed/', t, 4), ref, { runId: 'k2', env: h.env });
    expect([retried.status, retried.rowsCopied]).toEqual(['Succeeded', 20_000]);
    expect(await h.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM ${quoted(t)}`)).toEqual([{ n: 20_000, d: 20_000 }]);
    expect(await ledgerRows(t)).toEqual([20_000]);
  }, 60_000);

  it('the connections drop while range 0 COMMITs: the ranges are not rolled back under a commit still landing; the retry commits them and reports Succeeded, not Skipped', async () => {
    const t = await h.table('commitlost', 'id int, v text');
    const [schema] = t.split('.');
    const ledgerTable = ledger();
    await ensureLedger(h.pg, ledgerSchemaName(undefined, h.env));
    // Range 0's COMMIT waits (a deferred trigger on its ledger row) until the test says go,
    // so the connections can be cut while that commit is in progress.
    await h.query(`CREATE TABLE "${schema}".go (x int)`);
    await h.query(`CREATE FUNCTION "${schema}".hold() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        FOR i IN 1..3000 LOOP
          EXIT WHEN EXISTS (SELECT 1 FROM "${schema}".go);
          PERFORM pg_sleep(0.01);
        END LOOP;
        RETURN NULL;
      END $$`);
    await h.query(`CREATE CONSTRAINT TRIGGER hold AFTER UPDATE ON ${ledgerTable} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      WHEN (NEW.target_table = '${t}') EXECUTE FUNCTION "${schema}".hold()`);
    const proxy = await startFaultProxy(serviceAddress(h.env.TARGET_POSTGRES));
    try {
      const ref = await upload('commitlost/a.csv', csv(20_000));
      const viaProxy = { ...h.env, TARGET_POSTGRES: throughProxy(h.env.TARGET_POSTGRES, proxy) };
      const loading = copyBlob(spec('commitlost/', t, 2), ref, { runId: 'c1', env: viaProxy }).then(() => undefined, (err: unknown) => err);
      let holding = false;
      for (let i = 0; i < 500 && !holding; i++) {
        holding = (await h.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query = 'COMMIT'`)).length > 0;
        if (!holding) await new Promise((r) => setTimeout(r, 20));
      }
      expect(holding).toBe(true);
      // The network drops; reconnecting works (the load asks the server how its COMMIT went: in progress).
      proxy.breakAll();
      const error = await loading;
      expect(error).toBeInstanceOf(TransientError);
      // Range 1 is still prepared: not rolled back while range 0's commit may land.
      expect(await prepared()).toHaveLength(1);
      await h.query(`INSERT INTO "${schema}".go VALUES (1)`);
      // Range 0 — its rows and the ledger row — commits after all.
      for (let i = 0; i < 500 && (await ledgerRows(t)).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await ledgerRows(t)).toEqual([20_000]);
      const visible = (await count(t)) as number;
      expect(visible > 0 && visible < 20_000).toBe(true);
      // The activity is retried (same run id): it commits the prepared range and reports what the run loaded.
      const retried = await copyBlob(spec('commitlost/', t, 2), ref, { runId: 'c1', env: h.env });
      expect([retried.status, retried.rowsCopied, retried.dataRead]).toEqual(['Succeeded', 20_000, ref.size]);
      expect(await prepared()).toEqual([]);
      expect(await h.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM ${quoted(t)}`)).toEqual([{ n: 20_000, d: 20_000 }]);
      // Another run finds it loaded.
      expect((await copyBlob(spec('commitlost/', t, 2), ref, { runId: 'c2', env: h.env })).status).toBe('Skipped');
      expect(await count(t)).toBe(20_000);
    } finally {
      await h.query(`INSERT INTO "${schema}".go VALUES (1)`);
      await h.query(`DROP TRIGGER hold ON ${ledgerTable}`);
      await proxy.close();
    }
  }, 60_000);

  describe('prepared transactions a crashed load left behind', () => {
    /** Plays a load that died after preparing range 1: range 0 (ledger row) open or committed, range 1 prepared. */
    async function crashedLoad(t: string, ref: BlobRef, decided: boolean): Promise<string> {
      const key: LedgerKey = { targetTable: t, blobUrl: blobUrl(h.spec({ sink: { table: t } }), ref.name, h.env), etag: normalizeEtag(ref.etag) };
      const schema = ledgerSchemaName(undefined, h.env);
      const pool = new pg.Pool({ connectionString: h.env.TARGET_POSTGRES, max: 2 });
      await ensureLedger(pool, schema);
      const range0 = await pool.connect();
      const range1 = await pool.connect();
      try {
        await range0.query('BEGIN');
        expect(await claimIngestion(range0, schema, key, { pipeline: 'test', runId: 'crashed' })).toBe(true);
        await range0.query(`INSERT INTO ${quoted(t)} SELECT g, 'range 0' FROM generate_series(1, 10) g`);
        const xid = (await range0.query('SELECT pg_current_xact_id()::text AS xid')).rows[0].xid as string;
        await range1.query('BEGIN');
        await range1.query(`INSERT INTO ${quoted(t)} SELECT g, 'range 1' FROM generate_series(11, 20) g`);
        const gid = preparedGid(xid, 1, 1, key);
        await range1.query(`PREPARE TRANSACTION '${gid}'`);
        if (decided) {
          await completeIngestion(range0, schema, key, { rowsRead: 20, rowsCopied: 20, rowsSkipped: 0, bytes: ref.size });
          await range0.query('COMMIT');
        }
        return gid;
      } finally {
        // The process dies: an undecided range 0 aborts with its connection.
        range0.release(decided ? undefined : new Error('crash'));
        range1.release();
        await pool.end();
      }
    }

    /** Whether another session can take an exclusive lock on the table right now. */
    async function lockable(t: string): Promise<boolean> {
      const client = await h.pg.connect();
      try {
        await client.query('BEGIN');
        await client.query(`LOCK TABLE ${quoted(t)} IN ACCESS EXCLUSIVE MODE NOWAIT`);
        return true;
      } catch {
        return false;
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    }

    it('undecided (range 0 never committed): the next attempt rolls the orphan back, then loads the blob once', async () => {
      const t = await h.table('orphan_a', 'id int, v text');
      const ref = await upload('orphan_a/a.csv', csv(5_000, (i) => row(i + 100)));
      const gid = await crashedLoad(t, ref, false);
      expect(await prepared()).toEqual([gid]);
      expect(await lockable(t)).toBe(false);
      const result = await copyBlob(spec('orphan_a/', t, 2), ref, { runId: 'o1', env: h.env });
      expect([result.status, result.rowsCopied]).toEqual(['Succeeded', 5_000]);
      expect(await prepared()).toEqual([]);
      expect(await lockable(t)).toBe(true);
      // Only the file's rows: neither crashed range committed.
      expect(await h.query(`SELECT count(*)::int AS n, min(id) AS lo FROM ${quoted(t)}`)).toEqual([{ n: 5_000, lo: 101 }]);
    });

    it('decided (range 0 and its ledger row committed): the next attempt commits the orphan and finds the blob loaded', async () => {
      const t = await h.table('orphan_b', 'id int, v text');
      const ref = await upload('orphan_b/a.csv', csv(5_000, (i) => row(i + 100)));
      const gid = await crashedLoad(t, ref, true);
      expect(await prepared()).toEqual([gid]);
      const result = await copyBlob(spec('orphan_b/', t, 2), ref, { runId: 'o2', env: h.env });
      expect(result.status).toBe('Skipped');
      expect(await prepared()).toEqual([]);
      // Both ranges of the crashed load, as it decided.
      expect(await h.query(`SELECT count(*)::int AS n FROM ${quoted(t)}`)).toEqual([{ n: 20 }]);
    });

    it('start-up sweep: a process whose first load is a one-stream load of another blob settles the orphans first', async () => {
      const t = await h.table('orphan_c', 'id int, v text');
      const ref = await upload('orphan_c/a.csv', csv(5_000));
      const decidedGid = await crashedLoad(t, ref, true);
      const other = await h.table('orphan_c_other', 'id int, v text');
      const otherRef = await upload('orphan_c_other/a.csv', csv(100));
      expect(await prepared()).toEqual([decidedGid]);
      expect(await lockable(t)).toBe(false);
      // A new process: its pool has not loaded anything yet.
      await closePools();
      const result = await copyBlob(spec('orphan_c_other/', other, 1), otherRef, { runId: 'o3', env: h.env });
      expect([result.status, result.rowsCopied]).toEqual(['Succeeded', 100]);
      expect(await prepared()).toEqual([]);
      expect(await lockable(t)).toBe(true);
      // Committed, as the crashed load had decided: both of its ranges.
      expect(await count(t)).toBe(20);
    });
  });

  it('a server with max_prepared_transactions = 0: validate says so, and the blob loads through one stream', async () => {
    // A second, stock-configured server (the suite's has prepared transactions on).
    const dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-no2pc-'));
    await chmod(dir, 0o755);
    const server = await startPostgres({ dir, persistent: false });
    try {
      const env = { ...h.env, TARGET_POSTGRES: server.url };
      const stock = new pg.Pool({ connectionString: server.url, max: 1 });
      // pool.end() resolves before its idle client has closed; the server's stop below can then
      // reach that client with 57P01, which pg-pool re-emits on the pool: without a listener
      // that is an uncaught exception (it failed a CI run).
      stock.on('error', () => undefined);
      try {
        await stock.query(`CREATE TABLE public.stock (id int, v text)`);
        await stock.query(`CREATE TABLE public.stock_statements (at timestamptz)`);
        await stock.query(`CREATE FUNCTION public.stock_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.stock_statements VALUES (now()); RETURN NULL; END $$`);
        await stock.query(`CREATE TRIGGER c AFTER INSERT ON public.stock FOR EACH STATEMENT EXECUTE FUNCTION public.stock_count()`);
        const ref = await upload('stock/a.csv', csv(20_000));
        const problems = await validatePipeline(spec('stock/', 'public.stock', 4), env);
        expect(problems).toEqual([expect.stringContaining('max_prepared_transactions = 0, so every blob loads through one COPY stream')]);
        const result = await copyBlob(spec('stock/', 'public.stock', 4), ref, { runId: 'n1', env });
        expect([result.status, result.rowsCopied]).toEqual(['Succeeded', 20_000]);
        expect((await stock.query('SELECT count(*)::int AS n FROM public.stock_statements')).rows).toEqual([{ n: 1 }]);
      } finally {
        await stock.end();
      }
    } finally {
      // The load's pool goes before its server does (a stopping server ends its sessions).
      await closePools();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
