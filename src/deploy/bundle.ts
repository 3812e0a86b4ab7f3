/**
 * esbuild over the compiled JavaScript (tsc stays the only compiler): one ES module file per
 * entry point instead of ~950 module files to read, compile and link at every start
 * (bench/README.md, "Start-up"). Split, so the lazy imports (formats, writers, commands)
 * stay lazy as chunks; source maps beside, so stack traces name our TypeScript.
 * Used by the deploy package (the Functions entry) and by `npm run build` (the CLI).
 */
import type { Plugin } from 'esbuild';

export interface BundleOptions {
  entryPoints: string[];
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
}

/** Returns the files written (paths relative to the working directory, as esbuild's metafile names them). */
export async function bundle(options: BundleOptions): Promise<string[]> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: options.entryPoints,
    outdir: options.outdir,
    outbase: options.outbase,
    nodePaths: options.nodePaths,
    bundle: true,
    platform: 'node',
    format: 'esm',
    splitting: true,
    sourcemap: true,
    external: options.external,
    plugins: options.plugins,
    minifyWhitespace: options.minifyLayout,
    minifySyntax: options.minifyLayout,
    // CommonJS packages inside an ES module bundle call require() for node: builtins.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    logLevel: 'error',
    metafile: true,
  });
  return Object.keys(result.metafile.outputs);
}
