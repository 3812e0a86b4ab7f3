import { copyFile, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { formatReport, importAdf, pipelineFileText, type ImportAdfResult } from '../../src/importAdf/index.js';
import { dotnetToPostgresFormat } from '../../src/importAdf/mapping.js';
import { Findings } from '../../src/importAdf/model.js';
import { translateSource } from '../../src/importAdf/source.js';
import { recurrenceToCron } from '../../src/importAdf/triggers.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';

const FIXTURES = path.resolve('test/fixtures/adf');
const FACTORY = path.join(FIXTURES, 'factory');

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

const specOf = (result: ImportAdfResult, name: string) => {
  const p = result.pipelines.find((q) => q.name === name);
  if (!p) throw new Error(`no pipeline ${name} in ${result.pipelines.map((q) => q.name).join(', ')}`);
  return p.spec as Record<string, any>;
};
const findingsAt = (result: ImportAdfResult, resource: string, pathPart: string) => result.findings.filter((f) => f.resource === resource && f.path.includes(pathPart));

describe('import-adf: an ADF Git folder', async () => {
  const result = await importAdf(FACTORY);

  it('writes one pipeline per blob → PostgreSQL copy, each valid against the pipeline schema', () => {
    expect(result.pipelines.map((p) => p.name)).toEqual(['LoadEvents.Copy-events', 'LoadEvents.Copy-late-events', 'LoadOrders', 'LoadReadings', 'UpsertCustomers']);
    for (const p of result.pipelines) expect(() => parsePipelineSpec(JSON.parse(pipelineFileText(p)))).not.toThrow();
    // The SQL → blob export is not a load into PostgreSQL: reported, not imported.
    expect(findingsAt(result, 'pipeline/ExportSales', 'activities[0]')[0]).toMatchObject({ level: 'ignored' });
  });

  it('CopyCommand, mapping by name, an additional column, type conversion, fault tolerance, parallel copies, a Script after the copy, a blob trigger', () => {
    expect(specOf(result, 'LoadOrders')).toEqual({
      name: 'LoadOrders',
      description: 'Imported from ADF pipeline "LoadOrders", activity "Copy orders". Orders CSVs dropped by the shop system.',
      source: {
        connection: 'BLOB_STORE',
        container: 'adf-incoming',
        prefix: 'orders/',
        wildcard: '*.csv',
        // ADF's DelimitedText defaults are not blob2pg's: the escape character is written out.
        format: { type: 'DelimitedText', columnDelimiter: ',', quoteChar: '"', escapeChar: '\\', firstRowAsHeader: true },
      },
      sink: { connection: 'SALES_DB', table: 'adf_sales.orders', writeMethod: 'CopyCommand', postCopyScript: 'INSERT INTO adf_sales.load_audit (loaded_at) VALUES (now())' },
      mapping: [
        { source: 'OrderId', sink: 'id' },
        { source: 'Customer', sink: 'customer' },
        { source: 'Amount', sink: 'amount' },
        { source: 'OrderDate', sink: 'order_date' },
        { sink: 'source_file', value: '$$FILEPATH' },
      ],
      typeConversion: { dateFormat: 'DD/MM/YYYY' },
      faultTolerance: { skipIncompatibleRows: true, logContainer: 'adf-copy-logs' },
      maxParallelCopies: 4,
      triggers: [{ type: 'BlobCreated' }],
    });
    expect(findingsAt(result, 'pipeline/LoadOrders', 'activities[1]')[0]).toMatchObject({ level: 'changed', message: expect.stringContaining('postCopyScript') });
    expect(findingsAt(result, 'pipeline/LoadOrders', 'typeConversionSettings.allowDataTruncation')[0]).toMatchObject({ level: 'changed' });
  });

  it('Upsert with keys and a pre-copy script; Json with nested paths from ADLS Gen2; a modified window; a schedule', () => {
    const spec = specOf(result, 'UpsertCustomers');
    expect(spec.source).toEqual({
      connection: 'LAKE_STORE',
      container: 'crm-export',
      prefix: 'customers/',
      wildcard: '*.json.gz',
      modifiedAfter: '2024-01-01T00:00:00.000Z',
      modifiedBefore: '2025-01-01T00:00:00.000Z',
      format: { type: 'Json', compressionCodec: 'gzip' },
    });
    expect(spec.sink).toEqual({ connection: 'CRM_DB', table: { schema: 'crm', name: 'customers' }, writeMethod: 'Upsert', upsertSettings: { keys: ['customer_id'] }, preCopyScript: 'DELETE FROM crm.customers WHERE deleted' });
    expect(spec.mapping).toEqual([
      { source: "$['id']", sink: 'customer_id' },
      { source: "$['name']", sink: 'name' },
      { source: "$['address']['city']", sink: 'city' },
      { source: "$['signedUp']", sink: 'signed_up_at' },
    ]);
    expect(spec.typeConversion).toEqual({ timestampFormat: 'YYYY-MM-DD"T"HH24:MI:SS' });
    expect(spec.triggers).toEqual([{ type: 'Schedule', schedule: '0 30 2 * * *' }]);
    expect(findingsAt(result, 'trigger/Nightly', 'timeZone')[0]).toMatchObject({ level: 'changed', message: expect.stringContaining('WEBSITE_TIME_ZONE') });
    expect(findingsAt(result, 'pipeline/UpsertCustomers', 'sink.preCopyScript')[0]).toMatchObject({ level: 'changed' });
  });

  it('BulkInsert with a batch size, mapping by ordinal, a headerless gzip TSV in windows-1252, and a tumbling window that becomes a schedule from its start', () => {
    const spec = specOf(result, 'LoadReadings');
    expect(spec.source).toEqual({
      connection: 'BLOB_STORE',
      container: 'telemetry',
      prefix: 'readings/',
      // recursive: false → only files directly in readings/.
      wildcard: 'readings/*.tsv.gz',
      modifiedAfter: '2024-03-01T00:00:00.000Z',
      format: { type: 'DelimitedText', columnDelimiter: '\t', rowDelimiter: '\n', quoteChar: '', escapeChar: '\\', firstRowAsHeader: false, nullValue: 'NULL', encodingName: 'WINDOWS-1252', skipLineCount: 1, compressionCodec: 'gzip' },
    });
    expect(spec.sink).toEqual({ connection: 'TELEMETRY_DB', table: { schema: 'telemetry', name: 'Readings' }, writeMethod: 'BulkInsert', writeBatchSize: 5000 });
    expect(spec.mapping).toEqual([
      { source: 1, sink: 'device_id' },
      { source: 2, sink: 'read_at' },
      { source: 4, sink: 'value' },
    ]);
    expect(spec.triggers).toEqual([{ type: 'Schedule', schedule: '0 0 * * * *' }]);
    expect(findingsAt(result, 'pipeline/LoadReadings', 'modifiedDatetimeStart')[0]).toMatchObject({ level: 'changed', message: expect.stringContaining('ledger') });
    expect(findingsAt(result, 'trigger/Hourly', 'typeProperties.delay')[0]).toMatchObject({ level: 'unsupported' });
  });

  it('Parquet (its inner codec ignored), two copies in one pipeline, a stopped trigger left out, deleteFilesAfterCompletion reported', () => {
    const spec = specOf(result, 'LoadEvents.Copy-late-events');
    expect(spec.source).toEqual({ connection: 'BLOB_STORE', container: 'telemetry', prefix: 'late-events/', format: { type: 'Parquet' } });
    expect(spec.triggers).toEqual([{ type: 'Schedule', schedule: '0 */15 * * * *' }]);
    expect(findingsAt(result, 'trigger/OldWeekly', 'runtimeState')[0]).toMatchObject({ level: 'changed' });
    expect(findingsAt(result, 'pipeline/LoadEvents', 'activities[1].typeProperties.source.storeSettings.deleteFilesAfterCompletion')[0]).toMatchObject({ level: 'unsupported' });
  });

  it('reports the parameterised pipeline per activity and path instead of guessing values', () => {
    expect(result.pipelines.some((p) => p.adfPipeline === 'ParameterisedLoad')).toBe(false);
    expect(result.skipped).toEqual([
      expect.objectContaining({ adfPipeline: 'ParameterisedLoad', activity: 'Copy file', resource: 'dataset/ParamCsv', path: 'properties.typeProperties.location.folderPath', reason: expect.stringContaining('@pipeline().parameters.folder') }),
    ]);
    expect(findingsAt(result, 'pipeline/ParameterisedLoad', 'activities[1]')[0]?.message).toContain('inside a ForEach ("Each file")');
    expect(findingsAt(result, 'pipeline/ParameterisedLoad', 'activities[0].type')[0]?.message).toContain('Lookup');
    expect(findingsAt(result, 'pipeline/ParameterisedLoad', 'activities[2].type')[0]?.message).toContain('data flow');
  });

  it('turns linked services into setting names and values that are not secret', () => {
    const settings = Object.fromEntries(result.settings.map((s) => [s.name, s.value ?? null]));
    expect(settings).toMatchObject({
      BLOB_STORE__blobServiceUri: 'https://contosoingest.blob.core.windows.net',
      LAKE_STORE: null,
      LAKE_STORE__blobServiceUri: 'https://contosolake.blob.core.windows.net',
      SALES_DB: null,
      CRM_DB: null,
      TELEMETRY_DB__host: 'contoso-telemetry.postgres.database.azure.com',
      TELEMETRY_DB__database: 'telemetry',
      TELEMETRY_DB__user: null,
      TELEMETRY_DB__sslmode: 'verify-ca',
    });
    expect(result.settings.find((s) => s.name === 'SALES_DB')?.description).toContain('postgresql://adf_loader:<password>@contoso-sales.postgres.database.azure.com:5432/sales?sslmode=require');
  });
});

describe('import-adf: secrets never reach the output', () => {
  // Key Vault secret (SalesDb), plain password in a connection string (CrmDb), secure strings (LakeStore, TelemetryDb).
  const secrets = ['sales-db-loader-password', 'Plain-Passw0rd-In-ADF', 'TGFrZUFjY291bnRLZXktZG8tbm90LWNvcHk=', 'sp-client-secret-do-not-copy', 'AzureKeyVaultSecret', 'SecureString'];

  it('the fixtures hold them; the written files and the report do not', async () => {
    const raw = await Promise.all(['SalesDb', 'CrmDb', 'LakeStore', 'TelemetryDb'].map((n) => readFile(path.join(FACTORY, 'linkedService', `${n}.json`), 'utf8')));
    for (const secret of secrets) expect(raw.join('\n')).toContain(secret);

    const out = await mkdtemp(path.join(tmpdir(), 'import-adf-'));
    const run = await cli(['import-adf', FACTORY, '--out', out]);
    expect(run.code).toBe(0);
    const files = (await readdir(out)).sort();
    expect(files).toEqual(['LoadEvents.Copy-events.json', 'LoadEvents.Copy-late-events.json', 'LoadOrders.json', 'LoadReadings.json', 'UpsertCustomers.json', 'import-adf-report.txt']);
    const written = (await Promise.all(files.map((f) => readFile(path.join(out, f), 'utf8')))).join('\n') + run.stdout + run.stderr;
    expect(written).toContain('SALES_DB');
    for (const secret of secrets) expect(written).not.toContain(secret);
  });
});

describe('import-adf: other input shapes', () => {
  it('an exported ARM template gives the same pipeline as the Git folder (non-secure template parameters resolved)', async () => {
    const fromArm = await importAdf(path.join(FIXTURES, 'arm', 'ARMTemplateForFactory.json'));
    const fromGit = await importAdf(FACTORY);
    expect(fromArm.pipelines.map((p) => p.name)).toEqual(['LoadOrders']);
    expect(fromArm.pipelines[0]!.spec).toEqual(specOf(fromGit, 'LoadOrders'));
    expect(fromArm.settings.find((s) => s.name === 'BLOB_STORE__blobServiceUri')?.value).toBe('https://contosoingest.blob.core.windows.net');
    // The folder holding the template works too.
    expect((await importAdf(path.join(FIXTURES, 'arm'))).pipelines[0]!.spec).toEqual(specOf(fromGit, 'LoadOrders'));
  });

  it('a single pipeline file: from a Git folder (siblings read) and with its datasets beside it', async () => {
    const inGit = await importAdf(path.join(FACTORY, 'pipeline', 'LoadOrders.json'));
    expect(inGit.pipelines.map((p) => p.name)).toEqual(['LoadOrders']);
    const flat = await mkdtemp(path.join(tmpdir(), 'import-adf-flat-'));
    for (const [dir, name] of [['pipeline', 'LoadOrders'], ['dataset', 'OrdersCsv'], ['dataset', 'PgOrders'], ['linkedService', 'BlobStore'], ['linkedService', 'SalesDb'], ['trigger', 'OrdersLanded']]) {
      await copyFile(path.join(FACTORY, dir!, `${name}.json`), path.join(flat, `${name}.json`));
    }
    const beside = await importAdf(path.join(flat, 'LoadOrders.json'));
    expect(beside.pipelines[0]!.spec).toEqual(inGit.pipelines[0]!.spec);
    expect(beside.pipelines[0]!.spec).toEqual(specOf(await importAdf(FACTORY), 'LoadOrders'));
  });
});

describe('import-adf command', () => {
  it('exits 1 when nothing could be imported, naming the path and why', async () => {
    const run = await cli(['import-adf', path.join(FACTORY, 'pipeline', 'ParameterisedLoad.json'), '--dry-run']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('0 pipelines imported, 1 activity not imported');
    expect(run.stdout).toContain('dataset/ParamCsv properties.typeProperties.location.folderPath');
  });

  it('--strict fails on any unsupported property; without it the same input exits 0', async () => {
    const file = path.join(FACTORY, 'pipeline', 'LoadEvents.json');
    expect((await cli(['import-adf', file, '--dry-run'])).code).toBe(0);
    const strict = await cli(['import-adf', file, '--dry-run', '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain('deleteFilesAfterCompletion');
    // A pipeline with nothing unsupported passes --strict.
    expect((await cli(['import-adf', path.join(FACTORY, 'pipeline', 'LoadOrders.json'), '--dry-run', '--strict'])).code).toBe(0);
  });

  it('--dry-run prints the files it would write and writes nothing', async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), 'import-adf-dry-')), 'pipelines');
    const run = await cli(['import-adf', path.join(FACTORY, 'pipeline', 'LoadOrders.json'), '--out', out, '--dry-run']);
    expect(run.code).toBe(0);
    const printed = run.stdout.split(`--- ${path.join(out, 'LoadOrders.json')}\n`)[1]!.split('\nimport-adf:')[0]!;
    expect(JSON.parse(printed)).toMatchObject({ name: 'LoadOrders', sink: { table: 'adf_sales.orders' } });
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });

  it('exits 2 for a path that is not ADF', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'import-adf-bad-'));
    await writeFile(path.join(dir, 'x.json'), '{"hello": 1}');
    expect((await cli(['import-adf', path.join(dir, 'x.json')])).code).toBe(2);
    expect((await cli(['import-adf', path.join(dir, 'missing')])).code).toBe(2);
    expect((await cli(['import-adf'])).code).toBe(2);
  });

  it('the report is stable (same input, same text)', async () => {
    const a = await importAdf(FACTORY);
    const b = await importAdf(FACTORY);
    expect(formatReport(a, 'pipelines')).toBe(formatReport(b, 'pipelines'));
  });
});

