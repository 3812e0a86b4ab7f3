#!/usr/bin/env node
/**
 * The installed `blob2pg` executable (package.json "bin"): `npm run build` bundles it into
 * dist/cli/bin.js (src/deploy/bundleCli.ts). Commands that connect to services (run,
 * validate, watch, ui, demo) run from the CommonJS bundle dist/cli/blob2pg.cjs with a V8
 * code cache (codeCache.ts); the offline ones from the split ES module bundle, one small chunk
 * each. Stack traces name src/… lines through the bundles' source maps, read only when a stack
 * is formatted (stackTraces.ts; Node's own source-map support would read every map at load).
 */
import './heap.js'; // first: its V8 flag is part of the code cache's key (codeCache.ts)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHED_BUNDLE } from '../deploy/cliBundleFiles.js';
import { runCachedBundle } from './codeCache.js';
import { SERVICE_COMMANDS } from './commandKinds.js';
import { mapStackTracesLazily } from './stackTraces.js';

const here = path.dirname(fileURLToPath(import.meta.url));
mapStackTracesLazily(here);
const command = process.argv[2];
// The unbundled build (dist/src/cli/) has no CommonJS bundle beside it: it imports main.js.
if (command === undefined || !SERVICE_COMMANDS.has(command) || !runCachedBundle(path.join(here, CACHED_BUNDLE), command)) {
  await import('./main.js');
}
