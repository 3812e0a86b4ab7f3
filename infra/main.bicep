// blob2pg on Azure: `azd up` provisions this, then deploys the app.
// Subscription scope: creates the resource group, then the modules in infra/app/.
// Every resource name is "<abbreviation><token>" (abbreviations.json + uniqueString) and can
// be overridden by its parameter. No secrets: every connection is identity-based.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the resource token and the resource group name.')
param environmentName string

@minLength(1)
@description('Region for all resources (Flex Consumption must be available there).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object ID of the deploying user (azd sets AZURE_PRINCIPAL_ID): may upload test blobs. Empty to skip.')
param principalId string = ''
@description('Sign-in name of the deploying user (e.g. you@contoso.com): made a PostgreSQL Entra administrator too. Empty to skip.')
param principalName string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

// ---- Names (empty = generated) ---------------------------------------------------------
param resourceGroupName string = ''
param identityName string = ''
param functionAppName string = ''
param appServicePlanName string = ''
param storageAccountName string = ''
param deploymentContainerName string = ''
param logAnalyticsName string = ''
param applicationInsightsName string = ''
param postgresServerName string = ''
param eventGridSystemTopicName string = ''

// ---- Source storage --------------------------------------------------------------------
@description('Name of a source storage account to create; empty = generated.')
param sourceStorageAccountName string = ''
@description('Name of an EXISTING storage account to load from instead of creating one.')
param existingSourceStorageAccountName string = ''
@description('Resource group of the existing source account; empty = the app\'s resource group.')
param existingSourceStorageResourceGroupName string = ''
@description('Container whose new blobs are loaded.')
param sourceContainerName string = 'incoming'
@description('Container (in the source account) for skipped-row logs: BLOB2PG_LOG_CONTAINER.')
param logContainerName string = 'copy-logs'

// ---- App -------------------------------------------------------------------------------
@description('Folder of pipeline JSON files in the deployed package: BLOB2PG_PIPELINES.')
param pipelinesFolder string = 'pipelines'
@description('Queue in the host storage account that Event Grid fills: BLOB2PG_EVENTS_QUEUE.')
param blobCreatedQueueName string = 'blob-created'
@description('Durable Functions task hub name: BLOB2PG_TASK_HUB.')
param taskHubName string = 'blob2pg'
@description('Schema of the ingestion ledger: BLOB2PG_LEDGER_SCHEMA.')
param ledgerSchema string = 'blob2pg'
@minValue(1)
@maxValue(1000)
@description('Upper bound for Flex Consumption instances; lowered automatically to fit max_connections (see below).')
param maximumInstanceCount int = 40
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048
@minValue(1)
@description('pg pool size per instance: BLOB2PG_PG_POOL_MAX.')
param pgPoolMax int = 10

// ---- PostgreSQL ------------------------------------------------------------------------
@allowed(['flexibleServer', 'citus'])
@description('flexibleServer = Azure Database for PostgreSQL Flexible Server; citus = Azure Cosmos DB for PostgreSQL cluster.')
param postgresKind string = 'flexibleServer'
param postgresVersion string = '16'
param postgresSkuName string = 'Standard_B2s'
@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param postgresSkuTier string = 'Burstable'
param postgresStorageSizeGB int = 32
@description('Database name. For Citus, the cluster\'s single database (Azure\'s default is "citus").')
param postgresDatabaseName string = 'blob2pg'
@description('Server max_connections if not the SKU default (0 = look it up below).')
param postgresMaxConnections int = 0
@description('Connections kept free for people and tools (psql, migrations) besides Azure\'s own.')
param postgresHeadroomConnections int = 10
@description('Enable password authentication as well (needs postgresAdminPassword). Off: no secret anywhere.')
param postgresPasswordAuth bool = false
param postgresAdminLogin string = 'blob2pgadmin'
@secure()
param postgresAdminPassword string = ''
@description('Your public IP, to reach the database with psql. Empty = Azure services only.')
param clientIpAddress string = ''
param citusClusterName string = ''
param citusCoordinatorVCores int = 2
param citusCoordinatorStorageQuotaInMb int = 131072
param citusNodeCount int = 0
param citusNodeVCores int = 4
param citusNodeStorageQuotaInMb int = 524288

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var useCitus = postgresKind == 'citus'
var useExistingSource = !empty(existingSourceStorageAccountName)

