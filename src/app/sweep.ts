/**
 * A sweep's listing: the pipeline's blobs that are in storage but not in the ledger, a page
 * at a time. Each page of names costs one List Blobs call and one ledger query (sink/ledger.ts
 * loadedVersions); only versions not loaded yet leave this module, so what a sweep schedules
 * and keeps in its history follows what is new, not what was ever uploaded.
 * Used by the listBlobs activity (scheduled runs, the reconciliation sweep, HTTP, CLI) and by
 * `blob2pg watch`, which keeps no memory of its own.
 */
import type { Env } from '../connections/settings.js';
import { ledgerKey } from '../load/index.js';
import { highWaterMarginMs, type PipelineSpec } from '../pipeline/spec.js';
import { poolFor, withClient } from '../sink/index.js';
import { ensureLedger, ledgerSchemaName, loadedVersions } from '../sink/ledger.js';
import { displayTable } from '../sink/sql.js';
import { readSweepMark, saveSweepMark, type SweepMarkKey } from '../sink/sweepMarks.js';
import { blobMatches, containerFor, normalizeEtag, type BlobRef } from '../source/blobs.js';
import { BATCH_SIZE, type ListBlobsPage } from './plan.js';

/** Names asked of storage per List Blobs call (its maximum). */
export const LIST_PAGE_SIZE = 5000;
/** A sweep page ends once it has this many new versions, or has listed LIST_NAMES_PER_SWEEP_PAGE names. */
export const NEW_PER_SWEEP_PAGE = BATCH_SIZE;
export const LIST_NAMES_PER_SWEEP_PAGE = 50_000;

export interface SweepPageOptions {
  env?: Env;
  /** Where the previous sweep page ended (undefined: from the start). */
  continuationToken?: string;
  /** Only these blob names (the caller named them: prefix and wildcard do not apply). */
  names?: string[];
  abortSignal?: AbortSignal;
}

/** Drops the versions the ledger has; `listed` counts every version looked at. */
async function unloaded(spec: PipelineSpec, refs: BlobRef[], env: Env): Promise<{ blobs: BlobRef[]; loaded: number }> {
  if (!refs.length) return { blobs: [], loaded: 0 };
  const pool = poolFor(spec.sink.connection, env);
  const schema = ledgerSchemaName(spec.sink.ledgerSchema, env);
  await ensureLedger(pool, schema);
  const loaded = await withClient(pool, (client) => loadedVersions(client, schema, refs.map((ref) => ledgerKey(spec, ref, env))));
  return { blobs: refs.filter((_, i) => !loaded[i]), loaded: loaded.filter(Boolean).length };
}

/** Which listing a pipeline's high-water mark belongs to (a changed container, prefix, wildcard or table has none yet). */
function sweepMarkKey(spec: PipelineSpec, env: Env): SweepMarkKey {
  const url = new URL(containerFor(spec, env).url);
  url.search = '';
  const { prefix, wildcard } = spec.source;
  return { pipeline: spec.name, targetTable: displayTable(spec.sink.table), source: JSON.stringify([url.toString(), prefix, wildcard ?? null]) };
}

/**
 * Where a sweep of a pipeline with a high-water mark starts looking: the mark minus the
 * margin (undefined: no mark kept, or none recorded yet — every blob is looked at).
 */
async function sweepSince(spec: PipelineSpec, env: Env): Promise<number | undefined> {
  const margin = highWaterMarginMs(spec);
  if (margin === undefined) return undefined;
  const pool = poolFor(spec.sink.connection, env);
  const schema = ledgerSchemaName(spec.sink.ledgerSchema, env);
  await ensureLedger(pool, schema);
  const mark = await readSweepMark(pool, schema, sweepMarkKey(spec, env));
  return mark && mark.getTime() - margin;
}

/** Records a complete sweep's high-water mark (the saveSweepMark activity; plan.ts sweepMarkOf says when). */
export async function recordSweepMark(spec: PipelineSpec, mark: string, env: Env = process.env): Promise<void> {
  const pool = poolFor(spec.sink.connection, env);
  const schema = ledgerSchemaName(spec.sink.ledgerSchema, env);
  await ensureLedger(pool, schema);
  await saveSweepMark(pool, schema, sweepMarkKey(spec, env), new Date(mark));
}

/** One page of a sweep: the versions not yet loaded, in listing (name) order. */
export async function sweepPage(spec: PipelineSpec, options: SweepPageOptions = {}): Promise<ListBlobsPage> {
  const env = options.env ?? process.env;
  const container = containerFor(spec, env);
  if (options.names?.length) {
    // Named blobs bypass prefix / wildcard: the caller asked for them. The ETag in the
    // form listing gives, so the ledger sees one key per blob version.
    const refs: BlobRef[] = [];
    for (const name of options.names) {
      const props = await container.getBlobClient(name).getProperties({ abortSignal: options.abortSignal });
      refs.push({ name, etag: normalizeEtag(props.etag!), size: props.contentLength ?? 0, lastModified: props.lastModified!.toISOString() });
    }
    return { ...(await unloaded(spec, refs, env)), listed: refs.length };
  }
  const page: ListBlobsPage = { blobs: [], listed: 0, loaded: 0 };
  // High-water mark: blobs modified before it are not looked at (as if modifiedAfter said so).
  const since = await sweepSince(spec, env);
  const keepsMark = highWaterMarginMs(spec) !== undefined;
  const requested = Date.now();
  const pages = container
    .listBlobsFlat({ prefix: spec.source.prefix || undefined, abortSignal: options.abortSignal })
    .byPage({ continuationToken: options.continuationToken, maxPageSize: LIST_PAGE_SIZE });
  for await (const response of pages) {
    if (keepsMark && !page.mark) {
      // The service's clock (the same clock as Last-Modified); an HTTP date has whole
      // seconds, which only moves the mark earlier. Our clock when there is no Date header.
      page.mark = { listedAt: (response.date ?? new Date(requested)).toISOString() };
    }
    const refs: BlobRef[] = [];
    for (const item of response.segment.blobItems) {
      const lastModified = item.properties.lastModified;
      if (since !== undefined && lastModified.getTime() < since) continue;
      if (!blobMatches(spec, { name: item.name, lastModified })) continue;
      refs.push({ name: item.name, etag: normalizeEtag(item.properties.etag), size: item.properties.contentLength ?? 0, lastModified: lastModified.toISOString() });
      if (page.mark && !(page.mark.newest && page.mark.newest >= refs.at(-1)!.lastModified)) page.mark.newest = refs.at(-1)!.lastModified;
    }
    const found = await unloaded(spec, refs, env);
    page.blobs.push(...found.blobs);
    page.listed += refs.length;
    page.loaded += found.loaded;
    page.continuationToken = response.continuationToken || undefined;
    if (page.blobs.length >= NEW_PER_SWEEP_PAGE || page.listed >= LIST_NAMES_PER_SWEEP_PAGE) break;
  }
  return page;
}

/** Every version not yet loaded, page after page (watch: a handful of pipelines, each listed in full per poll). */
export async function* sweep(spec: PipelineSpec, options: Omit<SweepPageOptions, 'continuationToken' | 'names'> = {}): AsyncIterableIterator<BlobRef> {
  let continuationToken: string | undefined;
  do {
    const page = await sweepPage(spec, { ...options, continuationToken });
    yield* page.blobs;
    continuationToken = page.continuationToken;
  } while (continuationToken);
}
