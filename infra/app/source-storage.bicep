// The account blobs land in: created here, or an existing one (existingAccount = true),
// possibly in another resource group (main.bicep scopes this module to it). Either way
// the input container and the skipped-row log container are ensured, and the app identity
// gets read access to the account and write access to the log container only.
param name string
@description('True to use an existing account with this name instead of creating one.')
param existingAccount bool = false
param location string
param tags object = {}
param containerName string
@description('Container for skipped-row logs (BLOB2PG_LOG_CONTAINER).')
param logContainerName string
@description('Object ID of the app identity.')
param principalId string
@description('Object ID of the deploying user (azd AZURE_PRINCIPAL_ID), granted upload rights for testing; empty to skip.')
param userPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'

resource newStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = if (!existingAccount) {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// One symbol for both cases. An `existing` reference adds no dependency, so whatever
// is deployed into it below says `dependsOn: [newStorage]` explicitly.
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: name
}

resource blobServices 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobServices
  name: containerName
  properties: { publicAccess: 'None' }
  dependsOn: [newStorage]
}

resource logContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobServices
  name: logContainerName
  properties: { publicAccess: 'None' }
  dependsOn: [newStorage]
}

// Storage Blob Data Reader: list and read the source blobs.
resource blobDataReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1')
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
  dependsOn: [newStorage]
}

// Storage Blob Data Contributor, on the log container only: write skipped-row logs.
resource logBlobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(logContainer.id, principalId, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  scope: logContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Contributor for the deploying user on the input container: upload a
// test blob with `az storage blob upload --auth-mode login` (shared keys are off).
resource userBlobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(container.id, userPrincipalId, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

output name string = storage.name
output id string = storage.id
output location string = storage.location
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
