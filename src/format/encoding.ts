/**
 * Text encodings, ADF's names → how we read them. PostgreSQL's COPY converts from any
 * *client* encoding it knows (`ENCODING 'WIN1252'`, `'SJIS'`, …: client-only encodings
 * are fine for COPY — https://www.postgresql.org/docs/current/multibyte.html#MULTIBYTE-CHARSET-SUPPORTED),
 * so those bytes go to the server untouched. Encodings PostgreSQL cannot take (UTF-16/32,
 * UTF-7, DOS code pages, Mac Roman) are transcoded to UTF-8 in the stream with iconv-lite.
 * EBCDIC (IBM037, IBM500, IBM0114x …), CP875, ISO-2022-JP/KR and JOHAB-in-iconv are not
 * offered: neither PostgreSQL nor iconv-lite reads them.
 */
import { createRequire } from 'node:module';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * iconv-lite loads on first use: this module also gives the spec its encoding names, and
 * UTF-8 blobs (most) never transcode. CommonJS, so a synchronous require keeps the API sync.
 */
const lazyRequire = createRequire(import.meta.url);
const iconv = () => lazyRequire('iconv-lite') as typeof import('iconv-lite');

interface EncodingInfo {
  /** PostgreSQL's name, when COPY's ENCODING option accepts it. */
  pg?: string;
  /** iconv-lite's name (always set: the header is decoded with it). */
  iconv: string;
}

const ENCODINGS = {
  'UTF-8': { pg: 'UTF8', iconv: 'utf8' },
  'US-ASCII': { pg: 'UTF8', iconv: 'utf8' },
  'UTF-16': { iconv: 'utf-16' },
  'UTF-16LE': { iconv: 'utf-16le' },
  'UTF-16BE': { iconv: 'utf-16be' },
  'UTF-32': { iconv: 'utf-32' },
  'UTF-32LE': { iconv: 'utf-32le' },
  'UTF-32BE': { iconv: 'utf-32be' },
  'UTF-7': { iconv: 'utf-7' },
  BIG5: { pg: 'BIG5', iconv: 'big5' },
  'EUC-JP': { pg: 'EUC_JP', iconv: 'euc-jp' },
  'EUC-KR': { pg: 'EUC_KR', iconv: 'euc-kr' },
  GB2312: { pg: 'EUC_CN', iconv: 'gb2312' },
  GBK: { pg: 'GBK', iconv: 'gbk' },
  GB18030: { pg: 'GB18030', iconv: 'gb18030' },
  JOHAB: { pg: 'JOHAB', iconv: 'utf8' },
  'SHIFT-JIS': { pg: 'SJIS', iconv: 'shift_jis' },
  CP866: { pg: 'WIN866', iconv: 'cp866' },
  IBM00858: { iconv: 'cp858' },
  IBM437: { iconv: 'cp437' },
  IBM737: { iconv: 'cp737' },
  IBM775: { iconv: 'cp775' },
  IBM850: { iconv: 'cp850' },
  IBM852: { iconv: 'cp852' },
  IBM855: { iconv: 'cp855' },
  IBM857: { iconv: 'cp857' },
  IBM860: { iconv: 'cp860' },
  IBM861: { iconv: 'cp861' },
  IBM863: { iconv: 'cp863' },
  IBM864: { iconv: 'cp864' },
  IBM865: { iconv: 'cp865' },
  IBM869: { iconv: 'cp869' },
  'ISO-8859-1': { pg: 'LATIN1', iconv: 'latin1' },
  'ISO-8859-2': { pg: 'LATIN2', iconv: 'iso-8859-2' },
  'ISO-8859-3': { pg: 'LATIN3', iconv: 'iso-8859-3' },
  'ISO-8859-4': { pg: 'LATIN4', iconv: 'iso-8859-4' },
  'ISO-8859-5': { pg: 'ISO_8859_5', iconv: 'iso-8859-5' },
  'ISO-8859-6': { pg: 'ISO_8859_6', iconv: 'iso-8859-6' },
  'ISO-8859-7': { pg: 'ISO_8859_7', iconv: 'iso-8859-7' },
  'ISO-8859-8': { pg: 'ISO_8859_8', iconv: 'iso-8859-8' },
  'ISO-8859-9': { pg: 'LATIN5', iconv: 'iso-8859-9' },
  'ISO-8859-13': { pg: 'LATIN7', iconv: 'iso-8859-13' },
  'ISO-8859-15': { pg: 'LATIN9', iconv: 'iso-8859-15' },
  'KOI8-R': { pg: 'KOI8R', iconv: 'koi8-r' },
  'KOI8-U': { pg: 'KOI8U', iconv: 'koi8-u' },
  MACINTOSH: { iconv: 'macintosh' },
  'WINDOWS-874': { pg: 'WIN874', iconv: 'windows-874' },
  'WINDOWS-1250': { pg: 'WIN1250', iconv: 'windows-1250' },
  'WINDOWS-1251': { pg: 'WIN1251', iconv: 'windows-1251' },
  'WINDOWS-1252': { pg: 'WIN1252', iconv: 'windows-1252' },
  'WINDOWS-1253': { pg: 'WIN1253', iconv: 'windows-1253' },
  'WINDOWS-1254': { pg: 'WIN1254', iconv: 'windows-1254' },
  'WINDOWS-1255': { pg: 'WIN1255', iconv: 'windows-1255' },
  'WINDOWS-1256': { pg: 'WIN1256', iconv: 'windows-1256' },
  'WINDOWS-1257': { pg: 'WIN1257', iconv: 'windows-1257' },
  'WINDOWS-1258': { pg: 'WIN1258', iconv: 'windows-1258' },
} satisfies Record<string, EncodingInfo>;

