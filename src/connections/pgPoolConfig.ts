import type pg from 'pg';
import { resolvePostgresConnection, type Env } from './settings.js';

export function pgPoolConfigFor(name: string, env: Env = process.env, options: { max?: number } = {}): pg.PoolConfig {
  const connection = resolvePostgresConnection(name, env);
  const max = options.max ?? (Number(env.BLOB2PG_PG_POOL_MAX) || 10);
  return { connectionString: connection.connectionString, max, application_name: 'blob2pg' };
}
