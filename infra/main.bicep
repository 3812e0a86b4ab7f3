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

@description('Object ID of the deploying principal (azd sets AZURE_PRINCIPAL_ID); empty = deployer().objectId. Uploads test blobs and is the PostgreSQL Entra administrator.')
param principalId string = ''
@description('Sign-in name of the deploying principal for PostgreSQL (its role name); empty = deployer().userPrincipalName, which a service principal does not have: set AZURE_PRINCIPAL_NAME to its display name then.')
param principalName string = ''
@description('User or ServicePrincipal (azd sets AZURE_PRINCIPAL_TYPE; a CI pipeline signs in as a service principal).')
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
@description('Let POST /api/runs run an ad-hoc pipeline spec from the request body (BLOB2PG_ALLOW_ADHOC_RUNS). Off: HTTP runs name deployed pipelines only.')
param allowAdHocRuns bool = false
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
@minValue(0)
@description('Always-ready instances for the "durable" function group (orchestrators, activities): 1 is the Flex Consumption guidance for Durable Functions on Azure Storage, so the task hub queues are polled without a cold start. 0 = scale to zero.')
param durableAlwaysReadyInstances int = 1
@minValue(1)
@description('pg pool size per instance: BLOB2PG_PG_POOL_MAX.')
param pgPoolMax int = 10

// ---- PostgreSQL ------------------------------------------------------------------------
@allowed(['flexibleServer', 'elasticCluster'])
@description('flexibleServer = one Azure Database for PostgreSQL Flexible Server; elasticCluster = a Flexible Server elastic cluster (Citus, postgresElasticClusterNodes nodes).')
param postgresKind string = 'flexibleServer'
param postgresVersion string = '16'
param postgresSkuName string = 'Standard_B2s'
@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param postgresSkuTier string = 'Burstable'
@minValue(2)
@description('Nodes of the elastic cluster (postgresKind elasticCluster); the coordinator is one of them.')
param postgresElasticClusterNodes int = 2
@minValue(32)
@description('Disk size. With postgresStorageAutoGrow the server grows its disk by itself, and a disk never shrinks: after it has grown, set this to the current size (BLOB2PG_POSTGRES_STORAGE_GB), or the next `azd provision` asks for a smaller disk and fails.')
param postgresStorageSizeGB int = 32
@description('Let the server grow its disk when it runs low (see postgresStorageSizeGB).')
param postgresStorageAutoGrow bool = true
@description('Database name (the elastic cluster\'s default database too).')
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
@description('Your public IP, to reach the database with psql. Empty = Azure services only (the postprovision hook opens a temporary rule for itself).')
param clientIpAddress string = ''
@description('Make the app identity an Entra administrator (azure_pg_admin) instead of the least-privilege role the postprovision hook creates. Only for deployments that cannot run the hook.')
param postgresAppIdentityIsAdministrator bool = false

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var useElasticCluster = postgresKind == 'elasticCluster'
var useExistingSource = !empty(existingSourceStorageAccountName)

// The deploying principal: the PostgreSQL Entra administrator (the postprovision hook signs
// in as it to create the app's role and the sample table) and an uploader of test blobs.
// deployer() (https://learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions-deployment#deployer)
// fills in what azd did not pass.
var deployerObjectId = !empty(principalId) ? principalId : deployer().objectId
var deployerName = !empty(principalName) ? principalName : deployer().userPrincipalName

// Elastic clusters run on General Purpose or Memory Optimized nodes (the Burstable default of a
// single server is not offered for them): a Burstable choice becomes the elastic-cluster
// quickstart's node size.
var postgresSku = useElasticCluster && postgresSkuTier == 'Burstable'
  ? { name: 'Standard_D4ds_v5', tier: 'GeneralPurpose' }
  : { name: postgresSkuName, tier: postgresSkuTier }

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
  systemTopic: !empty(eventGridSystemTopicName) ? eventGridSystemTopicName : '${abbrs.eventGridSystemTopics}${resourceToken}'
  eventSubscription: '${abbrs.eventGridEventSubscriptions}blob-created'
}