export type EncodingName = keyof typeof ENCODINGS;
export const encodingNames = Object.keys(ENCODINGS) as [EncodingName, ...EncodingName[]];

const ALIASES: Record<string, EncodingName> = {
  UTF8: 'UTF-8',
  ASCII: 'US-ASCII',
  UTF16: 'UTF-16',
  UTF16LE: 'UTF-16LE',
  UTF16BE: 'UTF-16BE',
  'UNICODE': 'UTF-16',
  SHIFT_JIS: 'SHIFT-JIS',
  SJIS: 'SHIFT-JIS',
  LATIN1: 'ISO-8859-1',
  LATIN9: 'ISO-8859-15',
  CP1252: 'WINDOWS-1252',
  WIN1252: 'WINDOWS-1252',
  'EUC-CN': 'GB2312',
};

/** `utf-8`, `Shift_JIS`, `windows-1252`, `latin1` → the canonical ADF name, or undefined. */
export function normaliseEncodingName(name: string): EncodingName | undefined {
  const upper = name.trim().toUpperCase();
  if (upper in ENCODINGS) return upper as EncodingName;
  return ALIASES[upper] ?? ALIASES[upper.replace(/-/g, '')];
}

/** How one blob's text reaches COPY: the ENCODING to name, and a transcoder when needed. */
export interface TextDecoding {
  /** COPY's ENCODING option. */
  copyEncoding: string;
  /** Decodes header fields (and nothing else: the body stays bytes for COPY). */
  decode(bytes: Buffer): string;
  /** A UTF-16/32… → UTF-8 stream stage, when PostgreSQL cannot read the encoding. */
  transcoder?: () => Transform;
}

export function textDecoding(name: EncodingName): TextDecoding {
  const info: EncodingInfo = ENCODINGS[name];
  if (info.pg) {
    const decode = info.pg === 'UTF8' ? (bytes: Buffer) => bytes.toString('utf8') : (bytes: Buffer) => iconv().decode(bytes, info.iconv);
    return { copyEncoding: info.pg, decode };
  }
  return { copyEncoding: 'UTF8', decode: (bytes) => bytes.toString('utf8'), transcoder: () => new Transcoder(info.iconv) };
}

/** A → UTF-8 stage for any encoding (JSON is parsed in Node, so it always reads UTF-8). */
export function transcoderFor(name: EncodingName): Transform {
  return new Transcoder((ENCODINGS[name] as EncodingInfo).iconv);
}

/** Whatever PostgreSQL cannot read → UTF-8. BOMs are detected (UTF-16/32) and dropped. */
export class Transcoder extends Transform {
  private readonly decoder: ReturnType<ReturnType<typeof iconv>['getDecoder']>;
  constructor(encoding: string) {
    super();
    this.decoder = iconv().getDecoder(encoding);
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const text = this.decoder.write(chunk);
    callback(null, text ? Buffer.from(text, 'utf8') : undefined);
  }
  override _flush(callback: TransformCallback): void {
    const text = this.decoder.end();
    callback(null, text ? Buffer.from(text, 'utf8') : undefined);
  }
}

/** A UTF-16 BOM at the start of a file declared UTF-8: the file is UTF-16 whatever the spec says. */
export function sniffUtf16(head: Buffer): EncodingName | undefined {
  if (head[0] === 0xff && head[1] === 0xfe && !(head[2] === 0 && head[3] === 0)) return 'UTF-16LE';
  if (head[0] === 0xfe && head[1] === 0xff) return 'UTF-16BE';
  return undefined;
}
