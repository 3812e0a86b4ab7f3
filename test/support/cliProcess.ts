/**
 * The real CLI in a child process, so a test can measure blob2pg's own peak RSS.
 *
 * Why the built CLI (`dist/cli/bin.js`, what package.json "bin" runs), built once by
 * `buildCli()`: tests run from the TypeScript sources through vitest's transform, which a
 * child `node` does not have (Node 20 cannot strip types), and `dist/` may be stale in a dev
 * checkout. Rebuilding is exactly `npm run build`: the project's own `tsc -p tsconfig.json`
 * (~5-10 s), then the esbuild bundle of the CLI (src/deploy/bundleCli.ts, ~1 s), so the
 * child runs the code under test as a user's `blob2pg` does.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(root, 'dist/cli/bin.js');

/** Every .ts under src/, functions/ and bench/ has a dist/ .js, and the CLI bundle, at least as new (another test file built them). */
async function distIsFresh(): Promise<boolean> {
  const bundled = await stat(CLI).catch(() => undefined);
  if (!bundled) return false;
  for (const folder of ['src', 'functions', 'bench']) {
    for (const file of await readdir(path.join(root, folder), { recursive: true })) {
      if (!file.endsWith('.ts')) continue;
      const source = await stat(path.join(root, folder, file));
      const built = await stat(path.join(root, 'dist', folder, file.replace(/\.ts$/, '.js'))).catch(() => undefined);
      if (!built || built.mtimeMs < source.mtimeMs || bundled.mtimeMs < source.mtimeMs) return false;
    }
  }
  return true;
}

/** `npm run build`, without npm; skipped when dist/ and the bundle are newer than every source file. */
export async function buildCli(): Promise<void> {
  if (await distIsFresh()) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { cwd: root });
  await promisify(execFile)(process.execPath, [path.join(root, 'dist/src/deploy/bundleCli.js')], { cwd: root });
}

export interface CliProcessResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the child (VmHWM, sampled until it exits), in MB. */
  peakRssMb: number;
}

/** Runs `node [nodeOptions] blob2pg <args>` and samples `/proc/<pid>/status` every `sampleEveryMs`. */
export async function runCliProcess(args: string[], env: Record<string, string>, options: { nodeOptions?: string[]; sampleEveryMs?: number } = {}): Promise<CliProcessResult> {
  const { nodeOptions = [], sampleEveryMs = 50 } = options;
  const child = spawn(process.execPath, [...nodeOptions, CLI, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let peakKb = 0;
  const sample = () =>
    readFile(`/proc/${child.pid}/status`, 'utf8')
      .then((status) => {
        // VmHWM is the kernel's own high-water mark; VmRSS too in case HWM is missing.
        for (const re of [/VmHWM:\s+(\d+)/, /VmRSS:\s+(\d+)/]) peakKb = Math.max(peakKb, Number(re.exec(status)?.[1] ?? 0));
      })
      .catch(() => undefined); // the process has exited
  const sampler = setInterval(() => void sample(), sampleEveryMs);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  clearInterval(sampler);
  return { code: code ?? -1, stdout, stderr, peakRssMb: Math.round(peakKb / 1024) };
}
