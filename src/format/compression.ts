/**
 * Decompression as stream stages chosen from the spec and the blob name, and archive
 * (zip / tar) entry iteration. Everything streams: no codec or archive is ever buffered
 * whole, so a truncated or corrupt input surfaces as a stream error part-way through
 * (the caller's transaction then rolls back everything the blob loaded).
 */
import { createRequire } from 'node:module';
import { PassThrough, Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import type { Entry as ZipEntry } from 'unzipper';
import { DataError } from '../errors.js';
import type { compressionCodecs } from '../pipeline/formatSpec.js';
import { MIN_CHUNK_BYTES } from './byteReader.js';

/**
 * The bzip2, zip and tar readers load on first use (zip alone is ~80 files with bluebird
 * and fs-extra): most blobs are plain or gzip, and every process start pays for what is
 * imported up front. They are CommonJS, so a synchronous require keeps these functions free
 * of an await between receiving a stream and listening to it (an error in between would go
 * unhandled).
 */
const lazyRequire = createRequire(import.meta.url);
const bz2 = () => lazyRequire('unbzip2-stream') as typeof import('unbzip2-stream');
const unzipper = () => lazyRequire('unzipper') as typeof import('unzipper');
const tar = () => lazyRequire('tar-stream') as typeof import('tar-stream');

export type CompressionCodec = (typeof compressionCodecs)[number];
export type ResolvedCodec = Exclude<CompressionCodec, 'auto'>;
export type ArchiveCodec = 'ZipDeflate' | 'Tar' | 'TarGzip';
export type StreamCodec = Exclude<ResolvedCodec, ArchiveCodec>;

const CODEC_EXTENSIONS: Array<[RegExp, ResolvedCodec]> = [
  [/\.(tar\.gz|tgz)$/i, 'TarGzip'],
  [/\.tar$/i, 'Tar'],
  [/\.zip$/i, 'ZipDeflate'],
  [/\.gz$/i, 'gzip'],
  [/\.bz2$/i, 'bzip2'],
  [/\.deflate$/i, 'deflate'],
];

/** `auto` decides from the blob name's extension. */
export function resolveCodec(codec: CompressionCodec, blobName: string): ResolvedCodec {
  if (codec !== 'auto') return codec;
  return CODEC_EXTENSIONS.find(([pattern]) => pattern.test(blobName))?.[1] ?? 'none';
}

export function isArchive(codec: ResolvedCodec): codec is ArchiveCodec {
  return codec === 'ZipDeflate' || codec === 'Tar' || codec === 'TarGzip';
}

/** `sales.csv.gz` → `sales.csv`; `x.tgz` → `x.tar` is not needed (archives hold entries). */
export function stripCodecExtension(name: string): string {
  const match = CODEC_EXTENSIONS.find(([pattern]) => pattern.test(name));
  return match ? name.replace(match[0], '') : name;
}

function corrupt(codec: string, err: unknown): DataError {
  const message = err instanceof Error ? err.message : String(err);
  return new DataError(`the ${codec} data is truncated or corrupt (${message}); nothing from this blob was loaded`, {}, { cause: err });
}

/** Pipes `source` through `stage`, so an error on either side reaches whoever reads `stage`. */
function through(source: Readable, stage: Transform, codec: string): Readable {
  pipeline(source, stage, () => undefined);
  const out = new PassThrough({ highWaterMark: MIN_CHUNK_BYTES });
  stage.on('error', (err) => out.destroy(err instanceof DataError ? err : corrupt(codec, err)));
  out.on('close', () => {
    if (!out.readableEnded) stage.destroy();
  });
  return stage.pipe(out);
}

/**
 * RFC 1950 (zlib-wrapped) or RFC 1951 (raw) deflate: ADF's "deflate" is .NET's
 * DeflateStream (raw), but zlib's own tools write the wrapped form; the 2-byte zlib
 * header (CMF·256+FLG divisible by 31, method 8) tells them apart.
 */
async function inflateAuto(source: Readable): Promise<Readable> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : first.value;
  const zlibWrapped = head.length >= 2 && (head[0]! & 0x0f) === 8 && ((head[0]! << 8) | head[1]!) % 31 === 0;
  const rest = Readable.from(
    (async function* () {
      if (!first.done) yield head;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    })(),
    { objectMode: false },
  );
  return through(rest, zlibWrapped ? createInflate({ chunkSize: MIN_CHUNK_BYTES }) : createInflateRaw({ chunkSize: MIN_CHUNK_BYTES }), 'deflate');
}

