/**
 * A stand-in for the Functions host's registration API, for `blob2pg run` / `watch` and
 * the tests. The v4 programming model (@azure/functions) registers every function through
 * the host-provided module `@azure/functions-core`; the Node worker supplies it by
 * intercepting `require`, and so do we: registrations are recorded (metadata + callback)
 * so the local durable runtime can call the very handlers the host would.
 * Must be installed before the first function registers (the package caches the module).
 */
import { createRequire } from 'node:module';

export interface BindingMetadata {
  type: string;
  direction: string;
  name: string;
  [key: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, BindingMetadata>;
  [key: string]: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface RegisteredFunction {
  name: string;
  metadata: FunctionMetadata;
  callback: FunctionCallback;
  /** The type of the trigger binding, e.g. `queueTrigger`, `orchestrationTrigger`. */
  triggerType: string;
  trigger: BindingMetadata;
}

/**
 * Kept on globalThis: @azure/functions caches the core module for the life of the process,
 * so every copy of this module (test isolation re-evaluates it) must share one registry.
 */
const shared = ((globalThis as Record<symbol, unknown>)[Symbol.for('blob2pg.localHost')] ??= {
  registry: new Map<string, RegisteredFunction>(),
  installed: false,
}) as { registry: Map<string, RegisteredFunction>; installed: boolean };
const registry = shared.registry;

function triggerOf(metadata: FunctionMetadata): BindingMetadata {
  const trigger = Object.values(metadata.bindings).find((b) => b.type.endsWith('Trigger'));
  if (!trigger) throw new Error(`function ${metadata.name} has no trigger binding`);
  return trigger;
}

const coreApi = {
  version: 'blob2pg-local',
  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback) {
    const trigger = triggerOf(metadata);
    registry.set(metadata.name, { name: metadata.name, metadata, callback, triggerType: trigger.type, trigger });
    return { dispose: () => registry.delete(metadata.name) };
  },
  setProgrammingModel() {},
  getProgrammingModel() {
    return undefined;
  },
  registerHook() {
    return { dispose() {} };
  },
  log() {},
};

/** Makes `require('@azure/functions-core')` return the recording API (idempotent). */
export function installLocalHost(): Map<string, RegisteredFunction> {
  if (shared.installed) return registry;
  const Module = createRequire(import.meta.url)('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = Module._load;
  Module._load = function (request: string, ...rest: unknown[]) {
    if (request === '@azure/functions-core') return coreApi;
    return load.call(this, request, ...rest);
  };
  shared.installed = true;
  return registry;
}

export function registeredFunctions(): Map<string, RegisteredFunction> {
  return registry;
}

/** The recorded function, or a clear error naming what is registered. */
export function registeredFunction(name: string): RegisteredFunction {
  const fn = registry.get(name);
  if (!fn) throw new Error(`function ${name} is not registered (registered: ${[...registry.keys()].join(', ') || 'none'})`);
  return fn;
}

/** Imports the orchestrations and activities with the local host in place. */
export async function loadDurableFunctions(): Promise<void> {
  installLocalHost();
  await import('../../functions/orchestrator.js');
  await import('../../functions/activities.js');
}
