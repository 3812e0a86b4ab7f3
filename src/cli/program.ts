/**
 * blob2pg command line: run | validate | watch | demo | schema | import-adf.
 * Exit codes: 0 no blob failed / spec valid; 1 a blob failed / a check failed;
 * 2 bad spec or usage.
 *
 * Start-up cost: every command imports what it needs when it runs (`await import(…)`), so
 * `--help` loads no dependency at all, `schema` only zod, and `run` neither Parquet nor
 * archive readers unless a blob needs them. Measured in bench/README.md ("Start-up").
 * Keep the imports at the top of this file to node: builtins and small modules of ours.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { redactSecrets } from '../redact.js';
import { SpecError } from '../errors.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { failedRun } from '../run/output.js';
import { formatFileLine, formatRunSummary } from '../run/report.js';
import type { CliIO } from './io.js';
import { OFFLINE_COMMANDS } from './commandKinds.js';


interface Command {
  /** Its line(s) in the usage text, after `blob2pg `. */
  usage: string;
  run(args: string[], io: CliIO): Promise<number>;
}

class UsageError extends Error {}

async function loadSpec(file: string | undefined): Promise<PipelineSpec> {
  if (!file) throw new UsageError('missing <pipeline.json>');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const { parsePipelineJson } = await import('../pipeline/spec.js');
  return parsePipelineJson(text, file);
}

/** One entry per command, in usage order; each imports its own modules when it runs. */
const COMMANDS: Record<string, Command> = {
  run: {
    usage: 'run <pipeline.json> [--blob NAME]... [--json]   load the pipeline\'s blobs (or only the named ones)',
    async run(args, io) {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { blob: { type: 'string', multiple: true }, json: { type: 'boolean' } } });
      if (!values.json) {
        const spec = await loadSpec(positionals[0]);
        const { runPipeline } = await import('../local/run.js');
        const output = await runPipeline(spec, { blobs: values.blob, env: io.env, onFile: (file) => io.stderr(formatFileLine(file) + '\n'), log: (line) => io.stderr(line + '\n') });
        if (output.error) io.stderr(`blob2pg: ${output.error}\n`);
        io.stdout(formatRunSummary(output) + '\n');
        return output.filesFailed > 0 || output.error ? 1 : 0;
      }
      // --json: exactly one run object on stdout, whatever happens (docs/cli.md, "validate and run").
      let spec: PipelineSpec | undefined;
      const runId = randomUUID();
      try {
        spec = await loadSpec(positionals[0]);
        const { runPipeline } = await import('../local/run.js');
        const output = await runPipeline(spec, { blobs: values.blob, env: io.env, runId, log: (line) => io.stderr(line + '\n') });
        io.stdout(JSON.stringify(output) + '\n');
        return output.filesFailed > 0 || output.error ? 1 : 0;
      } catch (err) {
        // A spec that does not parse is no run (exit 2, the field named on stderr); any other failure is a Failed run.
        if (spec) io.stdout(JSON.stringify(failedRun(spec.name, runId, redactSecrets(err instanceof Error ? err.message : String(err)))) + '\n');
        throw err;
      }
    },
  },
  validate: {
    usage: 'validate <pipeline.json>                         check the spec, connections, table and mapping',
    async run(args, io) {
      const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
      const spec = await loadSpec(positionals[0]);
      const { validatePipeline } = await import('../load/validate.js');
      const problems = await validatePipeline(spec, io.env);
      for (const problem of problems) io.stdout(`${redactSecrets(problem)}\n`);
      if (!problems.length) io.stdout(`${positionals[0]}: OK\n`);
      return problems.length ? 1 : 0;
    },
  },
  watch: {
    usage: `watch <pipelines folder> [--interval MS] [--initial]
                                                           load each new blob as it lands (local stand-in for Event Grid)`,
    async run(args, io) {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { interval: { type: 'string' }, initial: { type: 'boolean' } } });
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
    },
  },
  demo: {
    usage: 'demo [--watch]                                   load sample blobs on an embedded Azurite + PostgreSQL',
    async run(args, io) {
      const { values } = parseArgs({ args, allowPositionals: false, options: { watch: { type: 'boolean' } } });
      const { runDemo } = await import('./demo.js');
      return runDemo(io.env, { watch: values.watch });
    },
  },
  ui: {
    usage: `ui [--pipelines FOLDER] [--demo] [--port N] [--connection NAME]
                                                           the run-history page on 127.0.0.1 (run log in TARGET_POSTGRES)`,
    async run(args, io) {
      const { values } = parseArgs({
        args,
        allowPositionals: false,
        options: { pipelines: { type: 'string' }, demo: { type: 'boolean' }, port: { type: 'string' }, connection: { type: 'string' } },
      });
      const { serveUi } = await import('./ui.js');
      return serveUi(io, values);
    },
  },
  schema: {
    usage: 'schema                                           print the pipeline JSON Schema',
    async run(_args, io) {
      const { pipelineJsonSchema } = await import('../pipeline/spec.js');
      io.stdout(JSON.stringify(pipelineJsonSchema(), null, 2) + '\n');
      return 0;
    },
  },
  'import-adf': {
    usage: `import-adf <path> [--out DIR] [--strict] [--dry-run]
                                                           turn ADF copy pipelines (Git folder, pipeline file, ARM template) into pipeline files`,
    async run(args, io) {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' }, strict: { type: 'boolean' }, 'dry-run': { type: 'boolean' } } });
      if (!positionals[0]) throw new UsageError('missing <path> (an ADF Git folder, pipeline JSON or ARMTemplateForFactory.json)');
      const { runImportAdf, AdfReadError } = await import('../importAdf/index.js');
      return runImportAdf(positionals[0], { outDir: values.out ?? 'pipelines', strict: values.strict, dryRun: values['dry-run'], stdout: io.stdout }).catch((err: unknown) => {
        if (err instanceof AdfReadError) throw new UsageError(err.message);
        throw err;
      });
    },
  },
};

const USAGE = `usage:
${Object.values(COMMANDS)
  .map((command) => `  blob2pg ${command.usage}`)
  .join('\n')}

connections come from the environment, named as in the spec (defaults SOURCE_STORAGE, TARGET_POSTGRES)`;

const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

/** Set once a command that may open pools has run; see closeCliPools. */
let poolsMayBeOpen = false;

/** Runs one command; resolves to the exit code. Never calls process.exit (tests call it in-process). */
/** The commands `blob2pg` knows, in usage order (test/unit/commandKinds.test.ts). */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

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

/**
 * Ends the pg pools a command opened (idle clients would keep the process alive). After an
 * offline command (`--help`, `schema`) it imports nothing: loading pg only to close no pool
 * would cost more than the command itself.
 */
export async function closeCliPools(): Promise<void> {
  if (!poolsMayBeOpen) return;
  const { closePools } = await import('../sink/pool.js');
  await closePools();
}

async function dispatch(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout(USAGE + '\n');
    return name ? 0 : 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UsageError(`unknown command "${name}"`);
  if (!OFFLINE_COMMANDS.has(name)) poolsMayBeOpen = true;
  return command.run(rest, io);
}