/** The stream inflated by a single-stream codec (`none` returns it as it is). */
export async function decompress(bytes: Readable, codec: StreamCodec): Promise<Readable> {
  switch (codec) {
    case 'none':
      return bytes;
    case 'gzip':
      // Node's gunzip reads concatenated members, as gzip(1) does; 64 KB output chunks
      // keep CopyData messages large.
      return through(bytes, createGunzip({ chunkSize: MIN_CHUNK_BYTES }), 'gzip');
    case 'deflate':
      return inflateAuto(bytes);
    case 'bzip2':
      return through(bytes, bz2()() as unknown as Transform, 'bzip2');
  }
}

export interface ArchiveEntry {
  /** The entry's path inside the archive, e.g. `2026/orders.csv`. */
  path: string;
  /** Its bytes: read it to the end (or destroy it) before asking for the next entry. */
  body: Readable;
}

/** An entry's bytes as a Node stream whose errors say the archive is corrupt. */
function guarded(entry: AsyncIterable<Buffer>, codec: string): Readable {
  return Readable.from(
    (async function* () {
      try {
        for await (const chunk of entry) yield chunk;
      } catch (err) {
        throw err instanceof DataError ? err : corrupt(codec, err);
      }
    })(),
    { objectMode: false },
  );
}

/**
 * The file entries of a zip or tar, one at a time, in archive order (directories and
 * links skipped). Zip is read from its local headers, front to back, never seeking to
 * the central directory, so it streams like tar does.
 */
export async function* archiveEntries(bytes: Readable, codec: ArchiveCodec): AsyncGenerator<ArchiveEntry> {
  if (codec === 'ZipDeflate') {
    const zip = bytes.pipe(unzipper().Parse({ forceStream: true }));
    bytes.on('error', (err) => zip.destroy(err));
    try {
      for await (const item of zip as AsyncIterable<ZipEntry>) {
        if (item.type !== 'File' || item.path.endsWith('/')) {
          item.autodrain();
          continue;
        }
        const body = guarded(item, 'zip');
        yield { path: item.path, body };
        if (!body.readableEnded) {
          body.destroy();
          item.autodrain();
        }
      }
    } catch (err) {
      throw err instanceof DataError ? err : corrupt('zip', err);
    }
    return;
  }
  const source = codec === 'TarGzip' ? await decompress(bytes, 'gzip') : bytes;
  const extract = tar().extract();
  pipeline(source, extract, () => undefined);
  try {
    for await (const entry of extract) {
      const type = entry.header.type;
      if (type !== 'file' && type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      // tar-stream entries are streamx streams: give the reader a Node one.
      const body = guarded(entry as AsyncIterable<Buffer>, codec === 'TarGzip' ? 'tar.gz' : 'tar');
      yield { path: entry.header.name, body };
      if (!body.readableEnded) {
        body.destroy();
        entry.resume();
      }
    }
  } catch (err) {
    throw err instanceof DataError ? err : corrupt(codec === 'TarGzip' ? 'tar.gz' : 'tar', err);
  }
}

/**
 * Whether the first `limit` compressed bytes of a stream decompress cleanly: the corrupt-data
 * error if not. Why: a corrupt deflate stream inflates to garbage for a while before zlib
 * notices, and COPY may choke on the garbage first ("missing data for column …", 22P04);
 * the load then asks, for the bytes it read, which came first (issue 11).
 */
export async function corruptionWithin(bytes: Readable, codec: StreamCodec, limit: number): Promise<DataError | undefined> {
  const counter = new ByteCounter();
  bytes.on('error', (err) => counter.destroy(err));
  const inflated = await decompress(bytes.pipe(counter), codec);
  try {
    for await (const chunk of inflated as AsyncIterable<Buffer>) {
      void chunk;
      if (counter.bytes >= limit) break;
    }
    return undefined;
  } catch (err) {
    return err instanceof DataError && /truncated or corrupt/.test(err.message) ? err : undefined;
  } finally {
    bytes.destroy();
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
