// The one identity the Function App uses for everything: host storage (runtime, Durable
// Functions, deployment package), the source account, PostgreSQL (Entra token) and
// Application Insights. User-assigned so its client ID can be named in app settings and
// its object ID made PostgreSQL administrator before the app exists.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
