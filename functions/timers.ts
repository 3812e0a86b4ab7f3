/**
 * Timers: one timer function per Schedule trigger, and one reconciliation sweep per
 * BlobCreated trigger (storage minus ledger, hourly unless its reconcileSchedule says
 * otherwise, so no blob depends on one event), registered in code at start-up from the
 * pipelines folder, named by timerFunctionName (legal, ≤ 128 characters,
 * unique; a name that is not is logged and left out). A tick while the previous run is going
 * is skipped.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { appPipelines } from '../src/app/pipelines.js';
import { starterFor } from '../src/app/starter.js';
import { scheduleRegistrations } from '../src/app/schedules.js';

const schedules = scheduleRegistrations(appPipelines().pipelines.values());
for (const error of schedules.errors) console.error(`blob2pg: ${error}`);
for (const { name, spec, schedule } of schedules.registrations) {
  app.timer(name, {
    schedule,
    extraInputs: [df.input.durableClient()],
    handler: async (_timer: Timer, context: InvocationContext) => {
      // Imported on the first tick: it brings the storage SDK, which start-up does not need.
      const { handleScheduleTick } = await import('../src/app/triggers.js');
      await handleScheduleTick(spec, starterFor(context), context);
    },
  });
}
