import { execFileSync } from 'node:child_process';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/local/run.js';
import { createHarness, type Harness } from '../support/harness.js';
import { tables } from '../support/tables.js';
import { zipStored } from '../support/zipFixture.js';

let h: Harness;
let t: ReturnType<typeof tables>;
beforeAll(async () => {
  h = await createHarness('comp');
  t = tables(h);
});
afterAll(async () => h?.close());

/** bzip2(1) writes the fixture (Node has no bzip2 compressor). */
const bzip2 = (input: Buffer): Buffer => execFileSync('bzip2', ['-c'], { input });

const csv = (from: number, n: number) => 'id,v\n' + Array.from({ length: n }, (_, i) => `${from + i},v${from + i}`).join('\n') + '\n';

async function tarOf(files: Array<[string, string]>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of files) pack.entry({ name }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

describe('compression codecs', () => {
  it.each([
    ['gzip', 'x.csv.gz', (b: string) => gzipSync(b)],
    ['deflate (raw, as ADF/.NET writes it)', 'x.csv.deflate', (b: string) => deflateRawSync(b)],
    ['deflate (zlib-wrapped)', 'y.csv.deflate', (b: string) => deflateSync(b)],
    ['bzip2', 'x.csv.bz2', (b: string) => bzip2(Buffer.from(b))],
  ])('%s chosen from the name', async (label, blob, compress) => {
    const name = `c_${label.replace(/\W+/g, '_').toLowerCase()}`;
    const tab = await t.table(name, 'id int, v text');
    const result = await t.load(tab, `${name}/${blob}`, compress(csv(1, 3000)));
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 3000 });
    expect(await t.rows(`SELECT sum(id)::int AS s FROM T.${name}`)).toEqual([{ s: 4501500 }]);
  });

  it('an explicit codec wins over the name', async () => {
    const tab = await t.table('explicit', 'id int, v text');
    const result = await t.load(tab, 'explicit/data.bin', gzipSync(csv(1, 10)), { format: { type: 'DelimitedText', compressionCodec: 'GZip' } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 10 });
  });

  it('fails a truncated gzip with a clear message and loads nothing', async () => {
    const tab = await t.table('truncgz', 'id int, v text');
    const full = gzipSync(csv(1, 50000));
    const result = await t.load(tab, 'truncgz/a.csv.gz', full.subarray(0, full.length - 100));
    expect(result.status).toBe('Failed');
    expect(result.error!.message).toMatch(/the gzip data is truncated or corrupt/);
    expect(await t.rows('SELECT count(*)::int AS n FROM T.truncgz')).toEqual([{ n: 0 }]);
  });
});

describe('archives', () => {
  it('loads each tar.gz entry as its own file: own ledger row, blob/entry in the run output', async () => {
    const tab = await t.table('tgz', 'id int, v text');
    const archive = gzipSync(await tarOf([['day1/a.csv', csv(1, 100)], ['day1/b.csv', csv(101, 50)], ['notes/c.csv', csv(151, 1)]]));
    await h.upload('tgz/batch.tar.gz', archive);
    const spec = h.spec({ source: { prefix: 'tgz/' }, sink: { table: tab } });
    const run = await runPipeline(spec, { env: h.env });
    expect(run).toMatchObject({ status: 'Succeeded', filesRead: 3, rowsCopied: 151 });
    expect(run.files.map((f) => [f.blob, f.rowsCopied])).toEqual([
      ['tgz/batch.tar.gz/day1/a.csv', 100],
      ['tgz/batch.tar.gz/day1/b.csv', 50],
      ['tgz/batch.tar.gz/notes/c.csv', 1],
    ]);
    const ledger = await h.query<{ blob_url: string; rows_copied: number }>(
      `SELECT blob_url, rows_copied::int FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions WHERE target_table = $1 ORDER BY blob_url`,
      [tab],
    );
    // The archive's own row (so a sweep filters it like a blob), then one per entry.
    expect(ledger.map((r) => [r.blob_url.replace(/^.*\/tgz\//, ''), r.rows_copied])).toEqual([
      ['batch.tar.gz', 151],
      ['batch.tar.gz/day1/a.csv', 100],
      ['batch.tar.gz/day1/b.csv', 50],
      ['batch.tar.gz/notes/c.csv', 1],
    ]);
    const again = await runPipeline(spec, { env: h.env });
    expect(again).toMatchObject({ filesSkipped: 1, rowsCopied: 0 });
    expect(await t.rows('SELECT count(*)::int AS n, sum(id)::int AS s FROM T.tgz')).toEqual([{ n: 151, s: 11476 }]);
  });

  it('loads a zip (stored and deflated entries, mixed formats with format auto)', async () => {
    const tab = await t.table('zip', 'id int, v text');
    const jsonl = [JSON.stringify({ id: 1000, v: 'j' }), JSON.stringify({ id: 1001, v: 'k' })].join('\n');
    const zip = zipStored([
      ['x/one.csv', csv(1, 20), false],
      ['x/', '', false],
      ['x/two.jsonl', jsonl, true],
    ]);
    const result = await t.load(tab, 'zip/pack.zip', zip, { format: { type: 'auto' } });
    expect(result).toMatchObject({ status: 'Succeeded', rowsCopied: 22 });
    expect(result.entries!.map((e) => [e.blob, e.rowsCopied])).toEqual([
      ['zip/pack.zip/x/one.csv', 20],
      ['zip/pack.zip/x/two.jsonl', 2],
    ]);
    expect(await t.rows('SELECT count(*)::int AS n FROM T.zip')).toEqual([{ n: 22 }]);
  });

  it('a tar truncated in its third entry fails the blob and loads none of its entries', async () => {
    const tab = await t.table('trunctar', 'id int, v text');
    const whole = await tarOf([['a.csv', csv(1, 10)], ['b.csv', csv(11, 10)], ['c.csv', csv(21, 5000)]]);
    const result = await t.load(tab, 'trunctar/x.tar', whole.subarray(0, whole.length - 20000));
    expect(result.status).toBe('Failed');
    expect(result.error!.message).toMatch(/trunctar\/x\.tar.*the tar data is truncated or corrupt/);
    expect(await t.rows('SELECT count(*)::int AS n FROM T.trunctar')).toEqual([{ n: 0 }]);
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.env.BLOB2PG_LEDGER_SCHEMA}".ingestions WHERE target_table = $1`, [tab])).toEqual([{ n: 0 }]);
  });

  it('a corrupt zip fails the blob with nothing loaded', async () => {
    const tab = await t.table('badzip', 'id int, v text');
    const zip = zipStored([
      ['a.csv', csv(1, 10), false],
      ['b.csv', csv(11, 3000), true],
    ]);
    const corrupt = Buffer.from(zip);
    // Garble the deflated data of the second entry.
    const second = corrupt.indexOf(Buffer.from('b.csv')) + 5;
    corrupt.fill(0xff, second + 10, second + 200);
    const result = await t.load(tab, 'badzip/x.zip', corrupt);
    expect(result.status).toBe('Failed');
    expect(result.error!.message).toMatch(/badzip\/x\.zip\/b\.csv.*the zip data is truncated or corrupt/);
    expect(await t.rows('SELECT count(*)::int AS n FROM T.badzip')).toEqual([{ n: 0 }]);
  });
});
