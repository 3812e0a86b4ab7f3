/**
 * Cold start: what each entry point loads, recorded in a child process that runs the
 * compiled code (test/support/moduleRecorder.mjs records every module it resolves). The
 * figures (seconds, MB) are in bench/README.md ("Start-up"); this asserts the structure
 * behind them: `--help` and `schema` load no SDK, the Functions entry point registers every
 * function without the load path, and a CSV `run` over connection strings loads neither
 * Entra sign-in nor the decoders and writers it does not use.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timerFunctionName } from '../../src/app/schedules.js';
import { buildCli } from '../support/cliProcess.js';
import { createHarness, type Harness } from '../support/harness.js';
import { zipStored } from '../support/zipFixture.js';
import { DURABLE_CLIENT_STUB_MARK } from '../../src/deploy/cliStubs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const recorder = path.join(root, 'test/support/moduleRecorder.mjs');
const cli = path.join(root, 'dist/src/cli/main.js');

/** Every SDK and heavy dependency the app has, by package name. */
const HEAVY = ['@azure/storage-blob', '@azure/identity', '@azure/functions', 'durable-functions', 'pg', 'pg-copy-streams', 'hyparquet', 'hyparquet-compressors', 'unzipper', 'tar-stream', 'unbzip2-stream', 'iconv-lite', 'zod'];

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await createHarness('cold');
  dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-cold-'));
  await buildCli();
}, 120_000);
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Loaded {
  /** Package names under node_modules. */
  packages: Set<string>;
  /** Chunks of the CLI bundle (dist/cli/*.js), as paths. */
  chunks: string[];
  /** Node's built-in modules, internal ones included (`http2`, `internal/deps/undici/undici`). */
  builtins: Set<string>;
  /** Our own compiled modules, as paths under dist/. */
  own: Set<string>;
  stdout: string;
}

/** Runs `node --import moduleRecorder <args>` and returns what it loaded. */
async function loadedBy(args: string[], env: Record<string, string> = {}): Promise<Loaded> {
  const log = path.join(dir, `modules-${process.hrtime.bigint()}.log`);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', recorder, ...args], { cwd: root, env: { ...process.env, ...env, MODULE_LOG: log } });
  const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  const packages = new Set<string>();
  const own = new Set<string>();
  const chunks = new Set<string>();
  const builtins = new Set<string>();
  for (const line of lines) {
    if (line.startsWith('builtin:')) {
      builtins.add(line.slice('builtin:'.length));
      continue;
    }
    const file = line.startsWith('file:') ? fileURLToPath(line) : line;
    if (file.startsWith(path.join(root, 'dist/cli') + path.sep)) chunks.add(file);
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
    if (pkg) packages.add(pkg);
    else if (file.startsWith(path.join(root, 'dist') + path.sep)) own.add(path.relative(path.join(root, 'dist'), file));
  }
  return { packages, own, chunks: [...chunks], builtins, stdout };
}

