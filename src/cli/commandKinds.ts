/**
 * Which commands connect to services, known before any command module loads. bin.ts runs
 * those from the code-cached CommonJS bundle (codeCache.ts); the offline ones (and help, and
 * a mistyped name) from the split ES module bundle — they load a few small chunks, and the
 * code cache would cost them more than it saves. program.ts need not load the pool module to
 * close pools after an offline command. test/unit/commandKinds.test.ts checks that every
 * command is in exactly one of the two.
 */
export const SERVICE_COMMANDS: ReadonlySet<string> = new Set(['run', 'validate', 'watch', 'demo', 'ui']);
export const OFFLINE_COMMANDS: ReadonlySet<string> = new Set(['help', '--help', '-h', 'schema', 'import-adf']);
