/**
 * A COMMIT that succeeded on the server but whose answer was lost (the connection reset
 * while the server committed): the activity fails with a transient error, Durable retries
 * it with the same run id, and the retry finds the blob's ledger row committed. It must
 * report Succeeded with the counts the first attempt recorded — the run loaded the blob —
 * while another run still finds it Skipped. One stream, and both ways a group loads
 * (sink/parallelCopy.test.ts covers the parallel path).
 *
 * The fault is real: a deferred trigger on the ledger row holds the load's COMMIT inside
 * the server until the test lets it go, the proxy between the loader and PostgreSQL resets
 * every connection meanwhile, and the commit then lands with nobody to answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientError } from '../../src/errors.js';
import { copyBlob, copyBlobs } from '../../src/load/index.js';
import { runPipeline } from '../../src/local/run.js';
import type { PipelineSpecInput } from '../../src/pipeline/spec.js';
import type { FileResult } from '../../src/run/output.js';
import { ensureLedger, ledgerSchemaName } from '../../src/sink/ledger.js';
import type { BlobRef } from '../../src/source/blobs.js';
import { loadedOnce, ORDERS_DDL, ordersCsv } from '../support/faultChecks.js';
import { serviceAddress, startFaultProxy, throughProxy, type FaultProxy } from '../support/faultProxy.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let proxy: FaultProxy;
/** The harness env with PostgreSQL reached through the proxy. */
let viaProxy: Record<string, string>;
beforeAll(async () => {
  h = await createHarness('lostcommit');
  await ensureLedger(h.pg, ledgerSchemaName(undefined, h.env));
  proxy = await startFaultProxy(serviceAddress(h.env.TARGET_POSTGRES!));
  viaProxy = { ...h.env, TARGET_POSTGRES: throughProxy(h.env.TARGET_POSTGRES!, proxy) };
});
afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

const ledger = () => `"${ledgerSchemaName(undefined, h.env)}".ingestions`;

async function upload(name: string, body: string): Promise<BlobRef> {
  const ref = await h.upload(name, body);
  return { ...ref, size: Buffer.byteLength(body), lastModified: new Date().toISOString() };
}

function spec(name: string, t: string, sink: Partial<PipelineSpecInput['sink']> = {}) {
  return h.spec({ name, source: { prefix: `${name}/` }, sink: { table: t, ...sink } });
}

/**
 * Holds every COMMIT that writes ledger rows of `t` inside the server (a deferred trigger on
 * them waits for a row in a switch table) until `release`; `drop` releases and removes it.
 */
