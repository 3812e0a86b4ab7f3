/**
 * Linked services → blob2pg connection names and the app settings the user must set.
 *
 * blob2pg names connections like Functions bindings (src/connections/settings.ts): `NAME`
 * holds a connection string, or `NAME__blobServiceUri` (storage) / `NAME__host`,
 * `NAME__database`, `NAME__user` (PostgreSQL, Microsoft Entra) describe an identity-based
 * connection. Only non-secret values (service URIs, host, database, user, port) are copied;
 * passwords, keys, SAS tokens, secure strings and Key Vault references never leave the ADF
 * files — the report says which setting to fill instead.
 */
import { isArmExpression, isExpression, isObject, settingName, type AdfFactory, type FindingScope, type Json, type RequiredSetting } from './model.js';

export interface Connection {
  /** The blob2pg `connection` value. */
  name: string;
  settings: RequiredSetting[];
}

const STORAGE_TYPES = new Set(['AzureBlobStorage', 'AzureBlobFS', 'AzureStorage']);
const POSTGRES_TYPES = new Set(['AzurePostgreSql', 'PostgreSqlV2', 'PostgreSql', 'AzurePostgreSqlV2']);

/** A plain, non-secret string: not an expression, not a secure string or Key Vault reference. */
function plain(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value && !isExpression(value) && !isArmExpression(value) ? value : undefined;
}

function isSecretObject(value: unknown): boolean {
  return isObject(value) && (value.type === 'SecureString' || value.type === 'AzureKeyVaultSecret');
}

/** `a=1;b=2` (ODBC / npgsql / storage) → lower-cased keys. Values are only read for non-secret keys. */
function connectionStringFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return fields;
}

/** The source storage linked service → connection. */
export function storageConnection(factory: AdfFactory, lsName: string, scope: FindingScope): Connection {
  const ls = factory.linkedServices.get(lsName);
  const name = settingName(lsName);
  if (!ls) {
    scope.changed([], `linked service "${lsName}" is not in the input: set ${name} (a storage connection string) or ${name}__blobServiceUri (managed identity)`);
    return { name, settings: [{ name, linkedService: lsName, description: 'a storage connection string, or set NAME__blobServiceUri for managed identity' }] };
  }
  const type = String(ls.properties.type);
  const tp: Json = isObject(ls.properties.typeProperties) ? ls.properties.typeProperties : {};
  const lsScope = scope.findings.scope(`linkedService/${lsName}`, 'properties');
  if (!STORAGE_TYPES.has(type)) lsScope.unsupported('type', `a ${type} linked service: blob2pg reads Azure Blob Storage and ADLS Gen2 (through its Blob endpoint)`);
  if (ls.properties.connectVia) lsScope.ignored('connectVia', 'blob2pg runs in the Functions app; its network path (VNet integration, private endpoints) replaces the integration runtime');
  if (isObject(ls.properties.parameters)) lsScope.unsupported('parameters', 'linked-service parameters: blob2pg connections are fixed app settings');

  // The account's Blob endpoint, when ADF holds it in plain text.
  let serviceUri = plain(tp.serviceEndpoint) ?? plain(tp.url);
  const connectionString = plain(tp.connectionString);
  if (!serviceUri && connectionString) {
    const f = connectionStringFields(connectionString);
    serviceUri = f.get('blobendpoint') ?? (f.get('accountname') ? `https://${f.get('accountname')}.blob.${f.get('endpointsuffix') ?? 'core.windows.net'}` : undefined);
  }
  const sasUri = plain(tp.sasUri);
  if (!serviceUri && sasUri) serviceUri = sasUri.split('?')[0];
  // ADLS Gen2 (`https://acct.dfs.core.windows.net`): blob2pg lists and reads through the Blob API, which serves the same data.
  // A query string on an endpoint is a SAS token: never copied.
  if (serviceUri) serviceUri = serviceUri.split('?')[0]!.replace(/\.dfs\./, '.blob.').replace(/\/+$/, '');

  const keyBased = tp.accountKey !== undefined || tp.sasToken !== undefined || tp.sasUri !== undefined || tp.connectionString !== undefined || tp.servicePrincipalKey !== undefined || tp.servicePrincipalCredential !== undefined;
  const auth = typeof tp.authenticationType === 'string' ? tp.authenticationType : undefined;
  const identity = (!keyBased && serviceUri !== undefined) || auth === 'Msi' || auth === 'ManagedIdentity';
  if (identity) {
    const settings: RequiredSetting[] = [
      { name: `${name}__blobServiceUri`, linkedService: lsName, ...(serviceUri ? { value: serviceUri } : {}), description: 'the storage account Blob endpoint; the Functions app identity needs Storage Blob Data Reader (Contributor for skipped-row logs)' },
    ];
    if (isObject(tp.credential) || isObject(ls.properties.credential)) {
      settings.push({ name: `${name}__clientId`, linkedService: lsName, description: 'client ID of the user-assigned managed identity the ADF credential named' });
    }
    return { name, settings };
  }
  if (tp.servicePrincipalId !== undefined) {
    lsScope.changed('typeProperties.servicePrincipalId', `service-principal authentication: blob2pg uses the Functions app's managed identity (${name}__blobServiceUri) or a connection string (${name}); grant the identity Storage Blob Data Reader`);
  }
  const secretKind = isSecretObject(tp.connectionString) || isSecretObject(tp.accountKey) || isSecretObject(tp.sasUri) || isSecretObject(tp.sasToken) ? 'was a secure string / Key Vault secret in ADF: copy it into the app setting or a Key Vault reference' : 'holds a key: keep it in Key Vault';
  return {
    name,
    settings: [
      { name, linkedService: lsName, description: `a storage connection string (AccountName=…;AccountKey=… or BlobEndpoint=…;SharedAccessSignature=…); the ADF credential ${secretKind}` },
      ...(serviceUri ? [{ name: `${name}__blobServiceUri`, linkedService: lsName, value: serviceUri, description: `instead of ${name}: managed identity with Storage Blob Data Reader (recommended)` }] : []),
    ],
  };
}

