/**
 * blob2pg command line: run | validate | demo | schema.
 * Exit codes: 0 no blob failed / spec valid; 1 a blob failed / a check failed;
 * 2 bad spec or usage.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { redactSecrets } from '../connections/redact.js';
import { SpecError } from '../errors.js';
import { parsePipelineJson, pipelineJsonSchema, type PipelineSpec } from '../pipeline/spec.js';
import { runPipeline } from '../run/localRun.js';
import { failedRun } from '../run/output.js';
import { randomUUID } from 'node:crypto';
import { formatFileLine, formatRunSummary } from './report.js';
import { validatePipeline } from './validate.js';

const USAGE = `usage:
  blob2pg run <pipeline.json> [--blob NAME]... [--json]   load the pipeline's blobs (or only the named ones)
  blob2pg validate <pipeline.json>                         check the spec, connections, table and mapping
  blob2pg watch <pipelines folder> [--interval MS] [--initial]
                                                           load each new blob as it lands (local stand-in for Event Grid)
  blob2pg demo [--watch]                                   load sample blobs on an embedded Azurite + PostgreSQL
  blob2pg ui [--pipelines FOLDER] [--demo] [--port N] [--connection NAME]
                                                           the run-history page on 127.0.0.1 (run log in TARGET_POSTGRES)
  blob2pg schema                                           print the pipeline JSON Schema
  blob2pg import-adf <path> [--out DIR] [--strict] [--dry-run]
                                                           turn ADF copy pipelines (Git folder, pipeline file, ARM template) into pipeline files

connections come from the environment, named as in the spec (defaults SOURCE_STORAGE, TARGET_POSTGRES)`;

class UsageError extends Error {}

async function loadSpec(file: string | undefined): Promise<PipelineSpec> {
  if (!file) throw new UsageError('missing <pipeline.json>');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parsePipelineJson(text, file);
}

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

/** Runs one command; resolves to the exit code. Never calls process.exit (tests call it in-process). */
export async function runCli(argv: string[], io: CliIO = processIO): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof SpecError) {
      io.stderr(err.message + '\n');
      return 2;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    io.stderr(`blob2pg: ${redactSecrets(err instanceof Error ? err.message : String(err))}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { blob: { type: 'string', multiple: true }, json: { type: 'boolean' } } });
      if (!values.json) {
        const spec = await loadSpec(positionals[0]);
        const output = await runPipeline(spec, { blobs: values.blob, env: io.env, onFile: (file) => io.stderr(formatFileLine(file) + '\n'), log: (line) => io.stderr(line + '\n') });
        if (output.error) io.stderr(`blob2pg: ${output.error}\n`);
        io.stdout(formatRunSummary(output) + '\n');
        return output.filesFailed > 0 || output.error ? 1 : 0;
      }
      // --json: exactly one run object on stdout, whatever happens (README "run output").
      let spec: PipelineSpec | undefined;
      const runId = randomUUID();
      try {
        spec = await loadSpec(positionals[0]);
        const output = await runPipeline(spec, { blobs: values.blob, env: io.env, runId, log: (line) => io.stderr(line + '\n') });
        io.stdout(JSON.stringify(output) + '\n');
        return output.filesFailed > 0 || output.error ? 1 : 0;
      } catch (err) {
        // A spec that does not parse is no run (exit 2, the field named on stderr); any other failure is a Failed run.
        if (spec) io.stdout(JSON.stringify(failedRun(spec.name, runId, redactSecrets(err instanceof Error ? err.message : String(err)))) + '\n');
        throw err;
      }
    }
    case 'validate': {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      const spec = await loadSpec(positionals[0]);
      const problems = await validatePipeline(spec, io.env);
      for (const problem of problems) io.stdout(`${redactSecrets(problem)}\n`);
      if (!problems.length) io.stdout(`${positionals[0]}: OK\n`);
      return problems.length ? 1 : 0;
    }
    case 'watch': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { interval: { type: 'string' }, initial: { type: 'boolean' } } });
      if (!positionals[0]) throw new UsageError('missing <pipelines folder>');
      const { watch } = await import('./watch.js');
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      let failed = 0;
      const loaded = await watch({
        folder: positionals[0],
        env: io.env,
        intervalMs: values.interval ? Number(values.interval) : undefined,
        initial: values.initial,
        abortSignal: stop.signal,
        onFile: (file) => (file.status === 'Failed' && failed++, io.stderr(formatFileLine(file) + '\n')),
        log: (line) => io.stderr(line + '\n'),
      });
      return loaded.errors.length || failed ? 1 : 0;
    }
    case 'demo': {
      const { values } = parseArgs({ args: rest, allowPositionals: false, options: { watch: { type: 'boolean' } } });
      const { runDemo } = await import('./demo.js');
      return runDemo(io.env, { watch: values.watch });
    }
    case 'ui': {
      const { values } = parseArgs({
        args: rest,
        allowPositionals: false,
        options: { pipelines: { type: 'string' }, demo: { type: 'boolean' }, port: { type: 'string' }, connection: { type: 'string' } },
      });
      const { serveUi } = await import('./ui.js');
      return serveUi(io, values);
    }
    case 'import-adf': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { out: { type: 'string' }, strict: { type: 'boolean' }, 'dry-run': { type: 'boolean' } } });
      if (!positionals[0]) throw new UsageError('missing <path> (an ADF Git folder, pipeline JSON or ARMTemplateForFactory.json)');
      const { runImportAdf, AdfReadError } = await import('../importAdf/index.js');
      return runImportAdf(positionals[0], { outDir: values.out ?? 'pipelines', strict: values.strict, dryRun: values['dry-run'], stdout: io.stdout }).catch((err: unknown) => {
        if (err instanceof AdfReadError) throw new UsageError(err.message);
        throw err;
      });
    }
    case 'schema':
      io.stdout(JSON.stringify(pipelineJsonSchema(), null, 2) + '\n');
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE + '\n');
      return command ? 0 : 2;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

