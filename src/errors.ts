/**
 * Every error blob2pg raises, and the one place that decides what an error means.
 *
 * Modelled on slonik: one base class carrying `cause`, a subclass only where a caller
 * acts differently, and a single mapper from PostgreSQL's SQLSTATE to them.
 *  - SpecError      → the pipeline file is wrong: exit 2 / HTTP 400, never retried.
 *  - ConfigError    → a setting or connection is missing or unusable: fail fast.
 *  - DataError      → this blob cannot load as it is: the file result is Failed, the run
 *                     goes on with the other blobs, never retried (it would fail again).
 *  - TransientError → the infrastructure hiccuped: thrown so Durable Functions retries.
 */
import { redactSecrets } from './connections/redact.js';

export interface ErrorLocation {
  pipeline?: string;
  blob?: string;
  /** 1-based line (or row / record) number in the source file. */
  line?: number;
  column?: string;
  sqlstate?: string;
}

export class Blob2pgError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface SpecIssue {
  /** JSON path of the bad field, e.g. `sink.writeMethod` or `mapping[1].source`. */
  path: string;
  message: string;
}

export class SpecError extends Blob2pgError {
  constructor(
    readonly issues: SpecIssue[],
    readonly file?: string,
  ) {
    super(
      (file ? `${file}: ` : '') +
        'invalid pipeline spec:\n' +
        issues.map((issue) => `  ${issue.path || '(root)'}: ${issue.message}`).join('\n'),
    );
  }
}

export class ConfigError extends Blob2pgError {}

export class DataError extends Blob2pgError {
  readonly location: ErrorLocation;
  /** Postgres' own message, without our prefix. */
  readonly detail: string;
  constructor(detail: string, location: ErrorLocation, options?: { cause?: unknown }) {
    super(formatLocated(detail, location), options);
    this.detail = detail;
    this.location = location;
  }
}

export class TransientError extends Blob2pgError {}

