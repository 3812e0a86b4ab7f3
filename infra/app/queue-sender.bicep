// Event Grid's delivery identity may add messages to the blob-created queue and do nothing
// else: Storage Queue Data Message Sender, scoped to that one queue (not the account, whose
// other queues are the Durable Functions task hub).
param storageAccountName string
param queueName string
@description('Object ID of the Event Grid system topic\'s identity.')
param principalId string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource queueServices 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: queueServices
  name: queueName
}

// Storage Queue Data Message Sender on the queue only.
resource messageSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, principalId, 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a')
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a')
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output roleAssignmentId string = messageSender.id
