/**
 * Fault suite, PostgreSQL side: a load whose connection is reset, closed, or whose backend
 * is terminated mid-COPY, and a table held by another session's ACCESS EXCLUSIVE lock.
 * Each time the blob ends loaded exactly once (row count and distinct keys equal the file,
 * one ledger row), the run report says it took two attempts and Succeeded, and nothing
 * crashed — the CLI case runs the real CLI in a child process.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineSpecInput } from '../../src/pipeline/spec.js';
import { runPipeline } from '../../src/local/run.js';
import type { RunOutput } from '../../src/run/output.js';
import { ledgerSchemaName } from '../../src/sink/ledger.js';
import { loadedOnce, ORDERS_DDL, ordersCsv } from '../support/faultChecks.js';
import { buildCli, runCliProcess } from '../support/cliProcess.js';
import { serviceAddress, startFaultProxy, throughProxy, type Fault, type FaultProxy } from '../support/faultProxy.js';
import { createHarness, type Harness } from '../support/harness.js';
import { copyingBackends } from '../support/copyProgress.js';

let h: Harness;
let proxy: FaultProxy;
/** The harness env with PostgreSQL reached through the proxy. */
let env: Record<string, string>;
beforeAll(async () => {
  h = await createHarness('pgfault');
  proxy = await startFaultProxy(serviceAddress(h.env.TARGET_POSTGRES!));
  env = { ...h.env, TARGET_POSTGRES: throughProxy(h.env.TARGET_POSTGRES!, proxy) };
});
afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

const ROWS = 20_000; // ~800 KB: a fault after 200 KB lands mid-COPY.

async function table(name: string): Promise<string> {
  return h.table(name, ORDERS_DDL);
}

const loaded = (t: string) => loadedOnce(h, t);

function spec(name: string, t: string, sink: Partial<PipelineSpecInput['sink']> = {}, extra: Partial<PipelineSpecInput> = {}) {
  return h.spec({ name, source: { prefix: `${name}/` }, sink: { table: t, ...sink }, ...extra });
}

/** Runs in-process with the back-off scaled down (the CLI case below keeps the real one). */
async function run(s: ReturnType<typeof spec>): Promise<{ output: RunOutput; notices: string[] }> {
  const notices: string[] = [];
  const output = await runPipeline(s, { env, timerScale: 0.02, log: (line) => notices.push(line) });
  return { output, notices };
}

