#!/usr/bin/env node
/** The `blob2pg` executable: runs one command, closes the pools, sets the exit code. */
import './heap.js';
import { closePools } from '../sink/index.js';
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2));
await closePools().catch(() => undefined);
process.exitCode = code;
