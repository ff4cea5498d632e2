// Package localengine starts, on loopback and in a throwaway directory,
// the external engines a drydock can run on: a PostgreSQL server (Debian's
// postgresql package, LaunchPostgres) and Azurite's blob service (the npm
// package azurite, RunAzurite). Tests (through storetest and azuritetest)
// and `drydock bench registry --replicas/--storage azureblob` use them; a
// production drydock never does, it is given the engines' addresses.
//
// It imports no testing code, so the drydock binary can link it.
package localengine
