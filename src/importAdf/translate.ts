/**
 * One ADF pipeline → one blob2pg pipeline per Copy activity that reads Azure Blob Storage /
 * ADLS Gen2 and writes Azure Database for PostgreSQL. Everything that does not translate is
 * a finding with the JSON path of the property and why; a property the load cannot do
 * without (container, table, format) makes that activity untranslatable instead of guessed.
 */
import { pipelineSpecSchema, formatPath } from '../pipeline/spec.js';
import { writeMethods } from '../pipeline/sinkSpec.js';
import { quoteLiteral } from '../sink/sql.js';
import { postgresConnection, storageConnection } from './linkedServices.js';
import { translateMapping } from './mapping.js';
import { isArmExpression, isExpression, isObject, joinPath, pipelineName, Untranslatable, type AdfFactory, type AdfResource, type Findings, type FindingScope, type Json, type RequiredSetting } from './model.js';
import { literal, translateSource } from './source.js';
import { translateTriggers, type TriggerResult } from './triggers.js';

export interface ImportedPipeline {
  /** The blob2pg pipeline name (also the file name without `.json`). */
  name: string;
  adfPipeline: string;
  activity: string;
  spec: Json;
  settings: RequiredSetting[];
}

export interface SkippedActivity {
  adfPipeline: string;
  activity: string;
  resource: string;
  path: string;
  reason: string;
}

const SINK_TYPES = new Set(['AzurePostgreSqlSink', 'AzurePostgreSQLSink', 'PostgreSqlV2Sink']);
const SINK_DATASETS = new Set(['AzurePostgreSqlTable', 'PostgreSqlV2Table', 'AzurePostgreSqlV2Table']);
const CONTAINERS = new Set(['ForEach', 'IfCondition', 'Until', 'Switch']);

interface Located {
  activity: Json;
  path: string;
  /** The activity list it belongs to (for activities that run after it). */
  siblings: Json[];
  siblingsPath: string;
  /** Enclosing ForEach / Until / If activities, outermost first. */
  parents: { type: string; name: string; path: string }[];
}

/** Every activity, nested ones included (ForEach, Until, If, Switch cases). */
function walk(activities: unknown[], path: string, parents: Located['parents'], out: Located[]): Located[] {
  const list = activities.filter(isObject);
  activities.forEach((a, i) => {
    if (!isObject(a)) return;
    const at = joinPath(path, i);
    out.push({ activity: a, path: at, siblings: list, siblingsPath: path, parents });
    const tp = isObject(a.typeProperties) ? a.typeProperties : {};
    const inner = [...parents, { type: String(a.type), name: String(a.name), path: at }];
    if (Array.isArray(tp.activities)) walk(tp.activities, joinPath(at, 'typeProperties', 'activities'), inner, out);
    if (Array.isArray(tp.ifTrueActivities)) walk(tp.ifTrueActivities, joinPath(at, 'typeProperties', 'ifTrueActivities'), inner, out);
    if (Array.isArray(tp.ifFalseActivities)) walk(tp.ifFalseActivities, joinPath(at, 'typeProperties', 'ifFalseActivities'), inner, out);
    if (Array.isArray(tp.cases)) tp.cases.forEach((c, j) => isObject(c) && Array.isArray(c.activities) && walk(c.activities, joinPath(at, 'typeProperties', 'cases', j, 'activities'), inner, out));
    if (Array.isArray(tp.defaultActivities)) walk(tp.defaultActivities, joinPath(at, 'typeProperties', 'defaultActivities'), inner, out);
  });
  return out;
}

