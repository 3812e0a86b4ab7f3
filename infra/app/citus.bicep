// Azure Cosmos DB for PostgreSQL (Citus) cluster instead of Flexible Server
// (postgresKind = 'citus' in main.bicep). Same contract for the app: Microsoft Entra
// authentication, the app identity as an admin role, firewall open to Azure services.
// The database is the cluster's single database (databaseName, default 'citus').
param name string
param location string
param tags object = {}
param postgresqlVersion string = '16'
param databaseName string

param coordinatorServerEdition string = 'GeneralPurpose'
param coordinatorVCores int = 2
param coordinatorStorageQuotaInMb int = 131072
@description('Worker nodes; 0 = single-node cluster (shards on the coordinator).')
param nodeCount int = 0
param nodeServerEdition string = 'MemoryOptimized'
param nodeVCores int = 4
param nodeStorageQuotaInMb int = 524288

@description('Also allow password sign-in for the built-in citus role. Off by default.')
param passwordAuth bool = false
@secure()
param administratorLoginPassword string = ''

param identityPrincipalId string
param identityName string

@description('Optional client IP address allowed through the firewall (for psql from your machine).')
param clientIpAddress string = ''

resource cluster 'Microsoft.DBforPostgreSQL/serverGroupsv2@2023-03-02-preview' = {
  name: name
  location: location
  tags: tags
  properties: {
    postgresqlVersion: postgresqlVersion
    databaseName: databaseName
    coordinatorServerEdition: coordinatorServerEdition
    coordinatorVCores: coordinatorVCores
    coordinatorStorageQuotaInMb: coordinatorStorageQuotaInMb
    coordinatorEnablePublicIpAccess: true
    nodeCount: nodeCount
    nodeServerEdition: nodeServerEdition
    nodeVCores: nodeVCores
    nodeStorageQuotaInMb: nodeStorageQuotaInMb
    nodeEnablePublicIpAccess: false
    enableShardsOnCoordinator: nodeCount == 0
    enableHa: false
    administratorLoginPassword: passwordAuth ? administratorLoginPassword : null
    authConfig: {
      activeDirectoryAuth: 'enabled'
      passwordAuth: passwordAuth ? 'enabled' : 'disabled'
    }
  }
}

// Same reasoning as postgres.bicep: no fixed outbound IPs on Flex Consumption.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/serverGroupsv2/firewallRules@2023-03-02-preview' = {
  parent: cluster
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource allowClient 'Microsoft.DBforPostgreSQL/serverGroupsv2/firewallRules@2023-03-02-preview' = if (!empty(clientIpAddress)) {
  parent: cluster
  name: 'AllowDeployingClient'
  properties: {
    startIpAddress: clientIpAddress
    endIpAddress: clientIpAddress
  }
  dependsOn: [allowAzureServices]
}

// The app identity as a Microsoft Entra admin role on every node.
resource appRole 'Microsoft.DBforPostgreSQL/serverGroupsv2/roles@2023-03-02-preview' = {
  parent: cluster
  name: identityName
  properties: {
    roleType: 'admin'
    externalIdentity: {
      objectId: identityPrincipalId
      principalType: 'servicePrincipal'
      tenantId: tenant().tenantId
    }
  }
  dependsOn: [allowClient]
}

// The coordinator is the server named "<cluster>-c"; workers are "<cluster>-w0" …
var coordinator = filter(cluster.properties.serverNames, s => endsWith(s.name, '-c'))

output name string = cluster.name
output host string = empty(coordinator) ? cluster.properties.serverNames[0].fullyQualifiedDomainName : coordinator[0].fullyQualifiedDomainName
output databaseName string = databaseName
output user string = appRole.name
