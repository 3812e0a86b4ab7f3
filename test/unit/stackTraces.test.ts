/**
 * The CLI bundle's stack traces name the original sources, with the source maps read only
 * when a stack is formatted (src/cli/stackTraces.ts): a fixture bundled the way the CLI is
 * (src/deploy/bundle.ts: split ESM chunks, source maps), run in a child `node`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../../src/deploy/bundle.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'blob2pg-stacks-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Bundles a two-file fixture (entry.ts calls fail() in thrower.ts, which throws, and prints
 * the stack) as the CLI is bundled (src/deploy/bundleCli.ts: layout minified), runs it in a
 * child node and returns the stack's lines, the source folder and the output folder.
 */
async function stackOfBundledFixture(name: string, format: 'esm' | 'cjs', callFail: string, thrower: string) {
  const src = path.join(dir, `${name}-src`);
  const out = path.join(dir, `${name}-out`);
  await mkdir(src);
  const header = `import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mapStackTracesLazily } from ${JSON.stringify(path.join(root, 'src/cli/stackTraces.ts'))};
mapStackTracesLazily(path.dirname(fileURLToPath(import.meta.url)));
`;
  await writeFile(path.join(src, 'entry.ts'), `${header}${callFail}\n`);
  await writeFile(path.join(src, 'thrower.ts'), thrower);
  await bundle({ entryPoints: [path.join(src, 'entry.ts')], outdir: out, minifyLayout: true, format });
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(out, format === 'esm' ? 'entry.js' : 'entry.cjs')]);
  return { lines: stdout.trim().split('\n'), stdout, src, out };
}

describe('stack traces of the bundled CLI', () => {
  it('name the original file, line and column of a frame in a lazily imported chunk; frames outside the bundle stay as they are', async () => {
    const { lines, stdout, src, out } = await stackOfBundledFixture(
      'esm',
      'esm',
      `const { fail } = await import('./thrower.js');
try {
  [1].forEach(() => fail());
} catch (err) {
  console.log((err as Error).stack);
}`,
      `// a comment, so line numbers differ from the bundle's\nexport function fail(): never {\n  throw new TypeError('boom');\n}\n`,
    );
    expect(lines[0]).toBe('TypeError: boom');
    expect(lines[1]).toBe(`    at fail (${path.join(src, 'thrower.ts')}:3:9)`);
    expect(lines[2]).toBe(`    at ${path.join(src, 'entry.ts')}:7:21`);
    expect(lines[3]).toBe('    at Array.forEach (<anonymous>)');
    expect(stdout).not.toContain(out);
  });

  it('name the original file, line and column of a frame in the CommonJS bundle (the code-cached one, dist/cli/blob2pg.cjs)', async () => {
    const { lines, stdout, src, out } = await stackOfBundledFixture(
      'cjs',
      'cjs',
      `import { fail } from './thrower.js';
try {
  fail();
} catch (err) {
  console.log((err as Error).stack);
}`,
      `// two comment lines,\n// so line numbers differ from the bundle's\nexport function fail(): never {\n  throw new RangeError('cjs boom');\n}\n`,
    );
    expect(lines[0]).toBe('RangeError: cjs boom');
    expect(lines[1]).toBe(`    at fail (${path.join(src, 'thrower.ts')}:4:9)`);
    expect(lines[2]).toBe(`    at Object.<anonymous> (${path.join(src, 'entry.ts')}:7:3)`);
    expect(stdout).not.toContain(out);
  });

  it('the installed CLI maps lazily instead of switching Node\'s source maps on at start', async () => {
    const bin = await readFile(path.join(root, 'dist/cli/bin.js'), 'utf8');
    expect(bin).toContain('mapStackTracesLazily');
    expect(bin).not.toMatch(/setSourceMapsEnabled|enable-source-maps/);
  });
});
