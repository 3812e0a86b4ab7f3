/**
 * The timer functions of the pipelines' Schedule triggers, named and checked at start-up.
 * Apart from triggers.ts (which re-exports them) because functions/timers.ts registers these
 * while the app loads, and triggers.ts brings the storage SDK (bench/README.md, "Start-up").
 */
import { createHash } from 'node:crypto';
import type { PipelineSpec } from '../pipeline/spec.js';
import { DEFAULT_RECONCILE_SCHEDULE } from './plan.js';

/**
 * Azure Functions names: a letter, then letters, digits, "_" or "-", at most 128 characters,
 * compared without regard to case by the host.
 */
const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;

/**
 * The timer function of a pipeline's Schedule trigger: readable (the name, made a legal
 * function name and shortened) and unique (a hash of the exact pipeline name, so "a.b" and
 * "a_b", or "Orders" and "orders", never share a function). At most 9 + 80 + 1 + 3 + 1 + 8
 * = 102 characters for names of any length.
 */
export function timerFunctionName(pipeline: string, index: number): string {
  const hash = createHash('sha256').update(pipeline).digest('hex').slice(0, 8);
  return `schedule-${pipeline.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80)}-${index}-${hash}`;
}

export interface ScheduleRegistration {
  name: string;
  spec: PipelineSpec;
  schedule: string;
}

/** Every Schedule trigger's timer function, each name checked (legal, unique) before the host sees it. */
export function scheduleRegistrations(specs: Iterable<PipelineSpec>): { registrations: ScheduleRegistration[]; errors: string[] } {
  const registrations: ScheduleRegistration[] = [];
  const errors: string[] = [];
  const taken = new Map<string, string>();
  for (const spec of specs) {
    spec.triggers.forEach((trigger, index) => {
      // A BlobCreated trigger gets a reconciliation sweep (storage minus ledger): no blob depends on one event.
      const schedule = trigger.type === 'Schedule' ? trigger.schedule : (trigger.reconcileSchedule ?? DEFAULT_RECONCILE_SCHEDULE);
      const name = timerFunctionName(spec.name, index);
      const clash = taken.get(name.toLowerCase());
      if (!FUNCTION_NAME.test(name)) errors.push(`pipeline ${spec.name}: timer function name "${name}" is not a valid function name; trigger ${index} not registered`);
      else if (clash) errors.push(`pipeline ${spec.name}: timer function name "${name}" is already used by pipeline ${clash}; trigger ${index} not registered`);
      else {
        taken.set(name.toLowerCase(), spec.name);
        registrations.push({ name, spec, schedule });
      }
    });
  }
  return { registrations, errors };
}
