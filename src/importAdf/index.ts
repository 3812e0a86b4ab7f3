/**
 * `blob2pg import-adf <path>`: reads an ADF factory (Git folder, pipeline file or ARM
 * template), translates its blob → PostgreSQL Copy activities into blob2pg pipeline files,
 * and reports, per activity and JSON path, what did not translate and which app settings
 * the user must set. Secrets are never read into the output (see linkedServices.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Findings, type Finding, type RequiredSetting } from './model.js';
import { readFactory } from './read.js';
import { translatePipeline, type ImportedPipeline, type SkippedActivity } from './translate.js';

export { AdfReadError } from './read.js';

export interface ImportAdfResult {
  pipelines: ImportedPipeline[];
  skipped: SkippedActivity[];
  findings: Finding[];
  /** App settings for every connection the pipelines use, once each. */
  settings: RequiredSetting[];
}

export async function importAdf(input: string): Promise<ImportAdfResult> {
  const factory = await readFactory(input);
  const findings = new Findings();
  const pipelines: ImportedPipeline[] = [];
  const skipped: SkippedActivity[] = [];
  const names = factory.only ?? [...factory.pipelines.keys()].sort((a, b) => a.localeCompare(b));
  for (const name of names) {
    const result = translatePipeline(factory, factory.pipelines.get(name)!, findings);
    skipped.push(...result.skipped);
    for (const p of result.imported) {
      // Two ADF pipelines may reduce to the same file name.
      let unique = p.name;
      for (let i = 2; pipelines.some((q) => q.name === unique); i++) unique = `${p.name}-${i}`;
      pipelines.push({ ...p, name: unique, spec: { ...p.spec, name: unique } });
    }
  }
  const settings = new Map<string, RequiredSetting>();
  for (const p of pipelines) for (const s of p.settings) if (!settings.has(s.name)) settings.set(s.name, s);
  return { pipelines, skipped, findings: findings.list, settings: [...settings.values()] };
}

/** The file as written: two-space JSON, keys in a fixed order, trailing newline (diff-friendly). */
export function pipelineFileText(p: ImportedPipeline): string {
  return JSON.stringify(p.spec, null, 2) + '\n';
}

const HEADINGS: Record<Finding['level'], string> = {
  unsupported: 'unsupported (not translated; --strict fails on these)',
  changed: 'changed (translated, but blob2pg behaves differently: read before deploying)',
  ignored: 'ignored (no effect in blob2pg)',
};

export function formatReport(result: ImportAdfResult, outDir: string): string {
  const count = (level: Finding['level']) => result.findings.filter((f) => f.level === level).length;
  const lines = [
    `import-adf: ${result.pipelines.length} pipeline${result.pipelines.length === 1 ? '' : 's'} imported, ${result.skipped.length} activit${result.skipped.length === 1 ? 'y' : 'ies'} not imported; ${count('unsupported')} unsupported, ${count('changed')} changed, ${count('ignored')} ignored`,
  ];
  if (result.pipelines.length) {
    lines.push('', 'pipelines');
    for (const p of result.pipelines) lines.push(`  ${path.join(outDir, `${p.name}.json`)}  <- pipeline/${p.adfPipeline} activity "${p.activity}"`);
  }
  if (result.skipped.length) {
    lines.push('', 'not imported');
    for (const s of result.skipped) lines.push(`  pipeline/${s.adfPipeline} activity "${s.activity}": ${s.resource} ${s.path}: ${s.reason}`);
  }
  for (const level of ['unsupported', 'changed', 'ignored'] as const) {
    const list = result.findings.filter((f) => f.level === level);
    if (!list.length) continue;
    lines.push('', HEADINGS[level]);
    for (const f of list) lines.push(`  ${f.resource} ${f.path}: ${f.message}`);
  }
  if (result.settings.length) {
    lines.push('', 'app settings to set (Functions app settings / local.settings.json Values; never commit secrets)');
    for (const s of result.settings) lines.push(`  ${s.name}${s.value !== undefined ? ` = ${s.value}` : ''}  # linked service ${s.linkedService}: ${s.description}`);
  }
  return lines.join('\n') + '\n';
}

export interface ImportAdfCommandOptions {
  outDir: string;
  dryRun?: boolean;
  strict?: boolean;
  stdout: (text: string) => void;
}

/** The command: exit 0 when something was imported (and, with --strict, nothing was unsupported), else 1. */
export async function runImportAdf(input: string, options: ImportAdfCommandOptions): Promise<number> {
  const result = await importAdf(input);
  const report = formatReport(result, options.outDir);
  if (options.dryRun) {
    for (const p of result.pipelines) options.stdout(`--- ${path.join(options.outDir, `${p.name}.json`)}\n${pipelineFileText(p)}`);
    options.stdout(report);
  } else if (result.pipelines.length) {
    await mkdir(options.outDir, { recursive: true });
    for (const p of result.pipelines) await writeFile(path.join(options.outDir, `${p.name}.json`), pipelineFileText(p));
    // Not .json: the app loads every *.json in its pipelines folder as a pipeline.
    await writeFile(path.join(options.outDir, 'import-adf-report.txt'), report);
    options.stdout(report);
  } else options.stdout(report);
  if (!result.pipelines.length) return 1;
  if (options.strict && result.findings.some((f) => f.level === 'unsupported')) return 1;
  return 0;
}
