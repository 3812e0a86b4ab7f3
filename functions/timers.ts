/**
 * Timers, registered in code at start-up from the pipelines folder: one per Schedule trigger,
 * and one reconciliation sweep per BlobCreated trigger (storage minus ledger, hourly unless
 * the trigger's reconcileSchedule says otherwise), so no blob depends on one event being
 * delivered. Both start the pipeline's scheduled run; a tick while it is going is skipped.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { appPipelines } from '../src/app/pipelines.js';
import { DEFAULT_RECONCILE_SCHEDULE } from '../src/app/plan.js';
import { starterFor } from '../src/app/starter.js';
import { handleScheduleTick } from '../src/app/triggers.js';

/** Function names allow letters, digits, "_" and "-" (not "."); the index keeps them unique. */
export function timerFunctionName(pipeline: string, index: number): string {
  return `schedule-${pipeline.replace(/[^A-Za-z0-9_-]/g, '_')}-${index}`;
}

for (const spec of appPipelines().pipelines.values()) {
  spec.triggers.forEach((trigger, index) => {
    // The trigger's index keeps the names of a pipeline's timers apart.
    app.timer(timerFunctionName(spec.name, index), {
      schedule: trigger.type === 'Schedule' ? trigger.schedule : (trigger.reconcileSchedule ?? DEFAULT_RECONCILE_SCHEDULE),
      extraInputs: [df.input.durableClient()],
      handler: async (_timer: Timer, context: InvocationContext) => {
        await handleScheduleTick(spec, starterFor(context), context);
      },
    });
  });
}
