/**
 * `blob2pg ui`: the run-history page for the run log in one PostgreSQL (a connection
 * setting, default TARGET_POSTGRES, and the ledger schema), served on 127.0.0.1. Failed
 * files can be rerun for the pipelines it knows: those of `--pipelines <folder>`, or the
 * demo's with `--demo` (which also starts the demo's embedded services).
 */
import { randomUUID } from 'node:crypto';
import type { Env } from '../connections/settings.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { poolFor } from '../sink/pool.js';
import { ensureRunLog, recordRunStart, type RunLogPlace } from '../runLog/store.js';
import { ledgerSchemaName } from '../sink/ledger.js';
import { startUiServer, type UiServer } from '../ui/server.js';

export interface LocalUiOptions {
  env: Env;
  pipelines: ReadonlyMap<string, PipelineSpec>;
  /** The connection setting naming the PostgreSQL that holds the run log. */
  connection?: string;
  port?: number;
  /** Rerun progress and failures (stderr in the CLI). */
  log?: (line: string) => void;
}

export async function startLocalUi(options: LocalUiOptions): Promise<UiServer & { place: RunLogPlace }> {
  const connection = options.connection ?? 'TARGET_POSTGRES';
  const place: RunLogPlace = { pool: poolFor(connection, options.env), schema: ledgerSchemaName(undefined, options.env) };
  await ensureRunLog(place);
  const log = options.log ?? (() => undefined);
  const server = await startUiServer(
    {
      place,
      rerunRefusal: (pipeline) =>
        options.pipelines.has(pipeline) ? undefined : `pipeline ${pipeline} is not among the pipelines this page was started with (blob2pg ui --pipelines <folder>)`,
      async rerun(pipeline, blobs) {
        const spec = options.pipelines.get(pipeline)!;
        const runId = randomUUID();
        // The run's row exists before the redirect to its page; the run goes on in the background.
        await recordRunStart(place, { runId, pipeline, trigger: 'Rerun' }, options.env);
        const { runPipeline } = await import('./run.js');
        runPipeline(spec, { runId, blobs, env: options.env, trigger: 'Rerun', log }).then(
          (output) => log(`rerun ${runId} of ${pipeline}: ${output.status}`),
          (err: Error) => log(`rerun ${runId} of ${pipeline} failed: ${err.message}`),
        );
        return runId;
      },
    },
    { port: options.port },
  );
  return { ...server, place };
}
