/** What every fault test loads and checks: an orders CSV with unique keys, and "loaded exactly once". */
import { ledgerSchemaName } from '../../src/sink/ledger.js';
import type { Harness } from './harness.js';

/** `rows` records of about 40 bytes, keys from..from+rows-1. */
export function ordersCsv(rows: number, from = 1): string {
  const lines = ['id,name,amount'];
  for (let i = from; i < from + rows; i++) lines.push(`${i},customer number ${i},${(i * 1.25).toFixed(2)}`);
  return lines.join('\n') + '\n';
}

export const ORDERS_DDL = 'id int PRIMARY KEY, name text NOT NULL, amount numeric(12,2)';

/** Rows, distinct keys and committed ledger rows of `schema.table`: a blob loaded once has rows = keys = its records and one ledger row. */
export async function loadedOnce(h: Harness, table: string): Promise<{ rows: number; keys: number; ledgerRows: number }> {
  const quoted = table.split('.').map((part) => `"${part}"`).join('.');
  const [counts] = await h.query<{ rows: number; keys: number }>(`SELECT count(*)::int AS rows, count(DISTINCT id)::int AS keys FROM ${quoted}`);
  const ledger = `"${ledgerSchemaName(undefined, h.env)}".ingestions`;
  const [ledgerRows] = await h.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ledger} WHERE target_table = $1 AND finished_at IS NOT NULL`, [table]);
  return { rows: counts!.rows, keys: counts!.keys, ledgerRows: ledgerRows!.n };
}
