package config

import "testing"

// storage is the filesystem by default, or Azure Blob Storage set by the
// file or by DRYDOCK_STORAGE_* (which win), with a container and a
// credential.
func TestStorageSettings(t *testing.T) {
	const yaml = "storage:\n  type: azureblob\n  azureBlob:\n    accountURL: https://acct.blob.core.windows.net\n    accountName: acct\n    accountKey: a2V5\n    container: regs\n"
	testSetting(t, yaml, "DRYDOCK_STORAGE_", func(c Config) Storage { return c.Storage }, []settingCase[Storage]{
		{name: "default", want: Storage{Type: StorageFilesystem}},
		{name: "file", file: true, want: Storage{Type: StorageAzureBlob, AzureBlob: AzureBlobStorage{
			AccountURL: "https://acct.blob.core.windows.net", AccountName: "acct", AccountKey: "a2V5", Container: "regs"}}},
		{name: "env over file", file: true, env: map[string]string{"DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER": "other", "DRYDOCK_STORAGE_AZURE_BLOB_PREFIX": "p/"},
			want: Storage{Type: StorageAzureBlob, AzureBlob: AzureBlobStorage{
				AccountURL: "https://acct.blob.core.windows.net", AccountName: "acct", AccountKey: "a2V5", Container: "other", Prefix: "p/"}}},
		{name: "connection string", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "azureblob", "DRYDOCK_STORAGE_AZURE_BLOB_CONNECTION_STRING": "AccountName=a;AccountKey=k", "DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER": "c"},
			want: Storage{Type: StorageAzureBlob, AzureBlob: AzureBlobStorage{ConnectionString: "AccountName=a;AccountKey=k", Container: "c"}}},
		{name: "env back to filesystem", file: true, env: map[string]string{"DRYDOCK_STORAGE_TYPE": "filesystem"}, want: Storage{Type: StorageFilesystem, AzureBlob: AzureBlobStorage{
			AccountURL: "https://acct.blob.core.windows.net", AccountName: "acct", AccountKey: "a2V5", Container: "regs"}}},
		{name: "unknown type", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "s3"}, err: `storage.type "s3"`},
		{name: "no container", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "azureblob", "DRYDOCK_STORAGE_AZURE_BLOB_CONNECTION_STRING": "x"}, err: "container must be set"},
		{name: "no credential", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "azureblob", "DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER": "c", "DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_URL": "https://a.example"}, err: "needs storage.azureBlob.connectionString"},
		{name: "bad URL", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "azureblob", "DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER": "c", "DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_URL": "ftp://a", "DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_NAME": "a", "DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_KEY": "k"}, err: "must be an http(s) URL"},
	})
}
