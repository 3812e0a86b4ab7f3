/**
 * Starts a real Azurite and a real PostgreSQL once per test run — never mocks
 * (DESIGN decision 5). Set TARGET_POSTGRES to test against another server instead of
 * the embedded one; SOURCE_STORAGE likewise for the blob store. BLOB2PG_TEST_PG_MAJOR
 * (13-18) picks the embedded server's major (test/matrix.mjs runs several).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startAzurite, startPostgres } from '../../src/cli/localServices.js';

declare module 'vitest' {
  export interface ProvidedContext {
    SOURCE_STORAGE: string;
    TARGET_POSTGRES: string;
    POSTGRES_DATA_DIR: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-test-'));
  // As root, PostgreSQL runs as the `postgres` OS user, which must reach its data dir.
  await chmod(dir, 0o755);
  const stops: Array<() => Promise<void>> = [];
  let storage = process.env.SOURCE_STORAGE;
  let postgres = process.env.TARGET_POSTGRES;
  let dataDir = '';
  if (!storage) {
    const azurite = await startAzurite({ dir, persistent: false });
    stops.push(azurite.stop);
    storage = azurite.connectionString;
  }
  if (!postgres) {
    const major = process.env.BLOB2PG_TEST_PG_MAJOR ? Number(process.env.BLOB2PG_TEST_PG_MAJOR) : undefined;
    if (major !== undefined && !Number.isInteger(major)) throw new Error(`BLOB2PG_TEST_PG_MAJOR must be a major version such as 14, got "${process.env.BLOB2PG_TEST_PG_MAJOR}"`);
    // Prepared transactions on: parallel COPY streams of one blob commit through them.
    const server = await startPostgres({ dir, persistent: false, major, maxPreparedTransactions: 32 });
    stops.push(server.stop);
    postgres = server.url;
    dataDir = server.dataDir;
  }
  project.provide('SOURCE_STORAGE', storage);
  project.provide('TARGET_POSTGRES', postgres);
  project.provide('POSTGRES_DATA_DIR', dataDir);
  return async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
}
