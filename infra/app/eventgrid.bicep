// BlobCreated events of the source account → the blob-created queue in the host account.
// Deployed in the source account's resource group (a system topic lives next to its
// source). An account can have only one system topic: for an existing account that
// already has one, pass its name as systemTopicName.
param systemTopicName string
param subscriptionName string
@description('Region of the source storage account (a system topic must be in its source\'s region).')
param location string
param tags object = {}
param sourceStorageAccountId string
@description('Only blobs created in this container raise events.')
param containerName string
param hostStorageAccountId string
param queueName string
@description('Resource ID of the app\'s user-assigned identity, used by Event Grid to deliver.')
param identityId string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: systemTopicName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    source: sourceStorageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: subscriptionName
  properties: {
    // Delivery signs in with the identity (it holds Storage Queue Data Contributor on the
    // host account, see host-storage.bicep): the host account allows no shared keys.
    deliveryWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: identityId
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
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/${containerName}/blobs/'
      // Only operations that commit a whole blob. On ADLS Gen2 accounts, CreateFile raises
      // BlobCreated for an empty file before FlushWithClose writes its data.
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: ['PutBlob', 'PutBlockList', 'CopyBlob', 'FlushWithClose']
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output systemTopicName string = systemTopic.name
