/**
 * What the postprovision hook prints and decides without Azure: the sample blob it tells you
 * to upload is one the deployed sample pipeline loads, into the table it created; a firewall
 * refusal is recognised by the address Azure names.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SAMPLE_CSV, SAMPLE_TABLE } from '../../src/deploy/grants.js';
import { blockedClientAddress, nextSteps, outputsFromEnv, printNextSteps, sampleBlobName } from '../../src/deploy/postprovision.js';
import { parsePipelineJson } from '../../src/pipeline/spec.js';
import { blobMatches } from '../../src/source/blobs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const orders = parsePipelineJson(readFileSync(path.join(root, 'pipelines/orders.json'), 'utf8'), 'orders.json');
const env = {
  AZURE_ENV_NAME: 'dev',
  AZURE_RESOURCE_GROUP: 'rg-dev',
  POSTGRES_SERVER_NAME: 'psql-abc',
  TARGET_POSTGRES_HOST: 'psql-abc.postgres.database.azure.com',
  TARGET_POSTGRES_DATABASE: 'blob2pg',
  TARGET_POSTGRES_USER: 'id-blob2pg-abc',
  AZURE_MANAGED_IDENTITY_PRINCIPAL_ID: '11111111-2222-3333-4444-555555555555',
  POSTGRES_ADMIN_NAME: 'ada@contoso.com',
  SOURCE_STORAGE_ACCOUNT_NAME: 'stsrcabc',
  SOURCE_CONTAINER_NAME: 'incoming',
};

describe('postprovision hook', () => {
  it('tells you to upload a blob the sample pipeline loads, and to query the table it loads into', () => {
    const name = sampleBlobName(new Date('2026-11-28T10:20:30.123Z'));
    expect(name).toBe('orders/sample-20261128T102030.csv');
    expect(blobMatches(orders, { name, lastModified: new Date() })).toBe(true);
    expect(`${orders.sink.table.schema}.${orders.sink.table.name}`).toBe(SAMPLE_TABLE);
    expect(orders.source.container).toBe(env.SOURCE_CONTAINER_NAME);
    const text = nextSteps(outputsFromEnv(env), '.azure/dev/sample-orders.csv', name);
    expect(text).toContain(`az storage blob upload --auth-mode login --account-name stsrcabc --container-name incoming \\\n    --name ${name} --file .azure/dev/sample-orders.csv`);
    expect(text).toContain('psql "host=psql-abc.postgres.database.azure.com dbname=blob2pg user=ada@contoso.com sslmode=require" -c "SELECT * FROM public.orders ORDER BY order_id"');
    expect(SAMPLE_CSV.split('\n')[0]).toBe('order_id,customer,amount,ordered_at,note');
  });

  it('writes the sample CSV it tells you to upload into the azd environment folder', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'blob2pg-hook-'));
    try {
      printNextSteps(env, dir);
      expect(readFileSync(path.join(dir, '.azure', 'dev', 'sample-orders.csv'), 'utf8')).toBe(SAMPLE_CSV);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the missing azd output rather than failing later', () => {
    const { TARGET_POSTGRES_HOST: _, ...partial } = env;
    expect(() => outputsFromEnv(partial)).toThrow(/TARGET_POSTGRES_HOST is not set/);
    expect(outputsFromEnv({ ...env, POSTGRES_APP_IDENTITY_IS_ADMINISTRATOR: 'true' }).appIsAdministrator).toBe(true);
    expect(outputsFromEnv(env)).toMatchObject({ appIsAdministrator: false, ledgerSchema: 'blob2pg', appRole: 'id-blob2pg-abc' });
  });

  it('recognises the firewall refusal by the client address Azure names', () => {
    const refusal = new Error('no pg_hba.conf entry for host "203.0.113.7", user "ada@contoso.com", database "blob2pg", SSL encryption');
    expect(blockedClientAddress(refusal)).toBe('203.0.113.7');
    expect(blockedClientAddress(new Error('password authentication failed for user "ada"'))).toBeUndefined();
  });
});
