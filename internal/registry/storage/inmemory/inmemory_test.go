package inmemory_test

import (
	"testing"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/inmemory"
	"github.com/drydock-dev/drydock/internal/registry/storage/storagetest"
)

func newDriver(*testing.T) storage.Driver { return inmemory.New() }

func TestDriver(t *testing.T)    { storagetest.TestDriver(t, newDriver) }
func TestBlobStore(t *testing.T) { storagetest.TestBlobStore(t, newDriver) }
