/**
 * The run-history page (authLevel function): GET /api/ui, /api/ui/runs/{id},
 * /api/ui/pipelines/{name}; POST /api/ui/rerun. The page's modules load on the first request.
 */
import { app, type HttpRequest, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { appEnv } from '../src/app/appEnv.js';
import { appPipelines } from '../src/app/pipelines.js';
import { starterFor } from '../src/app/starter.js';

app.http('runHistoryPage', {
  methods: ['GET', 'POST'],
  authLevel: 'function',
  route: 'ui/{*path}',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext) => {
    const { handleUiRequest } = await import('../src/ui/functionsUi.js');
    return handleUiRequest(request, starterFor(context), appPipelines(), appEnv());
  },
});
