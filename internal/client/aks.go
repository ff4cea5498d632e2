package client

// APIVersionContainerService is the api-version of managed clusters
// (Microsoft.ContainerService/managedClusters) and their agent pools.
const APIVersionContainerService = "2025-01-01"
