/**
 * Resolves the spec's `mapping` (or the default one) against the file's columns and the
 * live table. Pure: the caller supplies the header and the catalog's columns.
 *
 * Default rules (issue #2): by header name — exact match, then a unique case-insensitive
 * match; without a header, by position. Unmapped source columns are ignored; unmapped
 * table columns get their defaults.
 */
import { DataError } from '../errors.js';
import type { TableColumn } from './table.js';
import type { MappingEntry } from './spec.js';

export interface ResolvedColumn {
  /** 0-based index of the field in each file record. */
  field: number;
  column: TableColumn;
}

/** An ADF "additional column": a `$$` variable or a literal, the same for every row. */
export interface ResolvedValue {
  /** The spec's value: `$$FILEPATH` … or a literal. */
  value: string;
  column: TableColumn;
}

export interface ResolvedMapping {
  /** Mapped fields, in file order. */
  columns: ResolvedColumn[];
  /** Additional columns (mapping entries with `value`). */
  values: ResolvedValue[];
  /** Fields per record in the file. */
  fieldCount: number;
  /** Every file field lands in a column: the file can go straight into COPY. */
  allFieldsMapped: boolean;
}

export interface MappingProblem {
  path: string;
  message: string;
}

export function findColumn(columns: TableColumn[], name: string): TableColumn | undefined | 'ambiguous' {
  const exact = columns.find((c) => c.name === name);
  if (exact) return exact;
  const folded = columns.filter((c) => c.name.toLowerCase() === name.toLowerCase());
  if (folded.length > 1) return 'ambiguous';
  return folded[0];
}

function findField(header: string[], name: string): number | 'ambiguous' | undefined {
  const exact = header.indexOf(name);
  if (exact >= 0) return exact;
  const folded = header.flatMap((h, i) => (h.toLowerCase() === name.toLowerCase() ? [i] : []));
  if (folded.length > 1) return 'ambiguous';
  return folded[0];
}

export interface MappingCheckOptions {
  /** Upsert key columns (exact names): each must be a table column fed by the mapping. */
  keys?: readonly string[];
}

/** Every problem at once (for `blob2pg validate`); `resolveMapping` throws the first. */
export function checkMapping(
  mapping: MappingEntry[] | undefined,
  header: string[] | null,
  fieldCount: number,
  tableColumns: TableColumn[],
  options: MappingCheckOptions = {},
): { mapping?: ResolvedMapping; problems: MappingProblem[] } {
  const problems: MappingProblem[] = [];
  const resolved: ResolvedColumn[] = [];
  const values: ResolvedValue[] = [];
  const writable = tableColumns.filter((c) => c.writable);

  if (mapping) {
    mapping.forEach((entry, i) => {
      const column = findColumn(tableColumns, entry.sink);
      if (column === 'ambiguous' || !column) {
        problems.push({ path: `mapping[${i}].sink`, message: column ? `"${entry.sink}" matches several columns by case; use the exact name` : `the table has no column "${entry.sink}"` });
        return;
      }
      if (!column.writable) {
        problems.push({ path: `mapping[${i}].sink`, message: `column "${column.name}" is generated and cannot be written` });
        return;
      }
      if ('value' in entry) {
        values.push({ value: entry.value, column });
        return;
      }
      let field: number | 'ambiguous' | undefined;
      if (typeof entry.source === 'number') {
        field = entry.source <= fieldCount ? entry.source - 1 : undefined;
        if (field === undefined) problems.push({ path: `mapping[${i}].source`, message: `column ${entry.source} is past the file's ${fieldCount} columns` });
      } else if (header) {
        field = findField(header, entry.source);
        if (field === undefined) problems.push({ path: `mapping[${i}].source`, message: `the file has no column "${entry.source}" (header: ${header.join(', ')})` });
        if (field === 'ambiguous') problems.push({ path: `mapping[${i}].source`, message: `"${entry.source}" matches several header columns by case` });
      } else {
        problems.push({ path: `mapping[${i}].source`, message: `the file has no header row: name the column by its 1-based position` });
      }
      if (typeof field === 'number') resolved.push({ field, column });
    });
  } else if (header) {
    header.forEach((name, field) => {
      const column = findColumn(writable, name);
      if (column === 'ambiguous') problems.push({ path: 'mapping', message: `header "${name}" matches several columns by case: add a mapping` });
      else if (column) resolved.push({ field, column });
    });
    if (header.length && !resolved.length) {
      problems.push({ path: 'mapping', message: `no header column matches a table column (header: ${header.join(', ')}; table: ${writable.map((c) => c.name).join(', ')})` });
    }
  } else {
    for (let field = 0; field < Math.min(fieldCount, writable.length); field++) resolved.push({ field, column: writable[field]! });
  }

  const seen = new Map<string, number>();
  for (const r of resolved) {
    if (seen.has(r.column.name)) problems.push({ path: 'mapping', message: `column "${r.column.name}" is fed by file columns ${seen.get(r.column.name)! + 1} and ${r.field + 1}` });
    seen.set(r.column.name, r.field);
  }
  for (const v of values) seen.set(v.column.name, -1);
  resolved.sort((a, b) => a.field - b.field);
  const fields = new Set(resolved.map((r) => r.field));
  for (const column of tableColumns) {
    if (column.writable && column.notNull && !column.hasDefault && !seen.has(column.name) && fieldCount > 0) {
      const what = column.distribution ? 'the distribution column' : 'NOT NULL column';
      problems.push({ path: 'mapping', message: `${what} "${column.name}" has no default and nothing maps to it` });
    }
  }
  for (const key of options.keys ?? []) {
    const column = tableColumns.find((c) => c.name === key);
    if (!column) problems.push({ path: 'sink.upsertSettings.keys', message: `key column "${key}" is not a column of the table` });
    else if (!seen.has(key)) problems.push({ path: 'sink.upsertSettings.keys', message: `key column "${key}" is not mapped: nothing in the file feeds it` });
  }
  if (problems.length) return { problems };
  return {
    mapping: { columns: resolved, values, fieldCount, allFieldsMapped: fields.size === fieldCount && resolved.length === fieldCount },
    problems,
  };
}

export function resolveMapping(...args: Parameters<typeof checkMapping>): ResolvedMapping {
  const { mapping, problems } = checkMapping(...args);
  if (!mapping) throw new DataError(problems.map((p) => `${p.path}: ${p.message}`).join('; '), {});
  return mapping;
}