describe('a lost PostgreSQL connection mid-load is retried, and the blob loads exactly once', () => {
  const cases: Array<{ method: 'CopyCommand' | 'BulkInsert' | 'Upsert'; fault: Fault }> = [
    { method: 'CopyCommand', fault: { action: 'reset', direction: 'up', afterBytes: 200_000 } },
    { method: 'CopyCommand', fault: { action: 'close', direction: 'up', afterBytes: 200_000 } },
    { method: 'BulkInsert', fault: { action: 'reset', direction: 'up', afterBytes: 200_000 } },
    { method: 'Upsert', fault: { action: 'reset', direction: 'up', afterBytes: 200_000 } },
  ];
  for (const { method, fault } of cases) {
    it(`${method}: connection ${fault.action} after ${fault.afterBytes / 1000} KB sent`, async () => {
      const name = `${method.toLowerCase()}${fault.action}`;
      const t = await table(name);
      await h.upload(`${name}/orders.csv`, ordersCsv(ROWS));
      proxy.arm(fault);
      const fired = proxy.firedCount;
      const { output, notices } = await run(spec(name, t, { writeMethod: method, ...(method === 'BulkInsert' && { writeBatchSize: 2_000 }) }));
      expect(proxy.firedCount).toBe(fired + 1);
      expect(output.status).toBe('Succeeded');
      expect(output.files).toMatchObject([{ blob: `${name}/orders.csv`, status: 'Succeeded', rowsCopied: ROWS, attempts: 2 }]);
      expect(notices.join('\n')).toMatch(new RegExp(`retry +pipeline ${name} ${name}/orders\\.csv: the connection to PostgreSQL was lost: .*transient`));
      expect(await loaded(t)).toEqual({ rows: ROWS, keys: ROWS, ledgerRows: 1 });
    });
  }

  it('a group of small blobs in one COPY: the group is retried as a whole, each blob loaded once', async () => {
    const name = 'groupreset';
    const t = await table(name);
    const blobs = 12;
    for (let i = 0; i < blobs; i++) await h.upload(`${name}/part-${String(i).padStart(2, '0')}.csv`, ordersCsv(1_000, i * 1_000 + 1));
    proxy.arm({ action: 'reset', direction: 'up', afterBytes: 60_000 });
    // One copy at a time: 12 small blobs make groups of 6 (planCopies), each one COPY.
    const { output } = await run(spec(name, t, {}, { maxParallelCopies: 1 }));
    expect(output.status).toBe('Succeeded');
    expect(output.filesRead).toBe(blobs);
    const retried = output.files.filter((f) => f.attempts === 2).map((f) => f.blob);
    expect(retried).toEqual(output.files.slice(0, 6).map((f) => f.blob));
    const [counts] = await h.query<{ rows: number; keys: number }>(`SELECT count(*)::int AS rows, count(DISTINCT id)::int AS keys FROM "${h.schema}"."${name}"`);
    expect(counts).toEqual({ rows: blobs * 1_000, keys: blobs * 1_000 });
    const ledger = `"${ledgerSchemaName(undefined, h.env)}".ingestions`;
    expect((await h.query(`SELECT count(*)::int AS n FROM ${ledger} WHERE target_table = $1`, [t]))[0]!.n).toBe(blobs);
  });

  it('pg_terminate_backend on the loading backend (found in pg_stat_progress_copy): retried, loaded once', async () => {
    const name = 'terminated';
    const t = await table(name);
    await h.upload(`${name}/orders.csv`, ordersCsv(ROWS));
    // ~800 KB at 1 MB/s: the COPY is in flight for most of a second.
    proxy.throttle(1_000_000);
    const terminated = (async () => {
      for (let i = 0; i < 400; i++) {
        const [pid] = await copyingBackends(h, `${h.schema}.${name}`, { minBytes: 100_000 });
        if (pid !== undefined) return (await h.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]))[0]!.ok;
        await new Promise((r) => setTimeout(r, 10));
      }
      return false;
    })();
    try {
      const { output, notices } = await run(spec(name, t));
      expect(await terminated).toBe(true);
      expect(output.files).toMatchObject([{ status: 'Succeeded', rowsCopied: ROWS, attempts: 2 }]);
      expect(notices.join('\n')).toMatch(/terminating connection due to administrator command|connection to PostgreSQL was lost/);
    } finally {
      proxy.throttle(undefined);
    }
    expect(await loaded(t)).toEqual({ rows: ROWS, keys: ROWS, ledgerRows: 1 });
  });
});

describe('a stalled PostgreSQL connection', () => {
  it('no bytes either way mid-COPY: cut after BLOB2PG_STALL_TIMEOUT_MS, retried, loaded once', async () => {
    const name = 'stalled';
    const t = await table(name);
    await h.upload(`${name}/orders.csv`, ordersCsv(ROWS));
    proxy.arm({ action: 'stall', direction: 'up', afterBytes: 200_000 });
    const notices: string[] = [];
    const output = await runPipeline(spec(name, t), { env: { ...env, BLOB2PG_STALL_TIMEOUT_MS: '1500' }, timerScale: 0.02, log: (line) => notices.push(line) });
    expect(output.files).toMatchObject([{ status: 'Succeeded', rowsCopied: ROWS, attempts: 2 }]);
    expect(notices.join('\n')).toMatch(/retry +pipeline stalled stalled\/orders\.csv: the connection to PostgreSQL was lost: the PostgreSQL connection stalled: no bytes either way for \d s while a statement was out \((our bytes are not being taken|the server is active, waiting for ClientRead, so what was sent did not arrive)\)/);
    expect(await loaded(t)).toEqual({ rows: ROWS, keys: ROWS, ledgerRows: 1 });
  });
});

