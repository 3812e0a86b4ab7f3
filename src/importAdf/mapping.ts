/**
 * The Copy activity's `translator` (TabularTranslator) and the source's
 * `additionalColumns` → blob2pg `mapping` and `typeConversion`.
 *
 * ADF mapping entries are `{ source: { name | ordinal | path, type }, sink: { name, type } }`
 * (copy-activity-schema-and-type-mapping). blob2pg's `source` is a header name, a 1-based
 * ordinal or (Json) a JSON path; `value` entries are ADF's additional columns. Column types
 * are left to PostgreSQL's casts.
 */
import { isArmExpression, isExpression, isObject, Untranslatable, type FindingScope, type Json } from './model.js';

export interface MappingResult {
  mapping?: Json[];
  typeConversion?: Json;
}

/** ADF additional-column value → blob2pg mapping value, or undefined when it has none. */
function additionalValue(value: unknown): { value: string } | { column: string } | undefined {
  if (value === '$$FILEPATH') return { value: '$$FILEPATH' };
  if (typeof value === 'string' && value.startsWith('$$COLUMN:')) return { column: value.slice('$$COLUMN:'.length) };
  // The run ID: the one pipeline() property blob2pg has for every load.
  if (isObject(value) && value.type === 'Expression' && typeof value.value === 'string' && /^@pipeline\(\)\.RunId$/i.test(value.value.trim())) return { value: '$$RUNID' };
  if (typeof value === 'string' && /^@pipeline\(\)\.RunId$/i.test(value.trim())) return { value: '$$RUNID' };
  if (isExpression(value) || isArmExpression(value)) return undefined;
  if (typeof value === 'string') return { value };
  if (typeof value === 'number' || typeof value === 'boolean') return { value: String(value) };
  return undefined;
}

/** @param datasetColumns the source dataset's `schema` column names, when it lists them */
export function translateMapping(translator: unknown, trScope: FindingScope, additionalColumns: unknown, acScope: FindingScope, formatType: string, datasetColumns?: string[]): MappingResult {
  // Additional columns by name (ADF adds them to the source side of the mapping).
  const extras = new Map<string, { value: string } | { column: string }>();
  if (isExpression(additionalColumns)) acScope.unsupported([], 'additional columns given as an expression: list them in the generated mapping');
  else if (Array.isArray(additionalColumns)) {
    additionalColumns.forEach((col, i) => {
      if (!isObject(col) || typeof col.name !== 'string') return;
      const v = additionalValue(col.value);
      if (v) extras.set(col.name, v);
      else acScope.unsupported([i, 'value'], `${JSON.stringify(col.value)}: blob2pg additional columns are $$FILEPATH, $$FILENAME, $$ETAG, $$LASTMODIFIED, $$RUNID or a literal; column "${col.name}" is left out`);
    });
  }
  const entryFor = (sink: string, sourceName: string): Json | undefined => {
    const extra = extras.get(sourceName);
    if (!extra) return undefined;
    return 'value' in extra ? { sink, value: extra.value } : { source: extra.column, sink };
  };

  if (translator === undefined || translator === null) {
    // No explicit mapping: ADF maps by name, and so does blob2pg — until a mapping exists. The
    // additional columns need one, so the file columns must be listed too: from the dataset's
    // schema when it has one.
    if (!extras.size) return {};
    if (!datasetColumns?.length) {
      acScope.unsupported([], 'additional columns without a mapping or a dataset schema: blob2pg needs the file columns listed next to them; add a "mapping" by hand');
      return {};
    }
    return { mapping: [...datasetColumns.filter((c) => !extras.has(c)).map((c) => ({ source: c, sink: c })), ...[...extras.keys()].map((name) => entryFor(name, name)!)] };
  }
  if (isExpression(translator)) throw new Untranslatable(trScope.resource, trScope.base, 'the mapping is an expression (dynamic mapping): write the blob2pg mapping by hand');
  if (!isObject(translator)) return {};
  if (translator.type !== 'TabularTranslator') throw new Untranslatable(trScope.resource, trScope.path('type'), `translator ${JSON.stringify(translator.type)}: only TabularTranslator translates`);
  if (translator.collectionReference !== undefined && translator.collectionReference !== '') {
    throw new Untranslatable(trScope.resource, trScope.path('collectionReference'), 'cross-apply of a nested array (one row per element) has no blob2pg equivalent: flatten the file first or write the rows with SQL in postCopyScript');
  }
  if (translator.schemaMapping !== undefined || translator.columnMappings !== undefined) {
    throw new Untranslatable(trScope.resource, trScope.path(translator.schemaMapping !== undefined ? 'schemaMapping' : 'columnMappings'), 'the retired schemaMapping/columnMappings form: re-save the mapping in ADF Studio (it writes "mappings") or write the blob2pg mapping by hand');
  }
  if (translator.mapComplexValuesToString !== undefined) trScope.ignored('mapComplexValuesToString', 'blob2pg hands an object or array value to PostgreSQL as JSON text (json/jsonb/text columns take it)');

  const mapping: Json[] = [];
  const mappings = translator.mappings;
  if (mappings !== undefined && !Array.isArray(mappings)) throw new Untranslatable(trScope.resource, trScope.path('mappings'), 'mappings is not a list');
  (mappings ?? []).forEach((m: unknown, i: number) => {
    const at = trScope.child('mappings', i);
    if (!isObject(m) || !isObject(m.sink) || !isObject(m.source)) {
      at.unsupported([], 'not a { source, sink } mapping entry: left out');
      return;
    }
    const sink = m.sink.name;
    if (typeof sink !== 'string' || !sink || isExpression(sink)) {
      at.unsupported(['sink', 'name'], 'the sink column must be a name: left out');
      return;
    }
    if (m.sink.type !== undefined || m.source.type !== undefined) at.ignored([], 'column types: PostgreSQL casts the value to the column type');
    const src = m.source;
    if (typeof src.name === 'string' && extras.has(src.name)) {
      mapping.push(entryFor(sink, src.name)!);
    } else if (typeof src.path === 'string' && src.path) {
      if (formatType !== 'Json') {
        at.unsupported(['source', 'path'], `a JSON path on a ${formatType} source: blob2pg reads paths from Json files only; left out`);
        return;
      }
      // ADF writes `$['a']['b']`; blob2pg's JSON reader takes the same bracket and dot forms.
      mapping.push({ source: src.path, sink });
    } else if (typeof src.ordinal === 'number' || (typeof src.ordinal === 'string' && /^\d+$/.test(src.ordinal))) {
      mapping.push({ source: Number(src.ordinal), sink });
    } else if (typeof src.name === 'string' && src.name && !isExpression(src.name)) {
      mapping.push({ source: src.name, sink });
    } else {
      at.unsupported('source', 'no source name, ordinal or path: left out');
    }
  });
  const result: MappingResult = mapping.length ? { mapping } : {};
  const typeConversion = translateTypeConversion(translator, trScope);
  if (typeConversion) result.typeConversion = typeConversion;
  return result;
}

