import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Citus tests need a Citus server: `bash test/citus/run.sh` runs them (docs/versions.md, "Run it on Citus").
    exclude: [...configDefaults.exclude, 'test/citus/**'],
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
