/**
 * One description of a CSV file's dialect — delimiter, quote, escape, line end — in the two
 * shapes the code needs: the COPY options sent to PostgreSQL (strings) and the bytes the
 * scanners in this folder compare against. The byte constants live here too.
 */

export const LF = 0x0a;
export const CR = 0x0d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;

/**
 * When `quoteChar` is empty there is no quoting. COPY CSV insists on a QUOTE, so we give
 * it a control byte no text file holds (0x01) and fail the blob if one turns up
 * (`guardNoQuote`); with escapeChar `\` (ADF: it escapes the delimiter and itself) the
 * file is COPY's own text format instead, whose backslash rules are a superset — the
 * caveat: `\n`, `\t`, `\r`, `\b`, `\f`, `\v`, `\digits` and `\x..` mean control bytes there.
 */
export const NO_QUOTE = '\x01';

/** COPY … (FORMAT csv) options equivalent to the spec's delimited-text settings. */
export interface CsvCopyOptions {
  /** `text` only for unquoted files with a backslash escape; csv otherwise (the default). */
  format?: 'csv' | 'text';
  delimiter: string;
  quote: string;
  escape: string;
  null: string;
  encoding: string;
}

/** The dialect as bytes (all single ASCII bytes: the spec allows nothing else). */
export interface CsvDialect {
  delimiter: number;
  /** -1: no quoting. */
  quote: number;
  /** -1: none. Equal to `quote`: a doubled quote stands for one. */
  escape: number;
  /** The byte that ends a record: LF (a CR just before it belongs to the line end) or a lone CR. */
  lineEnd: typeof LF | typeof CR;
  /** COPY text format (unquoted files with a backslash escape): the escape works outside quotes too. */
  escapeOutsideQuotes: boolean;
}

/** The byte of a one-character option; -1 for an empty one. */
export function byteOf(char: string): number {
  return char === '' ? -1 : Buffer.from(char, 'utf8')[0]!;
}

/** The dialect of the bytes COPY is sent with these options (LF line ends unless `cr`). */
export function dialectOf(options: Pick<CsvCopyOptions, 'delimiter' | 'quote' | 'escape'>, cr = false): CsvDialect {
  return { delimiter: byteOf(options.delimiter), quote: byteOf(options.quote), escape: byteOf(options.escape), lineEnd: cr ? CR : LF, escapeOutsideQuotes: false };
}
