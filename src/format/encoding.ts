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
import { ENCODINGS, type EncodingInfo, type EncodingName } from '../pipeline/encodings.js';

/**
 * iconv-lite loads on first use: the spec reads its encoding names from pipeline/encodings.ts
 * (which loads no iconv), and UTF-8 blobs (most) never transcode. CommonJS, so a synchronous require keeps the API sync.
 */
const lazyRequire = createRequire(import.meta.url);
const iconv = () => lazyRequire('iconv-lite') as typeof import('iconv-lite');

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
