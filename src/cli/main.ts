#!/usr/bin/env node
/** The `blob2pg` executable of the unbundled build (dist/src/cli/main.js): runs one command. */
import { runMain } from './runMain.js';

await runMain(process.argv.slice(2));
