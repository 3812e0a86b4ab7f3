/**
 * Parquet fixtures written with hyparquet-writer. Node 20's zlib has gzip and brotli but
 * no zstd or lz4 compressor, so those two are written as the simplest valid frames:
 * zstd with raw (stored) blocks, LZ4 as one literal-only block (LZ4_RAW, and LZ4 in
 * Hadoop framing). The reader still runs its real decompressor over them.
 */
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';

type Compressor = (input: Uint8Array) => Uint8Array;

/** A zstd frame of raw blocks (RFC 8878 §3.1): magic, header with a 128 KB window, blocks. */
export function zstdStored(input: Uint8Array): Uint8Array {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])];
  const max = 128 * 1024;
  let offset = 0;
  do {
    const size = Math.min(max, input.length - offset);
    const last = offset + size >= input.length ? 1 : 0;
    const header = (size << 3) | (0 << 1) | last;
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]), Buffer.from(input.subarray(offset, offset + size)));
    offset += size;
  } while (offset < input.length);
  return Buffer.concat(parts);
}

/** One LZ4 block holding only literals (the last sequence of a block may have no match). */
export function lz4Literals(input: Uint8Array): Uint8Array {
  const parts: number[] = [];
  const n = input.length;
  if (n < 15) parts.push(n << 4);
  else {
    parts.push(0xf0);
    let rest = n - 15;
    while (rest >= 255) {
      parts.push(255);
      rest -= 255;
    }
    parts.push(rest);
  }
  return Buffer.concat([Buffer.from(parts), Buffer.from(input)]);
}

function lz4Hadoop(input: Uint8Array): Uint8Array {
  const block = lz4Literals(input);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(input.length, 0);
  header.writeUInt32BE(block.length, 4);
  return Buffer.concat([header, block]);
}

export const compressors: Record<string, Compressor> = {
  GZIP: (input) => gzipSync(input),
  BROTLI: (input) => brotliCompressSync(input),
  ZSTD: zstdStored,
  LZ4_RAW: lz4Literals,
  LZ4: lz4Hadoop,
};

export type Codec = 'UNCOMPRESSED' | 'SNAPPY' | 'GZIP' | 'BROTLI' | 'ZSTD' | 'LZ4' | 'LZ4_RAW';

export function writeParquet(options: Parameters<typeof parquetWriteBuffer>[0]): Buffer {
  return Buffer.from(parquetWriteBuffer({ compressors, ...options } as Parameters<typeof parquetWriteBuffer>[0]));
}

/**
 * INT96 (legacy Impala/Spark timestamps): hyparquet-writer cannot write the type, so a
 * 12-byte FIXED_LEN_BYTE_ARRAY column is written and its type patched to INT96 in the
 * Thrift footer (SchemaElement.type and ColumnMetaData.type, field 1, 7 → 3). The file
 * must have no other FIXED_LEN_BYTE_ARRAY(12) column.
 */
export function patchFlba12ToInt96(file: Buffer): Buffer {
  const out = Buffer.from(file);
  const footerLength = out.readUInt32LE(out.length - 8);
  const start = out.length - 8 - footerLength;
  let patched = 0;
  for (let i = start; i < out.length - 8 - 3; i++) {
    // SchemaElement: type=FLBA (0x15 0x0e), type_length=12 (0x15 0x18)
    if (out[i] === 0x15 && out[i + 1] === 0x0e && out[i + 2] === 0x15 && out[i + 3] === 0x18) {
      out[i + 1] = 0x06;
      patched++;
    } else if (out[i] === 0x15 && out[i + 1] === 0x0e && out[i + 2] === 0x19) {
      // ColumnMetaData: type=FLBA, then the encodings list (field 2)
      out[i + 1] = 0x06;
      patched++;
    }
  }
  if (patched < 2) throw new Error(`INT96 patch found ${patched} places`);
  return out;
}

/** Impala's INT96: 8 bytes nanoseconds of the day, then 4 bytes Julian day, little-endian. */
export function int96(date: Date, extraNanos = 0): Uint8Array {
  const millis = date.getTime();
  const days = Math.floor(millis / 86400000);
  const nanosOfDay = BigInt(millis - days * 86400000) * 1000000n + BigInt(extraNanos);
  const bytes = Buffer.alloc(12);
  bytes.writeBigUInt64LE(nanosOfDay, 0);
  bytes.writeUInt32LE(days + 2440588, 8);
  return bytes;
}
