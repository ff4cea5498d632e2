package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStorageSettings(t *testing.T) {
	t.Setenv("DRYDOCK_DATA_DIR", t.TempDir())
	file := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(file, []byte("storage:\n  type: azureblob\n  azureBlob:\n    accountURL: https://acct.blob.core.windows.net\n    accountName: acct\n    accountKey: a2V5\n    container: regs\n"), 0o600)
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		want Storage
		err  string
	}{
		{name: "default", want: Storage{Type: StorageFilesystem}},
		{name: "file", file: file, want: Storage{Type: StorageAzureBlob, AzureBlob: AzureBlobStorage{
			AccountURL: "https://acct.blob.core.windows.net", AccountName: "acct", AccountKey: "a2V5", Container: "regs"}}},
		{name: "env over file", file: file, env: map[string]string{"DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER": "other", "DRYDOCK_STORAGE_AZURE_BLOB_PREFIX": "p/"},
			want: Storage{Type: StorageAzureBlob, AzureBlob: AzureBlobStorage{
				AccountURL: "https://acct.blob.core.windows.net", AccountName: "acct", AccountKey: "a2V5", Container: "other", Prefix: "p/"}}},
		{name: "connection string", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "azureblob", "DRYDOCK_STORAGE_AZURE_BLOB_CONNECTION_STRING": "AccountName=a;AccountKey=k", "DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER": "c"},
			want: Storage{Type: StorageAzureBlob, AzureBlob: AzureBlobStorage{ConnectionString: "AccountName=a;AccountKey=k", Container: "c"}}},
		{name: "env back to filesystem", file: file, env: map[string]string{"DRYDOCK_STORAGE_TYPE": "filesystem"}, want: Storage{Type: StorageFilesystem, AzureBlob: AzureBlobStorage{
			AccountURL: "https://acct.blob.core.windows.net", AccountName: "acct", AccountKey: "a2V5", Container: "regs"}}},
		{name: "unknown type", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "s3"}, err: `storage.type "s3"`},
		{name: "no container", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "azureblob", "DRYDOCK_STORAGE_AZURE_BLOB_CONNECTION_STRING": "x"}, err: "container must be set"},
		{name: "no credential", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "azureblob", "DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER": "c", "DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_URL": "https://a.example"}, err: "needs storage.azureBlob.connectionString"},
		{name: "bad URL", env: map[string]string{"DRYDOCK_STORAGE_TYPE": "azureblob", "DRYDOCK_STORAGE_AZURE_BLOB_CONTAINER": "c", "DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_URL": "ftp://a", "DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_NAME": "a", "DRYDOCK_STORAGE_AZURE_BLOB_ACCOUNT_KEY": "k"}, err: "must be an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name := range envVars {
				if strings.HasPrefix(name, "DRYDOCK_STORAGE_") {
					t.Setenv(name, tc.env[name])
				}
			}
			c, err := Load(tc.file)
			if err == nil {
				err = c.Finish()
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Storage != tc.want {
				t.Fatalf("Storage = %+v, want %+v", c.Storage, tc.want)
			}
		})
	}
}
