import { BlobServiceClient } from '@azure/storage-blob';
import { DefaultAzureCredential } from '@azure/identity';
import { resolveBlobConnection, type Env } from './settings.js';

/** One client per connection name and environment value: the SDK pools its sockets. */
const clients = new Map<string, BlobServiceClient>();

export function blobServiceClientFor(name: string, env: Env = process.env): BlobServiceClient {
  const connection = resolveBlobConnection(name, env);
  const key = JSON.stringify(connection);
  let client = clients.get(key);
  if (!client) {
    client =
      connection.kind === 'connectionString'
        ? BlobServiceClient.fromConnectionString(connection.connectionString)
        : new BlobServiceClient(connection.serviceUri, new DefaultAzureCredential({ managedIdentityClientId: connection.clientId }));
    clients.set(key, client);
  }
  return client;
}
