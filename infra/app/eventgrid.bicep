// Blob events of the source container → the blob-created queue in the host account, delivered
// with the system topic's own identity (eventgrid-topic.bicep), which holds only Storage Queue
// Data Message Sender on that queue (queue-sender.bicep; main.bicep orders the three).
// Properties: Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15 in
// Azure/bicep-types-az (generated/eventgrid): deliveryWithResourceIdentity.identity.type
// 'SystemAssigned', destination endpointType 'StorageQueue'.
param systemTopicName string
param subscriptionName string
@description('Only blobs in this container raise events.')
param containerName string
param hostStorageAccountId string
param queueName string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: subscriptionName
  properties: {
    deliveryWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: hostStorageAccountId
          queueName: queueName
          queueMessageTimeToLiveInSeconds: -1 // never expire: a load waits rather than vanishes
        }
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      // BlobRenamed: on ADLS Gen2 (hierarchical namespace) accounts, tools write a temporary
      // file and rename it into place; the rename is the moment the file is complete.
      includedEventTypes: ['Microsoft.Storage.BlobCreated', 'Microsoft.Storage.BlobRenamed']
      subjectBeginsWith: '/blobServices/default/containers/${containerName}/blobs/'
      // Only operations that commit a whole blob. On ADLS Gen2 accounts, CreateFile raises
      // BlobCreated for an empty file before FlushWithClose writes its data; RenameFile is a
      // file renamed into place (RenameDirectory is not a file and is left out).
      // https://learn.microsoft.com/azure/event-grid/event-schema-blob-storage
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: ['PutBlob', 'PutBlockList', 'CopyBlob', 'FlushWithClose', 'RenameFile']
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output subscriptionName string = blobCreated.name
