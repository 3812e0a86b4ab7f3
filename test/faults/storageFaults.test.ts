/**
 * Fault suite, storage side: the download of a blob reset, closed or stalled mid-body by a
 * TCP proxy in front of Azurite. The read resumes from where it broke, pinned to the same
 * ETag, says so, and the blob loads exactly once; an overwrite between the break and the
 * resume fails the blob (no mix of two versions) and leaves the table as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/local/run.js';
import type { RunOutput } from '../../src/run/output.js';
import { loadedOnce, ORDERS_DDL, ordersCsv } from '../support/faultChecks.js';
import { serviceAddress, startFaultProxy, throughProxy, type Fault, type FaultProxy } from '../support/faultProxy.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let proxy: FaultProxy;
let env: Record<string, string>;
beforeAll(async () => {
  h = await createHarness('stfault');
  proxy = await startFaultProxy(serviceAddress(h.env.SOURCE_STORAGE!));
  // A stall is declared after 1 s without bytes (default 60 s).
  env = { ...h.env, SOURCE_STORAGE: throughProxy(h.env.SOURCE_STORAGE!, proxy), BLOB2PG_STALL_TIMEOUT_MS: '1000' };
});
afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

const ROWS = 40_000; // ~1.6 MB: a fault after 500 KB lands mid-download.

const counts = (name: string) => loadedOnce(h, `${h.schema}.${name}`);

async function load(name: string, onNotice?: (line: string) => void): Promise<{ output: RunOutput; notices: string[] }> {
  const t = `${h.schema}.${name}`;
  const notices: string[] = [];
  const output = await runPipeline(h.spec({ name, source: { prefix: `${name}/` }, sink: { table: t } }), {
    env,
    timerScale: 0.02,
    log: (line) => (notices.push(line), onNotice?.(line)),
  });
  return { output, notices };
}

describe('a storage download broken mid-body resumes from where it broke', () => {
  const cases: Array<{ fault: Fault; says: RegExp }> = [
    { fault: { action: 'reset', direction: 'down', afterBytes: 500_000 }, says: /connection reset/ },
    { fault: { action: 'close', direction: 'down', afterBytes: 500_000 }, says: /failed after 0\.\d MB: / },
    { fault: { action: 'stall', direction: 'down', afterBytes: 500_000 }, says: /stalled: no bytes for 1 s/ },
  ];
  for (const { fault, says } of cases) {
    it(`${fault.action} after ${fault.afterBytes / 1000} KB`, async () => {
      const name = `dl${fault.action}`;
      await h.table(name, ORDERS_DDL);
      await h.upload(`${name}/orders.csv`, ordersCsv(ROWS));
      const fired = proxy.firedCount;
      proxy.arm(fault);
      const { output, notices } = await load(name);
      expect(proxy.firedCount).toBe(fired + 1);
      const said = notices.join('\n');
      expect(said).toMatch(new RegExp(`retry +storage read of ${name}/orders\\.csv failed after 0\\.\\d MB: .*\\(retrying 2/5\\)`));
      expect(said).toMatch(says);
      // Resumed inside the one attempt: no retry of the load, no second ledger claim.
      expect(output.files).toMatchObject([{ status: 'Succeeded', rowsCopied: ROWS }]);
      expect(output.files[0]!.attempts).toBeUndefined();
      expect(await counts(name)).toEqual({ rows: ROWS, keys: ROWS, ledgerRows: 1 });
    });
  }

  it('an overwrite between the break and the resume fails the blob (If-Match), and the table stays as it was', async () => {
    const name = 'dloverwrite';
    await h.table(name, ORDERS_DDL);
    await h.upload(`${name}/orders.csv`, ordersCsv(ROWS));
    proxy.arm({ action: 'reset', direction: 'down', afterBytes: 500_000 });
    let overwritten: Promise<unknown> | undefined;
    const { output } = await load(name, (line) => {
      if (line.includes('storage read of')) overwritten ??= h.upload(`${name}/orders.csv`, ordersCsv(10));
    });
    await overwritten;
    expect(output.files).toMatchObject([{ status: 'Failed', error: { message: expect.stringMatching(/overwritten .*ETag changed/) } }]);
    expect(await counts(name)).toEqual({ rows: 0, keys: 0, ledgerRows: 0 });
  });
});
