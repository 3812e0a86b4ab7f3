/**
 * durable-functions' ExceptionPropertiesProvider (registered by functions/activities.ts): the
 * error a file reports (message, line, column, SQLSTATE, secrets redacted) and whether a
 * retry may cure it, so the orchestrator reads them from FailureDetails (plan.ts readFailure)
 * rather than from the host's wrapped message. Light on purpose: the provider is registered
 * at start-up, before the activities' load path is imported.
 */
import { isTransient, toFileErrorOutput } from '../errors.js';
import { FAILURE_PROPERTY, type ActivityFailure } from './plan.js';

export function failureProperties(error: unknown): Record<string, unknown> {
  return { [FAILURE_PROPERTY]: { error: toFileErrorOutput(error), transient: isTransient(error) } satisfies ActivityFailure };
}
