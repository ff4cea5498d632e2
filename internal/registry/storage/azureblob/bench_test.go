package azureblob_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
	"github.com/drydock-dev/drydock/internal/registry/storage/storagetest"
)

// Push and pull throughput of the azureblob driver (against Azurite on
// loopback) and of the filesystem driver, through BlobStore as the
// registry uses it:
//
//	go test -run '^$' -bench 'Push|Pull' -benchtime 3x ./internal/registry/storage/azureblob/
//
// A push is a chunked upload (StartUpload, one Append of the whole blob,
// Commit with the digest): hash, stage or write, commit, verify, move into
// place. A pull is BlobStore.Open served by http.ServeContent over
// loopback HTTP to a client that discards the body. The blob is
// $DRYDOCK_BENCH_BLOB_MIB MiB (128 if unset).

func benchBlob(b *testing.B) ([]byte, string) {
	mib := 128
	if v, err := strconv.Atoi(os.Getenv("DRYDOCK_BENCH_BLOB_MIB")); err == nil && v > 0 {
		mib = v
	}
	data := storagetest.RandomBytes(99, mib<<20)
	return data, storagetest.Digest("sha256", data)
}

// benchDrivers are the drivers compared, each made fresh for a benchmark.
func benchDrivers() []struct {
	name string
	make func(b *testing.B) storage.Driver
} {
	return []struct {
		name string
		make func(b *testing.B) storage.Driver
	}{
		{"filesystem", func(b *testing.B) storage.Driver {
			d, err := filesystem.New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { d.Close() })
			return d
		}},
		{"azureblob", func(b *testing.B) storage.Driver {
			return server(b).NewDriver(b, azureblob.Options{})
		}},
	}
}

func push(b *testing.B, bs *storage.BlobStore, data []byte, dg string) {
	ctx := context.Background()
	id, err := bs.StartUpload(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bs.Append(ctx, id, 0, bytes.NewReader(data)); err != nil {
		b.Fatal(err)
	}
	if _, err := bs.Commit(ctx, id, dg, nil); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkPush(b *testing.B) {
	data, dg := benchBlob(b)
	for _, d := range benchDrivers() {
		b.Run(d.name, func(b *testing.B) {
			bs := storage.NewBlobStore(d.make(b))
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				push(b, bs, data, dg)
				b.StopTimer()
				if err := bs.Delete(context.Background(), dg); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

func BenchmarkPull(b *testing.B) {
	data, dg := benchBlob(b)
	for _, d := range benchDrivers() {
		b.Run(d.name, func(b *testing.B) {
			bs := storage.NewBlobStore(d.make(b))
			push(b, bs, data, dg)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc, _, err := bs.Open(r.Context(), dg)
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				defer rc.Close()
				http.ServeContent(w, r, "", time.Time{}, rc)
			}))
			defer srv.Close()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				resp, err := http.Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != int64(len(data)) || resp.StatusCode != http.StatusOK {
					b.Fatalf("pulled %d bytes, status %d: %v", n, resp.StatusCode, err)
				}
			}
		})
	}
}
