/**
 * The source side of a Copy activity: the source dataset (location + format properties)
 * and the copy source's `storeSettings` / `formatSettings` → blob2pg `source`.
 *
 * ADF's file filter (connector-azure-blob-storage, "Copy activity properties"): a `prefix`,
 * or `wildcardFolderPath` + `wildcardFileName`, or the dataset's `folderPath` / `fileName`;
 * `recursive` (default true) reads subfolders; `modifiedDatetimeStart` (inclusive) and
 * `modifiedDatetimeEnd` (exclusive) filter on Last-Modified — the same bounds as blob2pg's
 * `modifiedAfter` / `modifiedBefore`. blob2pg's `wildcard` matches the file name when it
 * has no `/`, else the whole name with `*` inside one folder and `**` across folders.
 */
import { normaliseEncodingName } from '../pipeline/encodings.js';
import { compressionCodecs } from '../pipeline/formatSpec.js';
import { isArmExpression, isExpression, isObject, Untranslatable, type FindingScope, type Json } from './model.js';

export interface SourceResult {
  source: Json;
  /** The modified window came from a tumbling-window trigger's window (replaced by the ledger). */
  windowFromTrigger: boolean;
}

/** A property that must be a literal; an expression or ARM parameter makes the activity untranslatable. */
export function literal<T>(value: T | undefined, scope: FindingScope, key: string | (string | number)[], what: string): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (isExpression(value) || isArmExpression(value)) {
    throw new Untranslatable(scope.resource, scope.path(...[key].flat()), `${what} is an expression (${JSON.stringify(value)}): blob2pg pipelines have fixed values (pipeline parameters, loop items and trigger outputs are not resolved)`);
  }
  return value;
}

const trimSlashes = (s: string) => s.replace(/^\/+|\/+$/g, '');
const hasWildcard = (s: string) => /[*?]/.test(s);

/** Folder + file filter → blob2pg prefix / wildcard. */
function filter(folder: string, file: string, recursive: boolean, scope: FindingScope): { prefix: string; wildcard?: string } {
  if (/\^/.test(folder + file)) throw new Untranslatable(scope.resource, scope.path('storeSettings'), 'ADF wildcard escapes (^) have no blob2pg equivalent');
  if (/\?/.test(folder + file)) scope.changed('storeSettings', 'ADF "?" matches zero or one character; blob2pg "?" matches exactly one');
  const segments = folder ? folder.split('/') : [];
  const firstWild = segments.findIndex(hasWildcard);
  const literalSegments = firstWild < 0 ? segments : segments.slice(0, firstWild);
  const prefix = literalSegments.length ? `${literalSegments.join('/')}/` : '';
  if (firstWild < 0) {
    if (recursive) return file === '*' ? { prefix } : { prefix, wildcard: file };
    if (!folder) {
      scope.changed('storeSettings.recursive', 'recursive false at the container root: blob2pg also reads files in subfolders; add a prefix or a wildcard with "/"');
      return file === '*' ? { prefix } : { prefix, wildcard: file };
    }
    return { prefix, wildcard: `${folder}/${file}` };
  }
  if (!recursive) return { prefix, wildcard: `${folder}/${file}` };
  if (file.startsWith('*')) return { prefix, wildcard: `${folder}/**${file}` };
  scope.changed('storeSettings.recursive', `recursive read below a wildcard folder with the file pattern "${file}": blob2pg reads only files directly in the matching folders`);
  return { prefix, wildcard: `${folder}/${file}` };
}

function isoInstant(value: unknown, scope: FindingScope, key: string): string | 'window' | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (isExpression(value) || isArmExpression(value)) {
    const text = JSON.stringify(value);
    if (/window(Start|End)/i.test(text)) {
      scope.changed(key, `${text}: a tumbling window filter; blob2pg's ledger loads each blob version once, so the schedule reads every new blob instead of one window`);
      return 'window';
    }
    scope.unsupported(key, `${text} is an expression: the Last-Modified filter is dropped (blob2pg's ledger still loads each blob version once); set a fixed bound if you need one`);
    return undefined;
  }
  const ms = Date.parse(String(value));
  if (Number.isNaN(ms)) {
    scope.unsupported(key, `${JSON.stringify(value)} is not a date-time: the filter is dropped`);
    return undefined;
  }
  return new Date(ms).toISOString();
}

const READ_SETTINGS_IGNORED: Record<string, string> = {
  maxConcurrentConnections: 'blob2pg bounds concurrency with maxParallelCopies',
  disableMetricsCollection: 'ADF monitoring setting',
  type: '',
  recursive: '',
  prefix: '',
  wildcardFolderPath: '',
  wildcardFileName: '',
  modifiedDatetimeStart: '',
  modifiedDatetimeEnd: '',
};