/** Replaces `@dataset().x` / `@{dataset().x}` with the literal the activity (or the parameter's default) gives. */
export function substituteDatasetParameters(value: unknown, params: Map<string, unknown>): unknown {
  const known = (name: string) => {
    const v = params.get(name);
    return v !== undefined && !isExpression(v) && !isArmExpression(v) ? v : undefined;
  };
  const replace = (text: string): unknown => {
    const whole = /^@dataset\(\)\.(\w+)$/.exec(text.trim());
    // An expression the activity passes (`@pipeline().parameters.x`, `@item().name`) replaces it too, so the report shows where the value comes from.
    if (whole) return params.get(whole[1]!) ?? text;
    if (!text.includes('@{')) return text;
    const out = text.replace(/@\{dataset\(\)\.(\w+)\}/g, (m, name: string) => {
      const v = known(name);
      return v === undefined ? m : String(v);
    });
    return out;
  };
  if (typeof value === 'string') return replace(value);
  if (Array.isArray(value)) return value.map((v) => substituteDatasetParameters(v, params));
  if (isObject(value)) {
    if (value.type === 'Expression' && typeof value.value === 'string') {
      const r = replace(value.value);
      return typeof r === 'string' && isExpression(r) ? { ...value, value: r } : r;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteDatasetParameters(v, params)]));
  }
  return value;
}

function datasetFor(factory: AdfFactory, ref: unknown, refScope: FindingScope): { resource: AdfResource; properties: Json; scope: FindingScope } {
  if (!isObject(ref) || typeof ref.referenceName !== 'string') throw new Untranslatable(refScope.resource, refScope.base, 'no dataset reference');
  const ds = factory.datasets.get(ref.referenceName);
  if (!ds) throw new Untranslatable(refScope.resource, refScope.path('referenceName'), `dataset "${ref.referenceName}" is not in the input`);
  const params = new Map<string, unknown>();
  if (isObject(ds.properties.parameters)) {
    for (const [name, decl] of Object.entries(ds.properties.parameters)) if (isObject(decl) && decl.defaultValue !== undefined) params.set(name, decl.defaultValue);
  }
  if (isObject(ref.parameters)) for (const [name, v] of Object.entries(ref.parameters)) params.set(name, v);
  return { resource: ds, properties: substituteDatasetParameters(ds.properties, params) as Json, scope: refScope.findings.scope(`dataset/${ds.name}`, 'properties') };
}

const lsName = (ds: Json): string | undefined => (isObject(ds.linkedServiceName) && typeof ds.linkedServiceName.referenceName === 'string' ? ds.linkedServiceName.referenceName : undefined);

