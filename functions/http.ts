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
import { handleGetRun, handleListPipelines, handleRunRequest, handleStartRun } from '../src/app/triggers.js';

const client = [df.input.durableClient()];

app.http('startPipelineRun', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'pipelines/{name}/runs',
  extraInputs: client,
  handler: (request: HttpRequest, context: InvocationContext) => handleStartRun(request, starterFor(context), appPipelines(), { env: appEnv() }),
});

app.http('startRun', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'runs',
  extraInputs: client,
  handler: (request: HttpRequest, context: InvocationContext) => handleRunRequest(request, starterFor(context), appPipelines(), { env: appEnv() }),
});

app.http('getRun', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'runs/{id}',
  extraInputs: client,
  handler: (request: HttpRequest, context: InvocationContext) => handleGetRun(request, starterFor(context)),
});

app.http('listPipelines', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'pipelines',
  handler: async () => handleListPipelines(appPipelines()),
});
