/**
 * Every function the app registers, captured through the host registration API
 * (@azure/functions-core, provided here as the Node worker provides it), and its bindings.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { installLocalHost, type RegisteredFunction } from '../../src/local/host.js';
import { setAppPipelines } from '../../src/app/pipelines.js';
import { timerFunctionName } from '../../src/app/triggers.js';

let fns: Map<string, RegisteredFunction>;

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-pipelines-'));
  const base = { source: { container: 'incoming', prefix: 'orders/' }, sink: { table: 'public.orders' } };
  await writeFile(path.join(dir, 'orders.json'), JSON.stringify({ ...base, name: 'orders', triggers: [{ type: 'BlobCreated' }, { type: 'Schedule', schedule: '0 */15 * * * *' }] }));
  await writeFile(path.join(dir, 'nightly.json'), JSON.stringify({ ...base, name: 'nightly.full', triggers: [{ type: 'Schedule', schedule: '0 0 2 * * *' }] }));
  await writeFile(path.join(dir, 'broken.json'), JSON.stringify({ ...base, name: 'broken', sink: { table: 'x', writeMethod: 'Teleport' } }));
  process.env.BLOB2PG_PIPELINES = dir;
  process.env.BLOB2PG_EVENTS_QUEUE = 'blob-created-test';
  setAppPipelines(undefined);
  fns = installLocalHost();
  await import('../../functions/index.js');
});

function binding(fn: RegisteredFunction | undefined, type: string) {
  return Object.values(fn!.metadata.bindings).filter((b) => b.type === type);
}

describe('function registrations', () => {
  it('registers exactly the expected functions', () => {
    expect([...fns.keys()].sort()).toEqual(
      ['blob2pgCopyBatch', 'blob2pgRun', 'blobCreated', 'copyBlob', 'startRun', 'getRun', 'listBlobs', 'listPipelines', 'runHistoryPage', 'saveSweepMark', timerFunctionName('nightly.full', 0), timerFunctionName('orders', 0), timerFunctionName('orders', 1), 'startPipelineRun'].sort(),
    );
  });

  it('queue trigger: queue from BLOB2PG_EVENTS_QUEUE on the host storage, with a durable client', () => {
    const fn = fns.get('blobCreated');
    expect(fn!.triggerType).toBe('queueTrigger');
    expect(fn!.trigger).toMatchObject({ queueName: 'blob-created-test', connection: 'AzureWebJobsStorage', direction: 'in' });
    expect(binding(fn, 'durableClient')).toHaveLength(1);
  });

  it('a reconciliation sweep per BlobCreated trigger: hourly unless reconcileSchedule says otherwise', () => {
    expect(fns.get(timerFunctionName('orders', 0))!.trigger).toMatchObject({ type: 'timerTrigger', schedule: '0 0 * * * *' });
    expect(binding(fns.get(timerFunctionName('orders', 0)), 'durableClient')).toHaveLength(1);
  });

  it('one timer per Schedule trigger, with its schedule and a durable client', () => {
    expect(fns.get(timerFunctionName('orders', 1))!.trigger).toMatchObject({ type: 'timerTrigger', schedule: '0 */15 * * * *' });
    expect(fns.get(timerFunctionName('nightly.full', 0))!.trigger).toMatchObject({ type: 'timerTrigger', schedule: '0 0 2 * * *' });
    expect(binding(fns.get(timerFunctionName('orders', 1)), 'durableClient')).toHaveLength(1);
  });

  it('HTTP routes, methods and authLevel function', () => {
    const http = (name: string) => fns.get(name)!.trigger;
    expect(http('startPipelineRun')).toMatchObject({ type: 'httpTrigger', route: 'pipelines/{name}/runs', methods: ['POST'], authLevel: 'function' });
    expect(http('startRun')).toMatchObject({ type: 'httpTrigger', route: 'runs', methods: ['POST'], authLevel: 'function' });
    expect(http('getRun')).toMatchObject({ type: 'httpTrigger', route: 'runs/{id}', methods: ['GET'], authLevel: 'function' });
    expect(http('listPipelines')).toMatchObject({ type: 'httpTrigger', route: 'pipelines', methods: ['GET'], authLevel: 'function' });
    expect(http('runHistoryPage')).toMatchObject({ type: 'httpTrigger', route: 'ui/{*path}', methods: ['GET', 'POST'], authLevel: 'function' });
    for (const name of ['startPipelineRun', 'startRun', 'getRun', 'runHistoryPage']) expect(binding(fns.get(name), 'durableClient')).toHaveLength(1);
    for (const name of ['startPipelineRun', 'startRun', 'getRun', 'listPipelines']) expect(binding(fns.get(name), 'http')).toHaveLength(1);
  });

  it('orchestrations and activities carry durable triggers', () => {
    expect(fns.get('blob2pgRun')!.triggerType).toBe('orchestrationTrigger');
    expect(fns.get('blob2pgCopyBatch')!.triggerType).toBe('orchestrationTrigger');
    expect(fns.get('listBlobs')!.triggerType).toBe('activityTrigger');
    expect(fns.get('copyBlob')!.triggerType).toBe('activityTrigger');
  });
});
