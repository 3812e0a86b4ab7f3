// The Function App: Flex Consumption (FC1), Linux, Node 22, user-assigned identity, and
// identity-based settings only. No connection string with a key, no password, no
// publishing credentials.
// Properties: Microsoft.Web/sites@2024-04-01 functionAppConfig in Azure/bicep-types-az
// (generated/web): runtime { name, version }, scaleAndConcurrency { alwaysReady
// [{ name, instanceCount }], maximumInstanceCount, instanceMemoryMB }. No siteConfig FTP
// settings: Flex Consumption has no FTP endpoint, and basic publishing credentials are off
// below.
param name string
param planName string
param location string
param tags object = {}

param identityId string
param identityClientId string

param applicationInsightsConnectionString string

param hostStorageBlobEndpoint string
param hostStorageQueueEndpoint string
param hostStorageTableEndpoint string
param deploymentContainerUrl string

param sourceStorageBlobEndpoint string
param sourceStorageQueueEndpoint string

param postgresHost string
param postgresDatabase string
@description('PostgreSQL role the app signs in as: the identity\'s name (its Entra principal name).')
param postgresUser string
param postgresPort int = 5432

param pipelinesFolder string
param blobCreatedQueueName string
param taskHubName string
param ledgerSchema string
param logContainerName string
@description('BLOB2PG_ALLOW_ADHOC_RUNS: let POST /api/runs run a pipeline spec from the request body (with the deployed connections only).')
param allowAdHocRuns bool = false

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int
@allowed([512, 2048, 4096])
param instanceMemoryMB int
@minValue(0)
@description('Always-ready instances of the "durable" group: 1 is the Flex Consumption guidance for Durable Functions (https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-azure-storage-provider#flex-consumption-plan).')
param durableAlwaysReadyInstances int = 1
@description('pg pool size per instance (BLOB2PG_PG_POOL_MAX). maximumInstanceCount × this stays below the server\'s max_connections: main.bicep computes both.')
@minValue(1)
param pgPoolMax int

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy to by this tag (service name in azure.yaml).
  tags: union(tags, { 'azd-service-name': 'blob2pg' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        // The "durable" group is every orchestrator, entity and activity function: one warm
        // instance keeps polling the task hub, so a started run does not wait for a cold start.
        alwaysReady: durableAlwaysReadyInstances > 0 ? [{ name: 'durable', instanceCount: durableAlwaysReadyInstances }] : []
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        // Node 22 LTS: Node 20 leaves support in April 2026 (package.json engines allow both).
        name: 'node'
        version: '22'
      }
    }
  }

  // Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and
  // WEBSITE_* settings: the runtime comes from functionAppConfig above.
  resource appSettings 'config' = {
    name: 'appsettings'
    properties: {
      // Host storage: runtime, Durable Functions (Azure Storage backend) and the
      // blob-created queue trigger (connection "AzureWebJobsStorage").
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      AzureWebJobsStorage__blobServiceUri: hostStorageBlobEndpoint
      AzureWebJobsStorage__queueServiceUri: hostStorageQueueEndpoint
      AzureWebJobsStorage__tableServiceUri: hostStorageTableEndpoint

      // Application Insights with Entra auth (local auth is disabled on the component).
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'

      // Source blobs (connection "SOURCE_STORAGE" in pipeline files).
      SOURCE_STORAGE__blobServiceUri: sourceStorageBlobEndpoint
      SOURCE_STORAGE__queueServiceUri: sourceStorageQueueEndpoint
      SOURCE_STORAGE__credential: 'managedidentity'
      SOURCE_STORAGE__clientId: identityClientId

      // Target database (connection "TARGET_POSTGRES"): Microsoft Entra token as password.
      TARGET_POSTGRES__host: postgresHost
      TARGET_POSTGRES__database: postgresDatabase
      TARGET_POSTGRES__user: postgresUser
      TARGET_POSTGRES__port: string(postgresPort)
      TARGET_POSTGRES__clientId: identityClientId
      TARGET_POSTGRES__sslmode: 'verify-full'

      // The deployed entry point is an esbuild bundle (src/deploy/package.ts): map stack traces
      // back to the TypeScript sources through its .map files.
      languageWorkers__node__arguments: '--enable-source-maps'

      BLOB2PG_PIPELINES: pipelinesFolder
      BLOB2PG_EVENTS_QUEUE: blobCreatedQueueName
      BLOB2PG_TASK_HUB: taskHubName // host.json: "hubName": "%BLOB2PG_TASK_HUB%"
      BLOB2PG_PG_POOL_MAX: string(pgPoolMax)
      BLOB2PG_LEDGER_SCHEMA: ledgerSchema
      BLOB2PG_LOG_CONTAINER: logContainerName
      BLOB2PG_ALLOW_ADHOC_RUNS: allowAdHocRuns ? 'true' : 'false'
      BLOB2PG_STALL_TIMEOUT_MS: '60000' // no bytes for this long on a storage read or a PostgreSQL statement = a stall, retried
      BLOB2PG_RUN_LOG_RETENTION_DAYS: '30' // run log (runs, run_files) kept this long, pruned as runs start
      BLOB2PG_UI_CONNECTION: 'TARGET_POSTGRES' // the run log the page at /api/ui reads
      BLOB2PG_RUN_HEARTBEAT_SECONDS: '30' // a copy activity marks its run alive this often while it loads
      BLOB2PG_RUN_ABANDONED_MINUTES: '5' // the page shows a Running run with no heartbeat for this long as Abandoned
    }
  }

  // azd deploys through the deployment container with Entra: no basic-auth publishing.
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: { allow: false }
  }
  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: { allow: false }
  }
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
