/**
 * The app's own PostgreSQL role, with what a load needs and nothing more — the statements the
 * postprovision hook runs as the Entra administrator, and the ones docs/deploy.md lists for a
 * server you bring yourself.
 *
 * What a load does as the app role (src/sink/*): COPY / INSERT into the target table, UPDATE
 * and SELECT for Upsert (INSERT … ON CONFLICT DO UPDATE, MERGE), temporary staging tables
 * (CREATE TEMP TABLE … ON COMMIT DROP), and the ledger: `CREATE SCHEMA IF NOT EXISTS` +
 * `CREATE TABLE IF NOT EXISTS` on first use (src/sink/ledger.ts), which PostgreSQL checks
 * against CREATE on the database even when the schema exists. So, on the database: CONNECT,
 * TEMPORARY, CREATE (the app creates and owns its ledger schema); on each target table's
 * schema: USAGE; on each target table: SELECT, INSERT, UPDATE. Not azure_pg_admin, not
 * CREATEROLE, no DDL on anyone else's tables.
 * https://www.postgresql.org/docs/current/ddl-priv.html
 */
import { quoteIdent, quoteLiteral } from '../sink/sql.js';

/** The table pipelines/orders.json loads; created by the hook so the first upload loads. */
export const SAMPLE_TABLE = 'public.orders';

/** Columns of the sample CSV the hook writes (the demo's orders, src/cli/demo.ts). */
export const SAMPLE_TABLE_DDL = `CREATE TABLE IF NOT EXISTS public.orders (
  order_id bigint PRIMARY KEY,
  customer text NOT NULL,
  amount numeric(12,2),
  ordered_at timestamptz,
  note text
)`;

export const SAMPLE_CSV =
  'order_id,customer,amount,ordered_at,note\n' +
  '1,Ada Lovelace,19.99,2026-11-19T09:15:00Z,"first order, gift wrapped"\n' +
  '2,Grace Hopper,5.00,2026-11-19T10:02:00Z,\n' +
  '3,Edsger Dijkstra,120.50,2026-11-19T17:45:00Z,"said ""hello"""\n';

export interface QualifiedTable {
  schema: string;
  name: string;
}

export function parseQualifiedTable(table: string): QualifiedTable {
  const dot = table.indexOf('.');
  return dot < 0 ? { schema: 'public', name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

/**
 * The Entra-mapped role for a managed identity, created by an Entra administrator
 * (pgaadauth_create_principal_with_oid(role, object ID, 'service', isAdmin, isMfa):
 * https://learn.microsoft.com/azure/postgresql/flexible-server/how-to-manage-azure-ad-users).
 * A no-op when the role exists (re-provisioning).
 */
export function createEntraRoleStatement(role: string, objectId: string): string {
  return (
    `SELECT pgaadauth_create_principal_with_oid(${quoteLiteral(role)}, ${quoteLiteral(objectId)}, 'service', false, false) ` +
    `WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)})`
  );
}

export interface AppGrantsOptions {
  role: string;
  database: string;
  /** Target tables ("schema.table") the app loads; each must exist. */
  tables: readonly string[];
}

/** GRANTs for the app role: idempotent, so the hook runs them on every provision. */
export function appGrantStatements(options: AppGrantsOptions): string[] {
  const role = quoteIdent(options.role);
  const tables = [...new Set(options.tables)].map(parseQualifiedTable);
  const schemas = [...new Set(tables.map((t) => t.schema))];
  return [
    `GRANT CONNECT, TEMPORARY, CREATE ON DATABASE ${quoteIdent(options.database)} TO ${role}`,
    ...schemas.map((s) => `GRANT USAGE ON SCHEMA ${quoteIdent(s)} TO ${role}`),
    ...tables.map((t) => `GRANT SELECT, INSERT, UPDATE ON TABLE ${quoteIdent(t.schema)}.${quoteIdent(t.name)} TO ${role}`),
  ];
}
