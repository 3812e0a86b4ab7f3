/**
 * The sink: pools and one writer per write method. A writer's module is imported when a
 * spec asks for its method, so a process loads only the writers it uses (bench/README.md,
 * "Start-up").
 */
export { backendPid, checkOut, closePools, connectionLossOf, poolFor, withClient } from './pool.js';
export { withSavepoint, withTransaction } from './transaction.js';
export type { PrepareRequest, SinkWriter, WriteCounters, WriteRequest } from './writer.js';

import type { PipelineSpec } from '../pipeline/spec.js';
import type { SinkWriter } from './writer.js';

/** One writer per write method. */
export async function writerFor(method: PipelineSpec['sink']['writeMethod']): Promise<SinkWriter> {
  switch (method) {
    case 'CopyCommand':
      return (await import('./copyCommand.js')).copyCommandWriter;
    case 'BulkInsert':
      return (await import('./bulkInsert.js')).bulkInsertWriter;
    case 'Upsert':
      return (await import('./upsert.js')).upsertWriter;
  }
}
