/**
 * The `source.format` part of the pipeline spec (ADF dataset format properties).
 * Kept apart from spec.ts so each format's options live in one place.
 */
import { z } from 'zod';

export const compressionCodecs = ['auto', 'none', 'gzip'] as const;

export const delimitedTextFormatSchema = z.strictObject({
  type: z.literal('DelimitedText'),
  /** One character; `\t` and `|` work. */
  columnDelimiter: z.string().length(1).default(','),
  /** Detected (\n or \r\n) when absent. */
  rowDelimiter: z.enum(['\n', '\r\n']).optional(),
  quoteChar: z.string().length(1).default('"'),
  escapeChar: z.string().length(1).default('"'),
  firstRowAsHeader: z.boolean().default(true),
  /** The unquoted text that means NULL; a quoted empty string ("") stays an empty string. */
  nullValue: z.string().default(''),
  encodingName: z.enum(['UTF-8', 'UTF8', 'utf-8', 'utf8']).default('UTF-8'),
  /** Lines dropped from the top of the file before the header. */
  skipLineCount: z.int().min(0).default(0),
  compressionCodec: z.enum(compressionCodecs).default('auto'),
});

export const formatSchema = z.discriminatedUnion('type', [delimitedTextFormatSchema]);

export const defaultFormat = delimitedTextFormatSchema.parse({ type: 'DelimitedText' });

export type DelimitedTextFormat = z.output<typeof delimitedTextFormatSchema>;
export type SourceFormat = z.output<typeof formatSchema>;
