/**
 * What can be checked about infra/ without the Bicep compiler (it cannot be installed on
 * the build machines): module paths, parameters passed and declared, app settings the
 * code reads, role assignments, explicit API versions, no secrets, and the
 * instances × pool < max_connections arithmetic for the defaults.
 *
 * The .bicep files are read with a small scanner (comments stripped, strings and braces
 * respected), not a parser: keep the Bicep in the plain style it expects.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const INFRA = join(ROOT, 'infra');
const APP = join(INFRA, 'app');

// ---------------------------------------------------------------------------------------
// The contract with the code.

/** App settings the code reads (authoritative list from issue 6): infra/app must set each. */
const REQUIRED_APP_SETTINGS = [
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__queueServiceUri',
  'AzureWebJobsStorage__tableServiceUri',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'SOURCE_STORAGE__blobServiceUri',
  'SOURCE_STORAGE__queueServiceUri',
  'SOURCE_STORAGE__credential',
  'SOURCE_STORAGE__clientId',
  'TARGET_POSTGRES__host',
  'TARGET_POSTGRES__database',
  'TARGET_POSTGRES__user',
  'TARGET_POSTGRES__port',
  'TARGET_POSTGRES__clientId',
  'TARGET_POSTGRES__sslmode',
  'BLOB2PG_PIPELINES',
  'BLOB2PG_EVENTS_QUEUE',
  'BLOB2PG_TASK_HUB',
  'BLOB2PG_PG_POOL_MAX',
  'BLOB2PG_LEDGER_SCHEMA',
  'BLOB2PG_LOG_CONTAINER',
];

/** Rejected by Flex Consumption (the runtime is set in functionAppConfig). */
const FORBIDDEN_ON_FLEX = ['FUNCTIONS_EXTENSION_VERSION', 'FUNCTIONS_WORKER_RUNTIME', 'WEBSITE_NODE_DEFAULT_VERSION', 'WEBSITE_RUN_FROM_PACKAGE', 'AzureWebJobsStorage'];

/**
 * Keys of local.settings.sample.json that infra does not set, and why:
 *  - FUNCTIONS_WORKER_RUNTIME, AzureWebJobsFeatureFlags: local host only (Flex sets the runtime).
 *  - AzureWebJobsStorage, SOURCE_STORAGE, TARGET_POSTGRES: the local connection-string form
 *    (Azurite / local Postgres); in Azure the identity-based NAME__* settings replace them.
 *  - DATABASE_URL: the test / CLI fallback for TARGET_POSTGRES.
 */
const LOCAL_ONLY_SETTINGS = new Set([
  'FUNCTIONS_WORKER_RUNTIME',
  'AzureWebJobsFeatureFlags',
  'AzureWebJobsStorage',
  'SOURCE_STORAGE',
  'TARGET_POSTGRES',
  'DATABASE_URL',
]);

/** Environment variables the code may read that are platform-provided or local/CLI-only. */
const NOT_APP_SETTINGS = new Set([
  ...LOCAL_ONLY_SETTINGS,
  'NODE_ENV',
  'CI',
  'HOME',
  'PATH',
  'IDENTITY_ENDPOINT',
  'MSI_ENDPOINT',
  'WEBSITE_HOSTNAME',
  'WEBSITE_SITE_NAME',
]);

const ROLES: Record<string, string> = {
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': 'Storage Blob Data Reader',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};

/** [file, role, scope symbol] the app identity needs. */
const REQUIRED_ROLE_ASSIGNMENTS: Array<[string, string, string]> = [
  ['host-storage.bicep', 'Storage Blob Data Owner', 'storage'],
  ['host-storage.bicep', 'Storage Queue Data Contributor', 'storage'],
  ['host-storage.bicep', 'Storage Table Data Contributor', 'storage'],
  ['source-storage.bicep', 'Storage Blob Data Reader', 'storage'],
  ['source-storage.bicep', 'Storage Blob Data Contributor', 'logContainer'],
  ['monitoring.bicep', 'Monitoring Metrics Publisher', 'applicationInsights'],
];

// ---------------------------------------------------------------------------------------
// A small Bicep scanner.

/** Removes // and /* *\/ comments outside strings; keeps offsets' lines intact enough. */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      const stop = end < 0 ? src.length : end + 3;
      out += src.slice(i, stop);
      i = stop;
    } else if (src[i] === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== "'") j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else if (src.startsWith('//', i)) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
    } else {
      out += src[i];
      i++;
    }
  }
  return out;
}

