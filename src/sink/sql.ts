/**
 * SQL quoting, in one place. COPY options and DDL cannot take `$n` parameters
 * (https://www.postgresql.org/docs/current/sql-prepare.html: only SELECT/INSERT/UPDATE/
 * DELETE/MERGE/VALUES are preparable), so every identifier and literal that enters their
 * text goes through these functions. Values everywhere else travel as bound parameters.
 */
import type { TableName } from '../pipeline/spec.js';

/** `my "col"` → `"my ""col"""`: always quoted, so names are case-sensitive and literal. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains a NUL character');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table`, each part quoted. */
export function quoteTable(table: TableName): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/** A standard-conforming string literal ('it''s'); an E'' literal when backslashes occur. */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains a NUL character');
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

export function quoteIdentList(names: readonly string[]): string {
  return names.map(quoteIdent).join(', ');
}

/** `schema.table` for humans (messages), unquoted unless needed. */
export function displayTable(table: TableName): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_]*$/.test(s) ? s : quoteIdent(s));
  return `${part(table.schema)}.${part(table.name)}`;
}
