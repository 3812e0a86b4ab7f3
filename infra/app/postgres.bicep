// Azure Database for PostgreSQL Flexible Server with Microsoft Entra authentication on and
// password authentication off (by default): the app's managed identity is Entra
// administrator and signs in with a token (src/connections/entraToken.ts).
param name string
param location string
param tags object = {}
param version string = '16'
param skuName string
@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param skuTier string
param storageSizeGB int = 32
param databaseName string

@description('Also allow password sign-in (administratorLogin). Off: no secret exists anywhere.')
param passwordAuth bool = false
param administratorLogin string = ''
@secure()
param administratorLoginPassword string = ''

@description('App identity: object ID and name (the name is the PostgreSQL role it signs in as).')
param identityPrincipalId string
param identityName string

@description('Optional second Entra administrator (the deploying user), to run psql / create tables.')
param userPrincipalId string = ''
param userPrincipalName string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'

@description('Optional client IP address allowed through the firewall (for psql from your machine).')
param clientIpAddress string = ''

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
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
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: { mode: 'Disabled' }
    // Public endpoint + firewall, TLS-only, Entra-only. Flex Consumption has no fixed
    // outbound IPs, so the only firewall rule that lets it in is "Azure services"
    // (0.0.0.0). VNet integration + private access is the hardened alternative, left out
    // of this template (see infra/README-deploy.md, "Network").
    network: { publicNetworkAccess: 'Enabled' }
  }
}

// Server child resources are created one at a time: the service rejects concurrent
// operations on one server ("ServerIsBusy"), hence the dependsOn chain below.

// 0.0.0.0–0.0.0.0 is the documented "allow public access from any Azure service" rule.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource allowClient 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!empty(clientIpAddress)) {
  parent: server
  name: 'AllowDeployingClient'
  properties: {
    startIpAddress: clientIpAddress
    endIpAddress: clientIpAddress
  }
  dependsOn: [allowAzureServices]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [allowClient]
}

// The app identity as Entra administrator: it can create the ledger schema and, on a new
// server, the target tables. To run with less, make someone else administrator and grant
// the role with pgaadauth_create_principal (see infra/README-deploy.md).
resource appAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: identityPrincipalId
  properties: {
    principalName: identityName
    principalType: 'ServicePrincipal'
    tenantId: tenant().tenantId
  }
  dependsOn: [database]
}

resource userAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(userPrincipalId) && !empty(userPrincipalName)) {
  parent: server
  name: !empty(userPrincipalId) ? userPrincipalId : 'unused'
  properties: {
    principalName: userPrincipalName
    principalType: userPrincipalType
    tenantId: tenant().tenantId
  }
  dependsOn: [appAdministrator]
}

output name string = server.name
output host string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
output user string = identityName
