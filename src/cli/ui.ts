/** `blob2pg ui`: serves the run-history page until Ctrl-C (src/local/ui.ts). */
import { loadPipelineFolder } from '../app/pipelines.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { parsePipelineSpec } from '../pipeline/spec.js';
import type { CliIO } from './io.js';

export async function serveUi(io: CliIO, options: { pipelines?: string; demo?: boolean; port?: string; connection?: string }): Promise<number> {
  const pipelines = new Map<string, PipelineSpec>();
  let env = io.env;
  let stopServices: (() => Promise<void>) | undefined;
  if (options.demo) {
    const { demoPipeline, demoServices, DEMO_UI_PORT } = await import('./demo.js');
    const { runEnv, services } = await demoServices(io.env);
    env = runEnv;
    stopServices = services?.stop;
    pipelines.set(demoPipeline.name, parsePipelineSpec(demoPipeline));
    options.port ??= String(DEMO_UI_PORT);
  }
  if (options.pipelines) {
    const loaded = loadPipelineFolder(options.pipelines);
    for (const { file, issues } of loaded.errors) io.stderr(`${file}: invalid pipeline spec (${issues.length} issue(s)); not rerunnable from the page\n`);
    for (const [name, spec] of loaded.pipelines) pipelines.set(name, spec);
  }
  const { startLocalUi } = await import('../local/ui.js');
  const ui = await startLocalUi({ env, pipelines, connection: options.connection, port: options.port ? Number(options.port) : undefined, log: (line) => io.stderr(line + '\n') });
  io.stdout(`run history: open ${ui.url} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await ui.close();
  const { closePools } = await import('../sink/index.js');
  await closePools();
  await stopServices?.();
  return 0;
}
