/**
 * Runs the CLI's CommonJS bundle (dist/cli/blob2pg.cjs) with a V8 code cache: the bytecode
 * of every function the previous process of the same command compiled, so this one neither
 * parses nor compiles them again.
 *
 * Why: after bundling, a one-row `blob2pg run` still spent ~0.2 s of its ~0.45 s over bare
 * node compiling ~1.7 MB of library code (storage-blob, zod, pg, durable-functions…) and
 * resolving and linking ~50 ES module chunks (bench/README.md, "Session 7"). Node 20 has no
 * compile cache for ES modules (`module.enableCompileCache()` arrived in Node 22); a
 * `vm.Script` takes `cachedData`, so the commands that load all of that run from one
 * CommonJS file compiled here. `--help`, `schema` and `import-adf` stay on the split ES
 * module bundle (commandKinds.ts): they load a few small chunks, and reading a 3 MB file and
 * its cache would cost them more than it saves.
 *
 * The cache is written once per command — by the first process that finds none (or finds it
 * rejected) — at exit, so it holds the functions that run compiled, not only the top level.
 * It is keyed by the bundle's size and mtime and the Node version in its file name; V8 itself
 * rejects data from another V8 build or other flags (heap.ts's flag is set before the
 * compile, so writer and reader agree), and a rejected cache is rewritten. It lives beside the
 * bundle (dist/cli/.code-cache/) or, where that folder cannot be written (a global install
 * owned by root), in a folder of the user's own under the OS temp dir that nobody else may
 * write: bytecode runs as code, so a cache anyone else could plant is never read.
 *
 * BLOB2PG_CODE_CACHE=off runs the ES module bundle for every command (as before the cache);
 * BLOB2PG_CODE_CACHE=<dir> puts the cache there. BLOB2PG_CODE_CACHE_DEBUG=1 says on stderr
 * whether the cache was used, rejected or written.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';

/** The CLI-only environment switches read here (not Functions app settings: the host never runs the CLI). */
export const CODE_CACHE_SETTINGS: readonly string[] = ['BLOB2PG_CODE_CACHE', 'BLOB2PG_CODE_CACHE_DEBUG'];

/**
 * Runs `bundleFile` for `command` and returns true, or returns false (running nothing) when
 * the bundle is absent (the unbundled tsc build) or BLOB2PG_CODE_CACHE=off.
 */
export function runCachedBundle(bundleFile: string, command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const setting = env.BLOB2PG_CODE_CACHE;
  const stat = setting === 'off' ? undefined : statSync(bundleFile, { throwIfNoEntry: false });
  if (!stat) return false;
  const debug = env.BLOB2PG_CODE_CACHE_DEBUG ? (line: string) => process.stderr.write(`blob2pg: code cache: ${line}\n`) : () => undefined;
  const prefix = `${cacheKey(command)}-`;
  const name = `${prefix}${process.version}-${process.arch}-${stat.size}-${Math.trunc(stat.mtimeMs)}.bin`;
  const folders = setting && setting !== 'on' ? [setting] : [path.join(path.dirname(bundleFile), '.code-cache'), userTempFolder()];
  const found = folders.map((folder) => path.join(folder, name)).find((file) => trusted(file));
  const cachedData = found ? readFileSync(found) : undefined;

  const script = new vm.Script(wrap(readFileSync(bundleFile, 'utf8')), {
    filename: bundleFile,
    cachedData,
    // The bundle's import() of packages left outside it (the development services of `demo`).
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cachedData && !script.cachedDataRejected) {
    debug(`used ${found}`);
  } else {
    debug(cachedData ? `rejected ${found}` : `none for ${command}`);
    process.once('exit', () => {
      const written = writeCache(folders, prefix, name, script.createCachedData());
      debug(written ? `wrote ${written}` : 'not written (no writable folder)');
    });
  }
  const module = { exports: {}, filename: bundleFile, id: bundleFile, loaded: false };
  const run = script.runInThisContext() as (exports: unknown, require: NodeRequire, module: unknown, filename: string, dirname: string) => void;
  run(module.exports, createRequire(bundleFile), module, bundleFile, path.dirname(bundleFile));
  return true;
}

/** Node's CommonJS wrapper: the bundle sees `require`, `module`, `__filename` and `__dirname` as a required file does. */
function wrap(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
}

/** One cache per command: each holds the functions its own runs compile. (No hyphen: `run-` must prefix only run's files.) */
function cacheKey(command: string): string {
  return /^[a-z]{1,20}$/.test(command) ? command : 'other';
}

function userTempFolder(): string {
  return path.join(tmpdir(), `blob2pg-code-cache-${process.getuid?.() ?? 'user'}`);
}

/** A cache file in a folder, both owned by this user and writable by nobody else. */
function trusted(file: string): boolean {
  return ownedBySelf(file) && ownedBySelf(path.dirname(file));
}

function ownedBySelf(file: string): boolean {
  try {
    const s = statSync(file);
    const uid = process.getuid?.();
    return (uid === undefined || s.uid === uid) && (s.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Writes the cache into the first folder that takes it (atomically: concurrent processes each rename a whole file); drops this command's older caches there. */
function writeCache(folders: string[], prefix: string, name: string, data: Buffer): string | undefined {
  for (const folder of folders) {
    try {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      if (!ownedBySelf(folder)) continue;
      const file = path.join(folder, name);
      const partial = `${file}.${process.pid}.tmp`;
      writeFileSync(partial, data, { mode: 0o600 });
      renameSync(partial, file);
      for (const old of readdirSync(folder)) if (old.startsWith(prefix) && old !== name && old.endsWith('.bin')) rmSync(path.join(folder, old), { force: true });
      return file;
    } catch {
      // not writable here (a read-only install): try the next folder
    }
  }
  return undefined;
}
