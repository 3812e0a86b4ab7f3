/**
 * azd postprovision hook (azure.yaml): makes the first load work right after `azd up`.
 *
 * Runs on the deployer's machine as the deploying principal, which main.bicep made the
 * server's Entra administrator (deployer()), with azd's environment (the Bicep outputs):
 *  1. signs in to PostgreSQL with an Entra token from azd's (or az's) sign-in;
 *  2. if the firewall turns this machine away, opens a rule for its address for the duration
 *     (`az postgres flexible-server firewall-rule`), and closes it again at the end;
 *  3. creates the app identity's own role and grants it what a load needs (grants.ts) on the
 *     target tables of the deployed pipelines — after creating the sample table
 *     pipelines/orders.json loads;
 *  4. with `--next-steps` (azure.yaml's postdeploy hook, so it is the last thing `azd up`
 *     prints): writes a sample CSV and prints the command that uploads it and the query that
 *     shows it loaded.
 * Idempotent: `azd provision` runs it again, and so can `azd hooks run postprovision`.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AzureCliCredential, AzureDeveloperCliCredential, ChainedTokenCredential } from '@azure/identity';
import pg from 'pg';
import { POSTGRES_ENTRA_SCOPE } from '../connections/entraToken.js';
import { redactSecrets } from '../redact.js';
import { loadPipelineFolder } from '../app/pipelines.js';
import { appGrantStatements, createEntraRoleStatement, SAMPLE_CSV, SAMPLE_TABLE, SAMPLE_TABLE_DDL } from './grants.js';

export interface ProvisionOutputs {
  envName: string;
  resourceGroup: string;
  serverName: string;
  host: string;
  database: string;
  /** The app identity's PostgreSQL role (its name) and object ID. */
  appRole: string;
  appObjectId: string;
  appIsAdministrator: boolean;
  /** The deploying principal's role name (the Entra administrator). */
  adminName: string;
  sourceAccount: string;
  sourceContainer: string;
  ledgerSchema: string;
}

export function outputsFromEnv(env: NodeJS.ProcessEnv): ProvisionOutputs {
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: run this hook through azd (azd provision / azd hooks run postprovision)`);
    return value;
  };
  return {
    envName: env.AZURE_ENV_NAME ?? 'default',
    resourceGroup: need('AZURE_RESOURCE_GROUP'),
    serverName: need('POSTGRES_SERVER_NAME'),
    host: need('TARGET_POSTGRES_HOST'),
    database: need('TARGET_POSTGRES_DATABASE'),
    appRole: need('TARGET_POSTGRES_USER'),
    appObjectId: need('AZURE_MANAGED_IDENTITY_PRINCIPAL_ID'),
    appIsAdministrator: env.POSTGRES_APP_IDENTITY_IS_ADMINISTRATOR === 'true',
    adminName: env.POSTGRES_ADMIN_NAME ?? '',
    sourceAccount: need('SOURCE_STORAGE_ACCOUNT_NAME'),
    sourceContainer: need('SOURCE_CONTAINER_NAME'),
    ledgerSchema: env.BLOB2PG_LEDGER_SCHEMA || 'blob2pg',
  };
}

/** A blob name the sample pipeline (prefix orders/, wildcard *.csv*) picks up. */
export function sampleBlobName(now: Date): string {
  return `orders/sample-${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}.csv`;
}

/** What to run next: upload the sample, then see its rows and its ledger entry. */
export function nextSteps(o: ProvisionOutputs, sampleFile: string, blobName: string): string {
  const psql = `psql "host=${o.host} dbname=${o.database} user=${o.adminName || '<your sign-in name>'} sslmode=require"`;
  return [
    'blob2pg is deployed. Load the sample:',
    '',
    `  az storage blob upload --auth-mode login --account-name ${o.sourceAccount} --container-name ${o.sourceContainer} \\`,
    `    --name ${blobName} --file ${sampleFile}`,
    '',
    'Within a minute (Event Grid → queue → orchestration) its 3 rows are there; as the administrator:',
    '',
    `  export PGPASSWORD="$(az account get-access-token --resource-type oss-rdbms --query accessToken -o tsv)"`,
    `  ${psql} -c "SELECT * FROM ${SAMPLE_TABLE} ORDER BY order_id"`,
    '',
    `(psql from this machine needs a firewall rule: azd env set BLOB2PG_CLIENT_IP <your IP> && azd provision.)`,
  ].join('\n');
}

/** Azure's answer to an address outside the firewall names that address. */
export function blockedClientAddress(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : String(err);
  return /no pg_hba\.conf entry for host "(\d{1,3}(?:\.\d{1,3}){3})"/.exec(message)?.[1];
}

const run = promisify(execFile);
const az = (args: string[]) => run('az', args, { shell: process.platform === 'win32', maxBuffer: 4 * 1024 * 1024 });

async function connect(o: ProvisionOutputs, password: string): Promise<pg.Client> {
  const client = new pg.Client({ host: o.host, port: 5432, database: o.database, user: o.adminName, password, ssl: { rejectUnauthorized: true }, connectionTimeoutMillis: 30_000 });
  // An 'error' after connect (server restart, network) must not crash the hook unhandled.
  client.on('error', (err) => console.error(`blob2pg: PostgreSQL connection lost: ${redactSecrets(err.message)}`));
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

async function provisionDatabase(client: pg.Client, o: ProvisionOutputs, pipelinesFolder: string): Promise<string[]> {
  const notes: string[] = [];
  if (!o.appIsAdministrator) await client.query(createEntraRoleStatement(o.appRole, o.appObjectId));
  await client.query(SAMPLE_TABLE_DDL);
  const loaded = loadPipelineFolder(pipelinesFolder);
  const targets = [...loaded.pipelines.values()].filter((s) => s.sink.connection === 'TARGET_POSTGRES').map((s) => `${s.sink.table.schema}.${s.sink.table.name}`);
  const tables: string[] = [];
  for (const table of new Set([SAMPLE_TABLE, ...targets])) {
    const exists = (await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table])).rows[0]?.t;
    if (exists) tables.push(table);
    else notes.push(`${table} does not exist yet: create it, then run \`azd hooks run postprovision\` to grant the app on it.`);
  }
  if (!o.appIsAdministrator) for (const sql of appGrantStatements({ role: o.appRole, database: o.database, tables })) await client.query(sql);
  return notes;
}