/** `orders/2026-11-20.csv line 48213, column amount: invalid input syntax … (22P02)` */
export function formatLocated(detail: string, where: ErrorLocation): string {
  const place = [
    where.pipeline ? `pipeline ${where.pipeline}` : undefined,
    where.blob,
    where.line !== undefined ? `line ${where.line}` : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  const column = where.column !== undefined ? `${place ? ', ' : ''}column ${where.column}` : '';
  const state = where.sqlstate ? ` (${where.sqlstate})` : '';
  return `${place}${column}${place || column ? ': ' : ''}${detail}${state}`;
}

/** The fields of a pg DatabaseError we use; pg's own type is not exported from ESM. */
interface PgErrorLike {
  name: string;
  code?: string;
  message: string;
  where?: string;
  column?: string;
  detail?: string;
}

function isPgError(err: unknown): err is Error & PgErrorLike {
  return (
    err instanceof Error &&
    typeof (err as PgErrorLike).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((err as PgErrorLike).code!)
  );
}

/**
 * SQLSTATEs (and Node/Azure failures) that a retry can cure.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 *  class 08: connection exception; 40001 serialization failure; 40P01 deadlock;
 *  53300 too many connections; 57P01..57P03 admin shutdown / cannot connect now.
 */
const TRANSIENT_SQLSTATE = /^(08...|40001|40P01|53300|57P0[123])$/;
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** True when retrying the same work may succeed. Decided here and nowhere else. */
export function isTransient(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  if (err instanceof DataError || err instanceof SpecError || err instanceof ConfigError) return false;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (isPgError(err)) return TRANSIENT_SQLSTATE.test(err.code!);
  if (typeof code === 'string' && TRANSIENT_NODE_CODES.has(code)) return true;
  // @azure/storage-blob RestError: 5xx and 429 (throttling) are worth another try.
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number') return status === 429 || status >= 500;
  if (/Connection terminated|timeout|socket hang up/i.test(err.message)) return true;
  return false;
}

/**
 * Turns whatever the load threw into the error a user reads.
 * Transient failures are re-thrown as TransientError (the caller retries them);
 * everything else becomes a DataError naming pipeline, blob, line, column, SQLSTATE.
 * `lineOffset` converts Postgres' COPY line (counted from the first byte COPY saw) into
 * the line of the file (the header and skipped lines never reached COPY); `lineOf` does
 * it instead for record decoders (JSON, Parquet), whose COPY lines are records.
 */
export function mapLoadError(
  err: unknown,
  where: { pipeline: string; blob: string; lineOffset?: number; lineOf?: (copyLine: number) => number },
): DataError | TransientError {
  if (err instanceof DataError) {
    // Already located by a lower layer; add what it could not know.
    return new DataError(err.detail, { ...err.location, pipeline: where.pipeline, blob: where.blob }, { cause: err.cause ?? err });
  }
  if (isTransient(err)) {
    const message = err instanceof Error ? err.message : String(err);
    // Thrown across the activity boundary into Durable history and logs: no secrets in it.
    return new TransientError(redactSecrets(formatLocated(message, { pipeline: where.pipeline, blob: where.blob })), { cause: err });
  }
  if (isPgError(err)) {
    const copyContext = parseCopyContext(err.where);
    const copyLine = copyContext?.line;
    const line = copyLine === undefined ? undefined : where.lineOf ? where.lineOf(copyLine) : copyLine + (where.lineOffset ?? 0);
    return new DataError(
      err.message,
      {
        pipeline: where.pipeline,
        blob: where.blob,
        line,
        column: copyContext?.column ?? err.column,
        sqlstate: err.code,
      },
      { cause: err },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new DataError(message, { pipeline: where.pipeline, blob: where.blob }, { cause: err });
}

/**
 * Postgres reports where COPY failed in the CONTEXT field:
 *   `COPY orders, line 3, column amount: "12,5"`  or  `COPY orders, line 7: "…"`.
 * The table name may itself contain commas or quotes, so match from the `, line N` part.
 */
export function parseCopyContext(where: string | undefined): { line: number; column?: string } | undefined {
  if (!where) return undefined;
  const match = /\bCOPY .*?, line (\d+)(?:, column ([^:]+?))?(?::|$)/m.exec(where);
  if (!match) return undefined;
  return { line: Number(match[1]), column: match[2] };
}

/**
 * For COPYs whose input does not start at the file's first data line (a batch of records,
 * a stage): turns a COPY data error into a DataError at the file's line. `columnName` maps
 * the COPY's column name to the user's (a typed stage names its columns `fN`). Errors
 * without a COPY context pass through unchanged.
 */
export function locateCopyError(err: unknown, lineOffset: number, columnName: (name: string) => string = (name) => name): unknown {
  if (!isPgError(err)) return err;
  const context = parseCopyContext(err.where);
  if (!context) return err;
  const copyColumn = context.column ?? err.column;
  const column = copyColumn === undefined ? undefined : columnName(copyColumn);
  const message = column === copyColumn ? err.message : err.message.replace(/column "[^"]+" of relation "[^"]+"/, `column "${column}"`);
  return new DataError(message, { line: context.line + lineOffset, column, sqlstate: err.code }, { cause: err });
}

/** The JSON shape of an error in the run output. */
export interface FileErrorOutput {
  message: string;
  line?: number;
  column?: string;
  sqlstate?: string;
}

/** Secrets (passwords, keys, SAS, tokens) never reach the run output: redacted here. */
export function toFileErrorOutput(err: unknown): FileErrorOutput {
  if (err instanceof DataError) {
    const { line, column, sqlstate } = err.location;
    return { message: redactSecrets(err.message), ...(line !== undefined && { line }), ...(column !== undefined && { column }), ...(sqlstate && { sqlstate }) };
  }
  return { message: redactSecrets(err instanceof Error ? err.message : String(err)) };
}
