// The source account's Event Grid system topic, with a system-assigned identity that Event
// Grid delivers with (queue-sender.bicep gives it "send messages" on the one queue, nothing
// else). Deployed in the source account's resource group: a system topic lives next to its
// source, in its region. An account can have only one system topic: for an existing account
// that already has one, pass its name (eventGridSystemTopicName).
// Properties: Microsoft.EventGrid/systemTopics@2025-02-15 in Azure/bicep-types-az
// (generated/eventgrid): identity.type SystemAssigned, properties.source / topicType.
param name string
@description('Region of the source storage account (a system topic must be in its source\'s region).')
param location string
param tags object = {}
param sourceStorageAccountId string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: sourceStorageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = systemTopic.name
output principalId string = systemTopic.identity.principalId
