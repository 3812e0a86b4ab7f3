export { copyCommandWriter } from './copyCommand.js';
export { closePools, poolFor } from './pool.js';
export type { SinkWriter, WriteCounters, WriteRequest } from './writer.js';

import type { PipelineSpec } from '../pipeline/spec.js';
import { copyCommandWriter } from './copyCommand.js';
import type { SinkWriter } from './writer.js';

/** One writer per write method. */
export function writerFor(method: PipelineSpec['sink']['writeMethod']): SinkWriter {
  switch (method) {
    case 'CopyCommand':
      return copyCommandWriter;
    default:
      // The spec schema rejects the others until their writers exist.
      throw new Error(`write method ${method} is not implemented`);
  }
}