/** The packages (and stubbed modules) bundled into these chunks, from their source maps' `sources`. */
async function bundledSources(chunks: string[]): Promise<{ packages: Set<string>; sources: string[] }> {
  const sources: string[] = [];
  for (const chunk of chunks) sources.push(...(JSON.parse(await readFile(`${chunk}.map`, 'utf8')) as { sources: string[] }).sources);
  // @azure/functions ships a webpack bundle: its own map names its files webpack://@azure/functions/….
  const packages = new Set(sources.map((s) => /(?:node_modules\/|^webpack:\/\/)((?:@[^/]+\/)?[^/]+)\//.exec(s)?.[1]).filter((p): p is string => !!p));
  return { packages, sources };
}

/** Every chunk the bundle can load from `entry`: static imports and import() of its own chunks (esbuild names them name-HASH.js), followed. */
async function reachableChunks(entry: string): Promise<string[]> {
  const seen = new Set<string>([entry]);
  for (const file of seen) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s*|import\(\s*|import\s*)["'](\.\/[\w.-]+-[A-Z0-9]{8}\.js)["']/g)) seen.add(path.join(path.dirname(file), m[1]!));
  }
  return [...seen];
}

/** Client-side HTTP stack of durable-functions' DurableClient, which the CLI never calls (src/deploy/cliStubs.ts). */
const DURABLE_CLIENT_STACK = ['axios', 'validator', '@opentelemetry/api', 'form-data', 'mime-db', 'follow-redirects'];

const present = (loaded: { packages: Set<string> }, names: string[]) => names.filter((name) => loaded.packages.has(name));

describe('cold start: modules load when a command or spec needs them', () => {
  it('`blob2pg --help` loads no dependency at all', async () => {
    const loaded = await loadedBy([cli, '--help']);
    expect(loaded.stdout).toContain('usage:');
    expect([...loaded.packages]).toEqual([]);
    expect([...loaded.own].sort()).toEqual(['src/cli/commandKinds.js', 'src/cli/heap.js', 'src/cli/main.js', 'src/cli/program.js', 'src/cli/runMain.js', 'src/errors.js', 'src/redact.js', 'src/run/output.js', 'src/run/report.js']);
  });

  it('the installed `blob2pg` (package.json bin) is the esbuild bundle: `--help` reads its own chunks only, `schema` prints what the tsc output prints', async () => {
    const manifest = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { bin: { blob2pg: string } };
    const bin = path.join(root, manifest.bin.blob2pg);
    expect(path.relative(root, bin)).toBe(path.join('dist', 'cli', 'bin.js'));
    const help = await loadedBy([bin, '--help']);
    expect(help.stdout).toContain('usage:');
    expect([...help.packages]).toEqual([]);
    expect([...help.own].every((file) => file.startsWith(`cli${path.sep}`))).toBe(true);
    expect((await loadedBy([bin, 'schema'])).stdout).toBe((await loadedBy([cli, 'schema'])).stdout);
  });

  it('the CLI bundle has a stub for durable-functions\' HTTP client instead of axios and the rest; a one-row run loads the stub, never calls it, and loads no decoder, Entra sign-in or undici', async () => {
    const bin = path.join(root, 'dist/cli/bin.js');
    // The whole CLI, every lazy chunk included: the stub is in, the client stack is not.
    const all = await reachableChunks(bin);
    const everything = await bundledSources(all);
    expect(everything.packages).toContain('durable-functions');
    expect(present(everything, DURABLE_CLIENT_STACK)).toEqual([]);
    const texts = await Promise.all(all.map((chunk) => readFile(chunk, 'utf8')));
    expect(texts.filter((text) => text.includes(DURABLE_CLIENT_STUB_MARK))).toHaveLength(1);

    await h.query(`CREATE TABLE "${h.schema}".cold_bundle (id int, name text)`);
    await h.upload('cold-bundle/one.csv', 'id,name\n1,one\n');
    const spec = path.join(dir, 'cold-bundle.json');
    await writeFile(spec, JSON.stringify({ name: 'cold-bundle', source: { container: h.container.containerName, prefix: 'cold-bundle/' }, sink: { table: `${h.schema}.cold_bundle` } }));
    // The ES module bundle (the code cache off): what the offline commands run from, and the fallback.
    const run = await loadedBy([bin, 'run', spec, '--json'], { ...h.env, BLOB2PG_CODE_CACHE: 'off' });
    // The stub throws when called: a Succeeded run through the durable orchestration never reached it.
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    expect(run.packages.size, [...run.packages].join()).toBe(0); // everything from the bundle: no node_modules file read
    const loaded = await bundledSources(run.chunks);
    expect(loaded.sources.some((s) => s.endsWith('durable-functions/lib/src/durableClient/getClient.js'))).toBe(true);
    expect(present(loaded, ['durable-functions', '@azure/functions', '@azure/storage-blob', 'pg', 'pg-copy-streams', 'zod'])).toEqual(['durable-functions', '@azure/functions', '@azure/storage-blob', 'pg', 'pg-copy-streams', 'zod']);
    expect(present(loaded, [...DURABLE_CLIENT_STACK, '@azure/identity', '@azure/msal-node', 'hyparquet', 'hyparquet-compressors', 'unzipper'])).toEqual([]);
    expect(loaded.sources.filter((s) => /src\/(format\/(json|parquet)|sink\/(bulkInsert|upsert))\.ts$/.test(s))).toEqual([]);
    // zod's English messages only (cliStubs.ts): its other locales are not in the bundle.
    expect(loaded.sources.filter((s) => /zod\/v4\/locales\/[^/]+\.js$/.test(s)).map((s) => path.basename(s)).sort()).toEqual(['en.js', 'index.js']);
    // pg's Cloudflare check and the HTTP pipeline's FormData test are answered without loading Node's undici (cliStubs.ts).
    expect(run.builtins).toContain('https');
    // (worker_threads and perf_hooks are not asserted: the recorder's own resolve hook runs on a worker thread.)
    expect(['internal/deps/undici/undici', 'http2'].filter((id) => run.builtins.has(id))).toEqual([]);

    // The CommonJS bundle the same run compiles with the code cache (src/cli/codeCache.ts): built
    // from the same modules with the same stubs.
    const cached = path.join(root, 'dist/cli/blob2pg.cjs');
    const inCached = await bundledSources([cached]);
    expect(inCached.sources.some((s) => s.endsWith('durable-functions/lib/src/durableClient/getClient.js'))).toBe(true);
    expect(present(inCached, DURABLE_CLIENT_STACK)).toEqual([]);
    expect((await readFile(cached, 'utf8')).split(DURABLE_CLIENT_STUB_MARK)).toHaveLength(2);
    expect(inCached.sources.filter((s) => /zod\/v4\/locales\/[^/]+\.js$/.test(s)).map((s) => path.basename(s)).sort()).toEqual(['en.js', 'index.js']);
    await h.upload('cold-bundle/one.csv', 'id,name\n2,two\n');
    const viaCache = await loadedBy([bin, 'run', spec, '--json'], h.env);
    expect(JSON.parse(viaCache.stdout)).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    expect(viaCache.packages.size, [...viaCache.packages].join()).toBe(0);
    expect(['internal/deps/undici/undici', 'http2'].filter((id) => viaCache.builtins.has(id))).toEqual([]);
  });

  it('`blob2pg schema` loads zod and nothing else', async () => {
    const loaded = await loadedBy([cli, 'schema']);
    expect(JSON.parse(loaded.stdout)).toMatchObject({ type: 'object' });
    expect(present(loaded, HEAVY)).toEqual(['zod']);
  });

  it('the Functions entry point registers every function, without the storage SDK, pg, Entra sign-in or the decoders', async () => {
    const pipelines = path.join(dir, 'pipelines');
    await mkdir(pipelines);
    await writeFile(path.join(pipelines, 'orders.json'), JSON.stringify({ name: 'orders', source: { container: 'incoming' }, sink: { table: 'public.orders' }, triggers: [{ type: 'Schedule', schedule: '0 */15 * * * *' }] }));
    // As the host does: its registration API in place, then the entry point; print what registered.
    const script = `
      const { installLocalHost } = await import(${JSON.stringify(path.join(root, 'dist/src/local/host.js'))});
      const registry = installLocalHost();
      await import(${JSON.stringify(path.join(root, 'dist/functions/index.js'))});
      console.log('registered ' + JSON.stringify([...registry.keys()].sort()));`;
    const loaded = await loadedBy(['--input-type=module', '-e', script], { BLOB2PG_PIPELINES: pipelines });
    const registered = JSON.parse(/^registered (.*)$/m.exec(loaded.stdout)![1]!);
    expect(registered).toEqual(['blob2pgCopyBatch', 'blob2pgRun', 'blobCreated', 'copyBlob', 'getRun', 'listBlobs', 'listPipelines', 'runHistoryPage', 'saveSweepMark', timerFunctionName('orders', 0), 'startPipelineRun', 'startRun'].sort());
    expect(present(loaded, HEAVY)).toEqual(['@azure/functions', 'durable-functions', 'zod']);
    expect(loaded.own).not.toContain('src/load/index.js');
    expect(loaded.own).not.toContain('src/app/triggers.js');
  });

  it('a CSV `run` over connection strings loads the storage SDK and pg, but not Entra sign-in, the other decoders or writers', async () => {
    await h.query(`CREATE TABLE "${h.schema}".cold (id int, name text)`);
    await h.upload('cold/one.csv', 'id,name\n1,one\n');
    const spec = path.join(dir, 'cold.json');
    await writeFile(spec, JSON.stringify({ name: 'cold', source: { container: h.container.containerName, prefix: 'cold/' }, sink: { table: `${h.schema}.cold` } }));
    const loaded = await loadedBy([cli, 'run', spec, '--json'], h.env);
    expect(JSON.parse(loaded.stdout)).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    expect(present(loaded, HEAVY).sort()).toEqual(['@azure/functions', '@azure/storage-blob', 'durable-functions', 'pg', 'pg-copy-streams', 'zod']);
    for (const module of ['src/format/json.js', 'src/format/parquet.js', 'src/sink/bulkInsert.js', 'src/sink/upsert.js']) expect(loaded.own).not.toContain(module);
    expect(loaded.own).toContain('src/sink/copyCommand.js');
  });

  it('a JSON and a zip blob load their decoder and reader when a run meets them (the recorder sees lazy imports)', async () => {
    await h.query(`CREATE TABLE "${h.schema}".mixed (id int, name text)`);
    await h.upload('mixed/a.json', '{"id": 1, "name": "one"}\n');
    await h.upload('mixed/b.zip', zipStored([['b.csv', 'id,name\n2,two\n', true]]));
    const spec = path.join(dir, 'mixed.json');
    await writeFile(spec, JSON.stringify({ name: 'mixed', source: { container: h.container.containerName, prefix: 'mixed/', format: { type: 'auto' } }, sink: { table: `${h.schema}.mixed` } }));
    const loaded = await loadedBy([cli, 'run', spec, '--json'], h.env);
    expect(JSON.parse(loaded.stdout)).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(loaded.own).toContain('src/format/json.js');
    expect(present(loaded, ['unzipper', 'hyparquet'])).toEqual(['unzipper']);
  });
});
