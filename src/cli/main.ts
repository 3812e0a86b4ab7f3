#!/usr/bin/env node
/** The `blob2pg` executable: runs one command, closes the pools, sets the exit code. */
import './heap.js';
import { closeCliPools, runCli } from './program.js';

const code = await runCli(process.argv.slice(2));
await closeCliPools().catch(() => undefined);
process.exitCode = code;