/** .NET custom date/time format tokens → PostgreSQL to_date / to_timestamp template patterns. */
const DOTNET_TOKENS: [string, string][] = [
  ['yyyy', 'YYYY'],
  ['yy', 'YY'],
  ['MMMM', 'FMMonth'],
  ['MMM', 'Mon'],
  ['MM', 'MM'],
  ['M', 'FMMM'],
  ['dddd', 'FMDay'],
  ['ddd', 'Dy'],
  ['dd', 'DD'],
  ['d', 'FMDD'],
  ['HH', 'HH24'],
  ['H', 'FMHH24'],
  ['hh', 'HH12'],
  ['h', 'FMHH12'],
  ['mm', 'MI'],
  ['m', 'FMMI'],
  ['ss', 'SS'],
  ['s', 'FMSS'],
  ['ffffff', 'US'],
  ['fff', 'MS'],
  ['ff', 'FF2'],
  ['f', 'FF1'],
  ['tt', 'AM'],
  ['zzz', 'TZH:TZM'],
];

/** `yyyy-MM-dd'T'HH:mm:ss` → `YYYY-MM-DD"T"HH24:MI:SS`; undefined when a token has no equivalent. */
export function dotnetToPostgresFormat(format: string): string | undefined {
  let out = '';
  let i = 0;
  while (i < format.length) {
    const ch = format[i]!;
    if (ch === "'" || ch === '"') {
      const end = format.indexOf(ch, i + 1);
      if (end < 0) return undefined;
      out += `"${format.slice(i + 1, end)}"`;
      i = end + 1;
      continue;
    }
    if (ch === '\\') {
      out += `"${format[i + 1] ?? ''}"`;
      i += 2;
      continue;
    }
    const token = DOTNET_TOKENS.find(([t]) => format.startsWith(t, i));
    if (token) {
      out += token[1];
      i += token[0].length;
      continue;
    }
    if (/[A-Za-z]/.test(ch)) return undefined;
    out += ch;
    i++;
  }
  return out;
}

function translateTypeConversion(translator: Json, scope: FindingScope): Json | undefined {
  const settings = translator.typeConversionSettings;
  if (!isObject(settings)) return undefined;
  const at = scope.child('typeConversionSettings');
  if (translator.typeConversion !== true) {
    at.ignored([], 'typeConversion is not true, so ADF did not apply these settings');
    return undefined;
  }
  const out: Json = {};
  const pattern = (key: string, target: 'dateFormat' | 'timestampFormat') => {
    const v = settings[key];
    if (v === undefined || v === '') return;
    if (typeof v !== 'string' || isExpression(v)) return at.unsupported(key, `${JSON.stringify(v)} is not a fixed format: dropped`);
    const pg = dotnetToPostgresFormat(v);
    if (!pg) return at.unsupported(key, `the .NET format "${v}" has a token with no PostgreSQL to_timestamp equivalent: dropped`);
    if (out[target] !== undefined && out[target] !== pg) return at.unsupported(key, `blob2pg has one ${target}; "${out[target]}" from an earlier setting is kept`);
    out[target] = pg;
  };
  pattern('dateTimeFormat', 'timestampFormat');
  pattern('dateTimeOffsetFormat', 'timestampFormat');
  pattern('dateFormat', 'dateFormat');
  if (settings.timeSpanFormat !== undefined) at.unsupported('timeSpanFormat', 'interval/time formats: PostgreSQL reads its own interval and time syntax');
  if (settings.timeFormat !== undefined) at.unsupported('timeFormat', 'time formats: PostgreSQL reads its own time syntax');
  if (settings.treatBooleanAsNumber === true) at.unsupported('treatBooleanAsNumber', 'booleans into numeric columns: blob2pg leaves the cast to PostgreSQL (true/false do not cast to numbers)');
  if (settings.allowDataTruncation === true) at.changed('allowDataTruncation', 'blob2pg never truncates: a value too long for its column fails the row (skipped with faultTolerance.skipIncompatibleRows)');
  if (typeof settings.culture === 'string' && settings.culture && !/^(en-us|)$/i.test(settings.culture)) at.unsupported('culture', `culture ${settings.culture}: PostgreSQL reads numbers with "." decimals; localised numbers fail the row`);
  return Object.keys(out).length ? out : undefined;
}
