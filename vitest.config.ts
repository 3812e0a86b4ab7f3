import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The heavy test files: `npm test` (the fast loop) leaves them out, `npm run test:all` (the
 * CI matrix, test/matrix.mjs, which sets BLOB2PG_TEST_ALL=1) runs them. One of them alone:
 * `BLOB2PG_TEST_ALL=1 npx vitest run <file>`. Each is here for its time (the slowest files of
 * a verbose run, 2026-11-28 on the shared loaded machine) or for what it needs:
 */
export const HEAVY_TESTS = [
  'test/integration/formatMemory.test.ts', // 1M-row files per format, memory ceilings (child processes)
  'test/integration/orchestrator1000.test.ts', // 1,000 blobs through the orchestrator
  'test/integration/deployPackage.test.ts', // npm ci of the production dependencies
  'test/browser/**', // drives chromium
  'test/app/watchKill.test.ts', // a 1M-row blob, the watcher SIGKILLed mid-load
  'test/integration/coldStart.test.ts', // ~60 s: child processes timing the first load
  'test/integration/parallelCopy.test.ts', // ~50 s: multi-stream loads of large files
  'test/faults/pgFaults.test.ts', // ~65 s: connection faults through a proxy, throttled
  'test/faults/pgRestart.test.ts', // restarts the PostgreSQL server
];
const heavyToo = process.env.BLOB2PG_TEST_ALL === '1';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Citus tests need a Citus server: `bash test/citus/run.sh` runs them (docs/versions.md, "Run it on Citus").
    exclude: [...configDefaults.exclude, 'test/citus/**', ...(heavyToo ? [] : HEAVY_TESTS)],
    // Starts Azurite and PostgreSQL once per run (or uses TARGET_POSTGRES when set).
    globalSetup: ['test/support/globalSetup.ts'],
    // Each test file gets its own database schema / container names, so files run in
    // parallel; 2 cores on CI, so keep the fork count small.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
