import { describe, expect, it } from 'vitest';
import { eventInstanceId, normalizeEtag, parseBlobEvents, pipelinesForEvent, scheduledInstanceId, type PipelineTarget } from '../../src/app/events.js';
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
    expect(scheduledInstanceId('orders')).toBe('orders-scheduled');
    expect(normalizeEtag('"0x1"')).toBe('0x1');
    expect(normalizeEtag('0x1')).toBe('0x1');
  });
});
