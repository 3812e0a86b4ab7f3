/**
 * HTTP API (authLevel function):
 *   POST /api/pipelines/{name}/runs   start a run of a deployed pipeline (optional body
 *                                     { "blobs": [...], "validate": true }) → 202 (200 when validating)
 *   POST /api/runs                    { "pipeline": name, … } the same; { "spec": {…} } only with
 *                                     BLOB2PG_ALLOW_ADHOC_RUNS=true and the deployed connections
 *   GET  /api/runs/{id}               status, progress and run output
 *   GET  /api/pipelines               loaded pipelines and validation errors
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { appEnv } from '../src/app/appEnv.js';
import { appPipelines } from '../src/app/pipelines.js';
import { starterFor } from '../src/app/starter.js';

const client = [df.input.durableClient()];
/** Imported on the first request: it brings the storage SDK, which start-up does not need. */
const triggers = () => import('../src/app/triggers.js');

app.http('startPipelineRun', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'pipelines/{name}/runs',
  extraInputs: client,
  handler: async (request: HttpRequest, context: InvocationContext) => (await triggers()).handleStartRun(request, starterFor(context), appPipelines(), { env: appEnv() }),
});

app.http('startRun', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'runs',
  extraInputs: client,
  handler: async (request: HttpRequest, context: InvocationContext) => (await triggers()).handleRunRequest(request, starterFor(context), appPipelines(), { env: appEnv() }),
});

app.http('getRun', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'runs/{id}',
  extraInputs: client,
  handler: async (request: HttpRequest, context: InvocationContext) => (await triggers()).handleGetRun(request, starterFor(context)),
});

app.http('listPipelines', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'pipelines',
  handler: async () => (await triggers()).handleListPipelines(appPipelines()),
});
