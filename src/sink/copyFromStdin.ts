/**
 * The COPY … FROM STDIN statement and stream (not a writer: copyCommand.ts is the
 * CopyCommand write method), the one way bytes enter PostgreSQL. Always
 * `await pipeline(source, client.query(copyFrom(sql)))` on a checked-out client: a failed
 * source destroys the copy stream, which sends CopyFail and the server aborts the COPY.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import type { CsvCopyOptions } from '../format/csv/dialect.js';
import { quoteIdentList, quoteLiteral } from './sql.js';

/** `(FORMAT csv, DELIMITER ',', …)` — https://www.postgresql.org/docs/current/sql-copy.html */
export function csvCopyOptionsSql(options: CsvCopyOptions): string {
  if (options.format === 'text') {
    // Unquoted files with a backslash escape (see NO_QUOTE in format/csv/dialect.ts).
    return `(FORMAT text, DELIMITER ${quoteLiteral(options.delimiter)}, NULL ${quoteLiteral(options.null)}, ENCODING ${quoteLiteral(options.encoding)})`;
  }
  return (
    `(FORMAT csv, DELIMITER ${quoteLiteral(options.delimiter)}, QUOTE ${quoteLiteral(options.quote)}, ` +
    `ESCAPE ${quoteLiteral(options.escape)}, NULL ${quoteLiteral(options.null)}, ENCODING ${quoteLiteral(options.encoding)})`
  );
}

/** Starts `COPY target (columns) FROM STDIN`: write CSV records into the stream, end it, and its rowCount is what COPY loaded. */
export function openCopy(client: pg.ClientBase, target: string, columns: readonly string[], options: CsvCopyOptions): CopyStreamQuery {
  return client.query(copyFrom(`COPY ${target} (${quoteIdentList(columns)}) FROM STDIN ${csvCopyOptionsSql(options)}`));
}

/** Streams `body` into `target (columns)`; returns the rows COPY reported. */
export async function copyCsvInto(
  client: pg.ClientBase,
  target: string,
  columns: readonly string[],
  body: Readable,
  options: CsvCopyOptions,
): Promise<number> {
  const copy = openCopy(client, target, columns, options);
  await pipeline(body, copy);
  return copy.rowCount;
}
