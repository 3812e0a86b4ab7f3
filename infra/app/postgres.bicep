// Azure Database for PostgreSQL Flexible Server — one server, or an elastic cluster (Citus on
// Flexible Server) when elasticClusterNodes > 0 — with Microsoft Entra authentication on and
// password authentication off (by default).
//
// Who is what:
//  - the deploying principal is the Entra administrator: the postprovision hook signs in as it
//    and creates the app's own role (src/deploy/grants.ts), with CONNECT, CREATE (its ledger
//    schema) and TEMPORARY on the database and the rights to write the target tables — not
//    azure_pg_admin;
//  - the app identity is an administrator only with identityIsAdministrator (deployments that
//    cannot run the hook).
//
// Properties: Microsoft.DBforPostgreSQL/flexibleServers@2025-08-01 in Azure/bicep-types-az
// (generated/postgresql/microsoft.dbforpostgresql/2025-08-01/types.md): properties.cluster
// { clusterSize, defaultDatabaseName } makes the server an elastic cluster; administrators,
// firewallRules and databases children as before.
param name string
param location string
param tags object = {}
param version string = '16'
param skuName string
@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param skuTier string
@minValue(0)
@description('0 = a single server; n ≥ 2 = an elastic cluster of n nodes (one is the coordinator, port 5432).')
param elasticClusterNodes int = 0
@description('See main.bicep postgresStorageSizeGB: a grown disk never shrinks.')
param storageSizeGB int = 32
param storageAutoGrow bool = true
param databaseName string

@description('Also allow password sign-in (administratorLogin). Off: no secret exists anywhere.')
param passwordAuth bool = false
param administratorLogin string = ''
@secure()
param administratorLoginPassword string = ''

@description('App identity: object ID and name (the name is the PostgreSQL role it signs in as).')
param identityPrincipalId string
param identityName string
@description('Make the app identity an Entra administrator too (more than it needs; see main.bicep).')
param identityIsAdministrator bool = false

@description('The deploying principal: object ID, sign-in name (its role name) and type. Made Entra administrator when both are set.')
param userPrincipalId string = ''
param userPrincipalName string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'

@description('Optional client IP address allowed through the firewall (for psql from your machine).')
param clientIpAddress string = ''

var isElasticCluster = elasticClusterNodes > 0

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2025-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: passwordAuth ? administratorLogin : null
    administratorLoginPassword: passwordAuth ? administratorLoginPassword : null
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: passwordAuth ? 'Enabled' : 'Disabled'
      tenantId: tenant().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: storageAutoGrow ? 'Enabled' : 'Disabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: { mode: 'Disabled' }
    // An elastic cluster has one database, named here (CREATE DATABASE is refused on it).
    cluster: isElasticCluster ? { clusterSize: elasticClusterNodes, defaultDatabaseName: databaseName } : null
    // Public endpoint + firewall, TLS-only, Entra-only. Flex Consumption has no fixed
    // outbound IPs, so the only firewall rule that lets it in is "Azure services"
    // (0.0.0.0). VNet integration + private access is the hardened alternative, left out
    // of this template (docs/deploy.md, "Network").
    network: { publicNetworkAccess: 'Enabled' }
  }
}

// Server child resources are created one at a time: the service rejects concurrent
// operations on one server ("ServerIsBusy"), hence the dependsOn chain below.

// 0.0.0.0–0.0.0.0 is the documented "allow public access from any Azure service" rule.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2025-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource allowClient 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2025-08-01' = if (!empty(clientIpAddress)) {
  parent: server
  name: 'AllowDeployingClient'
  properties: {
    startIpAddress: clientIpAddress
    endIpAddress: clientIpAddress
  }
  dependsOn: [allowAzureServices]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2025-08-01' = if (!isElasticCluster) {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [allowClient]
}

resource userAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2025-08-01' = if (!empty(userPrincipalId) && !empty(userPrincipalName)) {
  parent: server
  name: !empty(userPrincipalId) ? userPrincipalId : 'unused'
  properties: {
    principalName: userPrincipalName
    principalType: userPrincipalType
    tenantId: tenant().tenantId
  }
  dependsOn: [database]
}

resource appAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2025-08-01' = if (identityIsAdministrator) {
  parent: server
  name: identityPrincipalId
  properties: {
    principalName: identityName
    principalType: 'ServicePrincipal'
    tenantId: tenant().tenantId
  }
  dependsOn: [userAdministrator]
}

output name string = server.name
output host string = server.properties.fullyQualifiedDomainName
output databaseName string = databaseName
output user string = identityName
