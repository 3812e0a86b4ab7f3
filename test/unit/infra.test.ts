/**
 * What can be checked about infra/ without the Bicep compiler (it cannot be installed on
 * the build machines): module paths, parameters passed and declared, app settings the
 * code reads, role assignments, explicit API versions, no secrets, and the
 * instances × pool < max_connections arithmetic for the defaults.
 *
 * Issue 12 added: deploy-and-load (parameters mapped from azd, the deployer as Entra
 * administrator, the postprovision hook), the package azd deploys, Flex Consumption settings,
 * the elastic-cluster option, least privilege (PostgreSQL, Event Grid).
 *
 * The .bicep files are read with a small scanner (comments stripped, strings and braces
 * respected), not a parser: keep the Bicep in the plain style it expects.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { CODE_CACHE_SETTINGS } from '../../src/cli/codeCache.js';

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
  ...CODE_CACHE_SETTINGS, // the installed CLI's own (src/cli/codeCache.ts); the host never runs the CLI
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
  'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a': 'Storage Queue Data Message Sender',
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

  it('runs the bundled entry point with source maps (readable stack traces)', () => {
    expect(set.has('languageWorkers__node__arguments')).toBe(true);
    expect(readFileSync(join(APP, 'api.bicep'), 'utf8')).toMatch(/languageWorkers__node__arguments:\s*'--enable-source-maps'/);
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
    // src/deploy/ runs on the deployer's machine (azd hooks) and reads azd's environment, not app settings.
    const sources = [...filesUnder(join(ROOT, 'src'), /\.ts$/).filter((f) => !f.startsWith(join(ROOT, 'src/deploy'))), ...filesUnder(join(ROOT, 'functions'), /\.ts$/)];
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

// ---------------------------------------------------------------------------------------
// Issue 12: azd up gives a loader that loads.

function resourcesOf(file: string) {
  return readBicep(join(APP, file)).resources;
}

describe('azd parameters and the deploying principal', () => {
  const json = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, { value: unknown }> };
  const value = (name: string) => String(json.parameters[name]?.value ?? '');

  it('maps what azd knows about the deploying principal, so CI (a service principal) can provision', () => {
    expect(value('principalType')).toMatch(/^\$\{AZURE_PRINCIPAL_TYPE(=User)?\}$/);
    expect(value('principalId')).toMatch(/^\$\{AZURE_PRINCIPAL_ID=?\}$/);
    expect(value('principalName')).toMatch(/^\$\{AZURE_PRINCIPAL_NAME=?\}$/);
    // Every role assignment and administrator for that principal takes the mapped type.
    for (const f of files) {
      for (const r of f.resources) {
        if (/userPrincipal(Id)?\b/.test(r.body) && /principalType:/.test(r.body)) expect(r.body, `${f.file}: ${r.symbol}`).toMatch(/principalType:\s*userPrincipalType/);
      }
    }
    expect(main.code).toMatch(/userPrincipalType:\s*principalType/);
  });

  it('falls back to deployer() for the PostgreSQL administrator, who the hook signs in as', () => {
    expect(main.code).toMatch(/deployer\(\)\.objectId/);
    expect(main.code).toMatch(/deployer\(\)\.userPrincipalName/);
    expect(main.code).toMatch(/userPrincipalId:\s*deployerObjectId/);
    expect(main.code).toMatch(/userPrincipalName:\s*deployerName/);
    expect(main.outputs).toEqual(expect.arrayContaining(['POSTGRES_ADMIN_NAME', 'AZURE_MANAGED_IDENTITY_PRINCIPAL_ID', 'POSTGRES_SERVER_NAME', 'BLOB2PG_LEDGER_SCHEMA']));
  });

  it('lets every name-with-a-consequence be set from the azd environment', () => {
    expect(value('eventGridSystemTopicName')).toMatch(/^\$\{BLOB2PG_EVENT_GRID_SYSTEM_TOPIC=\}$/);
    expect(value('postgresStorageSizeGB')).toMatch(/^\$\{BLOB2PG_POSTGRES_STORAGE_GB=\d+\}$/);
  });
});

describe('the first load after azd up', () => {
  const yaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');

  it('runs a postprovision hook that creates the app role and the sample table and prints the upload command', () => {
    expect(yaml).toMatch(/^hooks:\s*\n(?:\s*#.*\n)*\s+postprovision:/m);
    expect(yaml).toContain('node dist/src/deploy/postprovision.js');
    // The upload command is the last thing azd up prints: after the deploy.
    expect(yaml).toMatch(/^\s+postdeploy:[\s\S]*?run: node dist\/src\/deploy\/postprovision\.js --next-steps/m);
    expect(existsSync(join(ROOT, 'src/deploy/postprovision.ts'))).toBe(true);
    const hook = readFileSync(join(ROOT, 'src/deploy/postprovision.ts'), 'utf8');
    expect(hook).toMatch(/az storage blob upload --auth-mode login/);
    expect(hook).toMatch(/SELECT .* FROM/);
  });

  it('the sample pipeline targets a table the hook creates', () => {
    const spec = JSON.parse(readFileSync(join(ROOT, 'pipelines/orders.json'), 'utf8')) as { sink: { table: string } };
    const grants = readFileSync(join(ROOT, 'src/deploy/grants.ts'), 'utf8');
    expect(grants).toContain(`'${spec.sink.table}'`);
  });
});

describe('packaging', () => {
  const yaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; main: string };

  it('builds explicitly in azure.yaml (prepackage → .deploy), not in npm\'s prepare', () => {
    expect(pkg.scripts.prepare).toBeUndefined();
    expect(yaml).toMatch(/^\s+dist:\s*\.deploy\s*$/m);
    expect(yaml).toMatch(/prepackage:[\s\S]*?run:\s*npm run package:deploy/);
    expect(pkg.scripts['package:deploy']).toMatch(/npm run build && node dist\/src\/deploy\/package\.js \.deploy/);
  });

  it('still builds before the README\'s first commands from a clean clone (npm run demo, npm test, npm run test:all)', () => {
    expect(pkg.scripts.predemo).toBe('npm run build');
    expect(pkg.scripts.pretest).toBe('npm run build');
    expect(pkg.scripts['pretest:all']).toBe('npm run build');
    expect(pkg.scripts.prebench).toBe('npm run build');
  });

  it('.funcignore leaves out tests, benchmarks, sources, git and local data', () => {
    const lines = readFileSync(join(ROOT, '.funcignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['/test/', '/bench/', '/src/', '.git*', '.blob2pg/', 'local.settings.json', '/infra/']) expect(lines, entry).toContain(entry);
    // Anchored: "src/" unanchored would also drop the compiled dist/src/.
    expect(lines).not.toContain('src/');
    expect(lines).not.toContain('dist/');
  });
});

describe('Flex Consumption details', () => {
  const api = readBicep(join(APP, 'api.bicep'));

  it('runs Node 22', () => {
    expect(api.code).toMatch(/runtime:\s*\{\s*name:\s*'node'\s*version:\s*'22'\s*\}/);
  });

  it('sets no site setting Flex Consumption does not use (ftpsState, alwaysOn, linuxFxVersion, …)', () => {
    for (const forbidden of ['ftpsState', 'alwaysOn', 'linuxFxVersion', 'use32BitWorkerProcess', 'netFrameworkVersion', 'nodeVersion', 'functionAppScaleLimit', 'preWarmedInstanceCount']) {
      expect(api.code, forbidden).not.toMatch(new RegExp(`\\b${forbidden}\\s*:`));
    }
  });

  it('keeps one always-ready instance for the durable group', () => {
    expect(api.code).toMatch(/alwaysReady:[^\n]*\{\s*name:\s*'durable',\s*instanceCount:\s*durableAlwaysReadyInstances\s*\}/);
    expect(main.code).toMatch(/param durableAlwaysReadyInstances int = 1/);
    expect(main.code).toMatch(/durableAlwaysReadyInstances:\s*durableAlwaysReadyInstances/);
  });

  it('sizes functionTimeout for Flex (past the 30-minute default, bounded) ', () => {
    const host = JSON.parse(readFileSync(join(ROOT, 'host.json'), 'utf8')) as { functionTimeout: string };
    const [h, m, sec] = host.functionTimeout.split(':').map(Number);
    const minutes = h! * 60 + m! + sec! / 60;
    expect(minutes).toBeGreaterThan(30);
    expect(minutes).toBeLessThanOrEqual(24 * 60);
  });

  it('every file a comment points at exists', () => {
    for (const f of [...files.map((x) => x.file), join(ROOT, 'azure.yaml')]) {
      const raw = readFileSync(f, 'utf8');
      for (const m of raw.matchAll(/\b((?:infra|src|test)\/[\w./-]+\.(?:md|ts|bicep|json))\b/g)) {
        expect(existsSync(join(ROOT, m[1]!)), `${relative(ROOT, f)} mentions ${m[1]}`).toBe(true);
      }
    }
  });
});

describe('PostgreSQL: elastic clusters, sizing, disks', () => {
  const postgres = readBicep(join(APP, 'postgres.bicep'));

  it('has no Cosmos DB for PostgreSQL (serverGroupsv2); Citus is the Flexible Server elastic-cluster option', () => {
    for (const f of files) expect(f.code, relative(ROOT, f.file)).not.toMatch(/serverGroupsv2/i);
    expect(existsSync(join(APP, 'citus.bicep'))).toBe(false);
    const server = postgres.resources.find((r) => r.type.startsWith('Microsoft.DBforPostgreSQL/flexibleServers@'))!;
    // cluster.clusterSize exists from 2024-11-01-preview on; 2025-08-01 is the GA version with it.
    expect(server.type.split('@')[1]! >= '2025-08-01').toBe(true);
    expect(server.body).toMatch(/cluster:\s*isElasticCluster\s*\?\s*\{\s*clusterSize:\s*elasticClusterNodes,\s*defaultDatabaseName:\s*databaseName\s*\}\s*:\s*null/);
    expect(main.code).toMatch(/@allowed\(\['flexibleServer', 'elasticCluster'\]\)/);
    expect(main.code).toMatch(/elasticClusterNodes:\s*useElasticCluster \? postgresElasticClusterNodes : 0/);
    // An elastic cluster refuses CREATE DATABASE: its one database is named by the cluster.
    expect(postgres.resources.find((r) => r.symbol === 'database')!.raw + postgres.code).toMatch(/databases@[^']+' = if \(!isElasticCluster\)/);
  });

  it('takes the disk size and autogrow as parameters (a grown disk must not be shrunk by re-provisioning)', () => {
    expect(main.code).toMatch(/param postgresStorageSizeGB int = \d+/);
    expect(main.code).toMatch(/param postgresStorageAutoGrow bool = true/);
    expect(postgres.code).toMatch(/storageSizeGB:\s*storageSizeGB/);
    expect(postgres.code).toMatch(/autoGrow:\s*storageAutoGrow \? 'Enabled' : 'Disabled'/);
  });

  it('uses the current max_connections defaults, and an unknown SKU is not crippled to 50', () => {
    const table = blockAt(main.code, main.code.indexOf('{', main.code.indexOf('var flexibleServerMaxConnections')));
    const expected: Record<string, number> = { Standard_B1ms: 50, Standard_B2s: 429, Standard_B2ms: 859, Standard_B4ms: 1718, Standard_B8ms: 3437, Standard_D2ds_v5: 859, Standard_D4ds_v5: 1718, Standard_E2ds_v5: 1718, Standard_D16ds_v5: 5000 };
    for (const [sku, n] of Object.entries(expected)) expect(Number(new RegExp(`^\\s*${sku}:\\s*(\\d+)`, 'm').exec(table)?.[1]), sku).toBe(n);
    expect(Number(/var unknownSkuMaxConnections = (\d+)/.exec(main.code)?.[1])).toBeGreaterThanOrEqual(429);
    expect(main.code).toMatch(/flexibleServerMaxConnections\[\?postgresSku\.name\] \?\? unknownSkuMaxConnections/);
  });
});

describe('least privilege', () => {
  it('the app identity is no PostgreSQL administrator unless asked; the deployer is', () => {
    const postgres = readBicep(join(APP, 'postgres.bicep'));
    const app = postgres.resources.find((r) => r.symbol === 'appAdministrator')!;
    expect(postgres.code).toMatch(/administrators@[^']+' = if \(identityIsAdministrator\)/);
    expect(app.body).toMatch(/name:\s*identityPrincipalId/);
    expect(postgres.code).toMatch(/param identityIsAdministrator bool = false/);
    expect(main.code).toMatch(/param postgresAppIdentityIsAdministrator bool = false/);
    const user = postgres.resources.find((r) => r.symbol === 'userAdministrator')!;
    expect(user.body).toMatch(/principalType:\s*userPrincipalType/);
  });

  it('Event Grid delivers with its own identity, allowed only to send messages to the one queue', () => {
    const topic = resourcesOf('eventgrid-topic.bicep').find((r) => r.type.startsWith('Microsoft.EventGrid/systemTopics@'))!;
    expect(topic.body).toMatch(/identity:\s*\{\s*type:\s*'SystemAssigned'\s*\}/);
    const sub = resourcesOf('eventgrid.bicep').find((r) => r.type.startsWith('Microsoft.EventGrid/systemTopics/eventSubscriptions@'))!;
    expect(sub.body).toMatch(/deliveryWithResourceIdentity:\s*\{\s*identity:\s*\{\s*type:\s*'SystemAssigned'\s*\}/);
    for (const file of ['eventgrid-topic.bicep', 'eventgrid.bicep']) expect(readBicep(join(APP, file)).code, file).not.toMatch(/UserAssigned|identityId/);
    const sender = resourcesOf('queue-sender.bicep').find((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments@'))!;
    expect(sender.body).toContain("'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'");
    expect(sender.body).toMatch(/^\s*scope:\s*queue\s*$/m);
    expect(main.code).toMatch(/principalId:\s*eventGridTopic\.outputs\.principalId/);
    expect(main.code).toMatch(/module eventGrid 'app\/eventgrid\.bicep' = \{[^}]*dependsOn:\s*\[queueSender\]/);
  });

  it('subscribes to files renamed into place (ADLS Gen2) as well as created ones', () => {
    const sub = readBicep(join(APP, 'eventgrid.bicep')).code;
    expect(sub).toMatch(/includedEventTypes:\s*\['Microsoft\.Storage\.BlobCreated', 'Microsoft\.Storage\.BlobRenamed'\]/);
    expect(sub).toMatch(/'FlushWithClose', 'RenameFile'/);
  });
});
