package config

import (
	"fmt"
	"net/url"
)

// Storage types.
const (
	StorageFilesystem = "filesystem"
	StorageAzureBlob  = "azureblob"
)

// Storage selects where the registries keep their blobs. The embedded
// default is the filesystem, under <dataDir>/registry.
type Storage struct {
	// Type is filesystem (the default) or azureblob.
	Type string `json:"type"`
	// AzureBlob configures the azureblob type.
	AzureBlob AzureBlobStorage `json:"azureBlob"`
}

// AzureBlobStorage names a container in an Azure Storage account (or
// Azurite) and the shared key to reach it: either ConnectionString, or
// AccountURL with AccountName and AccountKey.
type AzureBlobStorage struct {
	// ConnectionString is a storage connection string with an AccountKey.
	ConnectionString string `json:"connectionString"`
	// AccountURL is the blob endpoint, e.g.
	// https://myaccount.blob.core.windows.net.
	AccountURL  string `json:"accountURL"`
	AccountName string `json:"accountName"`
	AccountKey  string `json:"accountKey"`
	// Container holds the blobs; drydock creates it if it is missing.
	Container string `json:"container"`
	// Prefix goes before every blob name, to share a container.
	Prefix string `json:"prefix"`
}

// finish defaults the type and checks that the chosen type is complete.
func (s *Storage) finish() error {
	switch s.Type {
	case "":
		s.Type = StorageFilesystem
	case StorageFilesystem:
	case StorageAzureBlob:
		a := s.AzureBlob
		if a.Container == "" {
			return fmt.Errorf("storage.azureBlob.container must be set for storage type azureblob")
		}
		if a.ConnectionString == "" && (a.AccountURL == "" || a.AccountName == "" || a.AccountKey == "") {
			return fmt.Errorf("storage type azureblob needs storage.azureBlob.connectionString, or accountURL, accountName and accountKey")
		}
		if a.AccountURL != "" {
			if u, err := url.Parse(a.AccountURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("storage.azureBlob.accountURL %q must be an http(s) URL", a.AccountURL)
			}
		}
	default:
		return fmt.Errorf("storage.type %q must be %s or %s", s.Type, StorageFilesystem, StorageAzureBlob)
	}
	return nil
}
