import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await createHarness('cli');
  dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-cli-'));
});
afterAll(async () => h?.close());

async function cli(args: string[], env: Record<string, string> = h.env) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
  return { code, stdout, stderr };
}

async function pipelineFile(name: string, spec: unknown): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(spec));
  return file;
}

describe('blob2pg CLI', () => {
  it('run --json prints exactly one JSON object with the ADF-like run output; exit 1 when a blob failed', async () => {
    await h.query(`CREATE TABLE "${h.schema}".sales (id int PRIMARY KEY, amount numeric)`);
    await h.upload('sales/1.csv', 'id,amount\n1,10\n2,20\n');
    await h.upload('sales/2.csv', 'id,amount\n3,oops\n');
    const file = await pipelineFile('sales', { name: 'sales', source: { container: h.container.containerName, prefix: 'sales/' }, sink: { table: `${h.schema}.sales` } });

    const run = await cli(['run', file, '--json']);
    expect(run.code).toBe(1);
    const output = JSON.parse(run.stdout);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(output).toMatchObject({ pipeline: 'sales', status: 'PartiallySucceeded', filesRead: 1, filesSkipped: 0, filesFailed: 1, rowsRead: 2, rowsCopied: 2, rowsSkipped: 0 });
    expect(output.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(output.files).toHaveLength(2);
    expect(output.files[1]).toMatchObject({ blob: 'sales/2.csv', status: 'Failed', error: { line: 2, column: 'amount', sqlstate: '22P02' } });
    expect(output.files[1].error.message).toContain('pipeline sales sales/2.csv line 2, column amount');

    const rerun = await cli(['run', file, '--blob', 'sales/1.csv']);
    expect(rerun.code).toBe(0);
    // Found in the ledger by the listing: counted as skipped, never copied, so no line of its own.
    expect(rerun.stderr).not.toContain('loaded   sales/1.csv');
    expect(rerun.stdout).toContain('0 loaded, 1 skipped (already loaded), 0 failed');
    expect(await h.query(`SELECT count(*)::int AS n FROM "${h.schema}".sales`)).toEqual([{ n: 2 }]);
  });

  it('exits 2 and names the field for a wrong-type spec, before touching any connection', async () => {
    const file = await pipelineFile('bad', { name: 'bad', source: { container: 'abc', format: { type: 'DelimitedText', firstRowAsHeader: 'yes' } }, sink: { table: 't' } });
    const run = await cli(['run', file, '--json'], {});
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('source.format.firstRowAsHeader: expected boolean, got "yes"');
  });

  it('exits 2 for usage errors', async () => {
    expect((await cli(['run'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['run', path.join(dir, 'missing.json')])).stderr).toContain('cannot read');
  });

  it('validate checks connections, table and mapping against the first blob header', async () => {
    await h.query(`CREATE TABLE "${h.schema}".v (id int NOT NULL, name text)`);
    await h.upload('v/1.csv', 'name,other\nx,y\n');
    const good = await pipelineFile('v-good', { name: 'v', source: { container: h.container.containerName, prefix: 'v/' }, sink: { table: `${h.schema}.v` }, mapping: [{ source: 'name', sink: 'name' }, { source: 'other', sink: 'id' }] });
    const ok = await cli(['validate', good]);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toContain('OK');

    const bad = await pipelineFile('v-bad', { name: 'v', source: { container: h.container.containerName, prefix: 'v/' }, sink: { table: `${h.schema}.v` }, mapping: [{ source: 'nme', sink: 'name' }] });
    const failed = await cli(['validate', bad]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('mapping[0].source (checked against v/1.csv): the file has no column "nme"');
    expect(failed.stdout).toContain('NOT NULL column "id" has no default and nothing maps to it');

    const noTable = await pipelineFile('v-none', { name: 'v', source: { container: h.container.containerName, prefix: 'v/' }, sink: { table: `${h.schema}.missing` } });
    expect((await cli(['validate', noTable])).stdout).toContain('does not exist');
  });

  it('never prints a secret when a connection fails', async () => {
    // No failure we know of quotes a password on its own, so this one is made to: PostgreSQL
    // quotes the database name back ('database "…" does not exist'), and this name carries a
    // `password=…` pair. The raw error must contain the secret, or the test proves nothing.
    const secret = 'Sup3rS3cret';
    const target = new URL(h.env.TARGET_POSTGRES);
    target.pathname = `/password=${secret}`;
    const client = new pg.Client({ connectionString: target.href });
    client.on('error', () => {});
    const raw = (await client.connect().catch((err: unknown) => err)) as Error;
    await client.end().catch(() => {});
    expect(raw.message).toContain(secret);

    const file = await pipelineFile('secret', { name: 'secret', source: { container: h.container.containerName, prefix: 'none/' }, sink: { table: 'public.t' } });
    const validate = await cli(['validate', file], { SOURCE_STORAGE: h.env.SOURCE_STORAGE, TARGET_POSTGRES: target.href });
    expect(validate.code).toBe(1);
    expect(validate.stdout).toContain('does not exist'); // the same failure, printed
    expect(validate.stdout + validate.stderr).not.toContain(secret);
    expect(validate.stdout + validate.stderr).not.toContain(h.env.SOURCE_STORAGE.match(/AccountKey=([^;]+)/)![1]);
  });

  it('loads a 100k-row blob', async () => {
    await h.query(`CREATE TABLE "${h.schema}".big (id bigint, label text, x float8)`);
    const lines = ['id,label,x'];
    for (let i = 0; i < 100_000; i++) lines.push(`${i},"row ${i}, quoted",${i / 7}`);
    await h.upload('big/100k.csv', lines.join('\n') + '\n');
    const file = await pipelineFile('big', { name: 'big', source: { container: h.container.containerName, prefix: 'big/' }, sink: { table: `${h.schema}.big` } });
    const run = await cli(['run', file, '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'Succeeded', rowsCopied: 100_000 });
    expect(await h.query(`SELECT count(*)::int AS n, sum(id)::bigint::text AS s FROM "${h.schema}".big`)).toEqual([{ n: 100_000, s: String((99_999 * 100_000) / 2) }]);
  });
});
