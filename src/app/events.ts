/**
 * Blob-created events → (pipeline, blob) starts. Pure: no I/O, no clock.
 *
 * Event Grid delivers `Microsoft.Storage.BlobCreated` to a storage queue; the queue
 * trigger hands us the message (an object when the host could parse JSON, otherwise a
 * string, possibly base64). Both the Event Grid schema and the CloudEvents 1.0 schema are
 * accepted. https://learn.microsoft.com/azure/event-grid/event-schema-blob-storage
 */
import { createHash } from 'node:crypto';
import { blobMatches, normalizeEtag, type BlobRef } from '../source/blobs.js';

export { normalizeEtag };
import type { PipelineSpec } from '../pipeline/spec.js';

export const BLOB_CREATED = 'Microsoft.Storage.BlobCreated';

export interface BlobCreated {
  /** Blob URL as the event names it (no query string). */
  url: string;
  container: string;
  /** Blob name inside the container (decoded). */
  blob: string;
  /** Unquoted (`0x…`), the form List Blobs returns, so the ledger key matches a listed run's. */
  etag: string;
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
    if (type !== BLOB_CREATED) {
      ignored.push(`event type ${String(type)}`);
      continue;
    }
    if (data.api === 'CreateFile') {
      ignored.push(`CreateFile ${String(e.subject)}`);
      continue;
    }
    const match = typeof e.subject === 'string' ? SUBJECT.exec(e.subject) : null;
    if (!match || typeof data.url !== 'string' || typeof data.eTag !== 'string') {
      throw new EventParseError(`a ${BLOB_CREATED} event without subject, data.url or data.eTag`);
    }
    events.push({
      url: data.url.split('?')[0]!,
      container: match[1]!,
      blob: match[2]!,
      etag: normalizeEtag(data.eTag),
      size: typeof data.contentLength === 'number' ? data.contentLength : 0,
      eventTime: String(e.eventTime ?? e.time ?? new Date(0).toISOString()),
    });
  }
  return { events, ignored };
}

export interface PipelineTarget {
  spec: PipelineSpec;
  /** The pipeline's container URL from its connection (undefined when not configured). */
  containerUrl?: string;
}

function sameContainer(eventUrl: string, containerUrl: string): boolean {
  try {
    const a = new URL(eventUrl);
    const b = new URL(containerUrl);
    const path = decodeURIComponent(a.pathname);
    const prefix = decodeURIComponent(b.pathname).replace(/\/$/, '') + '/';
    return a.host.toLowerCase() === b.host.toLowerCase() && path.startsWith(prefix);
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

export function blobRefFromEvent(event: BlobCreated): BlobRef {
  return { name: event.blob, etag: event.etag, size: event.size, lastModified: event.eventTime };
}

/**
 * One orchestration per (pipeline, blob version): a duplicate delivery of the same event
 * derives the same ID and starts nothing new. Durable instance IDs allow 100 characters.
 */
export function eventInstanceId(pipeline: string, container: string, blob: string, etag: string): string {
  const hash = createHash('sha256').update(`${pipeline}\n${container}\n${blob}\n${normalizeEtag(etag)}`).digest('hex').slice(0, 32);
  return `${pipeline.slice(0, 60)}-${hash}`;
}

/** Scheduled runs of a pipeline share one ID: a tick while it runs finds it and skips. */
export function scheduledInstanceId(pipeline: string): string {
  return `${pipeline.slice(0, 80)}-scheduled`;
}
