/**
 * The dependency rule: imports point one way. Read from the code itself (every import,
 * `export … from`, `import(…)` and `import('…')` type in src/**\/*.ts and functions/**\/*.ts,
 * parsed with the TypeScript compiler API), so a cycle cannot come back unnoticed.
 *
 * A package is a folder under src/ (src/sink/…), a single file directly under src/
 * (src/errors.ts), or functions/. Layers, bottom to top; a package may import only packages
 * of a LOWER layer (packages in one layer are independent of each other):
 *
 *   0  redact, notices      secrets out of messages; structured log lines. Import nothing of ours.
 *   1  errors               error classes, SQLSTATE mapping, classification.
 *   2  pipeline, run,       the pipeline spec, mapping and the description of a target table
 *      connections          (pipeline/table.ts: what format and sink plan against); a run's
 *                           result (run/output.ts) and its text; connection settings, Entra tokens.
 *   3  format               decompression, encodings, CSV / JSON / Parquet readers.
 *   4  source               listing and opening blobs (hands bytes to format's readers).
 *   5  sink                 writing into PostgreSQL; sink/sql.ts holds all quoting and imports
 *                           only pipeline types.
 *   6  load, runLog,        one blob / one group loaded exactly once, the checks before a load;
 *      importAdf            the run log; the ADF importer (each independent of the others).
 *   7  app                  trigger logic, orchestration planning (Functions-independent).
 *   8  ui, deploy           the run-history page; deployment package and grants.
 *   9  functions            the Azure Functions entry points (registrations).
 *  10  local                the local runtime: Durable replay in process, the Functions host's
 *                           registration API (it loads functions/), `blob2pg run`/`watch`/`ui`.
 *  11  cli                  the command line, on top of everything.
 *
 * The test fails on: an import from a package to one of the same or a higher layer; any
 * cycle between packages; any cycle between files; a package no layer names (place a new
 * folder on purpose). Each failure prints the import chain to fix.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const LAYERS: string[][] = [
  ['redact', 'notices'],
  ['errors'],
  ['pipeline', 'run', 'connections'],
  ['format'],
  ['source'],
  ['sink'],
  ['load', 'runLog', 'importAdf'],
  ['app'],
  ['ui', 'deploy'],
  ['functions'],
  ['local'],
  ['cli'],
];

/**
 * File cycles tolerated while another change removes them (none now). The test fails when a
 * listed one is gone, so the list only shrinks.
 */
