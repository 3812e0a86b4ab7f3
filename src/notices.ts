/**
 * Notices: what a person watching a run wants to know while it goes on — a load waiting
 * for a lock, a retried storage read, a lost connection about to be retried. Not results
 * (those are the run output) and not errors (those fail something).
 *
 * The CLI sends them to stderr (runPipeline's `log`), carried to the activities the local
 * runtime calls through AsyncLocalStorage, as appEnv carries the settings; in Azure they go
 * to the Functions log (console).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<(line: string) => void>();

export function notice(line: string): void {
  (scope.getStore() ?? console.warn)(line);
}

export function withNotices<T>(sink: ((line: string) => void) | undefined, fn: () => T): T {
  return sink ? scope.run(sink, fn) : fn();
}
