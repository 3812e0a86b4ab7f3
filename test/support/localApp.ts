/**
 * The Functions app as the host would load it, on the local Durable runtime: the pipelines
 * folder set, the registrations captured by the local host, and every start routed to one
 * runtime whose timers fire at once. For handler tests that call registered functions.
 */
import type { LocalDurableRuntime } from '../../src/local/durable.js';
import { installLocalHost } from '../../src/local/host.js';
import { setAppPipelines } from '../../src/app/pipelines.js';
import { setStarterFactory } from '../../src/app/starter.js';
import { localRuntime } from '../../src/local/run.js';

export async function startLocalApp(pipelinesDir: string): Promise<LocalDurableRuntime> {
  process.env.BLOB2PG_PIPELINES = pipelinesDir;
  setAppPipelines(undefined);
  installLocalHost();
  await import('../../functions/index.js');
  const runtime = await localRuntime({ timerScale: 0 });
  setStarterFactory(() => runtime);
  return runtime;
}

export function stopLocalApp(): void {
  setStarterFactory(undefined);
}
