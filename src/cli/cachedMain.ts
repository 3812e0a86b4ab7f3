/**
 * Entry point of the CommonJS bundle dist/cli/blob2pg.cjs, which bin.ts compiles with a V8
 * code cache (codeCache.ts). The same process as main.ts, without its top-level await, which
 * a CommonJS bundle cannot hold.
 */
import { runMain } from './runMain.js';

void runMain(process.argv.slice(2));
