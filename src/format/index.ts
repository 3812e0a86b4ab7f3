/**
 * From raw blob bytes to what a writer consumes: decompress, then decode.
 * Delimited text is decoded only up to its header; the body stays bytes for COPY.
 */
import type { Readable } from 'node:stream';
import type { SourceFormat } from '../pipeline/spec.js';
import { ByteReader } from './byteReader.js';
import { decompressor } from './compression.js';
import { readDelimitedPrologue, type DelimitedPrologue } from './delimited.js';

export interface DecodedBlob extends DelimitedPrologue {
  /** CSV records after the prologue, in ≥ 64 KB chunks. */
  body: Readable;
}

export async function decodeBlob(raw: Readable, format: SourceFormat, blobName: string): Promise<DecodedBlob> {
  const inflate = decompressor(format.compressionCodec, blobName);
  const bytes = inflate ? raw.pipe(inflate) : raw;
  // A decompression error must reach whoever reads `bytes`; pipe() does not forward it.
  if (inflate) raw.on('error', (err) => inflate.destroy(err));
  const reader = new ByteReader(bytes);
  const prologue = await readDelimitedPrologue(reader, format);
  return { ...prologue, body: reader.rest() };
}
