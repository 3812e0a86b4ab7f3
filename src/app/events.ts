/**
 * Blob-created events → (pipeline, blob) starts. Pure: no I/O, no clock.
 *
 * Event Grid delivers `Microsoft.Storage.BlobCreated` (and, on ADLS Gen2 accounts,
 * `Microsoft.Storage.BlobRenamed`) to a storage queue; the queue trigger hands us the
 * message (an object when the host could parse JSON, otherwise a string, possibly base64).
 * Both the Event Grid schema and the CloudEvents 1.0 schema are accepted.
 * https://learn.microsoft.com/azure/event-grid/event-schema-blob-storage
 *
 * ADLS Gen2 (hierarchical namespace) accounts name blobs by their dfs endpoint
 * (`https://<account>.dfs.core.windows.net/<container>/<path>`): the same blob as
 * `<account>.blob.…`, which is what a pipeline's connection names. A BlobRenamed event (a
 * file renamed into place) names the new path, with neither ETag nor size: the run resolves
 * the name to its current version by listing it.
 */
import { createHash } from 'node:crypto';
import { blobMatches, normalizeEtag, type BlobRef } from '../source/blobs.js';

export { normalizeEtag };
import type { PipelineSpec } from '../pipeline/spec.js';

export const BLOB_CREATED = 'Microsoft.Storage.BlobCreated';
const BLOB_RENAMED = 'Microsoft.Storage.BlobRenamed';

export interface BlobCreated {
  /** Blob URL as the event names it (no query string). */
  url: string;
  container: string;
  /** Blob name inside the container (decoded). */
  blob: string;
  /**
   * Unquoted (`0x…`), the form List Blobs returns, so the ledger key matches a listed run's.
   * Undefined for a rename: the event carries no ETag.
   */
  etag?: string;
  /** For a rename (no ETag): the event's sequencer or ID, which a redelivery repeats. */
  eventKey?: string;
  size: number;
  /** ISO 8601: the event time, the closest the event has to Last-Modified. */
  eventTime: string;
}

export class EventParseError extends Error {}

function decodeMessage(message: unknown): unknown {
  if (typeof message !== 'string' && !Buffer.isBuffer(message)) return message;
  const text = message.toString().trim();
  if (text.startsWith('{') || text.startsWith('[')) return JSON.parse(text);
  // A queue message the host did not base64-decode (messageEncoding none).
  const decoded = Buffer.from(text, 'base64').toString('utf8').trim();
  if (decoded.startsWith('{') || decoded.startsWith('[')) return JSON.parse(decoded);
  throw new EventParseError('queue message is neither JSON nor base64-encoded JSON');
}

/** `/blobServices/default/containers/{container}/blobs/{name}` */
const SUBJECT = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/;

/**
 * Parses a queue message into the BlobCreated events it carries. Other event types
 * (and the empty-file CreateFile of hierarchical-namespace accounts, which is followed by
 * a FlushWithClose event with the content) come back as `ignored`.
 */
export function parseBlobEvents(message: unknown): { events: BlobCreated[]; ignored: string[] } {
  let value: unknown;
  try {
    value = decodeMessage(message);
  } catch (err) {
    throw new EventParseError(`cannot parse the queue message: ${(err as Error).message}`);
  }
  const list = Array.isArray(value) ? value : [value];
  const events: BlobCreated[] = [];
  const ignored: string[] = [];
  for (const raw of list) {
    if (!raw || typeof raw !== 'object') throw new EventParseError('an event is not a JSON object');
    const e = raw as Record<string, unknown>;
    const type = (e.eventType ?? e.type) as string | undefined;
    const data = (e.data ?? {}) as Record<string, unknown>;
    if (type !== BLOB_CREATED && type !== BLOB_RENAMED) {
      ignored.push(`event type ${String(type)}`);
      continue;
    }
    if (data.api === 'CreateFile' || data.api === 'RenameDirectory') {
      ignored.push(`${String(data.api)} ${String(e.subject)}`);
      continue;
    }
    const match = typeof e.subject === 'string' ? SUBJECT.exec(e.subject) : null;
    const eventTime = String(e.eventTime ?? e.time ?? new Date(0).toISOString());
    if (type === BLOB_RENAMED) {
      const key = data.sequencer ?? e.id;
      if (!match || typeof data.destinationUrl !== 'string' || typeof key !== 'string') {
        throw new EventParseError(`a ${BLOB_RENAMED} event without subject, data.destinationUrl or an event id`);
      }
      events.push({ url: data.destinationUrl.split('?')[0]!, container: match[1]!, blob: match[2]!, eventKey: key, size: 0, eventTime });
      continue;
    }
    if (!match || typeof data.url !== 'string' || typeof data.eTag !== 'string') {
      throw new EventParseError(`a ${BLOB_CREATED} event without subject, data.url or data.eTag`);
    }
    events.push({
      url: data.url.split('?')[0]!,
      container: match[1]!,
      blob: match[2]!,
      etag: normalizeEtag(data.eTag),
      size: typeof data.contentLength === 'number' ? data.contentLength : 0,
      eventTime,
    });
  }
  return { events, ignored };
}