/** The text between the `{` at `open` and its matching `}` (strings respected). */
function blockAt(src: string, open: number): string {
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const ch = src[i];
    if (ch === "'") {
      i++;
      while (i < src.length && src[i] !== "'") i += src[i] === '\\' ? 2 : 1;
    } else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return src.slice(open + 1, i);
  }
  throw new Error('unbalanced braces');
}

/** Keys at the top level of an object body. */
function topLevelKeys(body: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (const line of body.split('\n')) {
    if (depth === 0) {
      const m = /^\s*([A-Za-z_$][\w$]*|'[^']*')\s*:/.exec(line);
      if (m) keys.push(m[1]!.replace(/^'|'$/g, ''));
    }
    const code = line.replace(/'(?:[^'\\]|\\.)*'/g, "''");
    for (const ch of code) {
      if (ch === '{' || ch === '[' || ch === '(') depth++;
      else if (ch === '}' || ch === ']' || ch === ')') depth--;
    }
  }
  return keys;
}

/** `key: { … }` at any depth inside `body`: the object's body. */
function objectProperty(body: string, key: string): string | undefined {
  const m = new RegExp(`\\b${key}\\s*:\\s*\\{`).exec(body);
  return m ? blockAt(body, m.index + m[0].length - 1) : undefined;
}

interface Param {
  name: string;
  hasDefault: boolean;
}

interface ModuleRef {
  symbol: string;
  path: string;
  params: string[];
}

interface BicepFile {
  file: string;
  raw: string;
  code: string;
  params: Param[];
  modules: ModuleRef[];
  outputs: string[];
  resources: Array<{ symbol: string; type: string; existing: boolean; body: string; raw: string }>;
}

function readBicep(file: string): BicepFile {
  const raw = readFileSync(file, 'utf8');
  const code = stripComments(raw);
  const params = [...code.matchAll(/^\s*param\s+(\w+)\s+[^=\n]+?(\s*=\s*\S.*)?$/gm)].map((m) => ({ name: m[1]!, hasDefault: Boolean(m[2]) }));
  const modules = [...code.matchAll(/^\s*module\s+(\w+)\s+'([^']+)'\s*=[^{]*\{/gm)].map((m) => {
    const body = blockAt(code, m.index! + m[0].length - 1);
    const paramsBody = objectProperty(body, 'params');
    return { symbol: m[1]!, path: m[2]!, params: paramsBody ? topLevelKeys(paramsBody) : [] };
  });
  const outputs = [...code.matchAll(/^\s*output\s+(\w+)\s/gm)].map((m) => m[1]!);
  const resources = [...code.matchAll(/^\s*resource\s+(\w+)\s+'([^']+)'(\s+existing)?\s*=[^{]*\{/gm)].map((m) => {
    const body = blockAt(code, m.index! + m[0].length - 1);
    // The raw text before the declaration, for the comment that names a role.
    const rawIndex = raw.indexOf(m[0].trim());
    return { symbol: m[1]!, type: m[2]!, existing: Boolean(m[3]), body, raw: raw.slice(Math.max(0, rawIndex - 400), rawIndex) };
  });
  return { file, raw, code, params, modules, outputs, resources };
}

function bicepFiles(): string[] {
  return [join(INFRA, 'main.bicep'), ...readdirSync(APP).filter((f) => f.endsWith('.bicep')).map((f) => join(APP, f))];
}

function filesUnder(dir: string, ext: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) return entry === 'node_modules' ? [] : filesUnder(full, ext);
    return ext.test(entry) ? [full] : [];
  });
}

/** Every app setting name set in infra/app (keys of the `appsettings` config resources). */
function appSettingsSetByInfra(): Set<string> {
  const names = new Set<string>();
  for (const file of readdirSync(APP).filter((f) => f.endsWith('.bicep'))) {
    const code = stripComments(readFileSync(join(APP, file), 'utf8'));
    for (const m of code.matchAll(/name:\s*'appsettings'/g)) {
      const props = objectProperty(code.slice(m.index!), 'properties');
      for (const key of props ? topLevelKeys(props) : []) names.add(key);
    }
  }
  return names;
}

