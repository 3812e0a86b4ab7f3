/**
 * The activities: thin registrations of src/app/activities.ts, imported on the first call.
 * It brings the whole load path (storage SDK, pg, formats); the host needs only the
 * registrations at start-up (bench/README.md, "Start-up").
 */
import * as df from 'durable-functions';
import { appEnv } from '../src/app/appEnv.js';
import { failureProperties } from '../src/app/failure.js';
import type { CopyBlobInput, ListBlobsInput, SaveSweepMarkInput } from '../src/app/plan.js';
import { COPY_BLOB_ACTIVITY, LIST_BLOBS_ACTIVITY, SAVE_SWEEP_MARK_ACTIVITY } from './orchestrator.js';

const activities = () => import('../src/app/activities.js');

// What a thrown error means crosses to the orchestrator in FailureDetails.Properties.
df.app.setExceptionPropertiesProvider({ getExceptionProperties: failureProperties });
df.app.activity(LIST_BLOBS_ACTIVITY, { handler: async (input: ListBlobsInput) => (await activities()).listBlobsActivity(input, appEnv()) });
df.app.activity(COPY_BLOB_ACTIVITY, { handler: async (input: CopyBlobInput) => (await activities()).copyBlobActivity(input, appEnv()) });
df.app.activity(SAVE_SWEEP_MARK_ACTIVITY, { handler: async (input: SaveSweepMarkInput) => (await activities()).saveSweepMarkActivity(input, appEnv()) });
