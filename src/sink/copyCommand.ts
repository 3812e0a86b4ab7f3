/**
 * Write method CopyCommand (like bulkInsert.ts and upsert.ts, one file per method). Fast path: every file field maps to a column and no value
 * needs more than Postgres' own text input, so the bytes go straight into
 * `COPY table (columns in file order)` and Postgres does all the parsing. Otherwise (the
 * file has fields no column takes, additional columns, type conversion, or skip mode)
 * the rows go through a staging table and one INSERT … SELECT.
 */
import { planSelect } from './selectPlan.js';
import { copyCsvInto } from './copyFromStdin.js';
import { quoteIdent, quoteIdentList, quoteTable } from './sql.js';
import { skipMode, stageForWrite, stagedCounters } from './stagedWrite.js';
import { STAGE_LINE_COLUMN, withStageDiagnosis } from './stageTable.js';
import type { SinkWriter, WriteCounters, WriteRequest } from './writer.js';

/** The file's records can go straight into `COPY table (columns in file order)`. */
export function copiesDirectly(request: Pick<WriteRequest, 'spec' | 'mapping' | 'blob' | 'runId'>): boolean {
  const { spec, mapping } = request;
  return mapping.allFieldsMapped && !skipMode(request) && !planSelect(mapping, spec.typeConversion, request).needsStaging;
}

export const copyCommandWriter: SinkWriter = {
  async write(request: WriteRequest): Promise<WriteCounters> {
    const { client, table, mapping, body, copyOptions } = request;
    const target = quoteTable(table.table);
    if (copiesDirectly(request)) {
      const rows = await copyCsvInto(client, target, mapping.columns.map((c) => c.column.name), body, copyOptions);
      return { rowsRead: rows, rowsCopied: rows, rowsSkipped: 0 };
    }
    const load = await stageForWrite(request);
    const { stage, plan } = load;
    const result = await withStageDiagnosis(client, stage, plan, () =>
      client.query(
        `INSERT INTO ${target} (${quoteIdentList(plan.columns.map((c) => c.column.name))})
         SELECT ${plan.columns.map((c) => c.expr).join(', ')} FROM ${stage.name} ORDER BY ${quoteIdent(STAGE_LINE_COLUMN)}`,
        plan.params,
      ),
    );
    return stagedCounters(load, result.rowCount ?? 0);
  },
};
