import { describe, expect, it } from 'vitest';
import { blobEndpointHost, blobRefFromEvent, eventInstanceId, instanceIdForEvent, normalizeEtag, parseBlobEvents, pipelinesForEvent, scheduledInstanceId, type PipelineTarget } from '../../src/app/events.js';
import { scheduleRegistrations, timerFunctionName } from '../../src/app/triggers.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';

const ACCOUNT = 'https://acct.blob.core.windows.net';

function gridEvent(blob: string, overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}) {
  return {
    subject: `/blobServices/default/containers/incoming/blobs/${blob}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: '2026-11-20T10:00:00Z',
    data: { api: 'PutBlockList', eTag: '0x8DE1', contentLength: 42, url: `${ACCOUNT}/incoming/${blob}`, ...data },
    ...overrides,
  };
}

function target(overrides: Record<string, unknown> = {}, containerUrl: string | undefined = `${ACCOUNT}/incoming`): PipelineTarget {
  return {
    spec: parsePipelineSpec({ name: 'orders', source: { container: 'incoming', prefix: 'orders/', wildcard: '*.csv' }, sink: { table: 't' }, triggers: [{ type: 'BlobCreated' }], ...overrides }),
    containerUrl,
  };
}

describe('parseBlobEvents', () => {
  it('reads the Event Grid schema from an object, JSON text, or base64 JSON; ETag bare, as listing gives it', () => {
    const event = gridEvent('orders/a b.csv');
    for (const message of [event, JSON.stringify(event), Buffer.from(JSON.stringify([event])).toString('base64')]) {
      expect(parseBlobEvents(message).events).toEqual([
        { url: `${ACCOUNT}/incoming/orders/a b.csv`, container: 'incoming', blob: 'orders/a b.csv', etag: '0x8DE1', size: 42, eventTime: '2026-11-20T10:00:00Z' },
      ]);
    }
  });

  it('reads CloudEvents 1.0 (type/time) too', () => {
    const { eventType: _t, eventTime: _e, ...rest } = gridEvent('orders/x.csv');
    const parsed = parseBlobEvents({ ...rest, specversion: '1.0', type: 'Microsoft.Storage.BlobCreated', time: '2026-11-21T00:00:00Z' });
    expect(parsed.events[0]).toMatchObject({ blob: 'orders/x.csv', eventTime: '2026-11-21T00:00:00Z' });
  });

  it('ignores other event types and the empty CreateFile of hierarchical namespaces', () => {
    const parsed = parseBlobEvents([gridEvent('orders/a.csv', { eventType: 'Microsoft.Storage.BlobDeleted' }), gridEvent('orders/b.csv', {}, { api: 'CreateFile' })]);
    expect(parsed.events).toEqual([]);
    expect(parsed.ignored).toHaveLength(2);
  });

  it('rejects what is not an event', () => {
    expect(() => parseBlobEvents('hello')).toThrow(/neither JSON nor base64/);
    expect(() => parseBlobEvents({ eventType: 'Microsoft.Storage.BlobCreated', subject: 'nope', data: {} })).toThrow(/without subject/);
  });
});

describe('pipelinesForEvent', () => {
  const [event] = parseBlobEvents(gridEvent('orders/2026.csv')).events;
  it('matches container, prefix and wildcard of pipelines with a BlobCreated trigger', () => {
    expect(pipelinesForEvent(event!, [target()]).map((s) => s.name)).toEqual(['orders']);
  });
  it('does not match another prefix, wildcard, account, container, or a pipeline without the trigger', () => {
    expect(pipelinesForEvent(parseBlobEvents(gridEvent('other/2026.csv')).events[0]!, [target()])).toEqual([]);
    expect(pipelinesForEvent(parseBlobEvents(gridEvent('orders/2026.txt')).events[0]!, [target()])).toEqual([]);
    expect(pipelinesForEvent(event!, [target({}, 'https://other.blob.core.windows.net/incoming')])).toEqual([]);
    expect(pipelinesForEvent(event!, [{ spec: target().spec }])).toEqual([]);
    expect(pipelinesForEvent(event!, [target({ triggers: [{ type: 'Schedule', schedule: '0 0 * * * *' }] })])).toEqual([]);
  });
  it('matches Azurite-style path URLs', () => {
    const local = parseBlobEvents(gridEvent('orders/a.csv', {}, { url: 'http://127.0.0.1:10000/devstoreaccount1/incoming/orders/a.csv' })).events[0]!;
    expect(pipelinesForEvent(local, [target({}, 'http://127.0.0.1:10000/devstoreaccount1/incoming')])).toHaveLength(1);
    expect(pipelinesForEvent(local, [target({}, 'http://127.0.0.1:10000/otheraccount/incoming')])).toHaveLength(0);
  });
});

describe('instance IDs', () => {
  it('derive from pipeline + blob + ETag, whatever the ETag quoting; anything else changes them', () => {
    const id = eventInstanceId('orders', 'incoming', 'orders/a.csv', '0x8DE1');
    expect(id).toMatch(/^orders-[0-9a-f]{32}$/);
    expect(eventInstanceId('orders', 'incoming', 'orders/a.csv', '"0x8DE1"')).toBe(id);
    expect(new Set([
      id,
      eventInstanceId('orders2', 'incoming', 'orders/a.csv', '0x8DE1'),
      eventInstanceId('orders', 'incoming', 'orders/b.csv', '0x8DE1'),
      eventInstanceId('orders', 'incoming', 'orders/a.csv', '0x8DE2'),
    ]).size).toBe(4);
    expect(eventInstanceId('x'.repeat(120), 'c', 'b', 'e').length).toBeLessThanOrEqual(100);
    // One run per tick, named by its time; a long pipeline name still fits the durable limit.
    expect(scheduledInstanceId('orders', new Date('2026-11-28T17:00:00.123Z'))).toBe('orders-scheduled-20261128T170000123Z');
    expect(scheduledInstanceId('orders', new Date('2026-11-28T17:15:00Z'))).not.toBe(scheduledInstanceId('orders', new Date('2026-11-28T17:00:00Z')));
    expect(scheduledInstanceId('x'.repeat(120), new Date()).length).toBe(100);
    expect(normalizeEtag('"0x1"')).toBe('0x1');
    expect(normalizeEtag('0x1')).toBe('0x1');
  });
});

describe('ADLS Gen2 accounts', () => {
  const DFS = 'https://acct.dfs.core.windows.net';

  it('matches events that name the blob by its dfs endpoint (FlushWithClose)', () => {
    const event = parseBlobEvents(gridEvent('orders/a.csv', {}, { api: 'FlushWithClose', url: `${DFS}/incoming/orders/a.csv` })).events[0]!;
    expect(event.url).toBe(`${DFS}/incoming/orders/a.csv`);
    expect(pipelinesForEvent(event, [target()]).map((s) => s.name)).toEqual(['orders']);
    // Another account's dfs endpoint is still another account.
    const other = parseBlobEvents(gridEvent('orders/a.csv', {}, { url: 'https://other.dfs.core.windows.net/incoming/orders/a.csv' })).events[0]!;
    expect(pipelinesForEvent(other, [target()])).toEqual([]);
  });

  it('starts a file renamed into place by name (BlobRenamed has no ETag), one instance per event', () => {
    const renamed = {
      id: 'evt-1',
      subject: '/blobServices/default/containers/incoming/blobs/orders/final.csv',
      eventType: 'Microsoft.Storage.BlobRenamed',
      eventTime: '2026-11-20T10:00:00Z',
      data: { api: 'RenameFile', sourceUrl: `${DFS}/incoming/tmp/x.tmp`, destinationUrl: `${DFS}/incoming/orders/final.csv`, sequencer: '00000000000000000000000000000A1B' },
    };
    const [event] = parseBlobEvents(renamed).events;
    expect(event!.etag).toBeUndefined();
    expect(event).toMatchObject({ blob: 'orders/final.csv', eventKey: '00000000000000000000000000000A1B', url: `${DFS}/incoming/orders/final.csv` });
    expect(blobRefFromEvent(event!)).toBeUndefined();
    expect(pipelinesForEvent(event!, [target()]).map((s) => s.name)).toEqual(['orders']);
    const again = parseBlobEvents(renamed).events[0]!;
    expect(instanceIdForEvent('orders', again)).toBe(instanceIdForEvent('orders', event!));
    const later = parseBlobEvents({ ...renamed, data: { ...renamed.data, sequencer: '00000000000000000000000000000A1C' } }).events[0]!;
    expect(instanceIdForEvent('orders', later)).not.toBe(instanceIdForEvent('orders', event!));
    // A created blob's instance is still keyed by its version.
    const created = parseBlobEvents(gridEvent('orders/final.csv')).events[0]!;
    expect(instanceIdForEvent('orders', created)).toBe(eventInstanceId('orders', 'incoming', 'orders/final.csv', '0x8DE1'));
  });

  it('ignores directory renames and the empty CreateFile', () => {
    const dir = { subject: '/blobServices/default/containers/incoming/blobs/orders', eventType: 'Microsoft.Storage.BlobRenamed', data: { api: 'RenameDirectory', destinationUrl: `${DFS}/incoming/orders` } };
    expect(parseBlobEvents(dir)).toEqual({ events: [], ignored: ['RenameDirectory /blobServices/default/containers/incoming/blobs/orders'] });
  });

  it('maps dfs hosts to the blob host in any cloud, and leaves others alone', () => {
    expect(blobEndpointHost('Acct.DFS.core.windows.net')).toBe('acct.blob.core.windows.net');
    expect(blobEndpointHost('acct.dfs.core.chinacloudapi.cn')).toBe('acct.blob.core.chinacloudapi.cn');
    expect(blobEndpointHost('127.0.0.1:10000')).toBe('127.0.0.1:10000');
    expect(blobEndpointHost('dfsacct.blob.core.windows.net')).toBe('dfsacct.blob.core.windows.net');
  });
});

describe('timer function names', () => {
  const spec = (name: string, schedules = 1) =>
    parsePipelineSpec({ name, source: { container: 'ccc' }, sink: { table: 't' }, triggers: Array.from({ length: schedules }, () => ({ type: 'Schedule', schedule: '0 0 * * * *' })) });

  it('are legal function names of at most 128 characters, for any pipeline name', () => {
    for (const name of ['orders', 'a.b', 'x'.repeat(120), 'Zoë — 東京', '9lives']) {
      const fn = timerFunctionName(name, 12);
      expect(fn, name).toMatch(/^[A-Za-z][A-Za-z0-9_-]{0,127}$/);
    }
    expect(timerFunctionName('x'.repeat(120), 0).length).toBeLessThanOrEqual(128);
  });

  it('never collide: a.b / a_b, Orders / orders, long names sharing 80 characters', () => {
    const names = ['a.b', 'a_b', 'Orders', 'orders', `${'x'.repeat(100)}1`, `${'x'.repeat(100)}2`];
    const fns = names.map((n) => timerFunctionName(n, 0).toLowerCase());
    expect(new Set(fns).size).toBe(names.length);
    const { registrations, errors } = scheduleRegistrations(names.map((n) => spec(n, 2)));
    expect(errors).toEqual([]);
    expect(registrations).toHaveLength(names.length * 2);
    expect(new Set(registrations.map((r) => r.name.toLowerCase())).size).toBe(names.length * 2);
  });

  it('are validated when registered: a clash is reported and left out, not handed to the host', () => {
    // The same pipeline name twice cannot come from one folder (the loader refuses it), but
    // the check does not trust that.
    const { registrations, errors } = scheduleRegistrations([spec('orders'), spec('orders')]);
    expect(registrations).toHaveLength(1);
    expect(errors).toEqual([expect.stringMatching(/timer function name "schedule-orders-0-[0-9a-f]{8}" is already used by pipeline orders/)]);
  });
});
