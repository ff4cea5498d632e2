package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob/azuritetest"
)

// With storage.type azureblob the server keeps registry blobs in the
// configured container (Azurite here): an image pushed and pulled with a
// real client lands there, and nothing in <data-dir>/registry.
func TestRegistryOnAzureBlobStorage(t *testing.T) {
	az := azuritetest.Start(t)
	ctr := azuritetest.NewContainerName()
	e := newEnv(t, func(c *config.Config) {
		c.Storage = config.Storage{Type: config.StorageAzureBlob, AzureBlob: config.AzureBlobStorage{
			AccountURL: az.AccountURL, AccountName: azuritetest.Account, AccountKey: azuritetest.Key,
			Container: ctr, Prefix: "drydock/",
		}}
	})
	e.createGroup(t, "rg")
	login := e.createRegistry(t, "rg", "blobacr", nil)
	rt := e.registryTransport(t)
	code, refresh := e.exchange(t, rt, login, e.arm)
	if code != 200 {
		t.Fatalf("exchange: %d", code)
	}
	auth := remote.WithAuth(&authn.Basic{Username: "00000000-0000-0000-0000-000000000000", Password: refresh})
	// An image of two 3 MiB layers, pushed and pulled layer by layer.
	img, _ := random.Image(3<<20, 2)
	repo, _ := name.NewRepository(login + "/app")
	if err := remote.Write(repo.Tag("v1"), img, auth, remote.WithTransport(rt)); err != nil {
		t.Fatalf("push: %v", err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	pulled, err := remote.Layer(repo.Digest(ld.String()), auth, remote.WithTransport(rt))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := pulled.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, rc)
	rc.Close()
	if err != nil || "sha256:"+hex.EncodeToString(h.Sum(nil)) != ld.String() {
		t.Fatalf("pulled layer does not hash to %s (%v)", ld, err)
	}

	// The layer is in the container, under the prefix ...
	d := az.Open(t, azureblob.Options{Container: ctr, Prefix: "drydock/"})
	bs := storage.NewBlobStore(d)
	if desc, err := bs.Stat(context.Background(), ld.String()); err != nil || desc.Size == 0 {
		t.Fatalf("layer in the container: %+v, %v", desc, err)
	}
	// ... and no blob is on the local disk.
	err = filepath.WalkDir(filepath.Join(e.dataDir, "registry"), func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.IsDir() && strings.Contains(p, "blobs") {
			return errors.New("blob on disk: " + p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}