const KNOWN_FILE_CYCLES: string[][] = [];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Import {
  from: string;
  to: string;
  line: number;
}

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return tsFiles(rel);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** The relative module specifiers a file names, with their lines. */
function specifiers(file: string): Array<{ specifier: string; line: number }> {
  const source = ts.createSourceFile(file, readFileSync(path.join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Array<{ specifier: string; line: number }> = [];
  const add = (node: ts.Node | undefined) => {
    if (node && ts.isStringLiteralLike(node)) found.push({ specifier: node.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((s) => s.specifier.startsWith('.'));
}

function resolve(from: string, specifier: string): string {
  const base = path.posix.join(path.posix.dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}/index.ts`];
  const hit = candidates.find((c) => existsSync(path.join(root, c)));
  if (!hit) throw new Error(`${from}: cannot resolve import '${specifier}'`);
  return hit;
}

function importGraph(files: string[]): Import[] {
  return files.flatMap((from) => specifiers(from).map(({ specifier, line }) => ({ from, to: resolve(from, specifier), line })));
}

function packageOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] !== 'src') return parts[0]!;
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.ts$/, '');
}

const show = (i: Import) => `${i.from}:${i.line} imports ${i.to}`;

/** Strongly connected components with more than one node (Tarjan), each in a stable order. */
function cycles(edges: Array<[string, string]>): string[][] {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) next.set(a, [...(next.get(a) ?? []), b]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v);
  return found;
}

/** One closed chain of imports through a cycle's members, starting at its first member. */
function chainThrough(component: string[], imports: Import[], nodeOf: (file: string) => string): Import[] {
  const members = new Set(component);
  const start = component[0]!;
  // Breadth-first from start back to start, over imports that stay inside the component.
  const via = new Map<string, Import>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const i of imports) {
      const [a, b] = [nodeOf(i.from), nodeOf(i.to)];
      if (a !== node || a === b || !members.has(b) || via.has(b)) continue;
      via.set(b, i);
      if (b === start) queue.length = 0;
      else queue.push(b);
    }
  }
  const chain: Import[] = [];
  for (let node = start; ; ) {
    const step = via.get(node)!;
    chain.unshift(step);
    node = nodeOf(step.from);
    if (node === start) return chain;
  }
}

function layerViolations(imports: Import[], layers: string[][] = LAYERS): string[] {
  const layerOf = new Map(layers.flatMap((names, layer) => names.map((name) => [name, layer] as const)));
  const problems: string[] = [];
  for (const pkg of new Set(imports.flatMap((i) => [packageOf(i.from), packageOf(i.to)]))) {
    if (!layerOf.has(pkg)) problems.push(`package ${pkg} is in no layer: add it to LAYERS in test/unit/layering.test.ts (and docs/design.md, "Layers")`);
  }
  for (const i of imports) {
    const [a, b] = [packageOf(i.from), packageOf(i.to)];
    if (a === b || !layerOf.has(a) || !layerOf.has(b)) continue;
    if (layerOf.get(b)! >= layerOf.get(a)!) {
      const how = layerOf.get(b) === layerOf.get(a) ? 'the same layer' : 'a higher layer';
      problems.push(`${a} (layer ${layerOf.get(a)}) imports ${b} (layer ${layerOf.get(b)}, ${how}): ${show(i)}`);
    }
  }
  return problems;
}

function packageCycles(imports: Import[]): string[] {
  const edges = imports.map((i) => [packageOf(i.from), packageOf(i.to)] as [string, string]).filter(([a, b]) => a !== b);
  return cycles(edges).map((component) => `package cycle ${component.join(' ↔ ')}:\n  ${chainThrough(component, imports, packageOf).map(show).join('\n  ')}`);
}

function fileCycles(imports: Import[], known: string[][] = []): string[] {
  const found = cycles(imports.map((i) => [i.from, i.to]));
  const isKnown = (component: string[]) => known.some((k) => k.join() === component.join());
  const problems = found.filter((c) => !isKnown(c)).map((component) => `file cycle:\n  ${chainThrough(component, imports, (f) => f).map(show).join('\n  ')}`);
  for (const k of known) if (!found.some((c) => c.join() === k.join())) problems.push(`known file cycle ${k.join(' ↔ ')} is gone: remove it from KNOWN_FILE_CYCLES`);
  return problems;
}

describe('import graph of src/ and functions/', () => {
  const imports = importGraph([...tsFiles('src'), ...tsFiles('functions')]);

  it('is read from the code (sanity: known imports are seen)', () => {
    // Guards the parser: an empty graph would pass every rule below.
    expect(imports.length).toBeGreaterThan(300);
    expect(imports.map(show)).toEqual(expect.arrayContaining([expect.stringMatching(/^src\/sink\/tableInfo\.ts:\d+ imports src\/pipeline\/table\.ts$/)]));
    // A dynamic import counts: cli/program.ts loads the local runner lazily.
    expect(imports.some((i) => i.from === 'src/cli/program.ts' && i.to === 'src/local/run.ts')).toBe(true);
  });

  it('points one way: no import from a package to one of the same or a higher layer', () => {
    expect(layerViolations(imports).join('\n')).toBe('');
  });

  it('has no cycle between packages', () => {
    expect(packageCycles(imports).join('\n')).toBe('');
  });

  it('has no cycle between files', () => {
    expect(fileCycles(imports, KNOWN_FILE_CYCLES).join('\n')).toBe('');
  });

  it('catches what it is for: an upward import, a package cycle and a file cycle, with their chains', () => {
    // A made-up graph, so the rule itself is tested on cases that must fail.
    const fake: Import[] = [
      { from: 'src/format/json.ts', to: 'src/sink/tableInfo.ts', line: 3 },
      { from: 'src/sink/copy.ts', to: 'src/format/delimited.ts', line: 7 },
      { from: 'src/format/delimited.ts', to: 'src/format/json.ts', line: 9 },
      { from: 'src/format/json.ts', to: 'src/format/delimited.ts', line: 4 },
    ];
    expect(layerViolations(fake)).toEqual(['format (layer 3) imports sink (layer 5, a higher layer): src/format/json.ts:3 imports src/sink/tableInfo.ts']);
    expect(packageCycles(fake)).toEqual([
      'package cycle format ↔ sink:\n  src/format/json.ts:3 imports src/sink/tableInfo.ts\n  src/sink/copy.ts:7 imports src/format/delimited.ts',
    ]);
    expect(fileCycles(fake)).toEqual(['file cycle:\n  src/format/delimited.ts:9 imports src/format/json.ts\n  src/format/json.ts:4 imports src/format/delimited.ts']);
    expect(layerViolations([{ from: 'src/newThing/a.ts', to: 'src/errors.ts', line: 1 }])[0]).toMatch(/^package newThing is in no layer/);
  });
});
