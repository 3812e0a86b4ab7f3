#!/usr/bin/env node
/**
 * blob2pg command line: run | validate | demo | schema.
 * Exit codes: 0 no blob failed / spec valid; 1 a blob failed / a check failed;
 * 2 bad spec or usage.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { SpecError } from '../errors.js';
import { parsePipelineJson, pipelineJsonSchema, type PipelineSpec } from '../pipeline/spec.js';
import { runPipeline } from '../run/localRun.js';
import { closePools } from '../sink/index.js';
import { formatFileLine, formatRunSummary } from './report.js';
import { validatePipeline } from './validate.js';

const USAGE = `usage:
  blob2pg run <pipeline.json> [--blob NAME]... [--json]   load the pipeline's blobs (or only the named ones)
  blob2pg validate <pipeline.json>                         check the spec, connections, table and mapping
  blob2pg demo                                             load sample blobs on an embedded Azurite + PostgreSQL
  blob2pg schema                                           print the pipeline JSON Schema

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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { blob: { type: 'string', multiple: true }, json: { type: 'boolean' } } });
      const spec = await loadSpec(positionals[0]);
      const output = await runPipeline(spec, {
        blobs: values.blob,
        onFile: values.json ? undefined : (file) => process.stderr.write(formatFileLine(file) + '\n'),
      });
      if (values.json) process.stdout.write(JSON.stringify(output) + '\n');
      else process.stdout.write(formatRunSummary(output) + '\n');
      return output.filesFailed > 0 ? 1 : 0;
    }
    case 'validate': {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      const spec = await loadSpec(positionals[0]);
      const problems = await validatePipeline(spec);
      for (const problem of problems) process.stdout.write(`${problem}\n`);
      if (!problems.length) process.stdout.write(`${positionals[0]}: OK\n`);
      return problems.length ? 1 : 0;
    }
    case 'demo': {
      const { runDemo } = await import('./demo.js');
      return runDemo();
    }
    case 'schema':
      process.stdout.write(JSON.stringify(pipelineJsonSchema(), null, 2) + '\n');
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return command ? 0 : 2;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2))
  .catch((err: unknown) => {
    if (err instanceof SpecError) {
      process.stderr.write(err.message + '\n');
      return 2;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`blob2pg: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  })
  .then(async (code) => {
    await closePools().catch(() => undefined);
    process.exitCode = code;
  });
