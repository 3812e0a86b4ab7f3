/**
 * The pipelines folder of the Functions app (app setting BLOB2PG_PIPELINES, default
 * `pipelines/` in the deployed package): every *.json file is one pipeline spec, loaded
 * and validated once at start-up. An invalid file is reported (log, GET /api/pipelines)
 * and does not stop the others.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Env } from '../connections/settings.js';
import { SpecError, type SpecIssue } from '../errors.js';
import { parsePipelineJson, type PipelineSpec } from '../pipeline/spec.js';

export interface PipelineLoadError {
  file: string;
  issues: SpecIssue[];
}

export interface LoadedPipelines {
  folder: string;
  pipelines: Map<string, PipelineSpec>;
  errors: PipelineLoadError[];
}

/** The app's root (the folder holding package.json and host.json), found from this file. */
function appRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

/** BLOB2PG_PIPELINES, relative to the app root (not the worker's working directory). */
export function pipelinesFolder(env: Env = process.env): string {
  return path.resolve(appRoot(), env.BLOB2PG_PIPELINES || 'pipelines');
}

/** Synchronous on purpose: Functions registers triggers (timers) while the module loads. */
export function loadPipelineFolder(folder: string): LoadedPipelines {
  const pipelines = new Map<string, PipelineSpec>();
  const errors: PipelineLoadError[] = [];
  let files: string[];
  try {
    files = readdirSync(folder).filter((f) => f.endsWith('.json')).sort();
  } catch (err) {
    errors.push({ file: folder, issues: [{ path: '', message: `cannot read the pipelines folder: ${(err as Error).message}` }] });
    return { folder, pipelines, errors };
  }
  for (const file of files) {
    try {
      const spec = parsePipelineJson(readFileSync(path.join(folder, file), 'utf8'), file);
      const clash = pipelines.get(spec.name);
      if (clash) {
        errors.push({ file, issues: [{ path: 'name', message: `pipeline "${spec.name}" is already defined by another file` }] });
        continue;
      }
      pipelines.set(spec.name, spec);
    } catch (err) {
      errors.push({ file, issues: err instanceof SpecError ? err.issues : [{ path: '', message: (err as Error).message }] });
    }
  }
  return { folder, pipelines, errors };
}

let loaded: LoadedPipelines | undefined;

/** The app's pipelines, loaded on first use from BLOB2PG_PIPELINES. */
export function appPipelines(env: Env = process.env): LoadedPipelines {
  loaded ??= loadPipelineFolder(pipelinesFolder(env));
  return loaded;
}

/** Tests and the local watcher point the app at another folder. */
export function setAppPipelines(value: LoadedPipelines | undefined): void {
  loaded = value;
}
