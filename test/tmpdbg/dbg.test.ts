import { afterAll, beforeAll, it, expect } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { sweepPage } from '../../src/app/sweep.js';
import { containerFor } from '../../src/source/blobs.js';
let h: Harness;
beforeAll(async () => { h = await createHarness('dbg'); });
afterAll(async () => h?.close());
it('dbg', async () => {
  const t = await h.table('rerun', 'id int');
  await h.upload('rerun/a.csv', 'id\n1\n2\n');
  const spec = h.spec({ source: { prefix: 'rerun/' }, sink: { table: t } });
  const c = containerFor(spec, h.env);
  for await (const p of c.listBlobsFlat({ prefix: 'rerun/' }).byPage({ maxPageSize: 5000 })) console.log('page', p.segment.blobItems.length, JSON.stringify(p.continuationToken));
  console.log('listed');
  const { poolFor } = await import('../../src/sink/index.js');
  const L = await import('../../src/sink/ledger.js');
  const pool = poolFor(spec.sink.connection, h.env);
  console.log('pool', pool.totalCount, pool.idleCount, pool.waitingCount, (pool as any).options.max);
  await L.ensureLedger(pool, L.ledgerSchemaName(undefined, h.env));
  console.log('ensured');

  console.log(await sweepPage(spec, { env: h.env }));
}, 10000);