describe('a table locked by another session', () => {
  it('waits up to sink.lockTimeoutInMs, says who holds the lock, retries, and loads once the lock is gone', async () => {
    const name = 'locked';
    const t = await table(name);
    await h.upload(`${name}/orders.csv`, ordersCsv(1_000));
    const holder = await h.pg.connect();
    await holder.query(`SET application_name = 'nightly-maintenance'`);
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE "${h.schema}"."${name}" IN ACCESS EXCLUSIVE MODE`);
    const [{ pid }] = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
    const notices: string[] = [];
    const running = runPipeline(spec(name, t, { lockTimeoutInMs: 1_500 }), {
      env,
      timerScale: 0.02,
      log: (line) => {
        notices.push(line);
        // The first attempt gave up: let go, so the retry gets the table.
        if (line.includes('retry')) void holder.query('COMMIT').finally(() => holder.release());
      },
    });
    const output = await running;
    const said = notices.join('\n');
    // While waiting: who holds the lock; after the timeout: the same, in the retried error.
    expect(said).toMatch(new RegExp(`waiting +for a lock on ${h.schema}\\.${name}, held by pid ${pid} \\(application_name "nightly-maintenance", query started \\d{4}-`));
    expect(said).toMatch(new RegExp(`waited 1500 ms \\(sink.lockTimeoutInMs\\) for a lock on ${h.schema}\\.${name}, held by pid ${pid} .*\\(55P03\\)`));
    expect(output.files).toMatchObject([{ status: 'Succeeded', rowsCopied: 1_000, attempts: 2 }]);
    expect(await loaded(t)).toEqual({ rows: 1_000, keys: 1_000, ledgerRows: 1 });
  });
});

describe('the CLI in a child process', () => {
  beforeAll(async () => buildCli(), 120_000);

  it('run --json: a connection reset mid-COPY is retried with the real back-off; one run object, no crash', async () => {
    const name = 'clireset';
    const t = await table(name);
    await h.upload(`${name}/orders.csv`, ordersCsv(ROWS));
    const dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-fault-'));
    const file = path.join(dir, 'pipeline.json');
    await writeFile(file, JSON.stringify({ name, source: { container: h.container.containerName, prefix: `${name}/` }, sink: { table: t } }));
    proxy.arm({ action: 'reset', direction: 'up', afterBytes: 200_000 });
    const result = await runCliProcess(['run', file, '--json'], env);
    expect(result.stderr).not.toMatch(/Unhandled|uncaught/i);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ status: 'Succeeded', files: [{ status: 'Succeeded', rowsCopied: ROWS, attempts: 2 }] });
    expect(result.stderr).toMatch(/retry +pipeline clireset clireset\/orders\.csv: the connection to PostgreSQL was lost/);
    expect(await loaded(t)).toEqual({ rows: ROWS, keys: ROWS, ledgerRows: 1 });
  });

  it('run --json prints one Failed run object when listing fails (no such container)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-fault-'));
    const file = path.join(dir, 'pipeline.json');
    await writeFile(file, JSON.stringify({ name: 'nocontainer', source: { container: 'no-such-container-here' }, sink: { table: `${h.schema}.nothing` } }));
    const result = await runCliProcess(['run', file, '--json'], env);
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const output = JSON.parse(lines[0]!) as RunOutput;
    expect(output).toMatchObject({ pipeline: 'nocontainer', status: 'Failed', files: [] });
    expect(output.error).toMatch(/listing blobs for pipeline nocontainer: .*(ContainerNotFound|does not exist)/);
  });
});
