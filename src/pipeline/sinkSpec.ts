/**
 * The `sink` and `mapping` parts of the pipeline spec (ADF sink and translator properties).
 */
import { z } from 'zod';

export const identifier = z.string().min(1).max(63, 'at most 63 bytes (PostgreSQL NAMEDATALEN)');

export const tableRefSchema = z.union([
  z.string().min(1).describe('"schema.table" (split on the first dot) or "table" (schema public)'),
  z.strictObject({ schema: identifier.default('public'), name: identifier }),
]);

export const writeMethods = ['CopyCommand', 'BulkInsert', 'Upsert'] as const;
export const supportedWriteMethods: readonly string[] = ['CopyCommand'];

export const sinkSchema = z.strictObject({
  connection: z.string().min(1).default('TARGET_POSTGRES'),
  table: tableRefSchema,
  writeMethod: z.enum(writeMethods).default('CopyCommand'),
  /** SQL run inside the blob's transaction before the data (e.g. a DELETE or CALL). */
  preCopyScript: z.string().min(1).optional(),
  /** SQL run inside the blob's transaction after the data. */
  postCopyScript: z.string().min(1).optional(),
  /** Schema of the ingestion ledger; default BLOB2PG_LEDGER_SCHEMA or `blob2pg`. */
  ledgerSchema: identifier.optional(),
});

export const mappingEntrySchema = z.strictObject({
  /** A header name, or a 1-based column ordinal. */
  source: z.union([z.string().min(1), z.int().min(1)]),
  sink: identifier,
});

export type MappingEntry = z.output<typeof mappingEntrySchema>;
