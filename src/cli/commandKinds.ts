/**
 * Which commands open no connection, known before any command module loads: bin.ts starts
 * them from the split ES module bundle (they load a few small chunks, and the code cache would
 * cost them more than it saves), and program.ts need not load the pool module to close pools
 * after them. Every other command goes through the code-cached bundle (codeCache.ts).
 */
export const OFFLINE_COMMANDS: ReadonlySet<string> = new Set(['help', '--help', '-h', 'schema', 'import-adf']);