describe('import-adf translation rules', () => {
  const scope = () => new Findings().scope('pipeline/p', 'properties.activities[0].typeProperties.source');
  const dataset = (location: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'DelimitedText', typeProperties: { location: { type: 'AzureBlobStorageLocation', container: 'c1c', ...location }, ...extra } });
  const dsScope = () => new Findings().scope('dataset/d', 'properties');

  it('wildcard folders: recursive reads subfolders with **, non-recursive stays in the folder', () => {
    const rec = translateSource(dataset({}), dsScope(), { storeSettings: { wildcardFolderPath: 'in/*/2024', wildcardFileName: '*.csv' } }, scope());
    expect(rec.source).toMatchObject({ prefix: 'in/', wildcard: 'in/*/2024/***.csv' });
    const flat = translateSource(dataset({}), dsScope(), { storeSettings: { wildcardFolderPath: 'in/*/2024', wildcardFileName: 'a_*.csv', recursive: false } }, scope());
    expect(flat.source).toMatchObject({ prefix: 'in/', wildcard: 'in/*/2024/a_*.csv' });
    const prefix = translateSource(dataset({ folderPath: 'ignored' }), dsScope(), { storeSettings: { prefix: 'exports/day-' } }, scope());
    expect(prefix.source).toMatchObject({ prefix: 'exports/day-' });
    expect(prefix.source).not.toHaveProperty('wildcard');
    const file = translateSource(dataset({ folderPath: 'in', fileName: 'one.csv' }), dsScope(), {}, scope());
    expect(file.source).toMatchObject({ prefix: 'in/one.csv', wildcard: 'in/one.csv' });
  });

  it('an expression in the container makes the activity untranslatable, naming the path', () => {
    expect(() => translateSource(dataset({ container: '@pipeline().parameters.c' }), dsScope(), {}, scope())).toThrow(/the container is an expression/);
  });

  it('.NET date formats → PostgreSQL patterns; unknown tokens refuse', () => {
    expect(dotnetToPostgresFormat('dd/MM/yyyy')).toBe('DD/MM/YYYY');
    expect(dotnetToPostgresFormat("yyyy-MM-dd'T'HH:mm:ss.fff")).toBe('YYYY-MM-DD"T"HH24:MI:SS.MS');
    expect(dotnetToPostgresFormat('M/d/yyyy h:mm tt')).toBe('FMMM/FMDD/YYYY FMHH12:MI AM');
    expect(dotnetToPostgresFormat('yyyy-MM-ddTHH')).toBeUndefined();
  });

  it('recurrences → NCRONTAB', () => {
    const s = () => new Findings().scope('trigger/t', 'properties.typeProperties.recurrence');
    expect(recurrenceToCron('Hour', 2, '2024-01-01T00:15:00Z', undefined, s())).toBe('0 15 */2 * * *');
    expect(recurrenceToCron('Week', 1, '2024-01-01T00:00:00Z', { weekDays: ['Monday', 'Friday'], hours: [6], minutes: [0, 30] }, s())).toBe('0 0,30 6 * * 1,5');
    expect(recurrenceToCron('Month', 1, '2024-01-01T00:00:00Z', { monthDays: [1, 15], hours: [3], minutes: [0] }, s())).toBe('0 0 3 1,15 * *');
    const findings = new Findings();
    expect(recurrenceToCron('Month', 1, undefined, { monthlyOccurrences: [{ day: 'Monday', occurrence: 1 }] }, findings.scope('trigger/t', 'r'))).toBeUndefined();
    expect(findings.list[0]).toMatchObject({ level: 'unsupported', path: 'r.schedule.monthlyOccurrences' });
  });
});

