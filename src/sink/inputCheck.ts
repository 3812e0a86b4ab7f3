/**
 * Whether a text value converts to a column's type, and why not — the SQL that skip mode
 * and bad-value diagnosis evaluate per staged row.
 *
 * PostgreSQL 16+ answers with `pg_input_is_valid` / `pg_input_error_info`, which call the
 * type's input function in soft-error mode
 * (https://www.postgresql.org/docs/16/functions-info.html#FUNCTIONS-INFO-VALIDITY).
 * Older servers (Azure still runs 13-15) have neither: there a session-local PL/pgSQL
 * helper per column type assigns the value to a variable of that type inside an EXCEPTION
 * block and returns the error message. The block is a subtransaction, but one that writes
 * nothing gets no transaction ID, so it neither grows the subxid cache nor burns XIDs
 * (https://www.postgresql.org/docs/current/subxacts.html). Its cost is in bench/README.md.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { serverVersionNum } from './serverVersion.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import type { TableColumn } from '../pipeline/table.js';

/** First server_version_num with `pg_input_is_valid`. */
const SOFT_INPUT_ERRORS_SINCE = 160000;

export type InputCheckMode = 'native' | 'plpgsql';

/** Test and bench hook: use the PL/pgSQL helpers even where pg_input_is_valid exists. */
export const inputCheckOptions = { forcePlpgsql: false };

export async function inputCheckMode(client: pg.ClientBase): Promise<InputCheckMode> {
  if (inputCheckOptions.forcePlpgsql) return 'plpgsql';
  return (await serverVersionNum(client)) >= SOFT_INPUT_ERRORS_SINCE ? 'native' : 'plpgsql';
}

/**
 * PL/pgSQL mode only: values of these exact types (no modifier, no domain) that match the
 * pattern and are no longer than `maxLength` are valid for certain, so the helper — a
 * function call and a subtransaction — runs only for the rest. Conservative: the lengths
 * keep every value inside its type's range. Lengths, not `{m,n}` bounds: the regex engine
 * unrolls a bound into that many states. Types without an entry always call the helper.
 */
const DIGITS = '^-?[0-9]+$';
const DECIMAL = '^-?[0-9]+(\\.[0-9]+)?$';
const SURELY_VALID: Record<string, { pattern: string; maxLength: number }> = {
  smallint: { pattern: DIGITS, maxLength: 4 },
  integer: { pattern: DIGITS, maxLength: 9 },
  bigint: { pattern: DIGITS, maxLength: 18 },
  numeric: { pattern: DECIMAL, maxLength: 1000 },
  real: { pattern: DECIMAL, maxLength: 30 },
  'double precision': { pattern: DECIMAL, maxLength: 300 },
  boolean: { pattern: '^(t|f|true|false)$', maxLength: 5 },
  uuid: { pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', maxLength: 36 },
};
/** Types whose input accepts any text: nothing to check. */
const ANY_TEXT = new Set(['text', 'character varying']);

export interface InputCheck {
  /** SQL boolean: `text` converts to the column's type. `text` must not be NULL (callers test that first). */
  valid: string;
  /** SQL text: the conversion's error message, for a value where `valid` is false. */
  reason: string;
  /** `CREATE FUNCTION pg_temp…` statements `valid` and `reason` need (plpgsql mode). */
  helpers: string[];
}

/**
 * `column.type` carries the modifier (`numeric(12,2)`, `varchar(3)`) and may be a domain:
 * the check must fail where assigning to the column fails. The helper casts to the base
 * type and assigns to a variable of the full type, as the load's INSERT does; the nested
 * block keeps a NOT NULL domain's initial NULL inside the EXCEPTION handler.
 */
export function inputCheck(text: string, column: Pick<TableColumn, 'type' | 'baseType'>, mode: InputCheckMode): InputCheck {
  if (mode === 'native') {
    const type = quoteLiteral(column.type);
    return { valid: `pg_input_is_valid(${text}, ${type})`, reason: `(pg_input_error_info(${text}, ${type})).message`, helpers: [] };
  }
  const digest = createHash('sha1').update(`${column.type}\0${column.baseType}`).digest('hex').slice(0, 16);
  const fn = `pg_temp.${quoteIdent(`blob2pg_input_error_${digest}`)}`;
  // format_type() text is a valid type name as is (it quotes identifiers itself).
  const helper = `CREATE OR REPLACE FUNCTION ${fn}(v text) RETURNS text LANGUAGE plpgsql STABLE AS $f$
BEGIN
  DECLARE x ${column.type};
  BEGIN x := v::${column.baseType}; END;
  RETURN NULL;
EXCEPTION WHEN others THEN RETURN SQLERRM;
END $f$;`;
  if (ANY_TEXT.has(column.type)) return { valid: 'true', reason: `${fn}(${text})`, helpers: [helper] };
  const surely = SURELY_VALID[column.type];
  const valid = surely
    ? `((length(${text}) <= ${surely.maxLength} AND ${text} ~ ${quoteLiteral(surely.pattern)}) OR ${fn}(${text}) IS NULL)`
    : `(${fn}(${text}) IS NULL)`;
  return { valid, reason: `${fn}(${text})`, helpers: [helper] };
}
