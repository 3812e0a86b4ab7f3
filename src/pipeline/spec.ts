/**
 * The pipeline spec: one JSON document = source + format + sink + mapping.
 * Field names follow Azure Data Factory's Copy activity where ADF has one, so an ADF
 * user recognises them. Validated once, here, at the edge; everything downstream takes
 * the parsed `PipelineSpec` and never re-validates.
 */
import { z } from 'zod';
import { SpecError, type SpecIssue } from '../errors.js';
import { defaultFormat, formatSchema } from './formatSpec.js';
import { faultToleranceSchema, mappingEntrySchema, sinkSchema, typeConversionSchema } from './sinkSpec.js';

export type { DelimitedTextFormat, SourceFormat } from './formatSpec.js';
export type { FaultTolerance, MappingEntry, TypeConversion } from './sinkSpec.js';

const isoDateTime = z.iso.datetime({ offset: true });

export const sourceSchema = z.strictObject({
  /** App-setting name, as in Azure Functions bindings: NAME or NAME__serviceUri. */
  connection: z.string().min(1).default('SOURCE_STORAGE'),
  container: z
    .string()
    .regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/, 'a container name: 3-63 lowercase letters, digits and single hyphens'),
  /** Only blobs whose name starts with this are read. */
  prefix: z.string().default(''),
  /** Glob on the blob's file name (`*`, `?`), or on its whole name when it contains `/`. */
  wildcard: z.string().min(1).optional(),
  /** Inclusive lower bound on Last-Modified. */
  modifiedAfter: isoDateTime.nullable().optional(),
  /** Exclusive upper bound on Last-Modified. */
  modifiedBefore: isoDateTime.nullable().optional(),
  /**
   * Sweeps look only at blobs modified since the previous complete sweep's high-water mark
   * minus `marginMinutes` (default 5): ADF's incremental copy by last-modified date, the
   * mark fed to modifiedDatetimeStart. The ledger still decides what is loaded.
   */
  highWaterMark: z.union([z.boolean(), z.strictObject({ marginMinutes: z.number().min(0).max(10_080) })]).optional(),
  format: formatSchema.default(defaultFormat),
});

/**
 * How the Functions app starts the pipeline on its own (functions/). The CLI ignores it.
 * Schedule uses the Functions timer's six-field NCRONTAB: second minute hour day month weekday.
 */
const ncrontab = z.string().regex(/^\s*\S+(\s+\S+){5}\s*$/, 'a six-field NCRONTAB expression, e.g. "0 */15 * * * *"');
export const triggerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('BlobCreated'),
    /** A load that keeps failing for a transient reason is retried for this long (default 24). */
    retryForHours: z.number().positive().max(168).optional(),
    /** When the reconciliation sweep (storage minus ledger) runs (default hourly). */
    reconcileSchedule: ncrontab.optional(),
  }),
  z.strictObject({
    type: z.literal('Schedule'),
    schedule: ncrontab,
  }),
]);
export const triggersSchema = z.array(triggerSchema).default([]);

export const pipelineSpecSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$/, 'letters, digits, "_", "-", "." (at most 120), starting with a letter or digit'),
    description: z.string().optional(),
    source: sourceSchema,
    sink: sinkSchema,
    mapping: z.array(mappingEntrySchema).min(1).optional(),
    typeConversion: typeConversionSchema.optional(),
    faultTolerance: faultToleranceSchema.optional(),
    /** How many blobs load at once in one run. */
    maxParallelCopies: z.int().min(1).max(64).default(8),
    triggers: triggersSchema,
  })
  .superRefine((spec, ctx) => {
    const sinks = new Set<string>();
    spec.mapping?.forEach((entry, i) => {
      if (sinks.has(entry.sink)) {
        ctx.addIssue({ code: 'custom', path: ['mapping', i, 'sink'], message: `column "${entry.sink}" is mapped twice` });
      }
      sinks.add(entry.sink);
    });
  });

export type PipelineSpecInput = z.input<typeof pipelineSpecSchema>;
type ParsedSpec = z.output<typeof pipelineSpecSchema>;

export interface TableName {
  schema: string;
  name: string;
}

/** The validated spec, with `sink.table` normalised to `{ schema, name }`. */
export type PipelineSpec = Omit<ParsedSpec, 'sink'> & {
  sink: Omit<ParsedSpec['sink'], 'table'> & { table: TableName };
};

export function parseTableName(table: string | { schema: string; name: string }): TableName {
  if (typeof table !== 'string') return table;
  const dot = table.indexOf('.');
  return dot < 0 ? { schema: 'public', name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

/** Validates an already-parsed JSON value. Throws SpecError naming every bad field. */
export function parsePipelineSpec(input: unknown, file?: string): PipelineSpec {
  const result = pipelineSpecSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new SpecError(result.error.issues.map(toSpecIssue), file);
  const spec = result.data;
  const table = parseTableName(spec.sink.table);
  const problems: SpecIssue[] = [];
  if (!table.schema || !table.name) problems.push({ path: 'sink.table', message: 'expected "schema.table" with both parts non-empty' });
  if (problems.length) throw new SpecError(problems, file);
  return { ...spec, sink: { ...spec.sink, table } };
}

/** Parses JSON text (a pipeline file) and validates it. */
export function parsePipelineJson(text: string, file?: string): PipelineSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SpecError([{ path: '', message: `not valid JSON: ${(err as Error).message}` }], file);
  }
  return parsePipelineSpec(value, file);
}

/** `sink.writeMethod`, `mapping[1].source` */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
}

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (typeof input === 'object' && input !== null) return Array.isArray(input) ? 'an array' : 'an object';
  return JSON.stringify(input);
}

function toSpecIssue(issue: z.core.$ZodIssue): SpecIssue {
  const path = formatPath(issue.path);
  if (issue.code === 'invalid_union' && issue.errors.length) {
    // Report the alternative the input came closest to (fewest problems), with its own path.
    const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
    const first = closest[0];
    if (first) return toSpecIssue({ ...first, path: [...issue.path, ...first.path] } as z.core.$ZodIssue);
  }
  const got = 'input' in issue ? `, got ${describeInput(issue.input)}` : '';
  switch (issue.code) {
    case 'invalid_value':
      return { path, message: `expected ${issue.values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' | ')}${got}` };
    case 'invalid_type':
      return { path, message: issue.input === undefined ? `required (${issue.expected})` : `expected ${issue.expected}${got}` };
    case 'unrecognized_keys':
      return { path, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` };
    case 'custom':
      return { path, message: issue.message };
    default:
      return { path, message: `${issue.message}${got}` };
  }
}

/** JSON Schema for editors, generated from the same zod schema (see `npm run schema`). */
export function pipelineJsonSchema(): unknown {
  return z.toJSONSchema(pipelineSpecSchema, { io: 'input', unrepresentable: 'any' });
}

/** Default margin under a sweep's high-water mark: clock skew, and blobs committed while the last sweep listed. */
export const HIGH_WATER_MARGIN_MINUTES = 5;

/** The margin (ms) below the high-water mark a sweep looks at, or undefined when the pipeline keeps no mark. */
export function highWaterMarginMs(spec: PipelineSpec): number | undefined {
  const mark = spec.source.highWaterMark;
  if (!mark) return undefined;
  return (mark === true ? HIGH_WATER_MARGIN_MINUTES : mark.marginMinutes) * 60_000;
}
