/**
 * The BlobServiceClient for a named storage connection (see settings.ts): from the
 * connection string, or the service URI + a managed identity / DefaultAzureCredential,
 * as Functions bindings do.
 */
import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { credentialFor } from './entraToken.js';
import { redactSecrets } from '../redact.js';
import { ConfigError, resolveBlobConnection, type Env } from './settings.js';

export interface BlobServiceClientOptions {
  /** Builds the credential for the identity form. Default credentialFor (entraToken.ts). */
  credentialFactory?: (clientId?: string) => TokenCredential;
  pipelineOptions?: StoragePipelineOptions;
}

/** One client per connection and setting values: the SDK pools its sockets per client. */
const clients = new Map<string, BlobServiceClient>();

export function blobServiceClientFor(name: string, env: Env = process.env, options: BlobServiceClientOptions = {}): BlobServiceClient {
  const connection = resolveBlobConnection(name, env);
  // Custom factories / pipelines (tests) get a fresh client; the cache is for the defaults.
  const cacheable = options.credentialFactory === undefined && options.pipelineOptions === undefined;
  const key = JSON.stringify(connection);
  const hit = cacheable ? clients.get(key) : undefined;
  if (hit) return hit;

  let client: BlobServiceClient;
  if (connection.kind === 'connectionString') {
    try {
      client = BlobServiceClient.fromConnectionString(connection.connectionString, options.pipelineOptions);
    } catch (err) {
      // The SDK's message may quote the string: name the setting, redact the rest.
      throw new ConfigError(
        `storage connection "${name}": setting ${name} is not a usable connection string (${redactSecrets(
          err instanceof Error ? err.message : String(err),
        )})`,
      );
    }
  } else {
    const credential = (options.credentialFactory ?? credentialFor)(connection.clientId);
    client = new BlobServiceClient(connection.serviceUri, credential, options.pipelineOptions);
  }
  if (cacheable) clients.set(key, client);
  return client;
}