async function holdCommits(name: string, t: string): Promise<{ holding(): Promise<void>; release(): Promise<void>; drop(): Promise<void> }> {
  const [schema] = t.split('.');
  const go = `"${schema}"."go_${name}"`;
  await h.query(`CREATE TABLE ${go} (x int)`);
  await h.query(`CREATE FUNCTION "${schema}"."hold_${name}"() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      FOR i IN 1..3000 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM ${go});
        PERFORM pg_sleep(0.01);
      END LOOP;
      RETURN NULL;
    END $$`);
  await h.query(`CREATE CONSTRAINT TRIGGER "hold_${name}" AFTER UPDATE ON ${ledger()} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.target_table = '${t}') EXECUTE FUNCTION "${schema}"."hold_${name}"()`);
  const release = async () => void (await h.query(`INSERT INTO ${go} VALUES (1)`));
  return {
    async holding() {
      let held = false;
      for (let i = 0; i < 500 && !held; i++) {
        held = (await h.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query = 'COMMIT' AND datname = current_database()`)).length > 0;
        if (!held) await new Promise((r) => setTimeout(r, 20));
      }
      expect(held).toBe(true);
    },
    release,
    async drop() {
      await release();
      await h.query(`DROP TRIGGER "hold_${name}" ON ${ledger()}`);
    },
  };
}

/** Resolves once `n` ledger rows of `t` are committed. */
async function untilLedgerRows(t: string, n: number): Promise<void> {
  let committed = 0;
  for (let i = 0; i < 500 && committed < n; i++) {
    committed = (await loadedOnce(h, t)).ledgerRows;
    if (committed < n) await new Promise((r) => setTimeout(r, 20));
  }
  expect(committed).toBe(n);
}

/**
 * Runs `load` through the proxy and loses its COMMIT's answer: the COMMIT is held in the
 * server, every connection is reset, the load must fail with a transient error, then the
 * commit is let go and lands. Resolves once `ledgerRows` ledger rows of `t` are committed.
 */
async function loseCommitAnswer(name: string, t: string, ledgerRows: number, load: (env: Record<string, string>) => Promise<unknown>): Promise<void> {
  const hold = await holdCommits(name, t);
  try {
    const loading = load(viaProxy).then(() => undefined, (err: unknown) => err);
    await hold.holding();
    proxy.breakAll();
    expect(await loading).toBeInstanceOf(TransientError);
    // Nothing is visible yet: the commit is still held.
    expect((await loadedOnce(h, t)).ledgerRows).toBe(0);
    await hold.release();
    await untilLedgerRows(t, ledgerRows);
  } finally {
    await hold.drop();
  }
}

const outcome = (results: FileResult[]) => results.map((r) => [r.blob, r.status, r.rowsRead, r.rowsCopied, r.dataRead]);

describe('a retry after a lost COMMIT answer reports Succeeded for the run that loaded the blob', () => {
  it('one blob, one COPY stream: the retry of the same run is Succeeded with the rows it loaded; another run is Skipped', async () => {
    const t = await h.table('single', ORDERS_DDL);
    const ref = await upload('single/a.csv', ordersCsv(5_000));
    await loseCommitAnswer('single', t, 1, (env) => copyBlob(spec('single', t), ref, { runId: 's1', env }));
    expect(await loadedOnce(h, t)).toEqual({ rows: 5_000, keys: 5_000, ledgerRows: 1 });
    const retried = await copyBlob(spec('single', t), ref, { runId: 's1', env: h.env });
    expect(outcome([retried])).toEqual([['single/a.csv', 'Succeeded', 5_000, 5_000, ref.size]]);
    const other = await copyBlob(spec('single', t), ref, { runId: 's2', env: h.env });
    expect(outcome([other])).toEqual([['single/a.csv', 'Skipped', 0, 0, 0]]);
    expect(await loadedOnce(h, t)).toEqual({ rows: 5_000, keys: 5_000, ledgerRows: 1 });
  });

  it('a whole run (blob2pg run): the run retries the copy, and its output counts the blob Succeeded with its rows, once', async () => {
    const t = await h.table('wholerun', ORDERS_DDL);
    const ref = await upload('wholerun/a.csv', ordersCsv(5_000));
    const hold = await holdCommits('wholerun', t);
    try {
      const running = runPipeline(spec('wholerun', t), { env: viaProxy, timerScale: 0.02, log: () => undefined });
      await hold.holding();
      proxy.breakAll();
      // The retry meets the first attempt's ledger row, committed once it is let go.
      await hold.release();
      const output = await running;
      expect(output).toMatchObject({ status: 'Succeeded', filesRead: 1, filesSkipped: 0, rowsCopied: 5_000 });
      expect(output.files).toMatchObject([{ blob: 'wholerun/a.csv', status: 'Succeeded', rowsCopied: 5_000, dataRead: ref.size, attempts: 2 }]);
    } finally {
      await hold.drop();
    }
    expect(await loadedOnce(h, t)).toEqual({ rows: 5_000, keys: 5_000, ledgerRows: 1 });
  });

  // Both ways a group loads: one shared COPY (plain CSV), and blob by blob in savepoints
  // (a post-copy script runs per blob).
  const groups: Array<{ name: string; sink: Partial<PipelineSpecInput['sink']> }> = [
    { name: 'shared', sink: {} },
    { name: 'onebyone', sink: { postCopyScript: 'SELECT 1' } },
  ];
  for (const { name, sink } of groups) {
    it(`a group (${name === 'shared' ? 'one shared COPY' : 'blob by blob'}): the retry reports the blobs it loaded Succeeded and loads a new one; another run is Skipped`, async () => {
      const t = await h.table(name, ORDERS_DDL);
      const refs = [await upload(`${name}/a.csv`, ordersCsv(300)), await upload(`${name}/b.csv`, ordersCsv(200, 301))];
      await loseCommitAnswer(name, t, 2, (env) => copyBlobs(spec(name, t, sink), refs, { runId: `${name}1`, env }));
      expect(await loadedOnce(h, t)).toEqual({ rows: 500, keys: 500, ledgerRows: 2 });
      // The retried group, with a blob the first attempt did not have.
      const fresh = await upload(`${name}/c.csv`, ordersCsv(100, 501));
      const retried = await copyBlobs(spec(name, t, sink), [...refs, fresh], { runId: `${name}1`, env: h.env });
      expect(outcome(retried)).toEqual([
        [`${name}/a.csv`, 'Succeeded', 300, 300, refs[0]!.size],
        [`${name}/b.csv`, 'Succeeded', 200, 200, refs[1]!.size],
        [`${name}/c.csv`, 'Succeeded', 100, 100, fresh.size],
      ]);
      const other = await copyBlobs(spec(name, t, sink), [...refs, fresh], { runId: `${name}2`, env: h.env });
      expect(other.map((r) => [r.status, r.rowsCopied])).toEqual([
        ['Skipped', 0],
        ['Skipped', 0],
        ['Skipped', 0],
      ]);
      expect(await loadedOnce(h, t)).toEqual({ rows: 600, keys: 600, ledgerRows: 3 });
    });
  }
});