export async function postprovision(env: NodeJS.ProcessEnv, root: string): Promise<void> {
  const o = outputsFromEnv(env);
  if (!o.adminName) {
    console.warn(
      'blob2pg: no PostgreSQL administrator name (a service principal has no sign-in name for deployer()). ' +
        'Set AZURE_PRINCIPAL_NAME to its display name and run `azd provision` again, or run the GRANTs in docs/deploy.md ("Bring your own server") yourself.',
    );
    return;
  }
  const credential = new ChainedTokenCredential(new AzureDeveloperCliCredential(), new AzureCliCredential());
  const token = await credential.getToken(POSTGRES_ENTRA_SCOPE);
  if (!token) throw new Error('no Entra token for PostgreSQL: sign in with `azd auth login` or `az login`');

  let client: pg.Client;
  let openedRule: string | undefined;
  try {
    client = await connect(o, token.token);
  } catch (err) {
    const address = blockedClientAddress(err);
    if (!address) throw err;
    openedRule = 'blob2pg-postprovision';
    console.log(`blob2pg: the server's firewall turned ${address} away; opening it for this hook (rule ${openedRule}).`);
    await az(['postgres', 'flexible-server', 'firewall-rule', 'create', '--resource-group', o.resourceGroup, '--name', o.serverName, '--rule-name', openedRule, '--start-ip-address', address, '--end-ip-address', address, '--output', 'none']);
    client = await connect(o, token.token);
  }
  let notes: string[];
  try {
    notes = await provisionDatabase(client, o, path.join(root, 'pipelines'));
  } finally {
    await client.end().catch(() => undefined);
    if (openedRule) {
      await az(['postgres', 'flexible-server', 'firewall-rule', 'delete', '--resource-group', o.resourceGroup, '--name', o.serverName, '--rule-name', openedRule, '--yes', '--output', 'none']).catch((err: Error) =>
        console.warn(`blob2pg: could not delete firewall rule ${openedRule}: ${err.message}`),
      );
    }
  }
  console.log(
    o.appIsAdministrator
      ? `blob2pg: ${o.appRole} is an Entra administrator (postgresAppIdentityIsAdministrator); ${SAMPLE_TABLE} is ready.`
      : `blob2pg: role ${o.appRole} can load ${SAMPLE_TABLE} and create its ledger schema ${o.ledgerSchema}; nothing more.`,
  );
  for (const note of notes) console.log(`blob2pg: ${note}`);
}

/** Writes the sample CSV next to azd's environment and prints how to load it. */
export function printNextSteps(env: NodeJS.ProcessEnv, root: string): void {
  const o = outputsFromEnv(env);
  const dir = path.join(root, '.azure', o.envName);
  mkdirSync(dir, { recursive: true });
  const sampleFile = path.join(dir, 'sample-orders.csv');
  writeFileSync(sampleFile, SAMPLE_CSV);
  console.log('\n' + nextSteps(o, path.relative(process.cwd(), sampleFile) || sampleFile, sampleBlobName(new Date())) + '\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const step = process.argv.includes('--next-steps') ? async () => printNextSteps(process.env, root) : () => postprovision(process.env, root);
  step().catch((err: Error) => {
    console.error(`blob2pg postprovision: ${redactSecrets(err.message)}`);
    process.exitCode = 1;
  });
}
