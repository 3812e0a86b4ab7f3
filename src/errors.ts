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
import { redactSecrets } from './redact.js';

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
  return `${place}${column}${place || column ? ': ' : ''}${sanitizeMessage(detail)}${state}`;
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

/** The error and its causes, outermost first (bounded: a cause chain may loop). */
function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 8 && !chain.includes(e); e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

/** The PostgreSQL SQLSTATE of an error or of the first cause that has one. The one place that reads `.code`. */
export function sqlstateOf(err: unknown): string | undefined {
  for (const e of causes(err)) if (isPgError(e)) return e.code;
  return undefined;
}

/**
 * SQLSTATE classes that mean "PostgreSQL refused this row's data", the one set every sink
 * uses to decide whether to look for the bad row or name the batch's lines:
 *  22xxx data exception (a value its type or domain refuses: 22P02, 22003, 22001, …);
 *  23xxx integrity constraint violation (NOT NULL, CHECK, unique, foreign key);
 *  P0xxx PL/pgSQL: a trigger or a function called by a CHECK that RAISEs (P0001) or ASSERTs
 *        (P0004) to refuse a row is the row's data speaking, exactly like a CHECK — and
 *        classify() already calls it data. Re-checking such a row against its type finds
 *        nothing, so the callers that diagnose fall back to the original error.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const DATA_SQLSTATE = /^(22|23|P0)...$/;

/**
 * True when `err` itself is a PostgreSQL error of DATA_SQLSTATE. Only the error itself, not
 * its causes: a DataError wrapping one was already located by a lower layer and must not be
 * diagnosed again.
 */
export function isDataException(err: unknown): boolean {
  return isPgError(err) && DATA_SQLSTATE.test(err.code!);
}

/**
 * What a failure means, and so what happens to it (DESIGN decision 7):
 *  - `config`    → a setting, credential, table or grant is wrong: fail once, never retried;
 *  - `transient` → the infrastructure hiccuped: retried with backoff;
 *  - `data`      → this blob cannot load as it is: the blob fails with line and column.
 */
export type ErrorKind = 'config' | 'transient' | 'data';

/**
 * SQLSTATEs a retry can cure. https://www.postgresql.org/docs/current/errcodes-appendix.html
 *  08xxx connection exception; 40001 serialization failure; 40P01 deadlock; 53300 too many
 *  connections; 55P03 lock not available (our lock_timeout); 57014 query canceled (our
 *  statement / stall timeouts); 57P01..57P05 admin / crash shutdown, cannot connect now,
 *  idle session timeouts.
 */
const TRANSIENT_SQLSTATE = /^(08...|40001|40P01|53300|55P03|57014|57P0[1-5])$/;
/**
 * SQLSTATEs that say the setup is wrong: 28xxx sign-in refused, 3D000 no such database,
 * 3F000 no such schema, 42P01 no such table, 42501 permission denied.
 */
const CONFIG_SQLSTATE = /^(28...|3D000|3F000|42P01|42501)$/;
/** Socket failures: the peer went away or the network did; the next connection may work. */
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  // @azure/storage-blob's RestError for a request that never got a response.
  'REQUEST_SEND_ERROR',
]);
/** A host name that does not resolve is a wrong setting (EAI_AGAIN is the transient DNS failure). */
const CONFIG_NODE_CODES = new Set(['ENOTFOUND', 'ERR_INVALID_URL', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'ERR_TLS_CERT_ALTNAME_INVALID']);
/** pg and Node say "the connection is gone" in words, without a code. */
const TRANSIENT_MESSAGE = /Connection terminated|not queryable|socket hang up|Client was closed|timeout exceeded when trying to connect|connection reset|stalled/i;

/** One error of the chain, judged alone; undefined when it says nothing decisive. */
function kindOfOne(err: unknown): ErrorKind | undefined {
  if (err instanceof TransientError) return 'transient';
  if (err instanceof ConfigError || err instanceof SpecError) return 'config';
  if (err instanceof DataError) return 'data';
  if (!(err instanceof Error)) return undefined;
  // Raised by connections/entraToken.ts (kept free of this module's classes).
  if (err.name === 'EntraTokenError') return 'config';
  if (isPgError(err)) {
    if (TRANSIENT_SQLSTATE.test(err.code!)) return 'transient';
    if (CONFIG_SQLSTATE.test(err.code!)) return 'config';
    return 'data';
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_NODE_CODES.has(code)) return 'transient';
  if (typeof code === 'string' && CONFIG_NODE_CODES.has(code)) return 'config';
  // @azure/storage-blob RestError: 408 / 429 (throttling) / 5xx are worth another try;
  // 401 / 403 (key, SAS, role) and 404 (container) are setup. A blob's own 404 / 412 are
  // DataErrors raised by source/.
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status > 0) return status === 408 || status === 429 || status >= 500 ? 'transient' : 'config';
  if (TRANSIENT_MESSAGE.test(err.message)) return 'transient';
  return undefined;
}