/** `"public"."orders"` / `public.orders` / `{schema, table}` → a spec `table`. */
function sinkTable(ds: Json, scope: FindingScope): string | Json {
  const tp: Json = isObject(ds.typeProperties) ? ds.typeProperties : {};
  const tps = scope.child('typeProperties');
  const table = literal(tp.table, tps, 'table', 'the table name') as string | undefined;
  const schema = literal(tp.schema, tps, 'schema', 'the schema name') as string | undefined;
  if (table) return schema ? { schema, name: table } : table;
  const tableName = literal(tp.tableName, tps, 'tableName', 'the table name') as string | undefined;
  if (!tableName) throw new Untranslatable(scope.resource, tps.path('tableName'), 'no table name: blob2pg writes one table per pipeline');
  const quoted = /^"((?:[^"]|"")+)"\."((?:[^"]|"")+)"$/.exec(tableName);
  if (quoted) return { schema: quoted[1]!.replace(/""/g, '"'), name: quoted[2]!.replace(/""/g, '"') };
  return tableName.replace(/"/g, '');
}

const COPY_KNOWN = new Set(['source', 'sink', 'translator', 'enableStaging', 'stagingSettings', 'parallelCopies', 'dataIntegrationUnits', 'enableSkipIncompatibleRow', 'redirectIncompatibleRowSettings', 'logSettings', 'validateDataConsistency', 'skipErrorFile', 'preserve', 'preserveRules', 'enableSkipIncompatibleRows']);
const SINK_KNOWN = new Set(['type', 'writeMethod', 'writeBehavior', 'upsertSettings', 'preCopyScript', 'writeBatchSize', 'writeBatchTimeout', 'sinkRetryCount', 'sinkRetryWait', 'maxConcurrentConnections', 'disableMetricsCollection', 'tableOption']);

function translateSink(sink: Json, scope: FindingScope, connection: string, table: string | Json): Json {
  for (const key of Object.keys(sink)) if (!SINK_KNOWN.has(key)) scope.unsupported(key, 'no blob2pg equivalent');
  let writeMethod = literal(sink.writeMethod, scope, 'writeMethod', 'the write method') as string | undefined;
  const behavior = literal(sink.writeBehavior, scope, 'writeBehavior', 'the write behavior') as string | undefined;
  if (!writeMethod && behavior) writeMethod = /^upsert$/i.test(behavior) ? 'Upsert' : /^insert$/i.test(behavior) ? 'BulkInsert' : behavior;
  if (!writeMethod) {
    writeMethod = 'CopyCommand';
    scope.ignored('writeMethod', 'not set: blob2pg uses CopyCommand (the rows loaded are the same with BulkInsert)');
  }
  const method = writeMethods.find((m) => m.toLowerCase() === writeMethod!.toLowerCase());
  if (!method) throw new Untranslatable(scope.resource, scope.path(sink.writeMethod !== undefined ? 'writeMethod' : 'writeBehavior'), `write method ${JSON.stringify(writeMethod)}: blob2pg has ${writeMethods.join(', ')}`);
  const out: Json = { connection, table, writeMethod: method };

  if (sink.writeBatchSize !== undefined) {
    const size = literal(sink.writeBatchSize, scope, 'writeBatchSize', 'writeBatchSize');
    if (method !== 'BulkInsert') scope.ignored('writeBatchSize', `${method} streams the file in one COPY; only BulkInsert batches rows`);
    else if (typeof size === 'number' && size >= 1) out.writeBatchSize = Math.min(Math.floor(size), 10_000_000);
  }
  const upsert = sink.upsertSettings;
  if (isObject(upsert)) {
    const us = scope.child('upsertSettings');
    if (method !== 'Upsert') us.ignored([], `only used with Upsert (writeMethod is ${method})`);
    else {
      const keys = literal(upsert.keys, us, 'keys', 'the key columns');
      if (Array.isArray(keys) && keys.length) {
        if (keys.every((k) => typeof k === 'string' && k && !isExpression(k))) out.upsertSettings = { keys };
        else us.unsupported('keys', 'key columns must be names: left out (blob2pg then uses the primary key)');
      }
      if (upsert.useTempDB !== undefined) us.ignored('useTempDB', 'blob2pg always stages in a temporary table');
      if (upsert.interimSchemaName !== undefined) us.ignored('interimSchemaName', 'blob2pg always stages in a temporary table');
    }
  }
  if (sink.preCopyScript !== undefined) {
    const script = sink.preCopyScript;
    if (isExpression(script) || isArmExpression(script)) scope.unsupported('preCopyScript', `${JSON.stringify(script)} is an expression: left out`);
    else if (typeof script === 'string' && script.trim()) {
      out.preCopyScript = script;
      scope.changed('preCopyScript', "runs inside each blob's transaction, before that blob's rows (ADF ran it once per copy run): a TRUNCATE or DELETE of the whole table would undo earlier blobs of the same run");
    }
  }
  if (sink.tableOption !== undefined && sink.tableOption !== 'none') scope.unsupported('tableOption', `${JSON.stringify(sink.tableOption)}: blob2pg loads into an existing table; create it first`);
  for (const key of ['writeBatchTimeout', 'sinkRetryCount', 'sinkRetryWait']) if (sink[key] !== undefined) scope.ignored(key, 'blob2pg retries transient failures with backoff and bounds waits itself');
  if (sink.maxConcurrentConnections !== undefined) scope.ignored('maxConcurrentConnections', 'pool size per instance is set by the app (docs/functions-app.md "PostgreSQL connections")');
  return out;
}

function faultTolerance(tp: Json, scope: FindingScope, sourceLs: string | undefined): Json | undefined {
  const skip = tp.enableSkipIncompatibleRow ?? tp.enableSkipIncompatibleRows;
  if (isExpression(skip)) scope.unsupported('enableSkipIncompatibleRow', 'an expression: left out');
  const out: Json = {};
  if (skip === true) out.skipIncompatibleRows = true;
  const logPath = (settings: unknown, key: string[]): void => {
    if (!isObject(settings) || out.logContainer !== undefined) return;
    const path = settings.path;
    if (typeof path !== 'string' || isExpression(path)) {
      if (path !== undefined) scope.unsupported([...key, 'path'], 'an expression: left out');
      return;
    }
    const [container, ...rest] = path.replace(/^\/+/, '').split('/');
    if (!container || !/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(container)) {
      scope.unsupported([...key, 'path'], `"${path}" does not start with a container name: left out`);
      return;
    }
    out.logContainer = container;
    if (rest.filter(Boolean).length) scope.changed([...key, 'path'], `blob2pg writes logs under <pipeline>/<run id>/ in container "${container}", not under "${rest.join('/')}"`);
    const ls = isObject(settings.linkedServiceName) ? settings.linkedServiceName.referenceName : undefined;
    if (ls !== undefined && ls !== sourceLs) scope.changed([...key, 'linkedServiceName'], `logs go to the source storage account (connection of the source), not to "${String(ls)}"`);
  };
  logPath(tp.redirectIncompatibleRowSettings, ['redirectIncompatibleRowSettings']);
  if (isObject(tp.logSettings)) {
    const ls = tp.logSettings;
    logPath(ls.logLocationSettings, ['logSettings', 'logLocationSettings']);
    const level = isObject(ls.copyActivityLogSettings) ? ls.copyActivityLogSettings.logLevel : undefined;
    if (level === 'Info') scope.changed(['logSettings', 'copyActivityLogSettings', 'logLevel'], 'blob2pg logs skipped rows only; loaded files are in the run output and the ledger');
  }
  if (tp.skipErrorFile !== undefined) scope.unsupported('skipErrorFile', 'a file that fails is reported Failed and left for a retry; blob2pg never skips a whole file silently');
  if (out.logContainer && !out.skipIncompatibleRows) {
    scope.ignored('logSettings', 'blob2pg writes a log only for skipped rows');
    delete out.logContainer;
  }
  return Object.keys(out).length ? out : undefined;
}

/** Script / Stored Procedure / Lookup activities that run after the copy on the sink's linked service → SQL. */
function postCopyScript(factory: AdfFactory, copy: Located, sinkLs: string | undefined, findings: Findings, resource: string): { sql?: string; used: Set<Json> } {
  const used = new Set<Json>();
  const parts: string[] = [];
  copy.siblings.forEach((a, i) => {
    const deps = Array.isArray(a.dependsOn) ? a.dependsOn : [];
    const after = deps.some((d) => isObject(d) && d.activity === copy.activity.name && Array.isArray(d.dependencyConditions) && d.dependencyConditions.includes('Succeeded'));
    if (!after) return;
    const scope = findings.scope(resource, joinPath(copy.siblingsPath, i));
    const tp: Json = isObject(a.typeProperties) ? a.typeProperties : {};
    const activityLs = isObject(a.linkedServiceName) ? a.linkedServiceName.referenceName : undefined;
    let sql: string | undefined;
    if (a.type === 'Script' && activityLs === sinkLs && Array.isArray(tp.scripts)) {
      const texts = tp.scripts.map((s) => (isObject(s) ? s.text : undefined));
      if (tp.scripts.some((s) => isObject(s) && Array.isArray(s.parameters) && s.parameters.length)) return scope.unsupported(['typeProperties', 'scripts'], 'script parameters: not translated (the script is left out)');
      if (!texts.every((t) => typeof t === 'string' && !isExpression(t))) return scope.unsupported(['typeProperties', 'scripts'], 'a script text is an expression: left out');
      sql = (texts as string[]).map((t) => t.trim().replace(/;\s*$/, '')).join(';\n');
    } else if (a.type === 'SqlServerStoredProcedure' && activityLs === sinkLs) {
      const proc = tp.storedProcedureName;
      if (typeof proc !== 'string' || isExpression(proc)) return scope.unsupported(['typeProperties', 'storedProcedureName'], 'an expression: left out');
      const args: string[] = [];
      const params: Json = isObject(tp.storedProcedureParameters) ? tp.storedProcedureParameters : {};
      for (const [name, p] of Object.entries(params)) {
        const v = isObject(p) ? p.value : undefined;
        if (v === null || v === undefined) args.push(`${name} => NULL`);
        else if (isExpression(v) || isArmExpression(v) || isObject(v)) return scope.unsupported(['typeProperties', 'storedProcedureParameters', name], `${JSON.stringify(v)} is an expression: the procedure call is left out`);
        else args.push(`${name} => ${quoteLiteral(String(v))}`);
      }
      sql = `CALL ${proc}(${args.join(', ')})`;
    } else if (a.type === 'Lookup' && isObject(tp.source) && typeof tp.source.query === 'string' && !isExpression(tp.source.query)) {
      // The documented workaround for "call a procedure after the load" on PostgreSQL (seeds/adf-ingestion-citus.md).
      const ds = isObject(tp.dataset) && typeof tp.dataset.referenceName === 'string' ? factory.datasets.get(tp.dataset.referenceName) : undefined;
      if (!ds || lsName(ds.properties) !== sinkLs) return;
      sql = tp.source.query.trim().replace(/;\s*$/, '');
    } else return;
    used.add(a);
    parts.push(sql);
    scope.changed([], `becomes sink.postCopyScript: runs inside each blob's transaction after its rows (ADF ran "${String(a.name)}" once per pipeline run); a failure rolls that blob back`);
  });
  return { ...(parts.length ? { sql: parts.join(';\n') } : {}), used };
}

/** Translates every Copy activity of one pipeline. */
export function translatePipeline(factory: AdfFactory, pipeline: AdfResource, findings: Findings): { imported: ImportedPipeline[]; skipped: SkippedActivity[] } {
  const resource = `pipeline/${pipeline.name}`;
  const activities = Array.isArray(pipeline.properties.activities) ? pipeline.properties.activities : [];
  const located = walk(activities, 'properties.activities', [], []);
  const imported: Omit<ImportedPipeline, 'name'>[] = [];
  const skipped: SkippedActivity[] = [];
  const consumed = new Set<Json>();
  const copies = located.filter((l) => l.activity.type === 'Copy');
  let triggers: TriggerResult | undefined;

  for (const copy of copies) {
    const activityName = String(copy.activity.name);
    const scope = findings.scope(resource, copy.path);
    const mark = findings.list.length;
    try {
      triggers ??= translateTriggers(factory, pipeline.name, findings);
      const result = translateCopy(factory, pipeline, copy, scope, findings, triggers);
      if (!result) continue;
      result.used.forEach((a) => consumed.add(a));
      imported.push({ adfPipeline: pipeline.name, activity: activityName, spec: result.spec, settings: result.settings });
    } catch (err) {
      if (!(err instanceof Untranslatable)) throw err;
      findings.list.splice(mark); // what was found before the blocking property no longer matters
      findings.add('unsupported', err.resource, err.path, `${err.message} — activity "${activityName}" not imported`);
      skipped.push({ adfPipeline: pipeline.name, activity: activityName, resource: err.resource, path: err.path, reason: err.message });
    }
    for (const parent of copy.parents) {
      findings.add('unsupported', resource, parent.path, `copy "${activityName}" runs inside a ${parent.type} ("${parent.name}"): a blob2pg pipeline runs once over every matching blob, with no loop or condition`);
    }
  }
  for (const l of located) {
    if (l.activity.type === 'Copy' || consumed.has(l.activity)) continue;
    const scope = findings.scope(resource, l.path);
    const type = String(l.activity.type);
    if (CONTAINERS.has(type)) continue; // reported on the copy inside it
    if (type === 'ExecuteDataFlow') scope.unsupported('type', 'a mapping data flow: data flows are not translated (do the transformation in SQL in postCopyScript, or keep it in ADF)');
    else if (type === 'Lookup' || type === 'GetMetadata' || type === 'Filter' || type === 'SetVariable' || type === 'AppendVariable') scope.unsupported('type', `a ${type} activity: blob2pg pipelines have no control flow; blob selection is prefix/wildcard/modified window`);
    else scope.unsupported('type', `a ${type} activity: not translated (blob2pg pipelines are one copy)`);
  }

  // One copy → the pipeline's own name; several → pipeline.activity.
  const named = imported.map((p) => ({ ...p, name: imported.length === 1 ? pipelineName(p.adfPipeline) : pipelineName(p.adfPipeline, p.activity) }));
  for (const p of named) p.spec = { name: p.name, ...p.spec };
  return { imported: named, skipped };
}

function translateCopy(factory: AdfFactory, pipeline: AdfResource, copy: Located, scope: FindingScope, findings: Findings, triggers: TriggerResult): { spec: Json; settings: RequiredSetting[]; used: Set<Json> } | undefined {
  const a = copy.activity;
  const tp: Json = isObject(a.typeProperties) ? a.typeProperties : {};
  const tpScope = scope.child('typeProperties');
  const source: Json = isObject(tp.source) ? tp.source : {};
  const sink: Json = isObject(tp.sink) ? tp.sink : {};
  const inputs = Array.isArray(a.inputs) ? a.inputs : [];
  const outputs = Array.isArray(a.outputs) ? a.outputs : [];
  const outDs = outputs[0] && isObject(outputs[0]) ? factory.datasets.get(String(outputs[0].referenceName)) : undefined;
  const isPgSink = SINK_TYPES.has(String(sink.type)) || (outDs !== undefined && SINK_DATASETS.has(String(outDs.properties.type)));
  const isFileSource = typeof source.type === 'string' && /^(DelimitedText|Json|Parquet)Source$/.test(source.type);
  if (!isPgSink || !isFileSource) {
    scope.ignored([], `a copy from ${String(source.type)} to ${String(sink.type)}: only blob → PostgreSQL copies are imported`);
    return undefined;
  }
  if (isObject(a.policy)) scope.ignored('policy', 'blob2pg retries transient failures per blob with backoff and bounds each load itself');

  const input = datasetFor(factory, inputs[0], scope.child('inputs', 0));
  const output = datasetFor(factory, outputs[0], scope.child('outputs', 0));
  if (!SINK_DATASETS.has(String(output.properties.type))) throw new Untranslatable(output.scope.resource, output.scope.path('type'), `a ${String(output.properties.type)} sink dataset: the sink must be an Azure Database for PostgreSQL table`);
  for (const key of Object.keys(tp)) if (!COPY_KNOWN.has(key)) tpScope.unsupported(key, 'no blob2pg equivalent');

  const { source: src, windowFromTrigger } = translateSource(input.properties, input.scope, source, tpScope.child('source'));
  const sourceLs = lsName(input.properties);
  const sinkLs = lsName(output.properties);
  const settings: RequiredSetting[] = [];
  if (sourceLs) {
    const c = storageConnection(factory, sourceLs, input.scope);
    src.connection = c.name;
    settings.push(...c.settings);
  }
  const table = sinkTable(output.properties, output.scope);
  const pg = sinkLs ? postgresConnection(factory, sinkLs, output.scope) : undefined;
  if (pg) settings.push(...pg.settings);
  const sinkOut = translateSink(sink, tpScope.child('sink'), pg?.name ?? 'TARGET_POSTGRES', table);
  const post = postCopyScript(factory, copy, sinkLs, findings, scope.resource);
  if (post.sql) sinkOut.postCopyScript = post.sql;

  const schemaColumns = Array.isArray(input.properties.schema) ? input.properties.schema.flatMap((c) => (isObject(c) && typeof c.name === 'string' ? [c.name] : [])) : undefined;
  const { mapping, typeConversion } = translateMapping(tp.translator, tpScope.child('translator'), source.additionalColumns, tpScope.child('source', 'additionalColumns'), String((src.format as Json).type), schemaColumns);
  const ft = faultTolerance(tp, tpScope, sourceLs);

  let maxParallelCopies: number | undefined;
  if (tp.parallelCopies !== undefined) {
    const n = literal(tp.parallelCopies, tpScope, 'parallelCopies', 'parallelCopies');
    if (typeof n === 'number' && n >= 1) {
      maxParallelCopies = Math.min(Math.floor(n), 64);
      tpScope.changed('parallelCopies', `maxParallelCopies ${maxParallelCopies}: blobs loaded at once in one run${n > 64 ? ' (blob2pg allows at most 64)' : ''}; ADF's parallel copies could also split one file`);
    }
  }
  if (tp.dataIntegrationUnits !== undefined) tpScope.ignored('dataIntegrationUnits', 'blob2pg scales with Functions instances (docs/deploy.md "Size instances")');
  if (tp.enableStaging === true) tpScope.ignored('enableStaging', 'blob2pg stages inside PostgreSQL when it needs to');
  else if (tp.enableStaging !== undefined) tpScope.ignored('enableStaging', 'no staging account is used');
  if (tp.stagingSettings !== undefined) tpScope.ignored('stagingSettings', 'no staging account is used');
  if (tp.validateDataConsistency !== undefined) tpScope.ignored('validateDataConsistency', "each blob loads in one transaction with its ETag in the ledger");

  if (windowFromTrigger && triggers.windowStart && !src.modifiedAfter) src.modifiedAfter = triggers.windowStart;
  for (const path of triggers.blobPaths) {
    const tscope = findings.scope(`trigger/${path.trigger}`, 'properties.typeProperties');
    if (path.container && path.container !== src.container) tscope.changed('blobPathBeginsWith', `watches container "${path.container}" but the copy reads "${String(src.container)}": blob2pg loads new blobs of the pipeline's container`);
    else if (path.prefix && !String(src.prefix ?? '').startsWith(path.prefix) && !path.prefix.startsWith(String(src.prefix ?? ''))) tscope.changed('blobPathBeginsWith', `prefix "${path.prefix}" differs from the copy's "${String(src.prefix ?? '')}": blob2pg uses the pipeline's prefix`);
    if (path.endsWith && !src.wildcard) tscope.changed('blobPathEndsWith', `blob2pg filters by the pipeline's wildcard: consider "wildcard": "*${path.endsWith}"`);
  }

  const description = [`Imported from ADF pipeline "${pipeline.name}", activity "${String(a.name)}".`, typeof pipeline.properties.description === 'string' ? pipeline.properties.description : ''].filter(Boolean).join(' ');
  const spec: Json = {
    description,
    source: src,
    sink: sinkOut,
    ...(mapping ? { mapping } : {}),
    ...(typeConversion ? { typeConversion } : {}),
    ...(ft ? { faultTolerance: ft } : {}),
    ...(maxParallelCopies ? { maxParallelCopies } : {}),
    ...(triggers.triggers.length ? { triggers: triggers.triggers } : {}),
  };
  // Key order of the written file: as a person would write it (diff-friendly, stable).
  spec.source = orderKeys(src, ['connection', 'container', 'prefix', 'wildcard', 'modifiedAfter', 'modifiedBefore', 'format']);
  const check = pipelineSpecSchema.safeParse({ name: 'check', ...spec });
  if (!check.success) {
    const issue = check.error.issues[0]!;
    throw new Untranslatable(scope.resource, copy.path, `the translated pipeline does not validate: ${formatPath(issue.path)}: ${issue.message}`);
  }
  return { spec, settings, used: post.used };
}

function orderKeys(obj: Json, order: string[]): Json {
  const out: Json = {};
  for (const key of order) if (obj[key] !== undefined) out[key] = obj[key];
  for (const [key, value] of Object.entries(obj)) if (!(key in out)) out[key] = value;
  return out;
}
