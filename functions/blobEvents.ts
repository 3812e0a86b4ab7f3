/**
 * Blob upload: Event Grid delivers Microsoft.Storage.BlobCreated events from the source
 * account to a storage queue (BLOB2PG_EVENTS_QUEUE, default blob-created, in the host
 * storage account). A queue rather than an Event Grid trigger: it deploys in one pass (no
 * webhook key handshake), retries, and keeps a poison queue.
 */
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { appEnv } from '../src/app/appEnv.js';
import { appPipelines } from '../src/app/pipelines.js';
import { starterFor } from '../src/app/starter.js';

export const BLOB_EVENTS_FUNCTION = 'blobCreated';

export async function blobCreatedHandler(message: unknown, context: InvocationContext): Promise<void> {
  // Imported on the first message: it brings the storage SDK, which start-up does not need.
  const { handleBlobCreatedMessage, pipelineTargets } = await import('../src/app/triggers.js');
  const pipelines = appPipelines();
  await handleBlobCreatedMessage(message, starterFor(context), pipelineTargets(pipelines.pipelines.values(), appEnv()), context);
}

app.storageQueue(BLOB_EVENTS_FUNCTION, {
  queueName: process.env.BLOB2PG_EVENTS_QUEUE || 'blob-created',
  connection: 'AzureWebJobsStorage',
  extraInputs: [df.input.durableClient()],
  handler: blobCreatedHandler,
});
