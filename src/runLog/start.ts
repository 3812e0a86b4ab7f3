/**
 * Where a run starts (trigger handlers, the CLI): its run-log row with the trigger kind.
 * The run log module (and pg) loads on first use, so starting the Functions app stays cheap.
 */
import type { Env } from '../connections/settings.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { TriggerKind } from './store.js';

export async function logRunStart(spec: PipelineSpec, runId: string, trigger: TriggerKind, env: Env = process.env, options: { restarted?: boolean } = {}): Promise<void> {
  const { recordRunStart, runLogTarget } = await import('./store.js');
  await recordRunStart(runLogTarget(spec, env), { runId, pipeline: spec.name, trigger, ...(options.restarted && { restarted: true }) }, env);
}
