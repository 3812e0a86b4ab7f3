/**
 * Every relative link and #anchor in README.md and docs/*.md must point at a file that exists
 * and, for a Markdown file, at a heading it has — so moving or renaming a section cannot leave
 * a dead link behind. Anchors are GitHub's heading slugs (see slugOf).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..', '..');

/** GitHub's heading anchor: lower case, markup and punctuation dropped, spaces → '-'. */
export function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Lines outside fenced code blocks (a `# comment` in a shell block is not a heading). */
function proseLines(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) { fenced = !fenced; continue; }
    if (!fenced) out.push(line);
  }
  return out;
}

/** The anchors a Markdown file has, with GitHub's -1, -2 … suffixes for repeated headings. */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of proseLines(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slugOf(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Targets of inline links and images, inline code removed first (`[x](y)` in code is not a link). */
export function linksOf(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(markdown)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) targets.push(m[1]);
  }
  return targets;
}

/** Broken links of one file: a missing file, or an anchor the target Markdown file lacks. */
export function brokenLinks(file: string, markdown: string, exists: (p: string) => boolean, read: (p: string) => string): string[] {
  const broken: string[] = [];
  for (const target of linksOf(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto: — not ours to check
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = pathPart === '' ? file : join(dirname(file), decodeURIComponent(pathPart));
    if (!exists(path)) { broken.push(`${target} (no file ${path})`); continue; }
    if (anchor !== undefined && path.endsWith('.md') && !anchorsOf(read(path)).has(anchor)) {
      broken.push(`${target} (no heading #${anchor} in ${path})`);
    }
  }
  return broken;
}

const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const exists = (p: string) => existsSync(join(ROOT, p));

describe('documentation links', () => {
  it('finds the documents and their links', () => {
    expect(docs.length).toBeGreaterThan(5);
    expect(linksOf(read('README.md')).filter((l) => l.startsWith('docs/')).length).toBeGreaterThan(5);
  });

  for (const file of docs) {
    it(`${file}: every relative link and #anchor resolves`, () => {
      expect(brokenLinks(file, read(file), exists, read)).toEqual([]);
    });
  }

  it('reports a missing file, a missing heading and a missing same-page anchor', () => {
    const files: Record<string, string> = { 'docs/a.md': '# Title\n\n## What survives what\n\n```sh\n# not a heading\n```\n' };
    const page = '[ok](a.md#what-survives-what) [file](nope.md) [head](a.md#not-a-heading) [self](#title) [web](https://x.y/#z) `[code](gone.md)`';
    const broken = brokenLinks('docs/b.md', `# B\n${page}`, (p) => p in files || p === 'docs/b.md', (p) => files[p] ?? `# B\n${page}`);
    expect(broken).toEqual([
      'nope.md (no file docs/nope.md)',
      'a.md#not-a-heading (no heading #not-a-heading in docs/a.md)',
      '#title (no heading #title in docs/b.md)',
    ]);
  });

  it('slugs headings as GitHub does', () => {
    expect(slugOf("The app's PostgreSQL role (least privilege)")).toBe('the-apps-postgresql-role-least-privilege');
    expect(slugOf('Sweeps (`BENCH_ONLY=sweep`, `BENCH_SWEEP_BLOBS`)')).toBe('sweeps-bench_onlysweep-bench_sweep_blobs');
    expect(slugOf('PostgreSQL connections: pool × instances < max_connections')).toBe('postgresql-connections-pool--instances--max_connections');
    expect([...anchorsOf('# A\n## A\n')]).toEqual(['a', 'a-1']);
  });
});
