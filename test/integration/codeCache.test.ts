/**
 * The installed CLI's commands that connect to services run from dist/cli/blob2pg.cjs
 * compiled with a V8 code cache (src/cli/codeCache.ts): the first process of a command
 * writes the cache, the next ones compile from it. Real processes of the built CLI against
 * the real PostgreSQL and Azurite; BLOB2PG_CODE_CACHE_DEBUG makes the CLI say on stderr what
 * it did with the cache.
 */
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, runCliProcess } from '../support/cliProcess.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
let dir: string;
let spec: string;
let version = 0;
beforeAll(async () => {
  h = await createHarness('codecache');
  dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-code-cache-test-'));
  await buildCli();
  await h.query(`CREATE TABLE "${h.schema}".cached (id int, name text)`);
  spec = path.join(dir, 'cached.json');
  await writeFile(spec, JSON.stringify({ name: 'cached', source: { container: h.container.containerName, prefix: 'cached/' }, sink: { table: `${h.schema}.cached` } }));
}, 120_000);
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A one-row `blob2pg run` (a new version of the blob each time, so each run loads a row); returns what the CLI said about the cache. */
async function oneRowRun(cacheSetting: string): Promise<string[]> {
  version++;
  await h.upload('cached/one.csv', `id,name\n${version},v${version}\n`);
  const result = await runCliProcess(['run', spec, '--json'], { ...h.env, BLOB2PG_CODE_CACHE: cacheSetting, BLOB2PG_CODE_CACHE_DEBUG: '1' });
  expect(result.code, result.stderr).toBe(0);
  expect(JSON.parse(result.stdout)).toMatchObject({ status: 'Succeeded', rowsCopied: 1 });
  return result.stderr.split('\n').filter((line) => line.startsWith('blob2pg: code cache: ')).map((line) => line.slice('blob2pg: code cache: '.length));
}

const cacheFiles = async (folder: string) => (await readdir(folder)).filter((f) => f.endsWith('.bin'));

describe('the CLI code cache', () => {
  it('the first `run` writes the cache, the next compiles from it; BLOB2PG_CODE_CACHE=off runs the ES module bundle', async () => {
    const folder = path.join(dir, 'plain');
    expect(await oneRowRun(folder)).toEqual(['none for run', expect.stringMatching(/^wrote .*\/plain\/run-v\d+\.\d+\.\d+-\w+-\d+-\d+\.bin$/)]);
    const [file] = await cacheFiles(folder);
    expect((await stat(path.join(folder, file!))).size).toBeGreaterThan(100_000); // the bytecode of what the run compiled, not only the top level
    expect(await oneRowRun(folder)).toEqual([`used ${path.join(folder, file!)}`]);
    expect(await oneRowRun('off')).toEqual([]);
    const rows = await h.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${h.schema}".cached`);
    expect(rows[0]!.n).toBe(version);
  });

  it('a cache that is not valid bytecode for this Node is rejected, the run goes on and rewrites it', async () => {
    const folder = path.join(dir, 'corrupt');
    await oneRowRun(folder);
    const [file] = await cacheFiles(folder);
    await writeFile(path.join(folder, file!), Buffer.alloc(4096, 7), { mode: 0o600 });
    expect(await oneRowRun(folder)).toEqual([`rejected ${path.join(folder, file!)}`, `wrote ${path.join(folder, file!)}`]);
    expect(await oneRowRun(folder)).toEqual([`used ${path.join(folder, file!)}`]);
  });

  it('bytecode runs as code: a cache file or folder that others may write is never read or written', async () => {
    const folder = path.join(dir, 'shared');
    await oneRowRun(folder);
    const [file] = await cacheFiles(folder);
    await chmod(path.join(folder, file!), 0o666);
    // Not read; rewritten (a new file of this user's, mode 0600, replaces it).
    expect(await oneRowRun(folder)).toEqual(['none for run', `wrote ${path.join(folder, file!)}`]);
    expect((await stat(path.join(folder, file!))).mode & 0o777).toBe(0o600);
    await chmod(folder, 0o777);
    expect(await oneRowRun(folder)).toEqual(['none for run', 'not written (no writable folder)']);
  });
});
