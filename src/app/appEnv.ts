/**
 * The settings the app's functions read: process.env in Azure (app settings), or the
 * environment a local run was given (`runPipeline(spec, { env })`), carried to the
 * activities the local runtime calls through AsyncLocalStorage.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Env } from '../connections/settings.js';

const scope = new AsyncLocalStorage<Env>();

export function appEnv(): Env {
  return scope.getStore() ?? process.env;
}

export function withAppEnv<T>(env: Env | undefined, fn: () => T): T {
  return env ? scope.run(env, fn) : fn();
}