// ---- Sizing: instances × pool < max_connections ------------------------------------------
// Every Flex Consumption instance holds up to BLOB2PG_PG_POOL_MAX connections, so the worst
// case is maximumInstanceCount × pgPoolMax. That must stay below the server's
// max_connections minus what Azure reserves (15 on Flexible Server, for replication and
// monitoring) minus headroom for people. The values are the default max_connections per SKU
// in https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-limits
// ("Maximum connections"); an elastic cluster's nodes are Flexible Servers with the same
// defaults, and the app connects to the coordinator (port 5432). A SKU missing here counts
// as 429, the smallest default above B1ms: a newer (bigger) SKU is never overcommitted and
// still gets a useful instance count. Set postgresMaxConnections for anything else.
var flexibleServerMaxConnections = {
  Standard_B1ms: 50
  Standard_B2s: 429
  Standard_B2ms: 859
  Standard_B4ms: 1718
  Standard_B8ms: 3437
  Standard_B12ms: 5000
  Standard_B16ms: 5000
  Standard_B20ms: 5000
  Standard_D2s_v3: 859
  Standard_D2ds_v4: 859
  Standard_D2ds_v5: 859
  Standard_D2ads_v5: 859
  Standard_D4s_v3: 1718
  Standard_D4ds_v4: 1718
  Standard_D4ds_v5: 1718
  Standard_D4ads_v5: 1718
  Standard_D8s_v3: 3437
  Standard_D8ds_v4: 3437
  Standard_D8ds_v5: 3437
  Standard_D8ads_v5: 3437
  Standard_D16s_v3: 5000
  Standard_D16ds_v4: 5000
  Standard_D16ds_v5: 5000
  Standard_D16ads_v5: 5000
  Standard_E2s_v3: 1718
  Standard_E2ds_v4: 1718
  Standard_E2ds_v5: 1718
  Standard_E2ads_v5: 1718
  Standard_E4s_v3: 3437
  Standard_E4ds_v4: 3437
  Standard_E4ds_v5: 3437
  Standard_E4ads_v5: 3437
  Standard_E8s_v3: 5000
  Standard_E8ds_v4: 5000
  Standard_E8ds_v5: 5000
  Standard_E8ads_v5: 5000
}
var unknownSkuMaxConnections = 429
var serverMaxConnections = postgresMaxConnections > 0
  ? postgresMaxConnections
  : (flexibleServerMaxConnections[?postgresSku.name] ?? unknownSkuMaxConnections)
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
    userPrincipalId: deployerObjectId
    userPrincipalType: principalType
  }
}

// Event Grid delivers with the system topic's own identity, which may only send messages to
// the one queue (queue-sender.bicep): the app identity is not involved. Three steps, because
// the topic's identity must exist and hold the role before the subscription is validated.
module eventGridTopic 'app/eventgrid-topic.bicep' = {
  name: 'eventgrid-topic'
  scope: resourceGroup(sourceResourceGroupName)
  params: {
    name: names.systemTopic
    location: sourceStorage.outputs.location
    tags: tags
    sourceStorageAccountId: sourceStorage.outputs.id
  }
}

module queueSender 'app/queue-sender.bicep' = {
  name: 'queue-sender'
  scope: rg
  params: {
    storageAccountName: hostStorage.outputs.name
    queueName: blobCreatedQueueName
    principalId: eventGridTopic.outputs.principalId
  }
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: resourceGroup(sourceResourceGroupName)
  dependsOn: [queueSender]
  params: {
    systemTopicName: eventGridTopic.outputs.name
    subscriptionName: names.eventSubscription
    containerName: sourceContainerName
    hostStorageAccountId: hostStorage.outputs.id
    queueName: blobCreatedQueueName
  }
}

module postgres 'app/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: names.postgres
    location: location
    tags: tags
    version: postgresVersion
    skuName: postgresSku.name
    skuTier: postgresSku.tier
    elasticClusterNodes: useElasticCluster ? postgresElasticClusterNodes : 0
    storageSizeGB: postgresStorageSizeGB
    storageAutoGrow: postgresStorageAutoGrow
    databaseName: postgresDatabaseName
    passwordAuth: postgresPasswordAuth
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    identityPrincipalId: identity.outputs.principalId
    identityName: identity.outputs.name
    identityIsAdministrator: postgresAppIdentityIsAdministrator
    userPrincipalId: deployerObjectId
    userPrincipalName: deployerName
    userPrincipalType: principalType
    clientIpAddress: clientIpAddress
  }
}

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
    postgresHost: postgres.outputs.host
    postgresDatabase: postgres.outputs.databaseName
    postgresUser: postgres.outputs.user
    pipelinesFolder: pipelinesFolder
    blobCreatedQueueName: blobCreatedQueueName
    taskHubName: taskHubName
    ledgerSchema: ledgerSchema
    logContainerName: logContainerName
    allowAdHocRuns: allowAdHocRuns
    maximumInstanceCount: effectiveMaximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    durableAlwaysReadyInstances: durableAlwaysReadyInstances
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
output POSTGRES_SERVER_NAME string = postgres.outputs.name
output TARGET_POSTGRES_HOST string = postgres.outputs.host
output TARGET_POSTGRES_DATABASE string = postgres.outputs.databaseName
output TARGET_POSTGRES_USER string = postgres.outputs.user
// For the postprovision hook: the app role is created from the identity's object ID, by the
// administrator below, and the ledger lives in this schema.
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output POSTGRES_ADMIN_NAME string = deployerName
output POSTGRES_APP_IDENTITY_IS_ADMINISTRATOR bool = postgresAppIdentityIsAdministrator
output BLOB2PG_LEDGER_SCHEMA string = ledgerSchema
output BLOB2PG_MAXIMUM_INSTANCE_COUNT int = effectiveMaximumInstanceCount
output BLOB2PG_PG_POOL_MAX int = pgPoolMax
output POSTGRES_MAX_CONNECTIONS int = serverMaxConnections
