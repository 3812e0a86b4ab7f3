/** Decompression as a stream stage chosen from the spec and the blob name. */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { MIN_CHUNK_BYTES } from './byteReader.js';

export type CompressionCodec = 'auto' | 'none' | 'gzip';

/** `auto` decides from the blob name's extension. */
export function resolveCodec(codec: CompressionCodec, blobName: string): Exclude<CompressionCodec, 'auto'> {
  if (codec !== 'auto') return codec;
  return /\.gz$/i.test(blobName) ? 'gzip' : 'none';
}

/** A transform that inflates the stream, or undefined when the bytes pass as they are. */
export function decompressor(codec: CompressionCodec, blobName: string): Transform | undefined {
  switch (resolveCodec(codec, blobName)) {
    case 'gzip':
      // Node's gunzip reads concatenated members, as gzip(1) does; 64 KB output chunks
      // keep CopyData messages large.
      return createGunzip({ chunkSize: MIN_CHUNK_BYTES });
    case 'none':
      return undefined;
  }
}

/** Counts the bytes that pass (ADF's `dataRead` is the bytes read from the source). */
export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}
