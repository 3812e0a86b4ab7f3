/** File names the CLI build writes (bundleCli.ts) and the installed CLI reads (src/cli/bin.ts, codeCache.ts). */

/** The CommonJS bundle compiled with a V8 code cache, beside bin.js in dist/cli/. */
export const CACHED_BUNDLE = 'blob2pg.cjs';
