/** The activities: thin registrations of src/app/activities.ts. */
import * as df from 'durable-functions';
import { copyBlobActivity, failureProperties, listBlobsActivity } from '../src/app/activities.js';
import { appEnv } from '../src/app/appEnv.js';
import type { CopyBlobInput, ListBlobsInput } from '../src/app/plan.js';
import { COPY_BLOB_ACTIVITY, LIST_BLOBS_ACTIVITY } from './orchestrator.js';

df.app.setExceptionPropertiesProvider({ getExceptionProperties: failureProperties });
df.app.activity(LIST_BLOBS_ACTIVITY, { handler: (input: ListBlobsInput) => listBlobsActivity(input, appEnv()) });
df.app.activity(COPY_BLOB_ACTIVITY, { handler: (input: CopyBlobInput) => copyBlobActivity(input, appEnv()) });
