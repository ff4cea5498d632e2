// Package drivers opens the storage.Driver that the server configuration's
// storage section names: the filesystem driver in a local directory (the
// embedded default) or the azureblob driver on a Blob Storage container.
// It is the one place the server turns configuration into a driver.
package drivers

import (
	"context"
	"fmt"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
)

// Open returns the driver cfg selects; dir is the filesystem driver's root.
// An azureblob driver is checked on the way: its container is created if
// missing, so a wrong account, key or endpoint fails here, at start.
func Open(ctx context.Context, cfg config.Storage, dir string) (storage.Driver, error) {
	switch cfg.Type {
	case "", config.StorageFilesystem:
		d, err := filesystem.New(dir)
		if err != nil {
			return nil, err
		}
		return d, nil
	case config.StorageAzureBlob:
		a := cfg.AzureBlob
		d, err := azureblob.New(ctx, azureblob.Options{
			ConnectionString: a.ConnectionString,
			AccountURL:       a.AccountURL,
			AccountName:      a.AccountName,
			AccountKey:       a.AccountKey,
			Container:        a.Container,
			Prefix:           a.Prefix,
		})
		if err != nil {
			return nil, err
		}
		return d, nil
	default:
		return nil, fmt.Errorf("unknown storage type %q", cfg.Type)
	}
}
