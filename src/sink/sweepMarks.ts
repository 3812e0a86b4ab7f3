/**
 * A pipeline's sweep high-water mark (source.highWaterMark): the last-modified time before
 * which a completed sweep saw, and loaded or found loaded, every blob of its listing. The
 * next sweep looks only at blobs modified since the mark minus a margin; the ledger still
 * decides what is loaded. Kept in the ledger's schema (table created by ensureLedger),
 * one row per pipeline, target table and listed source: changing the container, prefix,
 * wildcard or table starts from no mark (a full sweep).
 */
import type pg from 'pg';
import { withClient } from './pool.js';
import { quoteIdent } from './sql.js';

export interface SweepMarkKey {
  pipeline: string;
  targetTable: string;
  /** What is listed: container URL (no query string), prefix, wildcard. */
  source: string;
}

export async function readSweepMark(pool: pg.Pool, schema: string, key: SweepMarkKey): Promise<Date | undefined> {
  return withClient(pool, async (client) => {
    const result = await client.query<{ modified_after: Date }>(
      `SELECT modified_after FROM ${quoteIdent(schema)}.sweep_marks WHERE pipeline = $1 AND target_table = $2 AND source = $3`,
      [key.pipeline, key.targetTable, key.source],
    );
    return result.rows[0]?.modified_after;
  });
}

/**
 * Moves the mark forward, never back: each sweep's mark is safe on its own, so of two
 * sweeps finishing out of order the later mark wins.
 */
export async function saveSweepMark(pool: pg.Pool, schema: string, key: SweepMarkKey, mark: Date): Promise<void> {
  await withClient(pool, async (client) => {
    await client.query(
      `INSERT INTO ${quoteIdent(schema)}.sweep_marks AS m (pipeline, target_table, source, modified_after) VALUES ($1, $2, $3, $4)
       ON CONFLICT (pipeline, target_table, source)
       DO UPDATE SET modified_after = GREATEST(m.modified_after, EXCLUDED.modified_after), updated_at = clock_timestamp()`,
      [key.pipeline, key.targetTable, key.source, mark],
    );
  });
}
