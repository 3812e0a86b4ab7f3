/**
 * 1,000 blobs × 1,000 rows through the app's orchestrator on the local durable runtime
 * (two sub-orchestrations of 500, waves of maxParallelCopies), against Azurite and
 * PostgreSQL: every row loaded exactly once, a re-run loads nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAppEnv } from '../../src/app/appEnv.js';
import type { LocalDurableRuntime } from '../../src/local/durable.js';
import { RUN_ORCHESTRATOR } from '../../src/app/triggers.js';
import { localRuntime } from '../../src/local/run.js';
import type { RunOutput } from '../../src/run/output.js';
import { createHarness, type Harness } from '../support/harness.js';

const BLOBS = 1000;
const ROWS = 1000;

let h: Harness;
beforeAll(async () => {
  h = await createHarness('many');
  await h.query(`CREATE TABLE "${h.schema}".many (blob int, n int, label text)`);
  const names = Array.from({ length: BLOBS }, (_, b) => `many/${String(b).padStart(4, '0')}.csv`);
  let next = 0;
  const upload = async () => {
    while (next < names.length) {
      const b = next++;
      let csv = 'blob,n,label\n';
      for (let n = 0; n < ROWS; n++) csv += `${b},${n},row ${n} of blob ${b}\n`;
      await h.upload(names[b]!, csv);
    }
  };
  await Promise.all(Array.from({ length: 32 }, upload));
}, 120_000);
afterAll(async () => h?.close());

async function run(runtime: LocalDurableRuntime, id: string): Promise<RunOutput> {
  const spec = h.spec({ name: 'many', source: { prefix: 'many/' }, sink: { table: `${h.schema}.many` }, maxParallelCopies: 8 });
  return withAppEnv(h.env, async () => {
    await runtime.startNew(RUN_ORCHESTRATOR, { instanceId: id, input: { spec } });
    const status = await runtime.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Completed');
    return status.output as RunOutput;
  });
}

describe('orchestrator at scale', () => {
  it('loads 1,000 blobs × 1,000 rows exactly once', async () => {
    const runtime = await localRuntime();
    const started = performance.now();
    const output = await run(runtime, 'many-1');
    const seconds = (performance.now() - started) / 1000;
    expect(output).toMatchObject({ status: 'Succeeded', filesRead: BLOBS, filesFailed: 0, rowsCopied: BLOBS * ROWS });
    // Counters only: the orchestration's output lists no file that loaded at the first attempt.
    expect(output.files).toEqual([]);
    // Two batches of 500, each its own sub-orchestration (IDs unique to the run); never more than 8 copies at once.
    const batches = runtime.instanceIds().filter((id) => id.startsWith('many-1:'));
    expect(batches.map((id) => id.replace(/:[0-9a-f]{20}:/, ':<key>:'))).toEqual(['many-1:<key>:batch-0', 'many-1:<key>:batch-1']);
    for (const id of batches) expect((await runtime.getStatus(id))?.runtimeStatus).toBe('Completed');
    expect(runtime.peakActivities).toBeLessThanOrEqual(8);
    expect(runtime.peakActivities).toBeGreaterThan(1);
    const [counts] = await h.query<{ total: number; distinct_rows: number; blobs: number }>(
      `SELECT count(*)::int AS total, count(DISTINCT (blob, n))::int AS distinct_rows, count(DISTINCT blob)::int AS blobs FROM "${h.schema}".many`,
    );
    expect(counts).toEqual({ total: BLOBS * ROWS, distinct_rows: BLOBS * ROWS, blobs: BLOBS });
    console.log(`1,000 blobs × 1,000 rows through the orchestrator: ${seconds.toFixed(1)} s`);

    const again = await run(runtime, 'many-2');
    expect(again).toMatchObject({ status: 'Succeeded', filesRead: 0, filesSkipped: BLOBS, rowsCopied: 0 });
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".many`)).toEqual([{ n: BLOBS * ROWS }]);
  }, 180_000);
});
