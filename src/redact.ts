/**
 * Removes secrets from text before it reaches a log line or an error message.
 *
 * Covers what blob2pg handles: PostgreSQL URLs and conninfo strings, storage connection
 * strings, SAS URLs and tokens, and bearer / JWT access tokens (Microsoft Entra tokens
 * are JWTs). Redaction keeps the shape (`password=***`) so the message stays useful.
 */

const MASK = '***';

const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // scheme://user:password@host → scheme://user:***@host. The password runs to the last
  // `@` before the path, so an unencoded `@` in it is still covered.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@'"]*:)[^\s/'"]*(@)/gi, `$1${MASK}$2`],
  // conninfo / env / ADO-style: password=…, PGPASSWORD=…, Pwd=…, client_secret=…
  [/\b([a-z_]*password|pwd|client_?secret)(\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s;&'"]+)/gi, `$1$2${MASK}`],
  // JSON: "password": "…", "administratorLoginPassword": "…", "clientSecret": "…"
  [/("[a-z_]*(?:password|secret)"\s*:\s*")(?:[^"\\]|\\.)*(")/gi, `$1${MASK}$2`],
  // Storage / Service Bus connection strings.
  [/\b(AccountKey|SharedAccessSignature|SharedAccessKey|AccessKey)(\s*=\s*)[^;\s'"]+/gi, `$1$2${MASK}`],
  // A URL whose query carries a SAS signature: the whole query goes (sv, se, sp say
  // what the token may do; none of it belongs in a log).
  [/(\bhttps?:\/\/[^\s?#'"]+)\?[^\s#'"]*\bsig=[^\s#'"]*/gi, `$1?${MASK}`],
  // A bare SAS signature anywhere else.
  [/\b(sig=)[^&\s;'"]+/gi, `$1${MASK}`],
  // Authorization: Bearer <token>
  [/\b(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/g, `$1${MASK}`],
  // JWTs (header.payload.signature, base64url; the header always starts with `{"` = eyJ).
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, MASK],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A copy of `err` safe to log or rethrow: message, stack, `cause` (recursively) and every
 * string property (pg's `detail`, `hint`, `where`, `code` …) redacted; numbers and booleans
 * kept; object-valued properties dropped.
 */
export function redactError(err: unknown): Error {
  return redactErrorAt(err, 0);
}

function redactErrorAt(err: unknown, depth: number): Error {
  if (!(err instanceof Error)) {
    return new Error(redactSecrets(describe(err)));
  }
  const copy = new Error(redactSecrets(err.message));
  copy.name = err.name;
  copy.stack = err.stack === undefined ? undefined : redactSecrets(err.stack);
  for (const [key, value] of Object.entries(err)) {
    if (key === 'message' || key === 'stack' || key === 'name' || key === 'cause') continue;
    // Objects are dropped, not copied: an SDK error's `request` carries its headers
    // (Authorization) and a pg error may hold the client and its config.
    if (typeof value === 'string') (copy as unknown as Record<string, unknown>)[key] = redactSecrets(value);
    else if (typeof value === 'number' || typeof value === 'boolean') (copy as unknown as Record<string, unknown>)[key] = value;
  }
  if (err.cause !== undefined) {
    copy.cause = depth < 5 ? redactErrorAt(err.cause, depth + 1) : '[cause omitted]';
  }
  return copy;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
