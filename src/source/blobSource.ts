/**
 * One blob version as the format layer sees it: a stream (every format but Parquet) or
 * ranged reads (Parquet reads its footer first, then one row group at a time). Both are
 * pinned to the listed ETag (If-Match), and both count the bytes they fetch.
 */
import type { Readable } from 'node:stream';
import type { AsyncBuffer } from 'hyparquet';
import { DataError } from '../errors.js';
import { ByteCounter } from '../format/compression.js';
import type { BlobSource } from '../format/index.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { containerFor, normalizeEtag, openBlob, type BlobRef, type SourceOptions } from './blobs.js';

export interface CountedBlobSource extends BlobSource {
  /** Bytes read from Blob Storage so far. */
  readonly bytesRead: number;
  /** Destroys the open stream, if any. */
  destroy(): void;
}

export function blobSource(spec: PipelineSpec, ref: BlobRef, options: SourceOptions = {}): CountedBlobSource {
  const counter = new ByteCounter();
  let rangeBytes = 0;
  let raw: Readable | undefined;
  const blob = () => containerFor(spec, options.env).getBlobClient(ref.name);
  const conditions = { ifMatch: `"${normalizeEtag(ref.etag)}"` };
  const wrap = (err: unknown): unknown => {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 412) return new DataError('the blob was overwritten while it was read (ETag changed); its new version loads on its own', {}, { cause: err });
    if (status === 404) return new DataError('the blob no longer exists', {}, { cause: err });
    return err;
  };
  return {
    name: ref.name,
    get bytesRead() {
      return counter.bytes + rangeBytes;
    },
    async open() {
      raw = await openBlob(spec, ref, options);
      raw.on('error', (err) => counter.destroy(err));
      return raw.pipe(counter);
    },
    async randomAccess(): Promise<AsyncBuffer> {
      const client = blob();
      let byteLength: number;
      try {
        byteLength = ref.size || (await client.getProperties({ conditions, abortSignal: options.abortSignal })).contentLength || 0;
      } catch (err) {
        throw wrap(err);
      }
      return {
        byteLength,
        async slice(start: number, end?: number): Promise<ArrayBuffer> {
          const stop = end ?? byteLength;
          if (stop <= start) return new ArrayBuffer(0);
          try {
            const buffer = await client.downloadToBuffer(start, stop - start, { conditions, abortSignal: options.abortSignal, maxRetryRequestsPerBlock: 5 });
            rangeBytes += buffer.length;
            return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
          } catch (err) {
            throw wrap(err);
          }
        },
      };
    },
    destroy() {
      raw?.destroy();
    },
  };
}
