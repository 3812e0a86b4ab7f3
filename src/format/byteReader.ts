/**
 * A pull reader over a byte stream that lets a decoder look at the first bytes (BOM,
 * skipped lines, header) and then hand the rest on as a stream, without copying it.
 */
import { Readable } from 'node:stream';

/** Postgres handles one CopyData message per chunk; fewer, larger messages are faster. */
export const MIN_CHUNK_BYTES = 64 * 1024;

export class ByteReader {
  private buffered: Buffer = Buffer.alloc(0);
  private done = false;
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer | string>) {
    this.iterator = (async function* () {
      for await (const chunk of source) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    })();
  }

  /** Bytes read but not yet consumed. */
  get buffer(): Buffer {
    return this.buffered;
  }

  get ended(): boolean {
    return this.done;
  }

  /** Reads one more chunk into the buffer; false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, next.value]) : next.value;
    return true;
  }

  /** Ensures at least `n` bytes are buffered (fewer only at end of stream). */
  async ensure(n: number): Promise<Buffer> {
    while (this.buffered.length < n && (await this.fill()));
    return this.buffered;
  }

  consume(n: number): void {
    this.buffered = this.buffered.subarray(n);
  }

  /** The unconsumed rest, as a stream of chunks of at least MIN_CHUNK_BYTES (but the last). */
  rest(minChunkBytes = MIN_CHUNK_BYTES): Readable {
    const self = this;
    return Readable.from(
      (async function* () {
        let pending: Buffer[] = self.buffered.length ? [self.buffered] : [];
        let pendingBytes = self.buffered.length;
        self.buffered = Buffer.alloc(0);
        for (;;) {
          const next = self.done ? { done: true as const, value: undefined } : await self.iterator.next();
          if (next.done) break;
          pending.push(next.value);
          pendingBytes += next.value.length;
          if (pendingBytes >= minChunkBytes) {
            yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
            pending = [];
            pendingBytes = 0;
          }
        }
        self.done = true;
        if (pendingBytes) yield Buffer.concat(pending, pendingBytes);
      })(),
      // Up to ~2 MB read ahead: a hiccup on the download side must not leave COPY waiting.
      { objectMode: false, highWaterMark: 2 * 1024 * 1024 },
    );
  }
}
