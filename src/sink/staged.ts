/**
 * What the staging-based writers share: stage the records, plan the conversions, and
 * either skip the bad rows (skip mode) or check upsert keys for NULLs up front.
 */
import { planSelect, type SelectPlan } from './convert.js';
import { assertNoNullKeys, skipBadRows, stageRecords, type RowChecks, type Stage } from './staging.js';
import type { WriteRequest } from './writer.js';

export interface StagedLoad {
  stage: Stage;
  plan: SelectPlan;
  /** Skip mode only. */
  skipped?: { table: string; count: number };
}

export const skipMode = (request: Pick<WriteRequest, 'spec'>): boolean => request.spec.faultTolerance?.skipIncompatibleRows === true;

export async function stageForWrite(request: WriteRequest, checks: RowChecks = {}): Promise<StagedLoad> {
  const skip = skipMode(request);
  const stage = await stageRecords(request.client, {
    fieldCount: request.mapping.fieldCount,
    body: request.body,
    copyOptions: request.copyOptions,
    lineOffset: request.lineOffset,
    tagged: skip,
    pretagged: skip && request.tagged === true,
  });
  const plan = planSelect(request.mapping, request.spec.typeConversion, { blob: request.blob, runId: request.runId });
  if (skip) return { stage, plan, skipped: await skipBadRows(request.client, stage, plan, checks) };
  if (checks.keyColumns?.length) {
    await assertNoNullKeys(request.client, stage, plan.columns.filter((c) => checks.keyColumns!.includes(c.column.name)));
  }
  return { stage, plan };
}

/** Counters of a staged load. */
export function stagedCounters(load: StagedLoad, rowsCopied: number) {
  return {
    rowsRead: load.stage.rows,
    rowsCopied,
    rowsSkipped: load.skipped?.count ?? 0,
    ...(load.skipped?.count ? { skippedRowsTable: load.skipped.table } : {}),
  };
}
