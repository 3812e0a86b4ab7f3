/**
 * local.settings.sample.json is the list of every app setting the code reads (the infra
 * templates set the same list): a setting read in src/ or functions/ (process.env.X,
 * env.X, env['X']) or named in host.json (%X%) must be in it — except the installed CLI's own
 * code-cache switches (src/cli/codeCache.ts), read before any app code loads.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPipelineFolder } from '../../src/app/pipelines.js';
import { CODE_CACHE_SETTINGS } from '../../src/cli/codeCache.js';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * Set by the platform, never by the user (App Service managed identity endpoint), so not in
 * the sample: https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
 */
const PLATFORM_PROVIDED = new Set(['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET']);

/** src/deploy/ runs on the deployer's machine (npm scripts, azd hooks): it reads azd's environment, not app settings. */
const DEPLOY_TIME = path.join(root, 'src', 'deploy');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (full === DEPLOY_TIME) return [];
    return statSync(full).isDirectory() ? sources(full) : full.endsWith('.ts') ? [full] : [];
  });
}

export function settingsReadByCode(): Map<string, string> {
  const found = new Map<string, string>();
  const patterns = [/process\.env\.([A-Za-z_][A-Za-z0-9_]*)/g, /\benv\.([A-Za-z_][A-Za-z0-9_]*)/g, /\benv\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]/g];
  for (const file of [...sources(path.join(root, 'src')), ...sources(path.join(root, 'functions'))]) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.set(m[1]!, path.relative(root, file));
  }
  for (const m of readFileSync(path.join(root, 'host.json'), 'utf8').matchAll(/%([A-Za-z_][A-Za-z0-9_]*)%/g)) found.set(m[1]!, 'host.json');
  return found;
}

describe('app settings', () => {
  const sample = JSON.parse(readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };

  it('every setting the code reads is in local.settings.sample.json', () => {
    const read = settingsReadByCode();
    // The scan must see the settings we know are read, or it proves nothing.
    expect([...read.keys()]).toEqual(expect.arrayContaining(['BLOB2PG_PIPELINES', 'BLOB2PG_PG_POOL_MAX', 'BLOB2PG_EVENTS_QUEUE', 'BLOB2PG_TASK_HUB']));
    const missing = [...read].filter(([name]) => !(name in sample.Values) && !PLATFORM_PROVIDED.has(name) && !CODE_CACHE_SETTINGS.includes(name)).map(([name, where]) => `${name} (read in ${where})`);
    expect(missing).toEqual([]);
  });

  it('the sample has a string placeholder for each setting, the default connections included', () => {
    for (const [name, value] of Object.entries(sample.Values)) expect(typeof value, name).toBe('string');
    expect(sample.Values).toMatchObject({ FUNCTIONS_WORKER_RUNTIME: 'node', SOURCE_STORAGE: expect.any(String), TARGET_POSTGRES: expect.any(String), AzureWebJobsStorage: expect.any(String) });
  });

  it('host.json names the task hub from the app setting and caps concurrent activities', () => {
    const host = JSON.parse(readFileSync(path.join(root, 'host.json'), 'utf8'));
    expect(host.extensions.durableTask.hubName).toBe('%BLOB2PG_TASK_HUB%');
    expect(host.extensions.durableTask.maxConcurrentActivityFunctions).toBeLessThanOrEqual(Number(sample.Values.BLOB2PG_PG_POOL_MAX));
    expect(host.extensionBundle.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');
  });

  it('the example pipelines folder loads without errors', () => {
    const loaded = loadPipelineFolder(path.join(root, 'pipelines'));
    expect(loaded.errors).toEqual([]);
    expect(loaded.pipelines.get('orders')!.triggers.map((t) => t.type)).toEqual(['BlobCreated', 'Schedule']);
  });
});