const SSL_MODE_NAMES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** The sink PostgreSQL linked service → connection. */
export function postgresConnection(factory: AdfFactory, lsName: string, scope: FindingScope): Connection {
  const ls = factory.linkedServices.get(lsName);
  const name = settingName(lsName);
  if (!ls) {
    scope.changed([], `linked service "${lsName}" is not in the input: set ${name} (a postgres:// URL) or ${name}__host/__database/__user (Microsoft Entra)`);
    return { name, settings: [{ name, linkedService: lsName, description: 'a postgres:// URL or conninfo string' }] };
  }
  const type = String(ls.properties.type);
  const tp: Json = isObject(ls.properties.typeProperties) ? ls.properties.typeProperties : {};
  const lsScope = scope.findings.scope(`linkedService/${lsName}`, 'properties');
  if (!POSTGRES_TYPES.has(type)) lsScope.unsupported('type', `a ${type} linked service: the sink must be PostgreSQL`);
  if (ls.properties.connectVia) lsScope.ignored('connectVia', 'blob2pg connects from the Functions app; its network path replaces the integration runtime');
  if (isObject(ls.properties.parameters)) lsScope.unsupported('parameters', 'linked-service parameters: blob2pg connections are fixed app settings');

  // Version 2.0: server/port/database/username; version 1.0: an npgsql connection string.
  let host = plain(tp.server);
  let port = plain(tp.port);
  let database = plain(tp.database);
  let user = plain(tp.username);
  const cs = plain(tp.connectionString);
  if (cs) {
    const f = connectionStringFields(cs);
    host ??= f.get('host') ?? f.get('server');
    port ??= f.get('port');
    database ??= f.get('database') ?? f.get('dbname');
    user ??= f.get('uid') ?? f.get('user id') ?? f.get('username') ?? f.get('user');
  }
  const sslNumber = typeof tp.sslMode === 'number' ? tp.sslMode : typeof tp.sslMode === 'string' && /^\d$/.test(tp.sslMode) ? Number(tp.sslMode) : undefined;
  const sslMode = sslNumber !== undefined ? SSL_MODE_NAMES[sslNumber] : plain(tp.sslMode)?.toLowerCase();

  const auth = plain(tp.authenticationType);
  const entra = auth !== undefined && auth.toLowerCase() !== 'basic';
  if (entra) {
    lsScope.changed('typeProperties.authenticationType', `${auth}: blob2pg signs in with the Functions app's managed identity (Microsoft Entra); make that identity a PostgreSQL role and set ${name}__user to its role name`);
    const settings: RequiredSetting[] = [
      { name: `${name}__host`, linkedService: lsName, ...(host ? { value: host } : {}), description: 'server host name' },
      { name: `${name}__database`, linkedService: lsName, ...(database ? { value: database } : {}), description: 'database name' },
      { name: `${name}__user`, linkedService: lsName, description: "the PostgreSQL role of the Functions app's managed identity" },
    ];
    if (port && port !== '5432') settings.push({ name: `${name}__port`, linkedService: lsName, value: port, description: 'port' });
    if (sslMode && ['require', 'verify-ca', 'verify-full'].includes(sslMode)) settings.push({ name: `${name}__sslmode`, linkedService: lsName, value: sslMode, description: 'TLS mode' });
    return { name, settings };
  }
  const template = `postgresql://${user ? encodeURIComponent(user) : '<user>'}:<password>@${host ?? '<server>'}:${port ?? '5432'}/${database ?? '<database>'}?sslmode=${sslMode && !['disable', 'allow', 'prefer'].includes(sslMode) ? sslMode : 'require'}`;
  const from = isSecretObject(tp.password) || isSecretObject(tp.connectionString) ? 'the password was a secure string / Key Vault secret in ADF: put the URL in Key Vault and reference it' : 'put the password in, keep the setting in Key Vault';
  return {
    name,
    settings: [
      { name, linkedService: lsName, description: `a postgres:// URL like ${template} (${from})` },
      ...(host ? [{ name: `${name}__host`, linkedService: lsName, value: host, description: `instead of ${name}: Microsoft Entra sign-in with the app's managed identity (also set ${name}__database${database ? `=${database}` : ''} and ${name}__user)` }] : []),
    ],
  };
}
