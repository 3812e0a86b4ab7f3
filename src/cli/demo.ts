/**
 * `npm run demo`: the main job on the embedded default. Starts Azurite and PostgreSQL
 * (unless SOURCE_STORAGE / TARGET_POSTGRES point at real ones), creates a sample table
 * and a few sample CSV blobs (one gzipped), runs the sample pipeline and prints the report.
 * Data persists in .blob2pg/demo, so a second run reports every blob Skipped.
 */
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import pg from 'pg';
import { parsePipelineSpec } from '../pipeline/spec.js';
import { runPipeline } from '../local/run.js';
import { blobServiceClientFor } from '../connections/blobServiceClient.js';
import { formatFileLine, formatRunSummary } from '../run/report.js';
import { startLocalServices, type LocalServices } from './localServices.js';

export const demoPipeline = {
  name: 'demo-orders',
  source: {
    container: 'incoming',
    prefix: 'orders/',
    wildcard: '*.csv*',
    format: { type: 'DelimitedText', firstRowAsHeader: true },
  },
  sink: { table: 'public.demo_orders', writeMethod: 'CopyCommand', postCopyScript: 'ANALYZE public.demo_orders' },
} as const;

const SAMPLES: Record<string, string> = {
  'orders/2026-11-19.csv':
    'order_id,customer,amount,ordered_at,note\n' +
    '1,Ada Lovelace,19.99,2026-11-19T09:15:00Z,"first order, gift wrapped"\n' +
    '2,Grace Hopper,5.00,2026-11-19T10:02:00Z,\n' +
    '3,Edsger Dijkstra,120.50,2026-11-19T17:45:00Z,"said ""hello"""\n',
  'orders/2026-11-20.csv':
    'ordered_at,order_id,amount,customer\r\n' +
    '2026-11-20T08:00:00Z,4,42.00,Barbara Liskov\r\n' +
    '2026-11-20T08:30:00Z,5,7.25,Donald Knuth\r\n',
};

function gzipSample(): Buffer {
  let csv = 'order_id,customer,amount,ordered_at,note\n';
  for (let i = 6; i <= 1005; i++) csv += `${i},Customer ${i},${(i * 1.37).toFixed(2)},2026-11-21T00:${String(i % 60).padStart(2, '0')}:00Z,bulk\n`;
  return gzipSync(csv);
}

/** The port `blob2pg ui --demo` listens on, so the demo can print the page's address. */
export const DEMO_UI_PORT = 47180;

/** The demo's services: the embedded ones (persistent, fixed ports) unless the env names real ones. */
export async function demoServices(env: NodeJS.ProcessEnv): Promise<{ runEnv: NodeJS.ProcessEnv; services?: LocalServices }> {
  const runEnv = { ...env };
  if (runEnv.SOURCE_STORAGE && runEnv.TARGET_POSTGRES) return { runEnv };
  process.stderr.write('starting embedded Azurite and PostgreSQL in .blob2pg/demo …\n');
  const services = await startLocalServices({ dir: path.resolve('.blob2pg/demo'), persistent: true, blobPort: 47100, postgresPort: 47132 });
  runEnv.SOURCE_STORAGE ??= services.storageConnectionString;
  runEnv.TARGET_POSTGRES ??= services.postgresUrl;
  return { runEnv, services };
}

export async function runDemo(env: NodeJS.ProcessEnv = process.env, options: { watch?: boolean } = {}): Promise<number> {
  const { runEnv, services } = await demoServices(env);
  try {
    const client = new pg.Client({ connectionString: runEnv.TARGET_POSTGRES });
    // Lost while idle (the uploads below): its next query fails; it must not crash the demo.
    client.on('error', () => undefined);
    await client.connect();
    await client.query(`CREATE TABLE IF NOT EXISTS public.demo_orders (
      order_id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), ordered_at timestamptz, note text,
      loaded_at timestamptz NOT NULL DEFAULT now())`);
    const container = blobServiceClientFor('SOURCE_STORAGE', runEnv).getContainerClient(demoPipeline.source.container);
    await container.createIfNotExists();
    const samples: Array<[string, Buffer]> = [...Object.entries(SAMPLES).map(([n, t]) => [n, Buffer.from(t)] as [string, Buffer]), ['orders/2026-11-21.csv.gz', gzipSample()]];
    for (const [name, body] of samples) {
      const blob = container.getBlockBlobClient(name);
      // Upload once: re-uploading would create a new version (new ETag) and load it again.
      if (!(await blob.exists())) await blob.uploadData(body);
    }
    const spec = parsePipelineSpec(demoPipeline);
    process.stderr.write(`running pipeline ${spec.name}:\n`);
    const output = await runPipeline(spec, { env: runEnv, onFile: (file) => process.stderr.write(formatFileLine(file) + '\n') });
    process.stdout.write(formatRunSummary(output) + '\n');
    const { rows } = await client.query<{ count: string }>('SELECT count(*) FROM public.demo_orders');
    process.stdout.write(`public.demo_orders now holds ${rows[0]!.count} rows. Run \`npm run demo\` again: every blob is Skipped.\n`);
    process.stdout.write(`Run history: \`npx blob2pg ui --demo\`, then open http://127.0.0.1:${DEMO_UI_PORT}/\n`);
    await client.end();
    if (options.watch) await watchDemo(runEnv);
    return output.filesFailed > 0 ? 1 : 0;
  } finally {
    const { closePools } = await import('../sink/index.js');
    await closePools();
    await services?.stop();
  }
}

/**
 * `npm run demo -- --watch`: watch the demo container the way Event Grid would report
 * uploads, upload one new sample blob a moment later, and keep loading new uploads until
 * Ctrl-C. The blob goes through the queue-trigger handler and the orchestrator.
 */
async function watchDemo(env: NodeJS.ProcessEnv): Promise<void> {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { watch } = await import('./watch.js');
  const folder = await mkdtemp(path.join(tmpdir(), 'blob2pg-demo-pipelines-'));
  await writeFile(path.join(folder, 'demo-orders.json'), JSON.stringify({ ...demoPipeline, triggers: [{ type: 'BlobCreated' }] }));
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  const stamp = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15);
  const name = `orders/live-${stamp}.csv`;
  const upload = () => {
    process.stderr.write(`uploading ${name} …\n`);
    const body = `order_id,customer,amount,ordered_at\n${Date.now()},Live Upload,1.00,${new Date().toISOString()}\n`;
    blobServiceClientFor('SOURCE_STORAGE', env).getContainerClient(demoPipeline.source.container).getBlockBlobClient(name).uploadData(Buffer.from(body)).catch((err: Error) => process.stderr.write(`upload failed: ${err.message}\n`));
  };
  const log = (line: string) => {
    process.stderr.write(line + '\n');
    // Once the watcher knows what was there before, upload one blob to show it loading.
    if (line.startsWith('watching ')) setTimeout(upload, 1000).unref();
  };
  await watch({ folder, env, intervalMs: 500, abortSignal: stop.signal, log, onFile: (file) => process.stderr.write(formatFileLine(file) + '\n') });
}
