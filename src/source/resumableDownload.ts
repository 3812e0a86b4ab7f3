/**
 * One blob version as a stream that survives a broken download: when the response stops
 * (connection reset or closed, a 5xx, no bytes for the stall timeout) the read resumes from
 * the byte it reached, pinned to the same ETag (If-Match, so an overwrite in between fails
 * as a DataError instead of mixing two versions), up to MAX_READ_ATTEMPTS times with
 * back-off, each retry said as a notice:
 *   `storage read of orders/x.csv failed after 50.1 MB: connection reset (retrying 2/5)`.
 *
 * Why not the SDK's own resume (BlobDownloadResponse / RetriableReadableStream): it gives
 * up on a response's 'aborted' event — what a reset mid-body produces — with "The operation
 * was aborted.", naming neither storage nor the reset (issue 11).
 */
import { Readable } from 'node:stream';
import { classify, TransientError } from '../errors.js';

/** Tries per download, the first included. */
export const MAX_READ_ATTEMPTS = 5;

export interface ResumableDownloadOptions {
  /** The blob's name, for messages. */
  name: string;
  /** Opens the blob version from `offset` to its end (If-Match on the ETag). */
  open(offset: number, abortSignal: AbortSignal): Promise<Readable>;
  /** No bytes for this long while the reader waits for them: the response is abandoned and the read resumed. */
  stallTimeoutMs: number;
  /** Delay before retry `attempt` (2 = the first retry). */
  retryDelayMs?: (attempt: number) => number;
  notice?: (line: string) => void;
  abortSignal?: AbortSignal;
}

/** 1 s, 2 s, 4 s, 8 s: about 15 s of retries before the load as a whole is retried. */
const defaultDelay = (attempt: number) => 1_000 * 2 ** (attempt - 2);

/** What went wrong with a response, in the words a person reads. */
function describeReadFailure(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; statusCode?: unknown; message?: unknown };
  if (e.code === 'ECONNRESET' || e.name === 'AbortError') return 'connection reset';
  if (e.code === 'STALLED') return String(e.message);
  if (typeof e.statusCode === 'number' && e.statusCode > 0) return `HTTP ${e.statusCode}${typeof e.code === 'string' ? ` ${e.code}` : ''}`;
  if (typeof e.code === 'string') return `${e.code}: ${String(e.message)}`;
  return String(e.message ?? err);
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

class ResumableDownload extends Readable {
  private offset = 0;
  private attempt = 1;
  private response: Readable | undefined;
  private opening = false;
  private stallTimer: NodeJS.Timeout | undefined;
  /** Aborts the response in flight (a stall, or this stream destroyed). */
  private current = new AbortController();

  constructor(private readonly options: ResumableDownloadOptions) {
    super({ highWaterMark: 64 * 1024 });
    options.abortSignal?.addEventListener('abort', () => this.destroy(options.abortSignal!.reason as Error), { once: true });
  }

  override _read(): void {
    if (!this.response) {
      if (!this.opening) void this.openAt();
      return;
    }
    this.armStallTimer();
    this.response.resume();
  }

  private async openAt(): Promise<void> {
    this.opening = true;
    try {
      this.current = new AbortController();
      const response = await this.options.open(this.offset, this.current.signal);
      if (this.destroyed) {
        response.destroy();
        return;
      }
      this.response = response;
      response.on('data', (chunk: Buffer) => {
        this.offset += chunk.length;
        this.clearStallTimer();
        if (!this.push(chunk)) response.pause();
        else this.armStallTimer();
      });
      response.on('end', () => {
        this.clearStallTimer();
        this.push(null);
      });
      response.on('error', (err) => this.failed(response, err));
      // A response cut short may end without an error but with 'aborted' (http.IncomingMessage).
      response.on('aborted', () => this.failed(response, Object.assign(new Error('aborted'), { name: 'AbortError' })));
      this.armStallTimer();
    } catch (err) {
      this.failed(undefined, err);
    } finally {
      this.opening = false;
    }
  }

  private failed(response: Readable | undefined, err: unknown): void {
    if (this.destroyed || (response && response !== this.response)) return;
    this.clearStallTimer();
    this.response = undefined;
    response?.removeAllListeners('data');
    response?.on('error', () => undefined);
    response?.destroy();
    if (this.options.abortSignal?.aborted) return void this.destroy(this.options.abortSignal.reason as Error);
    // A response error after it started is the network's; a refused request says what it is.
    const kind = response ? 'transient' : classify(err);
    const what = `storage read of ${this.options.name} failed after ${formatMegabytes(this.offset)}: ${describeReadFailure(err)}`;
    if (kind !== 'transient') return void this.destroy(err as Error);
    if (this.attempt >= MAX_READ_ATTEMPTS) {
      this.destroy(new TransientError(`${what} (gave up after ${MAX_READ_ATTEMPTS} tries)`, { cause: err }));
      return;
    }
    this.attempt++;
    this.options.notice?.(`  retry    ${what} (retrying ${this.attempt}/${MAX_READ_ATTEMPTS})`);
    const delay = (this.options.retryDelayMs ?? defaultDelay)(this.attempt);
    setTimeout(() => !this.destroyed && void this.openAt(), delay).unref();
  }

  private armStallTimer(): void {
    if (this.stallTimer || !this.response) return;
    const response = this.response;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      this.current.abort();
      const seconds = Math.round(this.options.stallTimeoutMs / 100) / 10;
      this.failed(response, Object.assign(new Error(`stalled: no bytes for ${seconds} s`), { code: 'STALLED' }));
    }, this.options.stallTimeoutMs);
    this.stallTimer.unref();
  }

  private clearStallTimer(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.clearStallTimer();
    this.current.abort();
    this.response?.destroy();
    callback(err);
  }
}

export function resumableDownload(options: ResumableDownloadOptions): Readable {
  return new ResumableDownload(options);
}
