import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { tables } from '../support/tables.js';

let h: Harness;
let t: ReturnType<typeof tables>;
beforeAll(async () => {
  h = await createHarness('enc');
  t = tables(h);
});
afterAll(async () => h?.close());

// Text each encoding can represent; the header (its first word) is non-ASCII too, so it must be decoded alike.
const CASES: Array<[encodingName: string, iconvName: string, sample: string, bom?: boolean]> = [
  ['UTF-8', 'utf8', 'Zoë — 東京 🚀', true],
  ['UTF-16', 'utf-16le', 'Zoë — 東京 🚀', true],
  ['UTF-16BE', 'utf-16be', 'Zoë — 東京', true],
  ['UTF-16LE', 'utf-16le', 'Zoë — 東京', false],
  ['UTF-32', 'utf-32le', 'Zoë 🚀', true],
  ['Windows-1252', 'windows-1252', 'café “quoted” €5 – naïve'],
  ['ISO-8859-1', 'latin1', 'café naïve ß ÿ'],
  ['ISO-8859-15', 'iso-8859-15', 'prix 5€ œuvre Š'],
  ['Shift_JIS', 'shift_jis', '東京都 ソフト 表示'],
  ['GB18030', 'gb18030', '北京 中文 𠀀'],
  ['GB2312', 'gb2312', '北京 中文'],
  ['BIG5', 'big5', '臺北 中文'],
  ['EUC-JP', 'euc-jp', '東京 ソフト'],
  ['EUC-KR', 'euc-kr', '서울 한국어'],
  ['KOI8-R', 'koi8-r', 'Москва'],
  ['Windows-1251', 'windows-1251', 'Москва'],
  ['Windows-1250', 'windows-1250', 'Łódź Žluťoučký'],
  ['ISO-8859-2', 'iso-8859-2', 'Łódź'],
  ['ISO-8859-7', 'iso-8859-7', 'Αθήνα'],
  ['Windows-874', 'windows-874', 'กรุงเทพ'],
  ['IBM437', 'cp437', 'Ç ü é ░▒▓'],
  ['IBM850', 'cp850', 'Ç ü é Ø'],
  ['CP866', 'cp866', 'Москва'],
  ['MACINTOSH', 'macintosh', 'café ∂'],
];

