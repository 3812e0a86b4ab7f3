export { bulkInsertWriter } from './bulkInsert.js';
export { copyCommandWriter } from './copyCommand.js';
export { backendPid, closePools, connectionLossOf, poolFor, withClient, withTransaction } from './pool.js';
export { upsertWriter } from './upsert.js';
export type { PrepareRequest, SinkWriter, WriteCounters, WriteRequest } from './writer.js';

import type { PipelineSpec } from '../pipeline/spec.js';
import { bulkInsertWriter } from './bulkInsert.js';
import { copyCommandWriter } from './copyCommand.js';
import { upsertWriter } from './upsert.js';
import type { SinkWriter } from './writer.js';

/** One writer per write method. */
export function writerFor(method: PipelineSpec['sink']['writeMethod']): SinkWriter {
  switch (method) {
    case 'CopyCommand':
      return copyCommandWriter;
    case 'BulkInsert':
      return bulkInsertWriter;
    case 'Upsert':
      return upsertWriter;
  }
}