describe('import-adf on hand-built factories', () => {
  const resource = (name: string, properties: Record<string, unknown>) => ({ name, properties, origin: `${name}.json` });
  const ls = (name: string, type: string, typeProperties: Record<string, unknown>) => [name, resource(name, { type, typeProperties })] as const;
  const copy = (extra: Record<string, unknown> = {}, inputParams?: Record<string, unknown>) => ({
    name: 'Copy',
    type: 'Copy',
    typeProperties: { source: { type: 'DelimitedTextSource', storeSettings: { type: 'AzureBlobStorageReadSettings' } }, sink: { type: 'AzurePostgreSqlSink' }, ...extra },
    inputs: [{ referenceName: 'Csv', type: 'DatasetReference', ...(inputParams ? { parameters: inputParams } : {}) }],
    outputs: [{ referenceName: 'Pg', type: 'DatasetReference' }],
  });
  const factory = (activities: unknown[], csvTypeProperties: Record<string, unknown> = {}, csvExtra: Record<string, unknown> = {}) => ({
    pipelines: new Map([['P', resource('P', { activities })]]),
    datasets: new Map([
      ['Csv', resource('Csv', { type: 'DelimitedText', linkedServiceName: { referenceName: 'Blob' }, typeProperties: { location: { type: 'AzureBlobStorageLocation', container: 'inbox', folderPath: 'in' }, firstRowAsHeader: true, ...csvTypeProperties }, ...csvExtra })],
      ['Pg', resource('Pg', { type: 'AzurePostgreSqlTable', linkedServiceName: { referenceName: 'Db' }, typeProperties: { tableName: 'public.t' } })],
      ['PgLookup', resource('PgLookup', { type: 'AzurePostgreSqlTable', linkedServiceName: { referenceName: 'Db' }, typeProperties: {} })],
    ]),
    linkedServices: new Map([ls('Blob', 'AzureBlobStorage', { serviceEndpoint: 'https://acct.blob.core.windows.net/' }), ls('Db', 'AzurePostgreSql', { server: 'db.example', database: 'd', username: 'u' })]),
    triggers: new Map(),
  });
  const run = async (f: ReturnType<typeof factory>) => {
    const { translatePipeline } = await import('../../src/importAdf/translate.js');
    const findings = new Findings();
    return { ...translatePipeline(f as never, f.pipelines.get('P')!, findings), findings: findings.list };
  };
  const after = (a: Record<string, unknown>) => ({ dependsOn: [{ activity: 'Copy', dependencyConditions: ['Succeeded'] }], ...a });

  it('a stored procedure after the copy becomes CALL with quoted literals; a Lookup query on the sink database too', async () => {
    const r = await run(
      factory([
        copy(),
        after({ name: 'Proc', type: 'SqlServerStoredProcedure', linkedServiceName: { referenceName: 'Db' }, typeProperties: { storedProcedureName: 'sales.refresh', storedProcedureParameters: { region: { value: "O'Hare", type: 'String' }, since: { value: null } } } }),
        after({ name: 'Call', type: 'Lookup', typeProperties: { source: { type: 'AzurePostgreSqlSource', query: 'select sales.summarise();' }, dataset: { referenceName: 'PgLookup' } } }),
      ]),
    );
    expect((r.imported[0]!.spec.sink as Record<string, unknown>).postCopyScript).toBe("CALL sales.refresh(region => 'O''Hare', since => NULL);\nselect sales.summarise()");
    // Both were consumed: neither is reported as an untranslated activity.
    expect(r.findings.filter((f) => f.level === 'unsupported')).toEqual([]);
  });

  it('a Script on another linked service is not a post-copy script', async () => {
    const f = factory([copy(), after({ name: 'Elsewhere', type: 'Script', linkedServiceName: { referenceName: 'Other' }, typeProperties: { scripts: [{ type: 'NonQuery', text: 'select 1' }] } })]);
    const r = await run(f);
    expect(r.imported[0]!.spec.sink).not.toHaveProperty('postCopyScript');
    expect(r.findings).toContainEqual(expect.objectContaining({ level: 'unsupported', path: 'properties.activities[1].type' }));
  });

  it('@dataset() parameters: a literal from the activity is used, a pipeline parameter is reported', async () => {
    const csv = { location: { type: 'AzureBlobStorageLocation', container: 'inbox', folderPath: { value: '@dataset().dir', type: 'Expression' }, fileName: '@{dataset().day}.csv' } };
    const params = { parameters: { dir: { type: 'string' }, day: { type: 'string', defaultValue: '2024-01-01' } } };
    const literal = await run(factory([copy({}, { dir: 'daily' })], csv, params));
    expect(literal.imported[0]!.spec.source).toMatchObject({ container: 'inbox', prefix: 'daily/2024-01-01.csv', wildcard: 'daily/2024-01-01.csv' });
    const fromPipeline = await run(factory([copy({}, { dir: { value: '@pipeline().parameters.dir', type: 'Expression' } })], csv, params));
    expect(fromPipeline.imported).toEqual([]);
    expect(fromPipeline.skipped[0]).toMatchObject({ resource: 'dataset/Csv', path: 'properties.typeProperties.location.folderPath' });
  });

  it('additional columns without a translator list the dataset schema columns by name next to them', async () => {
    const r = await run(factory([copy({ source: { type: 'DelimitedTextSource', additionalColumns: [{ name: 'loaded_from', value: '$$FILEPATH' }, { name: 'batch', value: 'b1' }] } })], {}, { schema: [{ name: 'id' }, { name: 'name' }] }));
    expect(r.imported[0]!.spec.mapping).toEqual([
      { source: 'id', sink: 'id' },
      { source: 'name', sink: 'name' },
      { sink: 'loaded_from', value: '$$FILEPATH' },
      { sink: 'batch', value: 'b1' },
    ]);
  });

  it('a SAS URI or an account-key connection string gives the endpoint, never the token or key', async () => {
    for (const typeProperties of [
      { sasUri: 'https://acct.blob.core.windows.net/?sv=2022-11-02&sig=SAS-SIGNATURE-SECRET' },
      { serviceEndpoint: 'https://acct.blob.core.windows.net/?sig=SAS-SIGNATURE-SECRET' },
      { connectionString: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=ACCOUNT-KEY-SECRET;EndpointSuffix=core.windows.net' },
    ]) {
      const f = factory([copy()]);
      f.linkedServices.set('Blob', resource('Blob', { type: 'AzureBlobStorage', typeProperties }));
      const r = await run(f);
      const text = JSON.stringify(r);
      expect(text).toContain('https://acct.blob.core.windows.net');
      expect(text).not.toMatch(/SECRET|sig=/);
    }
  });

  it('collectionReference (cross-apply) is reported, not imported: it would load different rows', async () => {
    const r = await run(factory([copy({ translator: { type: 'TabularTranslator', collectionReference: "$['items']", mappings: [] } })]));
    expect(r.imported).toEqual([]);
    expect(r.skipped[0]).toMatchObject({ path: 'properties.activities[0].typeProperties.translator.collectionReference' });
  });
});
