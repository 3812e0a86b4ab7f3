/**
 * `blob2pg watch <pipelines folder>`: the local stand-in for blob upload events. Polls the
 * source container(s) of the pipelines with a BlobCreated trigger and hands each new blob
 * version, as an Event Grid BlobCreated message, to the same queue-trigger handler the
 * Event Grid path uses in Azure (functions/blobEvents.ts), which starts the orchestrator
 * on the local durable runtime.
 */
import azureFunctions from '@azure/functions';
import type { Env } from '../connections/settings.js';
import { withAppEnv } from '../app/appEnv.js';
import { BLOB_CREATED } from '../app/events.js';
import { installLocalHost, registeredFunction } from '../app/localHost.js';
import { loadPipelineFolder, setAppPipelines, type LoadedPipelines } from '../app/pipelines.js';
import { setStarterFactory } from '../app/starter.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { FileResult } from '../run/output.js';
import { localRuntime } from '../run/localRun.js';
import { containerFor } from '../source/blobs.js';

// @azure/functions is a CommonJS bundle whose classes Node's ESM loader cannot name-import.
const { InvocationContext } = azureFunctions;

export interface WatchOptions {
  folder: string;
  env?: Env;
  intervalMs?: number;
  /** Also announce the blobs already there at start (default: only new uploads, like Event Grid). */
  initial?: boolean;
  abortSignal?: AbortSignal;
  onFile?: (file: FileResult) => void;
  log?: (line: string) => void;
}

/** The message Event Grid would put on the queue for this blob version. */
export function blobCreatedMessage(container: string, blob: string, etag: string, size: number, url: string, lastModified: Date): object {
  return {
    id: `${container}/${blob}/${etag}`,
    subject: `/blobServices/default/containers/${container}/blobs/${blob}`,
    eventType: BLOB_CREATED,
    eventTime: lastModified.toISOString(),
    dataVersion: '',
    metadataVersion: '1',
    data: { api: 'PutBlob', eTag: etag.replace(/"/g, ''), contentLength: size, blobType: 'BlockBlob', url },
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Watches until the signal aborts; returns the loaded pipelines (for the caller's report). */
export async function watch(options: WatchOptions): Promise<LoadedPipelines> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const loaded = loadPipelineFolder(options.folder);
  for (const { file, issues } of loaded.errors) log(`${file}: invalid pipeline spec: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  const watched = [...loaded.pipelines.values()].filter((spec) => spec.triggers.some((t) => t.type === 'BlobCreated'));
  if (!watched.length) {
    log(`no pipeline in ${options.folder} has a BlobCreated trigger: nothing to watch`);
    return loaded;
  }
  setAppPipelines(loaded);
  installLocalHost();
  await import('../../functions/blobEvents.js');
  const runtime = await localRuntime({ onFile: options.onFile });
  setStarterFactory(() => runtime);
  const handler = registeredFunction('blobCreated').callback;

  // One listing per (connection, container, prefix); the handler decides which pipelines match.
  const sources = new Map<string, PipelineSpec>();
  for (const spec of watched) sources.set(`${spec.source.connection}\0${spec.source.container}\0${spec.source.prefix}`, spec);
  const seen = new Set<string>();
  let first = true;
  try {
    await withAppEnv(env, async () => {
      while (!options.abortSignal?.aborted) {
        for (const spec of sources.values()) {
          const container = containerFor(spec, env);
          try {
            for await (const item of container.listBlobsFlat({ prefix: spec.source.prefix || undefined })) {
              const key = `${container.url}\0${item.name}\0${item.properties.etag}`;
              if (seen.has(key)) continue;
              seen.add(key);
              if (first && !options.initial) continue;
              const message = blobCreatedMessage(spec.source.container, item.name, item.properties.etag!, item.properties.contentLength ?? 0, container.getBlobClient(item.name).url, item.properties.lastModified);
              const context = new InvocationContext({ functionName: 'blobCreated', logHandler: (level, ...args) => level !== 'debug' && log(args.join(' ')) });
              await handler(message, context);
            }
          } catch (err) {
            log(`listing ${spec.source.container}: ${(err as Error).message}`);
          }
        }
        if (first) {
          // Only now is the baseline known: what lands from here on is new.
          log(`watching ${[...sources.values()].map((s) => `${s.source.container}/${s.source.prefix}`).join(', ')} for ${watched.map((s) => s.name).join(', ')} (Ctrl-C stops)`);
          first = false;
        }
        await sleep(options.intervalMs ?? 2000, options.abortSignal);
      }
    });
  } finally {
    setStarterFactory(undefined);
  }
  await runtime.idle();
  return loaded;
}
