package drivers_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob/azuritetest"
	"github.com/drydock-dev/drydock/internal/registry/storage/drivers"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
	"github.com/drydock-dev/drydock/internal/registry/storage/storagetest"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "registry")
	for _, typ := range []string{"", config.StorageFilesystem} {
		d, err := drivers.Open(ctx, config.Storage{Type: typ}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if fs, ok := d.(*filesystem.Driver); !ok || fs.Dir() != dir {
			t.Fatalf("type %q: %T", typ, d)
		}
	}
	if _, err := drivers.Open(ctx, config.Storage{Type: "s3"}, dir); err == nil {
		t.Fatal("an unknown type opened")
	}

	s := azuritetest.Start(t)
	d, err := drivers.Open(ctx, config.Storage{Type: config.StorageAzureBlob, AzureBlob: config.AzureBlobStorage{
		AccountURL: s.AccountURL, AccountName: azuritetest.Account, AccountKey: azuritetest.Key,
		Container: azuritetest.NewContainerName(), Prefix: "drydock/",
	}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(*azureblob.Driver); !ok {
		t.Fatalf("azureblob: %T", d)
	}
	storagetest.Write(t, d, "k", []byte("v"))
	if got := storagetest.Read(t, d, "k"); string(got) != "v" {
		t.Fatalf("read back %q", got)
	}
}
