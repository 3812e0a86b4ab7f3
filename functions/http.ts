/**
 * HTTP API (authLevel function):
 *   POST /api/pipelines/{name}/runs   start a run (optional body { "blobs": [...] }) → 202
 *   POST /api/runs                    run the pipeline spec in the body once (ADF "Debug") → 202
 *   GET  /api/runs/{id}               status, progress and run output
 *   GET  /api/pipelines               loaded pipelines and validation errors
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { appPipelines } from '../src/app/pipelines.js';
import { starterFor } from '../src/app/starter.js';
import { handleDebugRun, handleGetRun, handleListPipelines, handleStartRun } from '../src/app/triggers.js';

const client = [df.input.durableClient()];

app.http('startPipelineRun', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'pipelines/{name}/runs',
  extraInputs: client,
  handler: (request: HttpRequest, context: InvocationContext) => handleStartRun(request, starterFor(context), appPipelines()),
});

app.http('debugRun', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'runs',
  extraInputs: client,
  handler: (request: HttpRequest, context: InvocationContext) => handleDebugRun(request, starterFor(context)),
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
