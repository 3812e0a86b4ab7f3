/**
 * Timer: one timer function per pipeline with a Schedule trigger, registered in code at
 * start-up from the pipelines folder. A tick while the previous run is going is skipped.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { appPipelines } from '../src/app/pipelines.js';
import { starterFor } from '../src/app/starter.js';

/** Function names allow letters, digits, "_" and "-" (not "."); the index keeps them unique. */
export function timerFunctionName(pipeline: string, index: number): string {
  return `schedule-${pipeline.replace(/[^A-Za-z0-9_-]/g, '_')}-${index}`;
}

for (const spec of appPipelines().pipelines.values()) {
  spec.triggers.forEach((trigger, index) => {
    if (trigger.type !== 'Schedule') return;
    app.timer(timerFunctionName(spec.name, index), {
      schedule: trigger.schedule,
      extraInputs: [df.input.durableClient()],
      handler: async (_timer: Timer, context: InvocationContext) => {
        // Imported on the first tick: it brings the storage SDK, which start-up does not need.
        const { handleScheduleTick } = await import('../src/app/triggers.js');
        await handleScheduleTick(spec, starterFor(context), context);
      },
    });
  });
}
