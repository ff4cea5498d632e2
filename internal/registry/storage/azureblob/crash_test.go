package azureblob_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob/azuritetest"
	"github.com/drydock-dev/drydock/internal/registry/storage/storagetest"
)

// The crash tests (see storagetest.RunCrashChild) point the child at the
// parent's Azurite and kill it once blocks of its push are staged, then
// open the same container in a fresh BlobStore, as another replica (or the
// restarted one) would.

const (
	crashEnvContainer = "DRYDOCK_AZBLOB_CRASH_CONTAINER"
	crashEnvMode      = "DRYDOCK_AZBLOB_CRASH_MODE"
	crashEnvDir       = "DRYDOCK_AZBLOB_CRASH_DIR"
	crashBlockSize    = 256 << 10
)

// stagedBlocks counts the uncommitted blocks of the blobs under uploads/.
func stagedBlocks(ctr *container.Client) int {
	n := 0
	pager := ctr.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr("uploads/"), Include: container.ListBlobsInclude{UncommittedBlobs: true}})
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			return 0
		}
		for _, b := range page.Segment.BlobItems {
			bl, err := ctr.NewBlockBlobClient(*b.Name).GetBlockList(context.Background(), blockblob.BlockListTypeUncommitted, nil)
			if err == nil {
				n += len(bl.BlockList.UncommittedBlocks)
			}
		}
	}
	return n
}

func containerClient(t testing.TB, s *azuritetest.Server, name string) *container.Client {
	cred, err := container.NewSharedKeyCredential(azuritetest.Account, azuritetest.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClientWithSharedKeyCredential(s.AccountURL+"/"+name, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	ctrName := os.Getenv(crashEnvContainer)
	if ctrName == "" {
		t.Skip("only run as the child of a crash test")
	}
	s := server(t)
	bs := storage.NewBlobStore(s.Open(t, azureblob.Options{Container: ctrName, BlockSize: crashBlockSize}))
	ctr := containerClient(t, s, ctrName)
	storagetest.CrashChild(t, bs, os.Getenv(crashEnvMode), filepath.Join(os.Getenv(crashEnvDir), "id"),
		func(data []byte) io.Reader {
			return storagetest.Killer(data, func() bool { return stagedBlocks(ctr) > 0 })
		})
}

// runCrashChild runs the child in mode against a fresh container and
// returns a driver over that container.
func runCrashChild(t *testing.T, mode, dir string) storage.Driver {
	t.Helper()
	s := server(t)
	ctr := azuritetest.NewContainerName()
	d := s.Open(t, azureblob.Options{Container: ctr}) // creates the container
	storagetest.RunCrashChild(t, azuritetest.EnvURL+"="+s.AccountURL, crashEnvContainer+"="+ctr, crashEnvMode+"="+mode, crashEnvDir+"="+dir)
	if stagedBlocks(containerClient(t, s, ctr)) == 0 {
		t.Fatal("the child died before staging a block")
	}
	return d
}

func TestCrashDuringPut(t *testing.T) {
	d := runCrashChild(t, "put", t.TempDir())
	// Blocks were staged, but nothing was committed: there is not even an
	// upload to purge.
	if err := d.Walk(context.Background(), "", func(fi storage.FileInfo) error {
		return errors.New("found " + fi.Path)
	}); err != nil {
		t.Fatal(err)
	}
	storagetest.CheckCrashedPut(t, storage.NewBlobStore(d))
}

func TestCrashDuringAppend(t *testing.T) {
	dir := t.TempDir()
	bs := storage.NewBlobStore(runCrashChild(t, "chunked", dir))
	idb, err := os.ReadFile(filepath.Join(dir, "id"))
	if err != nil {
		t.Fatal(err)
	}
	// The first Append was acknowledged and survives whole; the blocks the
	// second one staged were never committed, so the upload holds exactly
	// the first chunk.
	n, err := bs.UploadSize(context.Background(), string(idb))
	if err != nil || n != storagetest.CrashChunk1 {
		t.Fatalf("UploadSize after the crash = %d, %v; want %d", n, err, storagetest.CrashChunk1)
	}
	storagetest.ResumeCrashedUpload(t, bs, string(idb), n)
}
