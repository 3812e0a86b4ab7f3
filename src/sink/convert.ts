/**
 * How each target column gets its value from a staged row: the SQL expression that
 * converts the staged text (or an additional column's bound value) to the column's type,
 * and the SQL that says whether that conversion will succeed — used to name the line and
 * column of a bad value, and to skip incompatible rows.
 *
 * Values never enter SQL text: additional-column values, date patterns and boolean
 * spellings are bound parameters (`$n`), numbered from `paramBase + 1`.
 */
import type { ResolvedMapping } from '../pipeline/mapping.js';
import type { TypeConversion } from '../pipeline/spec.js';
import type { BlobRef } from '../source/blobs.js';
import { inputCheck, type InputCheckMode } from './inputCheck.js';
import { stageField } from './staging.js';
import type { TableColumn } from '../pipeline/table.js';

export interface ColumnPlan {
  column: TableColumn;
  /** 0-based file field feeding the column; undefined for an additional column. */
  field?: number;
  /** The typed value, e.g. `"f3"::numeric(12,2)` or `$1::text::date`. */
  expr: string;
  /** The text it comes from (for logs). */
  raw: string;
  /** SQL boolean, true when `expr` will not raise (NULL counts as valid). */
  valid: string;
  /** SQL text: why `expr` fails, for rows where `valid` is false. */
  reason: string;
  /** `CREATE FUNCTION pg_temp…` statements `valid` / `reason` call (see `ensureTryFunctions`). */
  helpers: string[];
}

export interface SelectPlan {
  columns: ColumnPlan[];
  params: unknown[];
  /** Some column needs more than COPY's own text input: the fast path cannot be used. */
  needsStaging: boolean;
}

export interface PlanContext {
  blob: BlobRef;
  runId: string;
  /** How `valid` / `reason` test a value: `pg_input_is_valid` (16+) or PL/pgSQL helpers. Default native. */
  inputCheck?: InputCheckMode;
}

/** `$$FILEPATH` → the blob's path; a value that is no variable is a literal. */
export function mappingValue(value: string, context: PlanContext): string {
  switch (value) {
    case '$$FILEPATH':
      return context.blob.name;
    case '$$FILENAME':
      return context.blob.name.slice(context.blob.name.lastIndexOf('/') + 1);
    case '$$ETAG':
      return context.blob.etag;
    case '$$LASTMODIFIED':
      return context.blob.lastModified;
    case '$$RUNID':
      return context.runId;
    default:
      return value;
  }
}

const isDate = (type: string) => type === 'date';
const isTimestamp = (type: string) => /^timestamp(\(\d+\))? with(out)? time zone$/.test(type);
const isBoolean = (type: string) => type === 'boolean';

export function planSelect(
  mapping: ResolvedMapping,
  conversion: TypeConversion | undefined,
  context: PlanContext,
  paramBase = 0,
): SelectPlan {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${paramBase + params.length}`;
  };
  let needsStaging = false;
  let truthy: string | undefined;
  let falsy: string | undefined;
  let datePattern: string | undefined;
  let timestampPattern: string | undefined;

  const mode = context.inputCheck ?? 'native';
  const columns: ColumnPlan[] = mapping.columns.map(({ field, column }) => {
    const raw = stageField(field);
    const check = inputCheck(raw, column, mode);
    const plain: ColumnPlan = {
      column,
      field,
      raw,
      expr: `${raw}::${column.baseType}`,
      valid: `(${raw} IS NULL OR ${check.valid})`,
      reason: check.reason,
      helpers: check.helpers,
    };
    if (conversion?.dateFormat && isDate(column.type)) {
      needsStaging = true;
      datePattern ??= param(conversion.dateFormat);
      return {
        ...plain,
        expr: `to_date(${raw}, ${datePattern}::text)`,
        valid: `(${raw} IS NULL OR pg_temp.blob2pg_try_date(${raw}, ${datePattern}::text) IS NOT NULL)`,
        reason: `format('not a date in format %s', ${datePattern}::text)`,
        helpers: [TRY_DATE_SQL],
      };
    }
    if (conversion?.timestampFormat && isTimestamp(column.type)) {
      needsStaging = true;
      timestampPattern ??= param(conversion.timestampFormat);
      return {
        ...plain,
        expr: `to_timestamp(${raw}, ${timestampPattern}::text)::${column.type}`,
        valid: `(${raw} IS NULL OR pg_temp.blob2pg_try_timestamptz(${raw}, ${timestampPattern}::text) IS NOT NULL)`,
        reason: `format('not a timestamp in format %s', ${timestampPattern}::text)`,
        helpers: [TRY_TIMESTAMPTZ_SQL],
      };
    }
    if ((conversion?.booleanTrue || conversion?.booleanFalse) && isBoolean(column.type)) {
      needsStaging = true;
      const norm = (list: string[] | undefined) => (list ?? []).map((s) => s.trim().toLowerCase());
      truthy ??= param(norm(conversion.booleanTrue));
      falsy ??= param(norm(conversion.booleanFalse));
      const v = `lower(btrim(${raw}))`;
      return {
        ...plain,
        // The configured spellings first; Postgres' own (t/f, yes/no, 1/0, on/off …) still work.
        expr: `CASE WHEN ${v} = ANY(${truthy}::text[]) THEN true WHEN ${v} = ANY(${falsy}::text[]) THEN false ELSE ${raw}::boolean END`,
        valid: `(${raw} IS NULL OR ${v} = ANY(${truthy}::text[]) OR ${v} = ANY(${falsy}::text[]) OR ${check.valid})`,
      };
    }
    return plain;
  });

  for (const { value, column } of mapping.values) {
    needsStaging = true;
    const p = param(mappingValue(value, context));
    const check = inputCheck(`${p}::text`, column, mode);
    columns.push({ column, raw: `${p}::text`, expr: `${p}::text::${column.baseType}`, valid: check.valid, reason: check.reason, helpers: check.helpers });
  }
  return { columns, params, needsStaging };
}

/**
 * Session-local helpers (pg_temp, dropped with the session) that return NULL instead of
 * raising, so a bad date can be located or skipped row by row: to_date/to_timestamp have
 * no soft-error form (https://www.postgresql.org/docs/current/functions-formatting.html).
 */
const TRY_DATE_SQL = `CREATE OR REPLACE FUNCTION pg_temp.blob2pg_try_date(v text, fmt text) RETURNS date LANGUAGE plpgsql AS $f$
BEGIN RETURN to_date(v, fmt); EXCEPTION WHEN others THEN RETURN NULL; END $f$;`;
const TRY_TIMESTAMPTZ_SQL = `CREATE OR REPLACE FUNCTION pg_temp.blob2pg_try_timestamptz(v text, fmt text) RETURNS timestamptz LANGUAGE plpgsql AS $f$
BEGIN RETURN to_timestamp(v, fmt); EXCEPTION WHEN others THEN RETURN NULL; END $f$;`;
