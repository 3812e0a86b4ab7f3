/**
 * The source side: list the blobs a pipeline reads, and open one as a stream.
 * Only small, serialisable `BlobRef`s leave this module; bytes only ever flow as streams.
 */
import type { Readable } from 'node:stream';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { blobServiceClientFor } from '../connections/blobServiceClient.js';
import type { Env } from '../connections/settings.js';
import { DataError } from '../errors.js';
import { notice } from '../notices.js';
import { resumableDownload } from './resumableDownload.js';
import type { PipelineSpec } from '../pipeline/spec.js';

/** A reference to one version of one blob: what crosses the orchestrator boundary. */
export interface BlobRef {
  name: string;
  etag: string;
  size: number;
  /** ISO 8601. */
  lastModified: string;
}

export interface SourceOptions {
  env?: Env;
  abortSignal?: AbortSignal;
}

const containers = new WeakMap<BlobServiceClient, Map<string, ContainerClient>>();

/** The source container's client; one per service client and container (each builds its own request pipeline). */
export function containerFor(spec: PipelineSpec, env: Env = process.env): ContainerClient {
  const service = blobServiceClientFor(spec.source.connection, env);
  let byName = containers.get(service);
  if (!byName) containers.set(service, (byName = new Map()));
  let container = byName.get(spec.source.container);
  if (!container) byName.set(spec.source.container, (container = service.getContainerClient(spec.source.container)));
  return container;
}

/** `*.csv.gz` → /^[^/]*\.csv\.gz$/ ; `*` never crosses a `/`, `**` does, `?` is one character. */
export function wildcardToRegExp(wildcard: string): RegExp {
  let pattern = '';
  for (let i = 0; i < wildcard.length; i++) {
    const ch = wildcard[i]!;
    if (ch === '*' && wildcard[i + 1] === '*') {
      pattern += '.*';
      i++;
    } else if (ch === '*') pattern += '[^/]*';
    else if (ch === '?') pattern += '[^/]';
    else pattern += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${pattern}$`);
}

/**
 * ETags arrive quoted from HTTP headers (`"0x8D…"`) and bare from listings and Event Grid
 * (`0x8D…`); the ledger must see one spelling or a re-run would load a blob twice.
 */
export function normalizeEtag(etag: string): string {
  return etag.replace(/^(W\/)?"(.*)"$/, '$2');
}

/** Whether a listed blob belongs to the pipeline (prefix, wildcard, modified window). */
export function blobMatches(spec: PipelineSpec, blob: { name: string; lastModified: Date | string }): boolean {
  const { prefix, wildcard, modifiedAfter, modifiedBefore } = spec.source;
  if (!blob.name.startsWith(prefix) || blob.name.endsWith('/')) return false;
  if (wildcard) {
    // A wildcard without "/" matches the file name, as ADF's wildcardFileName does.
    const subject = wildcard.includes('/') ? blob.name : blob.name.slice(blob.name.lastIndexOf('/') + 1);
    if (!wildcardToRegExp(wildcard).test(subject)) return false;
  }
  const modified = new Date(blob.lastModified).getTime();
  if (modifiedAfter && modified < Date.parse(modifiedAfter)) return false;
  if (modifiedBefore && modified >= Date.parse(modifiedBefore)) return false;
  return true;
}

/** The pipeline's blobs, in listing (name) order, as an async iterator: never an array. */
export async function* listBlobs(spec: PipelineSpec, options: SourceOptions = {}): AsyncIterableIterator<BlobRef> {
  const container = containerFor(spec, options.env);
  for await (const item of container.listBlobsFlat({ prefix: spec.source.prefix || undefined, abortSignal: options.abortSignal })) {
    const lastModified = item.properties.lastModified;
    if (!blobMatches(spec, { name: item.name, lastModified })) continue;
    yield {
      name: item.name,
      etag: normalizeEtag(item.properties.etag),
      size: item.properties.contentLength ?? 0,
      lastModified: lastModified.toISOString(),
    };
  }
}

/** The blob's URL without any query string (a SAS must never reach the ledger or a log). */
export function blobUrl(spec: PipelineSpec, blobName: string, env?: Env): string {
  const url = new URL(containerFor(spec, env).getBlobClient(blobName).url);
  url.search = '';
  return url.toString();
}

/** BLOB2PG_STALL_TIMEOUT_MS: no bytes for this long on a connection that should be moving is a stall (default 60 s). */
export function stallTimeoutMs(env: Env = process.env): number {
  const raw = env.BLOB2PG_STALL_TIMEOUT_MS?.trim();
  const ms = raw ? Number(raw) : NaN;
  return Number.isInteger(ms) && ms > 0 ? ms : 60_000;
}

/**
 * Opens exactly the version named by `ref.etag` (If-Match), so the bytes loaded are the
 * bytes the ledger row names. A download cut short resumes from its offset, still pinned
 * to the ETag (resumableDownload.ts). `range`: bytes [start, end) only (a ranged GET;
 * the parallel COPY streams of one blob read one each).
 */
export async function openBlob(spec: PipelineSpec, ref: BlobRef, options: SourceOptions = {}, range?: { start: number; end: number }): Promise<Readable> {
  const blob = containerFor(spec, options.env).getBlobClient(ref.name);
  const open = async (offset: number, abortSignal: AbortSignal): Promise<Readable> => {
    try {
      const response = await blob.download((range?.start ?? 0) + offset, range && range.end - range.start - offset, {
        conditions: { ifMatch: `"${normalizeEtag(ref.etag)}"` },
        abortSignal,
        // Resuming is resumableDownload's job (the SDK's gives up on a reset).
        maxRetryRequests: 0,
      });
      return response.readableStreamBody as Readable;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 412) {
        throw new DataError('the blob was overwritten after it was listed (ETag changed); its new version loads on its own', {}, { cause: err });
      }
      if (status === 404) throw new DataError('the blob no longer exists', {}, { cause: err });
      throw err;
    }
  };
  const stream = resumableDownload({ name: ref.name, open, stallTimeoutMs: stallTimeoutMs(options.env), notice, abortSignal: options.abortSignal });
  // The first response (or the error that refuses it) before the caller reads: a missing or
  // overwritten blob fails here, as it did before resuming existed.
  await new Promise<void>((resolve, reject) => {
    const settle = (err?: Error) => {
      stream.off('readable', settle).off('error', settle).off('end', settle);
      if (err) reject(err);
      else resolve();
    };
    stream.on('readable', settle).on('error', settle).on('end', settle);
  });
  return stream;
}
