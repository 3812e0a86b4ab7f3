/**
 * What the staging-based writers share: stage the records, plan the conversions, and
 * either skip the bad rows (skip mode) or check upsert keys for NULLs up front.
 */
import { planSelect, type SelectPlan } from './convert.js';
import { inputCheckMode } from './inputCheck.js';
import { assertNoNullKeys, skipBadRows, stageRecords, type RowChecks, type Stage } from './staging.js';
import type { TableColumn } from '../pipeline/table.js';
import type { WriteRequest } from './writer.js';

export interface StagedLoad {
  stage: Stage;
  plan: SelectPlan;
  /** Skip mode only. */
  skipped?: { table: string; count: number };
}

export const skipMode = (request: Pick<WriteRequest, 'spec'>): boolean => request.spec.faultTolerance?.skipIncompatibleRows === true;

/**
 * The target column behind each file field when COPY can parse straight into the target
 * types (no skip mode — bad values must stay rows to be skipped — and no typeConversion,
 * whose patterns apply to the text); otherwise undefined and the stage is all text.
 */
function typedFields(request: WriteRequest): Array<TableColumn | undefined> | undefined {
  if (skipMode(request) || request.spec.typeConversion) return undefined;
  const typed: Array<TableColumn | undefined> = Array.from({ length: request.mapping.fieldCount }, () => undefined);
  for (const c of request.mapping.columns) typed[c.field] = c.column;
  return typed;
}

/**
 * `orderOnly`: the writer needs the staged rows' file order but no line numbers (Upsert's
 * last-wins dedupe). Line numbers are still kept when a NULL key would need naming.
 */
export async function stageForWrite(request: WriteRequest, checks: RowChecks = {}, options: { orderOnly?: boolean } = {}): Promise<StagedLoad> {
  const skip = skipMode(request);
  const typedAs = typedFields(request);
  const keyColumns = request.mapping.columns.filter((c) => checks.keyColumns?.includes(c.column.name)).map((c) => c.column);
  // A typed stage declares NOT NULL key columns NOT NULL: COPY itself refuses a NULL key, by line.
  const keysCheckedByCopy = typedAs !== undefined && keyColumns.every((c) => c.notNull);
  const stage = await stageRecords(request.client, {
    fieldCount: request.mapping.fieldCount,
    body: request.body,
    copyOptions: request.copyOptions,
    lineOffset: request.lineOffset,
    tagged: skip,
    typedAs,
    orderOnly: options.orderOnly === true && keysCheckedByCopy,
    pretagged: skip && request.tagged === true,
  });
  const plan = planSelect(request.mapping, request.spec.typeConversion, { blob: request.blob, runId: request.runId, inputCheck: await inputCheckMode(request.client) });
  if (skip) return { stage, plan, skipped: await skipBadRows(request.client, stage, plan, checks) };
  const keyPlans = plan.columns.filter((c) => checks.keyColumns?.includes(c.column.name));
  if (keyPlans.length && !keysCheckedByCopy) await assertNoNullKeys(request.client, stage, keyPlans);
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