describe('encodings', () => {
  it.each(CASES)('%s: header and values arrive intact', async (encodingName, iconvName, sample, bom) => {
    const name = `e_${encodingName.replace(/\W+/g, '_').toLowerCase()}`;
    const column = sample.split(' ')[0]!; // a non-ASCII header the encoding can represent
    await h.query(`CREATE TABLE "${h.schema}"."${name}" (id int, "${column}" text)`);
    const text = `id,${column}\n1,"${sample}"\n2,${sample.replace(/ /g, '_')}\n`;
    const body = iconv.encode(text, iconvName, { addBOM: bom });
    if (encodingName === 'UTF-32') expect(body.subarray(0, 4)).toEqual(Buffer.from([0xff, 0xfe, 0, 0]));
    const result = await t.load(`${h.schema}.${name}`, `${name}.csv`, body, { format: { type: 'DelimitedText', encodingName } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await t.rows(`SELECT id, "${column}" AS v FROM T.${name} ORDER BY id`)).toEqual([
      { id: 1, v: sample },
      { id: 2, v: sample.replace(/ /g, '_') },
    ]);
  });

  it('detects a UTF-16 BOM in a file declared UTF-8 (the default)', async () => {
    const tab = await t.table('sniff', 'id int, v text');
    const result = await t.load(tab, 'sniff.csv', iconv.encode('id,v\n1,Zoë\n', 'utf-16be', { addBOM: true }));
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    expect(await t.rows('SELECT v FROM T.sniff')).toEqual([{ v: 'Zoë' }]);
  });

  it('reads Windows-1252 JSON (transcoded in the stream)', async () => {
    const tab = await t.table('json1252', 'id int, v text');
    const body = iconv.encode('{"id":1,"v":"café €"}\n', 'windows-1252');
    const result = await t.load(tab, 'j.json', body, { format: { type: 'Json', encodingName: 'windows-1252' } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    expect(await t.rows('SELECT v FROM T.json1252')).toEqual([{ v: 'café €' }]);
  });

  it('rejects an encoding neither Postgres nor iconv-lite reads, naming the field', async () => {
    expect(() => h.spec({ source: { format: { type: 'DelimitedText', encodingName: 'IBM037' } }, sink: { table: 'x' } })).toThrow(/source\.format\.encodingName/);
  });
});

describe('delimited text options', () => {
  it.each([
    ['tab', '\t'],
    ['pipe', '|'],
    ['semicolon', ';'],
  ])('columnDelimiter %s', async (label, delimiter) => {
    const tab = await t.table(`d_${label}`, 'a int, b text');
    const body = `a${delimiter}b\n1${delimiter}"x${delimiter}y"\n2${delimiter}z,w\n`;
    expect(await t.load(tab, `d_${label}.txt`, body, { format: { type: 'DelimitedText', columnDelimiter: delimiter } })).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await t.rows(`SELECT a, b FROM T.d_${label} ORDER BY a`)).toEqual([
      { a: 1, b: `x${delimiter}y` },
      { a: 2, b: 'z,w' },
    ]);
  });

  it('format auto reads .tsv as tab-separated', async () => {
    const tab = await t.table('tsv', 'a int, b text');
    expect(await t.load(tab, 'x.tsv', 'a\tb\n1\tp,q\n', { format: { type: 'auto' } })).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    expect(await t.rows('SELECT b FROM T.tsv')).toEqual([{ b: 'p,q' }]);
  });

  it.each([
    ['\\r\\n explicit', '\r\n', '\r\n'],
    ['\\r explicit', '\r', '\r'],
    ['\\r detected', undefined, '\r'],
    ['\\n explicit', '\n', '\n'],
  ])('rowDelimiter %s', async (label, rowDelimiter, eol) => {
    const name = `r_${label.replace(/\W+/g, '_').toLowerCase()}`;
    const tab = await t.table(name, 'a int, b text');
    const body = ['skip me', 'a,b', '1,"multi' + eol + 'line"', '2,two', ''].join(eol);
    const format = { type: 'DelimitedText', skipLineCount: 1, ...(rowDelimiter && { rowDelimiter }) };
    expect(await t.load(tab, `${name}.csv`, body, { format })).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await t.rows(`SELECT a, b FROM T.${name} ORDER BY a`)).toEqual([
      { a: 1, b: `multi${eol}line` },
      { a: 2, b: 'two' },
    ]);
  });

  it("escapeChar '\\' (ADF's default): inside quotes \\\" is a quote and \\\\ a backslash; outside quotes a backslash is literal", async () => {
    const tab = await t.table('bs', 'a int, b text, c text');
    const body = 'a,b,c\n1,"say \\"hi\\", C:\\\\dir","x\\y"\n2,C:\\temp\\n,"\\a"\n';
    const result = await t.load(tab, 'bs.csv', body, { format: { type: 'DelimitedText', escapeChar: '\\' } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await t.rows('SELECT a, b, c FROM T.bs ORDER BY a')).toEqual([
      // Inside quotes a backslash before anything but a quote or a backslash stays itself.
      { a: 1, b: 'say "hi", C:\\dir', c: 'x\\y' },
      { a: 2, b: 'C:\\temp\\n', c: '\\a' },
    ]);
  });

  it('quoteChar "" with escapeChar \\: \\, is a delimiter in the value, \\\\ a backslash, quotes are plain text', async () => {
    const tab = await t.table('noquote_bs', 'a int, b text');
    const body = 'a,b\n1,x\\,y "q" \\\\z\n2,\n';
    const result = await t.load(tab, 'nq.csv', body, { format: { type: 'DelimitedText', quoteChar: '', escapeChar: '\\' } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 2 });
    expect(await t.rows('SELECT a, b FROM T.noquote_bs ORDER BY a')).toEqual([
      { a: 1, b: 'x,y "q" \\z' },
      { a: 2, b: null },
    ]);
  });

  it('quoteChar "" and escapeChar "": quotes are data; a 0x01 byte fails the blob instead of being misread', async () => {
    const tab = await t.table('noquote', 'a int, b text');
    const body = 'a,b\n1,"x" y\\n\n';
    const result = await t.load(tab, 'nq2.csv', body, { format: { type: 'DelimitedText', quoteChar: '', escapeChar: '' } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
    expect(await t.rows('SELECT b FROM T.noquote')).toEqual([{ b: '"x" y\\n' }]);
    const bad = await t.load(tab, 'nq3.csv', 'a,b\n2,ok\n3,\x01\n', { format: { type: 'DelimitedText', quoteChar: '', escapeChar: '' } });
    expect(bad.status).toBe('Failed');
    expect(bad.error!.message).toContain('0x01');
  });
});