const READ_SETTINGS_UNSUPPORTED: Record<string, string> = {
  fileListPath: 'a file list: blob2pg selects blobs by prefix / wildcard / modified window (or loads named blobs with `blob2pg run --blob`)',
  deleteFilesAfterCompletion: 'blob2pg never deletes source blobs; the ledger records what was loaded (use a lifecycle policy to delete)',
  enablePartitionDiscovery: 'partition discovery (folder=value columns): map them with an additional column or a wildcard instead',
  partitionRootPath: 'partition discovery is not supported',
};

/**
 * @param ds the source dataset's `properties` (dataset parameters already substituted)
 * @param copySource the Copy activity's `typeProperties.source`
 */
export function translateSource(ds: Json, dsScope: FindingScope, copySource: Json, srcScope: FindingScope): SourceResult {
  const type = String(ds.type);
  const tp: Json = isObject(ds.typeProperties) ? ds.typeProperties : {};
  const tpScope = dsScope.child('typeProperties');
  if (!['DelimitedText', 'Json', 'Parquet'].includes(type)) {
    throw new Untranslatable(dsScope.resource, dsScope.path('type'), `a ${type} dataset: blob2pg reads DelimitedText, Json and Parquet${type === 'AzureBlob' ? ' (this is the legacy dataset model: re-save it in ADF Studio as DelimitedText/Json/Parquet)' : ''}`);
  }
  const location: Json = isObject(tp.location) ? tp.location : {};
  if (location.type !== 'AzureBlobStorageLocation' && location.type !== 'AzureBlobFSLocation') {
    throw new Untranslatable(dsScope.resource, tpScope.path('location', 'type'), `location ${JSON.stringify(location.type)}: blob2pg reads Azure Blob Storage / ADLS Gen2`);
  }
  const container = literal(location.type === 'AzureBlobFSLocation' ? location.fileSystem : location.container, tpScope, ['location', location.type === 'AzureBlobFSLocation' ? 'fileSystem' : 'container'], 'the container');
  if (typeof container !== 'string' || !container) throw new Untranslatable(dsScope.resource, tpScope.path('location'), 'no container: blob2pg reads one container per pipeline');
  const folder = trimSlashes(String(literal(location.folderPath, tpScope, ['location', 'folderPath'], 'the folder path') ?? ''));
  const fileName = literal(location.fileName, tpScope, ['location', 'fileName'], 'the file name') as string | undefined;

  const ss: Json = isObject(copySource.storeSettings) ? copySource.storeSettings : {};
  const ssScope = srcScope.child('storeSettings');
  for (const [key, why] of Object.entries(READ_SETTINGS_UNSUPPORTED)) if (ss[key] !== undefined && ss[key] !== false) ssScope.unsupported(key, why);
  for (const key of Object.keys(ss)) if (!(key in READ_SETTINGS_UNSUPPORTED) && !(key in READ_SETTINGS_IGNORED)) ssScope.unsupported(key, 'no blob2pg equivalent');
  for (const [key, why] of Object.entries(READ_SETTINGS_IGNORED)) if (why && ss[key] !== undefined) ssScope.ignored(key, why);

  const recursive = literal(ss.recursive, ssScope, 'recursive', 'recursive') !== false;
  const prefixSetting = literal(ss.prefix, ssScope, 'prefix', 'the prefix') as string | undefined;
  const wFolder = literal(ss.wildcardFolderPath, ssScope, 'wildcardFolderPath', 'the wildcard folder path') as string | undefined;
  const wFile = literal(ss.wildcardFileName, ssScope, 'wildcardFileName', 'the wildcard file name') as string | undefined;
  let where: { prefix: string; wildcard?: string };
  if (prefixSetting !== undefined) where = { prefix: prefixSetting.replace(/^\/+/, '') };
  else if (wFolder !== undefined || wFile !== undefined) where = filter(trimSlashes(wFolder ?? folder), wFile || '*', recursive, srcScope);
  else if (fileName) {
    const full = folder ? `${folder}/${fileName}` : fileName;
    where = { prefix: full, wildcard: full.includes('/') ? full : fileName };
  } else where = filter(folder, '*', recursive, srcScope);

  const after = isoInstant(ss.modifiedDatetimeStart, ssScope, 'modifiedDatetimeStart');
  const before = isoInstant(ss.modifiedDatetimeEnd, ssScope, 'modifiedDatetimeEnd');
  const source: Json = {
    container,
    ...(where.prefix ? { prefix: where.prefix } : {}),
    ...(where.wildcard ? { wildcard: where.wildcard } : {}),
    ...(after && after !== 'window' ? { modifiedAfter: after } : {}),
    ...(before && before !== 'window' ? { modifiedBefore: before } : {}),
    format: translateFormat(type, tp, tpScope, copySource, srcScope),
  };
  return { source, windowFromTrigger: after === 'window' || before === 'window' };
}

