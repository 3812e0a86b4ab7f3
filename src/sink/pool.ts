/** One pg Pool per connection setting, shared by every load in the process. */
import pg from 'pg';
import { explainEntraAuthFailure } from '../connections/entraToken.js';
import { pgPoolConfigFor } from '../connections/pgPoolConfig.js';
import type { Env } from '../connections/settings.js';

const pools = new Map<string, pg.Pool>();

export function poolFor(connection: string, env: Env = process.env): pg.Pool {
  const config = pgPoolConfigFor(connection, env);
  const key = `${connection}\0${config.connectionString ?? JSON.stringify({ ...config, password: undefined })}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new pg.Pool(config);
    // A refused Entra sign-in becomes an error that names the grant to run (entraToken.ts).
    const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
    const user = typeof config.user === 'string' ? config.user : undefined;
    pool.connect = (async () => {
      try {
        return await connect();
      } catch (err) {
        throw explainEntraAuthFailure(err, user);
      }
    }) as pg.Pool['connect'];
    // An idle client's socket dropping must not crash the process; the next checkout reconnects.
    pool.on('error', () => undefined);
    pools.set(key, pool);
  }
  return pool;
}

export async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((pool) => pool.end()));
}
