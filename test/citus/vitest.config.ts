/**
 * The Citus leg's vitest config (test/citus/run.sh passes it with TARGET_POSTGRES pointing at
 * a Citus coordinator and BLOB2PG_CITUS naming the cluster shape). The default `vitest run`
 * excludes test/citus: these tests need a Citus server.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/citus/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
