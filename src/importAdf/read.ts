/**
 * Reads an ADF factory from disk, in any of the three shapes ADF produces:
 *  - a Git-integration folder (`pipeline/`, `dataset/`, `linkedService/`, `trigger/`, one
 *    JSON document `{ name, properties }` per resource);
 *  - one pipeline JSON file with its datasets and linked services beside it (or in the
 *    sibling `dataset/` and `linkedService/` folders of a Git folder);
 *  - an ARM template exported from ADF (`ARMTemplateForFactory.json`), whose resources are
 *    `Microsoft.DataFactory/factories/<kind>` with names like
 *    `[concat(parameters('factoryName'), '/Load')]`.
 * ARM `[parameters('x')]` values are resolved only from non-secure template parameters
 * (the template's defaults, or `ARMTemplateParametersForFactory.json` beside it); a
 * secure parameter is never read, so no secret enters the importer.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isArmExpression, isObject, type AdfFactory, type AdfResource, type Json } from './model.js';

export class AdfReadError extends Error {}

const FOLDERS = { pipeline: 'pipelines', dataset: 'datasets', linkedService: 'linkedServices', trigger: 'triggers' } as const;
type Kind = (typeof FOLDERS)[keyof typeof FOLDERS];

function emptyFactory(): AdfFactory {
  return { pipelines: new Map(), datasets: new Map(), linkedServices: new Map(), triggers: new Map() };
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AdfReadError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    // ADF Git files may start with a BOM.
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new AdfReadError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
}

function asResource(value: unknown, origin: string): AdfResource | undefined {
  if (!isObject(value) || typeof value.name !== 'string' || !isObject(value.properties)) return undefined;
  return { name: value.name, properties: value.properties, origin };
}

/** Which kind a resource is, from its shape (for loose files beside a pipeline). */
function kindOf(resource: AdfResource): Kind | undefined {
  const p = resource.properties;
  if (Array.isArray(p.activities)) return 'pipelines';
  if (typeof p.type === 'string' && p.type.endsWith('Trigger')) return 'triggers';
  if (isObject(p.linkedServiceName)) return 'datasets';
  if (typeof p.type === 'string' && isObject(p.typeProperties)) return 'linkedServices';
  return undefined;
}

async function jsonFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.toLowerCase().endsWith('.json')).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

async function readFolder(root: string, factory: AdfFactory, display: (file: string) => string): Promise<void> {
  for (const [folder, kind] of Object.entries(FOLDERS)) {
    for (const file of await jsonFiles(path.join(root, folder))) {
      const resource = asResource(await readJson(file), display(file));
      if (resource) factory[kind].set(resource.name, resource);
    }
  }
}

/** Reads `input` (a folder, a pipeline file or an ARM template) into one factory. */
export async function readFactory(input: string): Promise<AdfFactory> {
  let info;
  try {
    info = await stat(input);
  } catch (err) {
    throw new AdfReadError(`cannot read ${input}: ${(err as Error).message}`);
  }
  const factory = emptyFactory();
  if (info.isDirectory()) {
    const arm = path.join(input, 'ARMTemplateForFactory.json');
    if ((await jsonFiles(input)).includes(arm) && !(await stat(path.join(input, 'pipeline')).catch(() => undefined))) return readArmTemplate(arm);
    await readFolder(input, factory, (file) => path.relative(input, file));
    if (!factory.pipelines.size) throw new AdfReadError(`${input}: no pipeline/*.json (expected an ADF Git folder with pipeline/, dataset/, linkedService/, trigger/)`);
    return factory;
  }

  const value = await readJson(input);
  if (isObject(value) && Array.isArray(value.resources)) return readArmTemplate(input, value);
  const pipeline = asResource(value, path.basename(input));
  if (!pipeline || kindOf(pipeline) !== 'pipelines') throw new AdfReadError(`${input}: not an ADF pipeline ({ "name", "properties": { "activities": [...] } }) nor an ARM template`);

  // Its datasets, linked services and triggers: beside it, or in a Git folder it sits in.
  const dir = path.dirname(input);
  if (path.basename(dir) === 'pipeline') await readFolder(path.dirname(dir), factory, (file) => path.relative(path.dirname(dir), file));
  for (const file of await jsonFiles(dir)) {
    if (path.resolve(file) === path.resolve(input)) continue;
    const resource = asResource(await readJson(file).catch(() => undefined), path.basename(file));
    const kind = resource && kindOf(resource);
    if (resource && kind) factory[kind].set(resource.name, resource);
  }
  factory.pipelines.set(pipeline.name, pipeline);
  factory.only = [pipeline.name];
  return factory;
}

