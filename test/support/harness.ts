/**
 * Per-test-file helpers over the real services the global setup started: a fresh schema
 * and container per file, uploads, and the env a load reads its connections from.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import pg from 'pg';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { parsePipelineSpec, type PipelineSpec, type PipelineSpecInput } from '../../src/pipeline/spec.js';
import { closePools } from '../../src/sink/index.js';
import { quoteIdent } from '../../src/sink/sql.js';

export interface Harness {
  env: Record<string, string>;
  /** A schema private to this test file (dropped at the end). */
  schema: string;
  /** A container private to this test file. */
  container: ContainerClient;
  pg: pg.Pool;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  upload(name: string, body: string | Buffer): Promise<{ name: string; etag: string }>;
  /** Creates `name (ddl)` in this file's schema; returns "schema.name" for a spec's sink.table. */
  table(name: string, ddl: string): Promise<string>;
  spec(overrides: Omit<Partial<PipelineSpecInput>, 'source'> & { source?: Partial<PipelineSpecInput['source']>; sink: PipelineSpecInput['sink'] }): PipelineSpec;
  close(): Promise<void>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

export async function createHarness(prefix = 't'): Promise<Harness> {
  const env = {
    SOURCE_STORAGE: inject('SOURCE_STORAGE'),
    TARGET_POSTGRES: inject('TARGET_POSTGRES'),
    BLOB2PG_LEDGER_SCHEMA: uniqueName('ledger_'),
  };
  const schema = uniqueName(`${prefix}_`);
  const pool = new pg.Pool({ connectionString: env.TARGET_POSTGRES, max: 4 });
  await pool.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  const container = BlobServiceClient.fromConnectionString(env.SOURCE_STORAGE).getContainerClient(uniqueName(`${prefix.toLowerCase().replace(/[^a-z0-9]/g, '')}-`));
  await container.create();
  return {
    env,
    schema,
    container,
    pg: pool,
    async query(sql, params) {
      return (await pool.query(sql, params)).rows;
    },
    async table(name, ddl) {
      await pool.query(`CREATE TABLE ${quoteIdent(schema)}.${quoteIdent(name)} (${ddl})`);
      return `${schema}.${name}`;
    },
    async upload(name, body) {
      const response = await container.getBlockBlobClient(name).uploadData(typeof body === 'string' ? Buffer.from(body) : body);
      return { name, etag: response.etag! };
    },
    spec(overrides) {
      return parsePipelineSpec({
        name: 'test',
        ...overrides,
        source: { container: container.containerName, ...overrides.source },
      });
    },
    async close() {
      await closePools();
      await pool.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(env.BLOB2PG_LEDGER_SCHEMA)} CASCADE`).catch(() => undefined);
      await pool.end();
      await container.delete().catch(() => undefined);
    },
  };
}