export interface PipelineTarget {
  spec: PipelineSpec;
  /** The pipeline's container URL from its connection (undefined when not configured). */
  containerUrl?: string;
}

/** `<account>.dfs.<suffix>` → `<account>.blob.<suffix>`: one account, two endpoints (any cloud). */
export function blobEndpointHost(host: string): string {
  return host.toLowerCase().replace(/^([^.]+)\.dfs\./, '$1.blob.');
}

function sameContainer(eventUrl: string, containerUrl: string): boolean {
  try {
    const a = new URL(eventUrl);
    const b = new URL(containerUrl);
    const path = decodeURIComponent(a.pathname);
    const prefix = decodeURIComponent(b.pathname).replace(/\/$/, '') + '/';
    return blobEndpointHost(a.host) === blobEndpointHost(b.host) && path.startsWith(prefix);
  } catch {
    return false;
  }
}

/**
 * The pipelines that load this blob: a BlobCreated trigger, the same account and
 * container (by URL), and the pipeline's prefix / wildcard / modified window.
 */
export function pipelinesForEvent(event: BlobCreated, targets: readonly PipelineTarget[]): PipelineSpec[] {
  return targets
    .filter(({ spec, containerUrl }) =>
      spec.triggers.some((t) => t.type === 'BlobCreated') &&
      spec.source.container === event.container &&
      containerUrl !== undefined &&
      sameContainer(event.url, containerUrl) &&
      blobMatches(spec, { name: event.blob, lastModified: event.eventTime }),
    )
    .map((t) => t.spec);
}

/** The blob version an event names; undefined for a rename, which names no version. */
export function blobRefFromEvent(event: BlobCreated): BlobRef | undefined {
  return event.etag === undefined ? undefined : { name: event.blob, etag: event.etag, size: event.size, lastModified: event.eventTime };
}

/**
 * One orchestration per (pipeline, blob version): a duplicate delivery of the same event
 * derives the same ID and starts nothing new. Durable instance IDs allow 100 characters.
 */
export function eventInstanceId(pipeline: string, container: string, blob: string, etag: string): string {
  const hash = createHash('sha256').update(`${pipeline}\n${container}\n${blob}\n${normalizeEtag(etag)}`).digest('hex').slice(0, 32);
  return `${pipeline.slice(0, 60)}-${hash}`;
}

/** The instance for an event: by blob version, or for a rename (no ETag) by the event's own key. */
export function instanceIdForEvent(pipeline: string, event: BlobCreated): string {
  return eventInstanceId(pipeline, event.container, event.blob, event.etag ?? `renamed:${event.eventKey}`);
}

/**
 * Every tick is its own run, so the run log has one row per scheduled run (as ADF's Monitor
 * lists them): `<pipeline>-scheduled-<tick time, UTC, to the millisecond>`, at most 70 + 11 +
 * 19 = 100 characters (the durable limit). A tick while the previous one runs is found
 * through the run log instead (triggers.ts, handleScheduleTick).
 */
export function scheduledInstanceId(pipeline: string, tick: Date): string {
  return `${pipeline.slice(0, 70)}-scheduled-${tick.toISOString().replace(/[-:.]/g, '')}`;
}
