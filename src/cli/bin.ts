#!/usr/bin/env node
/**
 * The installed `blob2pg` executable (package.json "bin"): `npm run build` bundles it into
 * dist/cli/bin.js (src/deploy/bundleCli.ts), one file and its lazy chunks instead of ~950
 * module files at every start. Source maps are switched on before the CLI's chunks load, so
 * a stack trace names src/… lines (only modules loaded after this call are mapped).
 */
process.setSourceMapsEnabled(true);
await import('./main.js');