const ARM_KINDS: Record<string, Kind> = {
  'microsoft.datafactory/factories/pipelines': 'pipelines',
  'microsoft.datafactory/factories/datasets': 'datasets',
  'microsoft.datafactory/factories/linkedservices': 'linkedServices',
  'microsoft.datafactory/factories/triggers': 'triggers',
};

/** `[concat(parameters('factoryName'), '/Load')]` → `Load`. */
function armResourceName(name: string): string {
  const m = /'\/([^']+)'\)\]$/.exec(name);
  if (m) return m[1]!;
  return name.slice(name.lastIndexOf('/') + 1);
}

async function readArmTemplate(file: string, template?: unknown): Promise<AdfFactory> {
  const value = template ?? (await readJson(file));
  if (!isObject(value) || !Array.isArray(value.resources)) throw new AdfReadError(`${file}: not an ARM template (no "resources")`);
  const parameters = await armParameterValues(file, value);
  const factory = emptyFactory();
  value.resources.forEach((res, i) => {
    if (!isObject(res) || typeof res.type !== 'string' || typeof res.name !== 'string' || !isObject(res.properties)) return;
    const kind = ARM_KINDS[res.type.toLowerCase()];
    if (!kind) return;
    const name = armResourceName(res.name);
    const properties = resolveArm(res.properties, parameters) as Json;
    factory[kind].set(name, { name, properties, origin: `${path.basename(file)}#resources[${i}]` });
  });
  if (!factory.pipelines.size) throw new AdfReadError(`${file}: the template has no Microsoft.DataFactory/factories/pipelines resource`);
  return factory;
}

/** Values of the template's non-secure parameters: defaults, overridden by the parameters file beside it. */
async function armParameterValues(file: string, template: Json): Promise<Map<string, unknown>> {
  const values = new Map<string, unknown>();
  const declared = isObject(template.parameters) ? template.parameters : {};
  const secure = new Set<string>();
  for (const [name, decl] of Object.entries(declared)) {
    if (!isObject(decl)) continue;
    if (typeof decl.type === 'string' && decl.type.toLowerCase().startsWith('secure')) secure.add(name);
    else if ('defaultValue' in decl && !isArmExpression(decl.defaultValue)) values.set(name, decl.defaultValue);
  }
  const paramsFile = path.join(path.dirname(file), 'ARMTemplateParametersForFactory.json');
  const params = await readJson(paramsFile).catch(() => undefined);
  if (isObject(params) && isObject(params.parameters)) {
    for (const [name, entry] of Object.entries(params.parameters)) {
      if (secure.has(name) || !isObject(entry) || !('value' in entry)) continue;
      if (entry.value !== '' && !isArmExpression(entry.value)) values.set(name, entry.value);
    }
  }
  return values;
}

/** Replaces whole-string `[parameters('x')]` with a known non-secure value; anything else is left as it is. */
function resolveArm(value: unknown, parameters: Map<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveArm(v, parameters));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveArm(v, parameters)]));
  if (isArmExpression(value)) {
    const m = /^\[parameters\('([^']+)'\)\]$/.exec(value);
    if (m && parameters.has(m[1]!)) return parameters.get(m[1]!);
    return value;
  }
  // `[[` is ARM's escape for a literal `[`.
  return typeof value === 'string' && value.startsWith('[[') ? value.slice(1) : value;
}