function codec(value: unknown, scope: FindingScope, key: string | string[]): string | undefined {
  const v = literal(value, scope, key, 'the compression codec');
  if (v === undefined || v === '' || v === 'None' || v === 'none') return undefined;
  const canonical = compressionCodecs.find((c) => c.toLowerCase() === String(v).toLowerCase());
  if (!canonical) throw new Untranslatable(scope.resource, scope.path(...[key].flat()), `compression ${JSON.stringify(v)}: blob2pg reads gzip, deflate, bzip2, ZipDeflate, Tar and TarGzip`);
  return canonical;
}

function encoding(value: unknown, scope: FindingScope): string | undefined {
  const v = literal(value, scope, 'encodingName', 'the encoding') as string | undefined;
  if (v === undefined) return undefined;
  const name = normaliseEncodingName(v);
  if (!name) throw new Untranslatable(scope.resource, scope.path('encodingName'), `encoding ${JSON.stringify(v)} is not one blob2pg decodes`);
  return name === 'UTF-8' ? undefined : name;
}

function translateFormat(type: string, tp: Json, scope: FindingScope, copySource: Json, srcScope: FindingScope): Json {
  const compression: Json = isObject(tp.compression) ? tp.compression : {};
  // Parquet's codec (snappy, gzip, …) is inside the file, not around it.
  const compressionCodec = type === 'Parquet' ? undefined : tp.compressionCodec !== undefined ? codec(tp.compressionCodec, scope, 'compressionCodec') : codec(compression.type, scope, ['compression', 'type']);
  if (tp.compressionLevel !== undefined) scope.ignored('compressionLevel', 'applies when ADF writes files; reading needs only the codec');
  if (compression.level !== undefined) scope.ignored(['compression', 'level'], 'applies when ADF writes files; reading needs only the codec');
  const fs: Json = isObject(copySource.formatSettings) ? copySource.formatSettings : {};
  const fsScope = srcScope.child('formatSettings');
  if (isObject(fs.compressionProperties)) fsScope.ignored('compressionProperties', 'blob2pg reads every archive entry; entry names are not turned into folders');

  if (type === 'Parquet') {
    if (tp.compressionCodec !== undefined) scope.ignored('compressionCodec', 'Parquet compresses inside the file; blob2pg reads any codec hyparquet supports');
    return { type: 'Parquet' };
  }
  if (type === 'Json') {
    const enc = encoding(tp.encodingName, scope);
    return { type: 'Json', ...(enc ? { encodingName: enc } : {}), ...(compressionCodec ? { compressionCodec } : {}) };
  }

  // DelimitedText. ADF's defaults differ from blob2pg's: no header, escape "\".
  const columnDelimiter = (literal(tp.columnDelimiter, scope, 'columnDelimiter', 'the column delimiter') as string | undefined) ?? ',';
  if (columnDelimiter.length !== 1) throw new Untranslatable(scope.resource, scope.path('columnDelimiter'), `column delimiter ${JSON.stringify(columnDelimiter)}: blob2pg takes exactly one character`);
  const rowDelimiter = literal(tp.rowDelimiter, scope, 'rowDelimiter', 'the row delimiter') as string | undefined;
  if (rowDelimiter !== undefined && rowDelimiter !== '' && !['\n', '\r\n', '\r'].includes(rowDelimiter)) {
    throw new Untranslatable(scope.resource, scope.path('rowDelimiter'), `row delimiter ${JSON.stringify(rowDelimiter)}: blob2pg reads \\n, \\r\\n or \\r`);
  }
  const quoteChar = (literal(tp.quoteChar, scope, 'quoteChar', 'the quote character') as string | undefined) ?? '"';
  const escapeChar = (literal(tp.escapeChar, scope, 'escapeChar', 'the escape character') as string | undefined) ?? '\\';
  const firstRowAsHeader = literal(tp.firstRowAsHeader, scope, 'firstRowAsHeader', 'firstRowAsHeader') === true;
  const nullValue = literal(tp.nullValue, scope, 'nullValue', 'the null value') as string | undefined;
  const enc = encoding(tp.encodingName, scope);
  const skipLineCount = literal(fs.skipLineCount, fsScope, 'skipLineCount', 'skipLineCount') as number | undefined;
  return {
    type: 'DelimitedText',
    columnDelimiter,
    ...(rowDelimiter ? { rowDelimiter } : {}),
    quoteChar,
    escapeChar,
    firstRowAsHeader,
    ...(nullValue ? { nullValue } : {}),
    ...(enc ? { encodingName: enc } : {}),
    ...(skipLineCount ? { skipLineCount } : {}),
    ...(compressionCodec ? { compressionCodec } : {}),
  };
}
