/**
 * Write method BulkInsert: batched `INSERT … SELECT` of at most `writeBatchSize` rows.
 *
 * Shape chosen: COPY the file into the text staging table (Postgres parses the CSV, at
 * COPY speed), then `INSERT INTO t SELECT <casts> FROM stage WHERE line > $a AND line <= $b`
 * per batch. Why not `unnest($1::type[], …)` arrays built in Node: that needs the CSV
 * parsed in Node and every value serialised twice (into an array literal, then parsed by
 * Postgres); the stage path keeps values out of SQL text just the same and has no
 * parameter ceiling at all (ADF's multi-row VALUES fails past 65,535 parameters on wide
 * tables). Both fire row-level triggers per row, which is why users pick BulkInsert over
 * COPY. A btree index on the staged line (+ ANALYZE: temp tables get no autovacuum stats)
 * lets each batch read only its own rows; a BRIN index was measured 2× slower overall
 * (the planner kept seq-scanning the stage per batch). Measured: bench/README.md.
 */
import { quoteIdent, quoteIdentList, quoteTable } from './sql.js';
import { stageForWrite, stagedCounters } from './staged.js';
import { STAGE_LINE_COLUMN, withStageDiagnosis } from './staging.js';
import type { SinkWriter, WriteCounters, WriteRequest } from './writer.js';

export const bulkInsertWriter: SinkWriter = {
  async write(request: WriteRequest): Promise<WriteCounters> {
    const { client, table } = request;
    const load = await stageForWrite(request);
    const { stage, plan } = load;
    const batchSize = request.spec.sink.writeBatchSize;
    const line = quoteIdent(STAGE_LINE_COLUMN);
    if (stage.rows > batchSize) {
      await client.query(`CREATE INDEX ON ${stage.name} (${line})`);
      await client.query(`ANALYZE ${stage.name}`);
    }
    const lo = `$${plan.params.length + 1}`;
    const hi = `$${plan.params.length + 2}`;
    const sql = `INSERT INTO ${quoteTable(table.table)} (${quoteIdentList(plan.columns.map((c) => c.column.name))})
      SELECT ${plan.columns.map((c) => c.expr).join(', ')} FROM ${stage.name}
       WHERE ${line} > ${lo} AND ${line} <= ${hi} ORDER BY ${line}`;
    const copied = await withStageDiagnosis(client, stage, plan, async () => {
      let rows = 0;
      for (let from = stage.firstLine - 1; from < stage.lastLine; from += batchSize) {
        const result = await client.query(sql, [...plan.params, from, from + batchSize]);
        rows += result.rowCount ?? 0;
      }
      return rows;
    });
    return stagedCounters(load, copied);
  },
};
