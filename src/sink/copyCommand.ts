/**
 * Write method CopyCommand. Fast path: every file field maps to a column, so the bytes go
 * straight into `COPY table (columns in file order)` and Postgres does all the parsing.
 * Otherwise (the file has fields no column takes) the rows go through a staging table
 * and one INSERT … SELECT.
 */
import { copyCsvInto } from './copy.js';
import { quoteIdentList, quoteTable } from './sql.js';
import { castField, runFromStage, stageCsv, STAGE_LINE_COLUMN } from './staging.js';
import type { SinkWriter, WriteCounters, WriteRequest } from './writer.js';
import { quoteIdent } from './sql.js';

export const copyCommandWriter: SinkWriter = {
  async write(request: WriteRequest): Promise<WriteCounters> {
    const { client, table, mapping, body, copyOptions } = request;
    const target = quoteTable(table.table);
    const columnNames = mapping.columns.map((c) => c.column.name);
    if (mapping.allFieldsMapped) {
      const rows = await copyCsvInto(client, target, columnNames, body, copyOptions);
      return { rowsRead: rows, rowsCopied: rows, rowsSkipped: 0 };
    }
    const { stage, rows } = await stageCsv(client, mapping.fieldCount, body, copyOptions);
    const result = await runFromStage(
      client,
      stage,
      mapping.columns,
      request.lineOffset,
      `INSERT INTO ${target} (${quoteIdentList(columnNames)})
       SELECT ${mapping.columns.map(castField).join(', ')} FROM ${stage} ORDER BY ${quoteIdent(STAGE_LINE_COLUMN)}`,
    );
    return { rowsRead: rows, rowsCopied: result.rowCount ?? 0, rowsSkipped: 0 };
  },
};
