/**
 * The `source.format` part of the pipeline spec (ADF dataset format properties).
 * Kept apart from spec.ts so each format's options live in one place.
 */
import { z } from 'zod';
import { encodingNames, normaliseEncodingName } from './encodings.js';

/** ADF's compression types; `auto` (ours) decides from the blob name. */
export const compressionCodecs = ['auto', 'none', 'gzip', 'deflate', 'bzip2', 'ZipDeflate', 'Tar', 'TarGzip'] as const;

const codecSchema = z.preprocess(
  // ADF writes `GZip`, `BZip2`, `zipdeflate`…; accept any case, report the canonical names.
  (value) => (typeof value === 'string' ? (compressionCodecs.find((c) => c.toLowerCase() === value.toLowerCase()) ?? value) : value),
  z.enum(compressionCodecs),
);

/** Accepts ADF's spellings in any case (`windows-1252`, `Shift_JIS` …), outputs the canonical name. */
const encodingSchema = z.preprocess((value) => (typeof value === 'string' ? (normaliseEncodingName(value) ?? value) : value), z.enum(encodingNames));

export const delimitedTextFormatSchema = z
  .strictObject({
    type: z.literal('DelimitedText'),
    /** One character; `\t` and `|` work. */
    columnDelimiter: z.string().length(1).default(','),
    /** Detected (`\n`, `\r\n` or `\r`) when absent. */
    rowDelimiter: z.enum(['\n', '\r\n', '\r']).optional(),
    /** Empty = no quoting (then `escapeChar` `\` escapes the delimiter and itself, as in ADF). */
    quoteChar: z.string().max(1).default('"'),
    /**
     * Inside quotes, `escapeChar` + quote is a quote and `escapeChar` twice is one escapeChar.
     * ADF's own default is `\`; ours stays `"` (RFC 4180 doubling), so set `"\\"` for ADF files.
     */
    escapeChar: z.string().max(1).default('"'),
    firstRowAsHeader: z.boolean().default(true),
    /** The unquoted text that means NULL; a quoted empty string ("") stays an empty string. */
    nullValue: z.string().default(''),
    encodingName: encodingSchema.default('UTF-8'),
    /** Lines dropped from the top of the file before the header. */
    skipLineCount: z.int().min(0).default(0),
    compressionCodec: codecSchema.default('auto'),
  })
  .superRefine((format, ctx) => {
    if (format.quoteChar === '' && format.escapeChar !== '' && format.escapeChar !== '\\') {
      ctx.addIssue({ code: 'custom', path: ['escapeChar'], message: 'without a quoteChar, escapeChar must be "\\\\" or empty' });
    }
    if (format.quoteChar !== '' && format.escapeChar === '') {
      ctx.addIssue({ code: 'custom', path: ['escapeChar'], message: 'an empty escapeChar needs an empty quoteChar; use the quoteChar itself for RFC 4180 doubling' });
    }
    if (format.quoteChar !== '' && format.quoteChar === format.columnDelimiter) {
      ctx.addIssue({ code: 'custom', path: ['quoteChar'], message: 'quoteChar and columnDelimiter must differ' });
    }
  });

export const jsonFormatSchema = z.strictObject({
  type: z.literal('Json'),
  /** JSON Lines, one array of objects, or concatenated objects: detected from the content. */
  encodingName: encodingSchema.default('UTF-8'),
  compressionCodec: codecSchema.default('auto'),
});

export const parquetFormatSchema = z.strictObject({
  type: z.literal('Parquet'),
  /** Parquet compresses column chunks itself; an outer codec is allowed only as `auto`/`none`. */
  compressionCodec: z.enum(['auto', 'none']).default('auto'),
});

/**
 * `auto`: the decoder is chosen from the blob (or archive entry) name: `.csv .tsv .txt`
 * → DelimitedText (`.tsv` with a tab delimiter), `.json .jsonl .ndjson` → Json,
 * `.parquet` → Parquet, each optionally followed by a compression extension.
 * The delimited-text options apply to delimited files.
 */
export const autoFormatSchema = z.strictObject({
  type: z.literal('auto'),
  columnDelimiter: z.string().length(1).optional(),
  quoteChar: z.string().max(1).optional(),
  escapeChar: z.string().max(1).optional(),
  firstRowAsHeader: z.boolean().optional(),
  nullValue: z.string().optional(),
  encodingName: encodingSchema.optional(),
  skipLineCount: z.int().min(0).optional(),
  compressionCodec: codecSchema.default('auto'),
});

export const formatSchema = z.discriminatedUnion('type', [delimitedTextFormatSchema, jsonFormatSchema, parquetFormatSchema, autoFormatSchema]);

export const defaultFormat = delimitedTextFormatSchema.parse({ type: 'DelimitedText' });

export type DelimitedTextFormat = z.output<typeof delimitedTextFormatSchema>;
export type JsonFormat = z.output<typeof jsonFormatSchema>;
export type ParquetFormat = z.output<typeof parquetFormatSchema>;
export type AutoFormat = z.output<typeof autoFormatSchema>;
export type SourceFormat = z.output<typeof formatSchema>;
/** A format with `auto` resolved for one file. */
export type ConcreteFormat = DelimitedTextFormat | JsonFormat | ParquetFormat;
