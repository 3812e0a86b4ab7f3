/**
 * The `sink`, `mapping`, `typeConversion` and `faultTolerance` parts of the pipeline spec
 * (ADF sink, translator and fault-tolerance properties).
 */
import { z } from 'zod';

export const identifier = z.string().min(1).max(63, 'at most 63 bytes (PostgreSQL NAMEDATALEN)');

export const tableRefSchema = z.union([
  z.string().min(1).describe('"schema.table" (split on the first dot) or "table" (schema public)'),
  z.strictObject({ schema: identifier.default('public'), name: identifier }),
]);

export const writeMethods = ['CopyCommand', 'BulkInsert', 'Upsert'] as const;

export const upsertSettingsSchema = z.strictObject({
  /**
   * ADF's key columns: all primary-key columns, or one or more unique columns (with or
   * without a unique index). Omitted: the table's primary key.
   */
  keys: z.array(identifier).min(1).optional(),
});

export const sinkSchema = z
  .strictObject({
    connection: z.string().min(1).default('TARGET_POSTGRES'),
    table: tableRefSchema,
    writeMethod: z.enum(writeMethods).default('CopyCommand'),
    /** BulkInsert: rows per INSERT statement. */
    writeBatchSize: z.int().min(1).max(10_000_000).default(10_000),
    /** Upsert only. */
    upsertSettings: upsertSettingsSchema.optional(),
    /** SQL run inside the blob's transaction before the data (e.g. a DELETE or CALL). */
    preCopyScript: z.string().min(1).optional(),
    /** SQL run inside the blob's transaction after the data. */
    postCopyScript: z.string().min(1).optional(),
    /**
     * ADF's parallelCopies, for one blob: COPY streams that load byte ranges of one large
     * CSV blob at once, committed together (two-phase commit; the server needs
     * max_prepared_transactions > 0). Omitted: 4 for blobs of 1 GiB or more, else 1.
     * Not the spec's maxParallelCopies, which is how many blobs load at once.
     */
    parallelCopies: z
      .int()
      .min(1)
      .max(32)
      .optional()
      .describe('COPY streams for one CSV blob, committed together (needs max_prepared_transactions > 0); default 4 from 1 GiB, else 1. Not maxParallelCopies (blobs at once).'),
    /** Schema of the ingestion ledger; default BLOB2PG_LEDGER_SCHEMA or `blob2pg`. */
    ledgerSchema: identifier.optional(),
    /**
     * How long a load waits for a lock on the table (another session's ALTER, LOCK TABLE,
     * VACUUM FULL …) before it gives up and is retried later: PostgreSQL's lock_timeout
     * for the load's transaction. 0 waits for ever.
     */
    lockTimeoutInMs: z.int().min(0).max(86_400_000).default(60_000),
  })
  .superRefine((sink, ctx) => {
    if (sink.upsertSettings && sink.writeMethod !== 'Upsert') {
      ctx.addIssue({ code: 'custom', path: ['upsertSettings'], message: `only used with writeMethod Upsert (writeMethod is ${sink.writeMethod})` });
    }
    const keys = sink.upsertSettings?.keys ?? [];
    const dup = keys.find((k, i) => keys.indexOf(k) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['upsertSettings', 'keys'], message: `key column "${dup}" is listed twice` });
    if ((sink.parallelCopies ?? 1) > 1 && sink.writeMethod !== 'CopyCommand') {
      ctx.addIssue({ code: 'custom', path: ['parallelCopies'], message: `only CopyCommand loads one blob through several streams (writeMethod is ${sink.writeMethod})` });
    }
  });

export const mappingEntrySchema = z.union([
  z.strictObject({
    /** A header name, or a 1-based column ordinal. */
    source: z.union([z.string().min(1), z.int().min(1)]),
    sink: identifier,
  }),
  z.strictObject({
    sink: identifier,
    /** ADF additional column: `$$FILEPATH`, `$$FILENAME`, `$$ETAG`, `$$LASTMODIFIED`, `$$RUNID`, or a literal. */
    value: z.string(),
  }),
]);

export type MappingEntry = z.output<typeof mappingEntrySchema>;
/** A mapping entry fed from the file (not an additional `value` column). */
export type SourceMappingEntry = Extract<MappingEntry, { source: unknown }>;

export function sourceMappingEntries(mapping: MappingEntry[] | undefined): SourceMappingEntry[] | undefined {
  return mapping?.filter((entry): entry is SourceMappingEntry => 'source' in entry);
}

/** For files whose values Postgres cannot read as they are. */
export const typeConversionSchema = z.strictObject({
  /** A Postgres `to_date` pattern, e.g. `DD/MM/YYYY`; applies to date columns. */
  dateFormat: z.string().min(1).optional(),
  /** A Postgres `to_timestamp` pattern; applies to timestamp and timestamptz columns. */
  timestampFormat: z.string().min(1).optional(),
  /** Extra spellings of true / false for boolean columns (compared trimmed, case-insensitively). */
  booleanTrue: z.array(z.string()).min(1).optional(),
  booleanFalse: z.array(z.string()).min(1).optional(),
});

export type TypeConversion = z.output<typeof typeConversionSchema>;

export const faultToleranceSchema = z.strictObject({
  /** Skip rows that cannot load (bad value, wrong field count, NULL in NOT NULL) instead of failing the blob. */
  skipIncompatibleRows: z.boolean().default(false),
  /** Container (in the source account) for skipped-row logs; default BLOB2PG_LOG_CONTAINER or `copy-logs`. */
  logContainer: z
    .string()
    .regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/, 'a container name: 3-63 lowercase letters, digits and single hyphens')
    .optional(),
});

export type FaultTolerance = z.output<typeof faultToleranceSchema>;
