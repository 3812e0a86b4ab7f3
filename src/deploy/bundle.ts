/**
 * esbuild over the compiled JavaScript (tsc stays the only compiler): one ES module file per
 * entry point instead of ~950 module files to read, compile and link at every start
 * (bench/README.md, "Start-up"). Split, so the lazy imports (formats, writers, commands)
 * stay lazy as chunks; source maps beside, so stack traces name our TypeScript.
 * Used by the deploy package (the Functions entry) and by `npm run build` (the CLI).
 */
import type { Plugin } from 'esbuild';

export interface BundleOptions {
  /** Files, or output names (without extension) → files. */
  entryPoints: string[] | Record<string, string>;
  outdir: string;
  /** Where the entry points' relative paths start (output keeps them). */
  outbase?: string;
  /** node_modules folders to resolve packages from, in order. */
  nodePaths?: string[];
  /** Packages left to a runtime import (provided by the host, or development-only services). */
  external?: string[];
  /** Build-time module replacements (the CLI's stubs, src/deploy/cliStubs.ts); none for the deploy package. */
  plugins?: Plugin[];
  /**
   * Drop whitespace and comments and shorten syntax, keeping every identifier (so stack traces
   * keep function names): less text to scan at each start. Measured on the CLI's one-row run
   * (bench/README.md, "Session 6"): −40 ms CPU, −4 MB RSS; renaming identifiers too saved no
   * further CPU.
   */
  minifyLayout?: boolean;
  /**
   * `cjs`: one CommonJS file per entry point (`.cjs`), no chunks — what the CLI's code cache
   * compiles (src/cli/codeCache.ts). Lazy imports of bundled modules become lazy calls inside
   * the file; import.meta.url is the file's URL. Default `esm`: split ES modules.
   */
  format?: 'esm' | 'cjs';
}

// CommonJS packages inside an ES module bundle call require() for node: builtins.
const ESM_BANNER = "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);";
// A CommonJS bundle has no import.meta: our modules' import.meta.url reads this instead.
const CJS_BANNER = "const __bundleFileUrl = require('node:url').pathToFileURL(__filename).href;";

/** Returns the files written (paths relative to the working directory, as esbuild's metafile names them). */
export async function bundle(options: BundleOptions): Promise<string[]> {
  const { build } = await import('esbuild');
  const esm = (options.format ?? 'esm') === 'esm';
  const result = await build({
    entryPoints: options.entryPoints,
    outdir: options.outdir,
    outbase: options.outbase,
    nodePaths: options.nodePaths,
    bundle: true,
    platform: 'node',
    format: esm ? 'esm' : 'cjs',
    splitting: esm,
    outExtension: esm ? undefined : { '.js': '.cjs' },
    define: esm ? undefined : { 'import.meta.url': '__bundleFileUrl' },
    sourcemap: true,
    external: options.external,
    plugins: options.plugins,
    minifyWhitespace: options.minifyLayout,
    minifySyntax: options.minifyLayout,
    banner: { js: esm ? ESM_BANNER : CJS_BANNER },
    logLevel: 'error',
    metafile: true,
  });
  // import.meta other than .url would be an empty object in a CommonJS bundle: fail the build rather than ship that.
  const emptyImportMeta = result.warnings.filter((w) => w.id === 'empty-import-meta');
  if (emptyImportMeta.length > 0) throw new Error(`import.meta left empty in the CommonJS bundle: ${emptyImportMeta.map((w) => `${w.location?.file}:${w.location?.line}`).join(', ')}`);
  return Object.keys(result.metafile.outputs);
}
