#!/usr/bin/env node
/**
 * The installed `blob2pg` executable (package.json "bin"): `npm run build` bundles it into
 * dist/cli/bin.js (src/deploy/bundleCli.ts), one file and its lazy chunks instead of ~950
 * module files at every start. Stack traces name src/… lines through the chunks' source maps,
 * read only when a stack is formatted (stackTraces.ts; Node's own source-map support would
 * read every chunk's map at load).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mapStackTracesLazily } from './stackTraces.js';

mapStackTracesLazily(path.dirname(fileURLToPath(import.meta.url)));
await import('./main.js');