var names = {
  resourceGroup: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  identity: !empty(identityName) ? identityName : '${abbrs.managedIdentityUserAssignedIdentities}blob2pg-${resourceToken}'
  functionApp: !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}blob2pg-${resourceToken}'
  plan: !empty(appServicePlanName) ? appServicePlanName : '${abbrs.webServerFarms}${resourceToken}'
  hostStorage: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
  deploymentContainer: !empty(deploymentContainerName) ? deploymentContainerName : 'app-package-${resourceToken}'
  sourceStorage: useExistingSource
    ? existingSourceStorageAccountName
    : (!empty(sourceStorageAccountName) ? sourceStorageAccountName : '${abbrs.storageStorageAccounts}src${resourceToken}')
  logAnalytics: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
  applicationInsights: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
  postgres: !empty(postgresServerName) ? postgresServerName : '${abbrs.dBforPostgreSQLServers}${resourceToken}'
  citus: !empty(citusClusterName) ? citusClusterName : '${abbrs.dBforPostgreSQLServerGroupsv2}${resourceToken}'
  systemTopic: !empty(eventGridSystemTopicName) ? eventGridSystemTopicName : '${abbrs.eventGridSystemTopics}${resourceToken}'
  eventSubscription: '${abbrs.eventGridEventSubscriptions}blob-created'
}

// ---- Sizing: instances × pool < max_connections ------------------------------------------
// Every Flex Consumption instance holds up to BLOB2PG_PG_POOL_MAX connections, so the worst
// case is maximumInstanceCount × pgPoolMax. That must stay below the server's
// max_connections minus what Azure reserves (15 on Flexible Server, for replication and
// monitoring) minus headroom for people. The values are the documented defaults per SKU
// (https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-limits); for
// Citus, the coordinator's limit (300 up to 3 vCores, 500 up to 15, then 1000). An unknown
// SKU counts as 50 unless postgresMaxConnections says otherwise.
var flexibleServerMaxConnections = {
  Standard_B1ms: 50
  Standard_B2s: 429
  Standard_B2ms: 429
  Standard_B4ms: 859
  Standard_B8ms: 1718
  Standard_D2s_v3: 859
  Standard_D2ds_v4: 859
  Standard_D2ds_v5: 859
  Standard_D4s_v3: 1718
  Standard_D4ds_v4: 1718
  Standard_D4ds_v5: 1718
  Standard_D8s_v3: 3437
  Standard_D8ds_v4: 3437
  Standard_D8ds_v5: 3437
  Standard_D16ds_v5: 5000
  Standard_E2ds_v4: 1718
  Standard_E2ds_v5: 1718
  Standard_E4ds_v4: 3437
  Standard_E4ds_v5: 3437
  Standard_E8ds_v5: 5000
}
var citusMaxConnections = citusCoordinatorVCores < 4 ? 300 : (citusCoordinatorVCores < 16 ? 500 : 1000)
var serverMaxConnections = postgresMaxConnections > 0
  ? postgresMaxConnections
  : (useCitus ? citusMaxConnections : (flexibleServerMaxConnections[?postgresSkuName] ?? 50))
var azureReservedConnections = 15
var usableConnections = serverMaxConnections - azureReservedConnections - postgresHeadroomConnections
// Defaults: Standard_B2s → (429 − 15 − 10) / 10 = 40 instances × 10 = 400 < 429.
var effectiveMaximumInstanceCount = max(1, min(maximumInstanceCount, usableConnections / pgPoolMax))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

// The source account (and its Event Grid system topic) may live in another resource group.
var sourceResourceGroupName = useExistingSource && !empty(existingSourceStorageResourceGroupName)
  ? existingSourceStorageResourceGroupName
  : names.resourceGroup

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module hostStorage 'app/host-storage.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: names.hostStorage
    location: location
    tags: tags
    deploymentContainerName: names.deploymentContainer
    blobCreatedQueueName: blobCreatedQueueName
    principalId: identity.outputs.principalId
  }
}

