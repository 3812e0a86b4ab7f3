/**
 * The text encodings a pipeline may name (ADF's names and the aliases we accept), and how each
 * is read: PostgreSQL's COPY name when COPY can take it, iconv-lite's name always. The spec
 * validates against this list; src/format/encoding.ts turns an entry into a decoder.
 */
export interface EncodingInfo {
  /** PostgreSQL's name, when COPY's ENCODING option accepts it. */
  pg?: string;
  /** iconv-lite's name (always set: the header is decoded with it). */
  iconv: string;
}

export const ENCODINGS = {
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