/**
 * The one classification of errors. Our own classes decide for themselves; otherwise the
 * first error in the cause chain that says something decisive (a SQLSTATE, a socket code,
 * an HTTP status). Anything else is a data error: it fails the blob, not the run.
 */
export function classify(err: unknown): ErrorKind {
  for (const e of causes(err)) {
    const kind = kindOfOne(e);
    if (kind) return kind;
  }
  return 'data';
}

/** True when retrying the same work may succeed. */
export function isTransient(err: unknown): boolean {
  return classify(err) === 'transient';
}

/**
 * What a refused COMMIT PREPARED / ROLLBACK PREPARED means when two sessions finish the same
 * prepared transaction at once (two orphan sweeps, or a sweep and the loader; PostgreSQL's
 * LockGXact in twophase.c). The decision is the same for both (range 0's status,
 * sink/preparedLoads.ts), so:
 *  - 42704 undefined object, the gid no longer exists: the other session finished it —
 *    `finished`, which is what this one wanted;
 *  - 55000 object not in prerequisite state, the gid "is busy": the other session is
 *    finishing it right now — a TransientError (a later look finds it gone).
 * Judged for this statement only: elsewhere 55000 means a setting or state that a retry
 * does not change, so it is not in TRANSIENT_SQLSTATE. Undefined for any other error.
 */
export function finishPreparedRace(err: unknown, gid: string): 'finished' | TransientError | undefined {
  const sqlstate = sqlstateOf(err);
  if (sqlstate === '42704') return 'finished';
  if (sqlstate === '55000') return new TransientError(`prepared transaction ${gid} is being finished by another session (55000)`, { cause: err });
  return undefined;
}

/** Longest value quoted in a message; the rest is cut (a bad "line" may be 300 MB of binary). */
export const MAX_QUOTED_CHARS = 200;

/**
 * A value as a message quotes it: control characters escaped (`\x01`, `\n`), cut to
 * MAX_QUOTED_CHARS characters with the length of the rest said.
 */
export function quoteValue(value: string, max = MAX_QUOTED_CHARS): string {
  return `"${escapeControls(cut(value, max))}"`;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

function escapeControls(text: string): string {
  return text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]/g, (ch) => (ch === '\ufffd' ? '\\ufffd' : `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)).replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
}

/**
 * A message from a server or a parser made safe to show: control bytes escaped, each
 * double-quoted value (Postgres quotes the bad value and the COPY line) cut to
 * MAX_QUOTED_CHARS, and the whole cut to a few of those.
 */
export function sanitizeMessage(text: string): string {
  const quotedCut = text.replace(/"((?:[^"]|"")*)"/g, (whole, inner: string) => (inner.length > MAX_QUOTED_CHARS ? `"${cut(inner, MAX_QUOTED_CHARS)}"` : whole));
  return escapeControls(cut(quotedCut, 4 * MAX_QUOTED_CHARS));
}

/**
 * Turns whatever the load threw into the error a user reads, by classify():
 * transient failures become TransientError (the caller retries them), setup failures
 * ConfigError (the run fails once, no retry), everything else a DataError naming pipeline,
 * blob, line, column, SQLSTATE.
 * `lineOffset` converts Postgres' COPY line (counted from the first byte COPY saw) into
 * the line of the file (the header and skipped lines never reached COPY); `lineOf` does
 * it instead for record decoders (JSON, Parquet), whose COPY lines are records.
 */
export function mapLoadError(
  err: unknown,
  where: { pipeline: string; blob: string; lineOffset?: number; lineOf?: (copyLine: number) => number },
): DataError | TransientError | ConfigError {
  if (err instanceof DataError) {
    // Already located by a lower layer; add what it could not know.
    return new DataError(err.detail, { ...err.location, pipeline: where.pipeline, blob: where.blob }, { cause: err.cause ?? err });
  }
  const kind = classify(err);
  if (kind !== 'data') {
    const message = err instanceof Error ? err.message : String(err);
    const sqlstate = sqlstateOf(err);
    // Thrown across the activity boundary into Durable history and logs: no secrets in it.
    const text = redactSecrets(formatLocated(message, { pipeline: where.pipeline, blob: where.blob, sqlstate: message.includes(`(${sqlstate})`) ? undefined : sqlstate }));
    return kind === 'transient' ? new TransientError(text, { cause: err }) : new ConfigError(text, { cause: err });
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
  /** classify()'s verdict: what the orchestrator does with the failure. */
  kind?: ErrorKind;
  line?: number;
  column?: string;
  sqlstate?: string;
}

/** Secrets (passwords, keys, SAS, tokens) never reach the run output: redacted here. */
export function toFileErrorOutput(err: unknown): FileErrorOutput {
  if (err instanceof DataError) {
    const { line, column, sqlstate } = err.location;
    return { message: redactSecrets(err.message), kind: 'data', ...(line !== undefined && { line }), ...(column !== undefined && { column }), ...(sqlstate && { sqlstate }) };
  }
  return { message: sanitizeMessage(redactSecrets(err instanceof Error ? err.message : String(err))), kind: classify(err) };
}
