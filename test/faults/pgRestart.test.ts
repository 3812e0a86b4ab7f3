/**
 * Fault suite: PostgreSQL restarted while a blob loads. A server of its own (never the
 * one the other test files share), stopped mid-COPY and started again on the same port
 * and data directory. The load's connection dies with the server, the retries meet a
 * refused connection until it is back, and the blob ends loaded exactly once.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, startPostgres } from '../../src/cli/localServices.js';
import { runPipeline } from '../../src/local/run.js';
import { closePools } from '../../src/sink/index.js';
import { serviceAddress, startFaultProxy, throughProxy, type FaultProxy } from '../support/faultProxy.js';
import { ORDERS_DDL, ordersCsv } from '../support/faultChecks.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let dir: string;
let port: number;
let server: { url: string; stop(): Promise<void> } | undefined;
let proxy: FaultProxy;

const start = async () => (server = await startPostgres({ dir, persistent: true, port }));

beforeAll(async () => {
  h = await createHarness('restart');
  dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-restart-'));
  await chmod(dir, 0o755);
  port = await freePort();
  await start();
  proxy = await startFaultProxy(serviceAddress(server!.url));
}, 120_000);

afterAll(async () => {
  await closePools();
  await proxy?.close();
  await server?.stop().catch(() => undefined);
  await h?.close();
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

it('a restart mid-COPY: the load is retried until the server is back, and the blob loads exactly once', async () => {
  const direct = new pg.Pool({ connectionString: server!.url, max: 2 });
  direct.on('error', () => undefined);
  await direct.query(`CREATE TABLE orders (${ORDERS_DDL})`);
  await direct.end();
  const rows = 20_000;
  await h.upload('restart/orders.csv', ordersCsv(rows));

  // ~800 KB at 1 MB/s through the proxy: the COPY is in flight for most of a second.
  proxy.throttle(1_000_000);
  const env = { ...h.env, TARGET_POSTGRES: throughProxy(server!.url, proxy) };
  const restarted = (async () => {
    const watcher = new pg.Client({ connectionString: server!.url });
    watcher.on('error', () => undefined);
    await watcher.connect();
    try {
      for (let i = 0; i < 500; i++) {
        const { rows: copying } = await watcher.query(`SELECT 1 FROM pg_stat_progress_copy WHERE relid = 'public.orders'::regclass AND bytes_processed > 100000`);
        if (copying.length) break;
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await watcher.end().catch(() => undefined);
    }
    await server!.stop();
    await new Promise((r) => setTimeout(r, 500));
    await start();
    proxy.throttle(undefined);
  })();
  const notices: string[] = [];
  const output = await runPipeline(h.spec({ name: 'restart', source: { prefix: 'restart/' }, sink: { table: 'public.orders' } }), {
    env,
    timerScale: 0.2,
    log: (line) => notices.push(line),
  });
  await restarted;
  expect(output.files).toMatchObject([{ status: 'Succeeded', rowsCopied: rows }]);
  expect(output.files[0]!.attempts).toBeGreaterThanOrEqual(2);
  expect(notices.join('\n')).toMatch(/retry +pipeline restart restart\/orders\.csv: .*(terminating connection|connection to PostgreSQL was lost)/);

  const check = new pg.Client({ connectionString: server!.url });
  await check.connect();
  try {
    const { rows: [counts] } = await check.query('SELECT count(*)::int AS rows, count(DISTINCT id)::int AS keys FROM orders');
    expect(counts).toEqual({ rows, keys: rows });
    const { rows: [ledger] } = await check.query(`SELECT count(*)::int AS n FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions`);
    expect(ledger).toEqual({ n: 1 });
  } finally {
    await check.end();
  }
}, 120_000);
