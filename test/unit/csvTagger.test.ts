/** Skip mode's record tagger (src/format/csv/tagger.ts). */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RecordTagger } from '../../src/format/csv/tagger.js';

async function tag(input: string[], fieldCount: number, lineOffset = 1): Promise<string> {
  const tagger = new RecordTagger({ delimiter: ',', quote: '"', escape: '"', fieldCount, lineOffset });
  const out: Buffer[] = [];
  tagger.on('data', (b: Buffer) => out.push(b));
  const done = new Promise((resolve) => tagger.on('end', resolve));
  const src = new PassThrough();
  src.pipe(tagger);
  for (const chunk of input) src.write(chunk);
  src.end();
  await done;
  return Buffer.concat(out).toString('utf8');
}

describe('RecordTagger', () => {
  it('prefixes good records with their file line, flags wrong field counts, across chunk boundaries and quoted newlines', async () => {
    const out = await tag(['1,"a\n', 'b"\n2\n3,"x""', '"\n4,z'], 2);
    expect(out).toBe('2,,,1,"a\nb"\n4,"expected 2 fields, found 1","2",,\n5,,,3,"x"""\n6,,,4,z\n');
  });
  it('keeps CRLF line ends consistent and flags an unterminated quote at EOF', async () => {
    expect(await tag(['1,a\r\n2,"b'], 2, 0)).toBe('1,,,1,a\r\n2,"unterminated quoted field at end of file","2,""b",,\r\n');
  });
});