module sourceStorage 'app/source-storage.bicep' = {
  name: 'source-storage'
  scope: resourceGroup(sourceResourceGroupName)
  dependsOn: [rg]
  params: {
    name: names.sourceStorage
    existingAccount: useExistingSource
    location: location
    tags: tags
    containerName: sourceContainerName
    logContainerName: logContainerName
    principalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: resourceGroup(sourceResourceGroupName)
  params: {
    systemTopicName: names.systemTopic
    subscriptionName: names.eventSubscription
    location: sourceStorage.outputs.location
    tags: tags
    sourceStorageAccountId: sourceStorage.outputs.id
    containerName: sourceContainerName
    hostStorageAccountId: hostStorage.outputs.id
    queueName: blobCreatedQueueName
    identityId: identity.outputs.id
  }
}

module postgres 'app/postgres.bicep' = if (!useCitus) {
  name: 'postgres'
  scope: rg
  params: {
    name: names.postgres
    location: location
    tags: tags
    version: postgresVersion
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    databaseName: postgresDatabaseName
    passwordAuth: postgresPasswordAuth
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    identityPrincipalId: identity.outputs.principalId
    identityName: identity.outputs.name
    userPrincipalId: principalId
    userPrincipalName: principalName
    userPrincipalType: principalType
    clientIpAddress: clientIpAddress
  }
}

module citus 'app/citus.bicep' = if (useCitus) {
  name: 'citus'
  scope: rg
  params: {
    name: names.citus
    location: location
    tags: tags
    postgresqlVersion: postgresVersion
    databaseName: postgresDatabaseName
    coordinatorVCores: citusCoordinatorVCores
    coordinatorStorageQuotaInMb: citusCoordinatorStorageQuotaInMb
    nodeCount: citusNodeCount
    nodeVCores: citusNodeVCores
    nodeStorageQuotaInMb: citusNodeStorageQuotaInMb
    passwordAuth: postgresPasswordAuth
    administratorLoginPassword: postgresAdminPassword
    identityPrincipalId: identity.outputs.principalId
    identityName: identity.outputs.name
    clientIpAddress: clientIpAddress
  }
}

var postgresHost = useCitus ? citus!.outputs.host : postgres!.outputs.host
var postgresDatabase = useCitus ? citus!.outputs.databaseName : postgres!.outputs.databaseName
var postgresUser = useCitus ? citus!.outputs.user : postgres!.outputs.user

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    hostStorageBlobEndpoint: hostStorage.outputs.blobEndpoint
    hostStorageQueueEndpoint: hostStorage.outputs.queueEndpoint
    hostStorageTableEndpoint: hostStorage.outputs.tableEndpoint
    deploymentContainerUrl: hostStorage.outputs.deploymentContainerUrl
    sourceStorageBlobEndpoint: sourceStorage.outputs.blobEndpoint
    sourceStorageQueueEndpoint: sourceStorage.outputs.queueEndpoint
    postgresHost: postgresHost
    postgresDatabase: postgresDatabase
    postgresUser: postgresUser
    pipelinesFolder: pipelinesFolder
    blobCreatedQueueName: blobCreatedQueueName
    taskHubName: taskHubName
    ledgerSchema: ledgerSchema
    logContainerName: logContainerName
    maximumInstanceCount: effectiveMaximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    pgPoolMax: pgPoolMax
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output FUNCTION_APP_URI string = api.outputs.uri
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output HOST_STORAGE_ACCOUNT_NAME string = hostStorage.outputs.name
output SOURCE_STORAGE_ACCOUNT_NAME string = sourceStorage.outputs.name
output SOURCE_STORAGE_BLOB_SERVICE_URI string = sourceStorage.outputs.blobEndpoint
output SOURCE_CONTAINER_NAME string = sourceContainerName
output LOG_CONTAINER_NAME string = logContainerName
output POSTGRES_KIND string = postgresKind
output TARGET_POSTGRES_HOST string = postgresHost
output TARGET_POSTGRES_DATABASE string = postgresDatabase
output TARGET_POSTGRES_USER string = postgresUser
output BLOB2PG_MAXIMUM_INSTANCE_COUNT int = effectiveMaximumInstanceCount
output BLOB2PG_PG_POOL_MAX int = pgPoolMax
output POSTGRES_MAX_CONNECTIONS int = serverMaxConnections