const files = bicepFiles().map(readBicep);
const byPath = new Map(files.map((f) => [f.file, f]));
const main = byPath.get(join(INFRA, 'main.bicep'))!;

// ---------------------------------------------------------------------------------------

describe('azure.yaml', () => {
  it('deploys this project to a Function App with azd', () => {
    const yaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');
    expect(yaml).toMatch(/^\s+host:\s*function\s*$/m);
    expect(yaml).toMatch(/^\s+language:\s*ts\s*$/m);
    const service = /^services:\s*\n\s+([\w-]+):/m.exec(yaml)?.[1];
    expect(service).toBeDefined();
    // azd finds the app by the azd-service-name tag: it must name the same service.
    expect(readFileSync(join(APP, 'api.bicep'), 'utf8')).toContain(`'azd-service-name': '${service}'`);
    const project = /^\s+project:\s*(\S+)\s*$/m.exec(yaml)?.[1];
    expect(project && existsSync(join(ROOT, project))).toBe(true);
  });
});

describe('infra/*.bicep', () => {
  it('has modules under infra/app', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
  });

  it('every module path exists', () => {
    for (const f of files) {
      for (const m of f.modules) {
        expect(m.path.startsWith('br:') || m.path.startsWith('br/') || m.path.startsWith('ts:'), `${m.path}: no registry modules`).toBe(false);
        expect(existsSync(resolve(dirname(f.file), m.path)), `${relative(ROOT, f.file)}: module ${m.symbol} → ${m.path}`).toBe(true);
      }
    }
  });

  it('every module parameter passed is declared, and every required one is passed', () => {
    for (const f of files) {
      for (const m of f.modules) {
        const target = byPath.get(resolve(dirname(f.file), m.path))!;
        const declared = new Set(target.params.map((p) => p.name));
        for (const p of m.params) expect(declared.has(p), `${m.symbol} passes undeclared param ${p} to ${m.path}`).toBe(true);
        for (const p of target.params.filter((p) => !p.hasDefault)) {
          expect(m.params, `${m.symbol} must pass required param ${p.name} to ${m.path}`).toContain(p.name);
        }
      }
    }
  });

  it('every declared parameter is used', () => {
    for (const f of files) {
      // Object keys at line start (`name: name`) do not count as uses of a param `name`.
      const withoutKeys = f.code.replace(/^\s*(?:param|output)\s.*$/gm, '').replace(/^\s*[A-Za-z_]\w*\s*:/gm, '');
      for (const p of f.params) {
        expect(new RegExp(`\\b${p.name}\\b`).test(withoutKeys), `${relative(ROOT, f.file)}: param ${p.name} is never used`).toBe(true);
      }
    }
  });

  it('main.parameters.json only sets declared parameters and covers the required ones', () => {
    const json = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, unknown> };
    const declared = new Set(main.params.map((p) => p.name));
    for (const key of Object.keys(json.parameters)) expect(declared.has(key), `main.parameters.json: ${key}`).toBe(true);
    for (const p of main.params.filter((p) => !p.hasDefault)) expect(Object.keys(json.parameters)).toContain(p.name);
  });

  it('uses explicit API versions and no registry modules', () => {
    for (const f of files) {
      for (const r of f.resources) {
        // Nested child resources use a short type ('config', 'containers') and inherit the version.
        if (!r.type.includes('/')) continue;
        expect(r.type, `${relative(ROOT, f.file)}: ${r.symbol}`).toMatch(/^[\w.]+\/[\w./]+@\d{4}-\d{2}-\d{2}(-preview)?$/);
      }
      expect(f.code).not.toMatch(/'br[:/]/);
    }
  });

  it('names every resource from abbreviations.json + a uniqueString token, each overridable', () => {
    const abbrs = JSON.parse(readFileSync(join(INFRA, 'abbreviations.json'), 'utf8')) as Record<string, string>;
    expect(main.code).toContain("loadJsonContent('abbreviations.json')");
    expect(main.code).toMatch(/uniqueString\(/);
    for (const m of main.code.matchAll(/abbrs\.(\w+)/g)) expect(abbrs[m[1]!], `abbreviations.json lacks ${m[1]}`).toBeDefined();
    // Resource-name params default to '' (= generated); container / queue names have real defaults.
    const nameParams = [...main.code.matchAll(/^\s*param (\w+Name) string = ''/gm)].map((m) => m[1]!).filter((n) => !/^principal/.test(n));
    expect(nameParams.length).toBeGreaterThanOrEqual(10);
    for (const n of nameParams) expect(main.code, `name param ${n} must override the generated name`).toMatch(new RegExp(`!empty\\(${n}\\)`));
  });

  it('has UPPER_SNAKE outputs in main.bicep', () => {
    expect(main.outputs.length).toBeGreaterThan(0);
    for (const o of main.outputs) expect(o).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it('stores no secrets: no keys, shared-key access off, local auth off, passwords off by default', () => {
    for (const f of files) {
      expect(f.code, relative(ROOT, f.file)).not.toMatch(/listKeys\(|listKeys\b|AccountKey=|SharedAccessSignature|listConnectionStrings/);
      for (const r of f.resources.filter((r) => r.type.startsWith('Microsoft.Storage/storageAccounts@') && !r.existing)) {
        expect(r.body, `${r.symbol} must disable shared keys`).toMatch(/allowSharedKeyAccess:\s*false/);
      }
      for (const r of f.resources.filter((r) => r.type.startsWith('Microsoft.Insights/components@'))) {
        expect(r.body).toMatch(/DisableLocalAuth:\s*true/);
      }
    }
    const postgres = readBicep(join(APP, 'postgres.bicep'));
    expect(postgres.code).toMatch(/activeDirectoryAuth:\s*'Enabled'/);
    expect(postgres.code).toMatch(/param passwordAuth bool = false/);
    expect(postgres.code).toMatch(/administrators@/);
    expect(postgres.code).toMatch(/principalType:\s*'ServicePrincipal'/);
    expect(main.code).toMatch(/param postgresPasswordAuth bool = false/);
    expect(main.code).toMatch(/@secure\(\)\s*\n\s*param postgresAdminPassword/);
  });
});

describe('app settings', () => {
  const set = appSettingsSetByInfra();

  it('sets every setting the code reads (authoritative list)', () => {
    for (const name of REQUIRED_APP_SETTINGS) expect(set.has(name), `infra/app must set ${name}`).toBe(true);
  });

  it('sets none Flex Consumption rejects, and no connection-string form', () => {
    for (const name of FORBIDDEN_ON_FLEX) expect(set.has(name), `${name} must not be set on Flex Consumption`).toBe(false);
    expect(set.has('SOURCE_STORAGE')).toBe(false);
    expect(set.has('TARGET_POSTGRES')).toBe(false);
  });

  it('sets every key of local.settings.sample.json except the local-only ones', () => {
    const sample = join(ROOT, 'local.settings.sample.json');
    if (!existsSync(sample)) return; // written by another change; checked once it lands
    const values = (JSON.parse(readFileSync(sample, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
    for (const key of Object.keys(values)) {
      if (LOCAL_ONLY_SETTINGS.has(key)) continue;
      expect(set.has(key), `local.settings.sample.json has ${key}: infra/app must set it (or add it to LOCAL_ONLY_SETTINGS with a reason)`).toBe(true);
    }
  });

  it('sets every BLOB2PG_* and env setting the code and host.json read', () => {
    const sources = [...filesUnder(join(ROOT, 'src'), /\.ts$/), ...filesUnder(join(ROOT, 'functions'), /\.ts$/)];
    const read = new Set<string>();
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\bBLOB2PG_[A-Z0-9_]+\b/g)) read.add(m[0]);
      for (const m of text.matchAll(/\b(?:process\.env|env)(?:\.([A-Z][A-Z0-9_]*)\b|\[\s*['"]([A-Za-z][\w]*)['"]\s*\])/g)) read.add((m[1] ?? m[2])!);
    }
    const hostJson = join(ROOT, 'host.json');
    if (existsSync(hostJson)) for (const m of readFileSync(hostJson, 'utf8').matchAll(/%([A-Za-z0-9_]+)%/g)) read.add(m[1]!);
    for (const name of read) {
      if (NOT_APP_SETTINGS.has(name)) continue;
      expect(set.has(name), `the code reads ${name}: infra/app must set it (or list it in NOT_APP_SETTINGS with a reason)`).toBe(true);
    }
  });

  it('gives every connection the functions use its identity-based settings', () => {
    const connections = new Set(['AzureWebJobsStorage', 'SOURCE_STORAGE', 'TARGET_POSTGRES']);
    for (const file of filesUnder(join(ROOT, 'functions'), /\.ts$/)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bconnection:\s*['"]([A-Za-z0-9_]+)['"]/g)) connections.add(m[1]!);
    }
    for (const c of connections) {
      expect([...set].some((s) => s.startsWith(`${c}__`)), `no ${c}__* setting in infra/app`).toBe(true);
    }
  });
});

describe('role assignments', () => {
  const assignments = files.flatMap((f) =>
    f.resources.filter((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments@')).map((r) => ({ ...r, file: f.file })),
  );

  it('names each with guid(...), uses a known role ID and says which role in a comment', () => {
    expect(assignments.length).toBeGreaterThanOrEqual(REQUIRED_ROLE_ASSIGNMENTS.length);
    for (const a of assignments) {
      expect(a.body, a.symbol).toMatch(/^\s*name:\s*guid\(/m);
      const id = /roleDefinitions',\s*'([0-9a-f-]{36})'/.exec(a.body)?.[1];
      expect(id && ROLES[id], `${a.symbol}: role definition ID`).toBeTruthy();
      // The comment right above the resource names the role.
      const comment = a.raw.split('\n').slice(-6).join('\n');
      expect(comment, `${relative(ROOT, a.file)}: ${a.symbol} needs a comment naming ${ROLES[id!]}`).toContain(ROLES[id!]!);
    }
  });

  it('grants the app identity every role the code needs, on the right scope', () => {
    for (const [file, role, scope] of REQUIRED_ROLE_ASSIGNMENTS) {
      const id = Object.entries(ROLES).find(([, name]) => name === role)![0];
      const match = assignments.find(
        (a) =>
          a.file === join(APP, file) &&
          a.body.includes(`'${id}'`) &&
          new RegExp(`^\\s*scope:\\s*${scope}\\s*$`, 'm').test(a.body) &&
          /principalId:\s*principalId\b/.test(a.body),
      );
      expect(match, `${file}: ${role} on ${scope} for the app identity`).toBeDefined();
    }
  });
});

describe('sizing: instances × pool < max_connections', () => {
  function intDefault(name: string): number {
    const m = new RegExp(`^\\s*param ${name} int = (\\d+)`, 'm').exec(main.code);
    if (!m) throw new Error(`param ${name} int with a default`);
    return Number(m[1]);
  }

  it('holds for the default SKU, and the Function App gets the computed count', () => {
    const sku = /^\s*param postgresSkuName string = '([^']+)'/m.exec(main.code)![1]!;
    const table = objectProperty(main.code, 'var flexibleServerMaxConnections =') ?? blockAt(main.code, main.code.indexOf('{', main.code.indexOf('var flexibleServerMaxConnections')));
    const maxConnections = Number(new RegExp(`^\\s*${sku}:\\s*(\\d+)`, 'm').exec(table)![1]);
    const reserved = Number(/var azureReservedConnections = (\d+)/.exec(main.code)![1]);
    const instances = Math.max(1, Math.min(intDefault('maximumInstanceCount'), Math.floor((maxConnections - reserved - intDefault('postgresHeadroomConnections')) / intDefault('pgPoolMax'))));
    expect(instances * intDefault('pgPoolMax')).toBeLessThan(maxConnections);
    expect(main.code).toMatch(/var effectiveMaximumInstanceCount = max\(1, min\(maximumInstanceCount, usableConnections \/ pgPoolMax\)\)/);
    expect(main.code).toMatch(/maximumInstanceCount:\s*effectiveMaximumInstanceCount/);
    const api = readBicep(join(APP, 'api.bicep'));
    expect(api.code).toMatch(/maximumInstanceCount:\s*maximumInstanceCount/);
    expect(api.code).toMatch(/BLOB2PG_PG_POOL_MAX:\s*string\(pgPoolMax\)/);
  });
});
