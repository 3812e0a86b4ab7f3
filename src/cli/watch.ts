/**
 * `blob2pg watch <pipelines folder>`: the local stand-in for blob upload events. Polls the
 * source container(s) of the pipelines with a BlobCreated trigger and hands each blob
 * version that is not in the ledger, as an Event Grid BlobCreated message, to the same
 * queue-trigger handler the Event Grid path uses in Azure (functions/blobEvents.ts), which
 * starts the orchestrator on the local durable runtime.
 *
 * It keeps no memory of its own: what is loaded is what the ledger says (sweep.ts), so a
 * watcher killed mid-load — whose transaction PostgreSQL rolled back — loads that blob when
 * it starts again, with no flag. In one process it hands each version over once (its run
 * retries transient failures itself; a data error waits for the next start).
 */
import azureFunctions from '@azure/functions';
import type { Env } from '../connections/settings.js';
import { withAppEnv } from '../app/appEnv.js';
import { BLOB_CREATED } from '../app/events.js';
import { installLocalHost, registeredFunction } from '../local/host.js';
import { loadPipelineFolder, setAppPipelines, type LoadedPipelines } from '../app/pipelines.js';
import { setStarterFactory } from '../app/starter.js';
import { sweep } from '../app/sweep.js';
import type { FileResult } from '../run/output.js';
import { localRuntime } from '../local/run.js';
import { containerFor } from '../source/blobs.js';

// @azure/functions is a CommonJS bundle whose classes Node's ESM loader cannot name-import.
const { InvocationContext } = azureFunctions;

export interface WatchOptions {
  folder: string;
  env?: Env;
  intervalMs?: number;
  /** Accepted for compatibility: every version not in the ledger is loaded, whenever it was uploaded. */
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

  const handed = new Set<string>();
  let first = true;
  try {
    await withAppEnv(env, async () => {
      while (!options.abortSignal?.aborted) {
        for (const spec of watched) {
          const container = containerFor(spec, env);
          try {
            for await (const ref of sweep(spec, { env, abortSignal: options.abortSignal })) {
              const key = `${spec.name}\0${ref.name}\0${ref.etag}`;
              if (handed.has(key)) continue;
              handed.add(key);
              const message = blobCreatedMessage(spec.source.container, ref.name, ref.etag, ref.size, container.getBlobClient(ref.name).url, new Date(ref.lastModified));
              const context = new InvocationContext({ functionName: 'blobCreated', logHandler: (level, ...args) => level !== 'debug' && log(args.join(' ')) });
              await handler(message, context);
            }
          } catch (err) {
            if (!options.abortSignal?.aborted) log(`listing ${spec.source.container} for ${spec.name}: ${(err as Error).message}`);
          }
        }
        if (first) {
          log(`watching ${watched.map((s) => `${s.source.container}/${s.source.prefix}`).join(', ')} for ${watched.map((s) => s.name).join(', ')} (Ctrl-C stops)`);
          first = false;
        }
        await sleep(options.intervalMs ?? 2000, options.abortSignal);
      }
    });
  } finally {
    setStarterFactory(undefined);
  }
  // Loads in flight finish; runs waiting on a retry timer are left (not in the ledger: the next start finds them).
  await runtime.stop();
  return loaded;
}
