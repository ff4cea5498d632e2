// Package localengine starts, on loopback and in a throwaway directory,
// the external engines a drydock can run on, and the load balancer of a
// replica set: a PostgreSQL server (Debian's postgresql package,
// LaunchPostgres), Azurite's blob service (the npm package azurite,
// RunAzurite) and haproxy (Debian's, HAProxy.Start). Tests (through
// storetest and azuritetest, and e2e's replica sets) and `drydock bench
// registry --replicas/--storage azureblob` use them; a production drydock
// never does, it is given the engines' addresses.
//
// It imports no testing code, so the drydock binary can link it.
package localengine
