/**
 * Live progress of the files a copy is loading (issue 16): each loader registers the byte
 * counter its blob source already keeps, and whoever reports progress (the copy activity's
 * heartbeat) reads them when it beats. Nothing is done per chunk beyond the count the source
 * keeps anyway, and nothing is written from here.
 *
 * Bytes only: a writer learns its row count when its COPY ends (the server's tag), so rows
 * of a file still loading are not known without counting records in the hot path; the page
 * shows rows of finished files and bytes of loading ones.
 */
import type { InFlightFile } from '../run/output.js';
import type { BlobRef } from '../source/blobs.js';

export type { InFlightFile };


export class LoadProgress {
  private readonly files = new Map<string, { ref: BlobRef; bytesRead: () => number }>();

  /** A loader reads `ref`; `bytesRead` is asked at each report. A file tracked again (a retry in the same copy) replaces its counter. */
  track(ref: BlobRef, bytesRead: () => number): void {
    this.files.set(`${ref.name}\n${ref.etag}`, { ref, bytesRead });
  }

  /** The files tracked so far. A finished file stays in: its rows are not committed until the copy's transaction is. */
  snapshot(): InFlightFile[] {
    return [...this.files.values()].map(({ ref, bytesRead }) => ({ blob: ref.name, etag: ref.etag, bytesRead: bytesRead(), size: ref.size }));
  }
}
