package distribution

import (
	"io"
	"net/http"
	"testing"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob"
	"github.com/drydock-dev/drydock/internal/registry/storage/azureblob/azuritetest"
)

// The registry's push and pull over loopback HTTP with blobs on the
// filesystem and on Azure Blob Storage (Azurite on loopback):
//
//	go test -run '^$' -bench 'StorageDrivers' -benchtime 3x ./internal/registry/distribution/
//
// Push: POST, one streamed PATCH and the completing PUT of a 64 MiB blob;
// pull: GET of it. Push1MiB: monolithic POST of a 1 MiB blob, where the
// per-request cost of the storage round trips shows.
func BenchmarkStorageDrivers(b *testing.B) {
	drivers := []struct {
		name string
		env  func(b *testing.B) *env
	}{
		{"filesystem", func(b *testing.B) *env { return newEnv(b, envOpts{filesystem: true}) }},
		{"azureblob", func(b *testing.B) *env {
			d := azuritetest.Start(b).NewDriver(b, azureblob.Options{})
			return newEnv(b, envOpts{blobs: storage.NewBlobStore(d)})
		}},
	}
	blob := randomBytes(64 << 20)
	d := sha256Digest(blob)
	for _, drv := range drivers {
		b.Run(drv.name+"/Push", func(b *testing.B) {
			e := drv.env(b)
			b.SetBytes(int64(len(blob)))
			b.ResetTimer()
			for range b.N {
				r := e.do("POST", "/v2/bench/app/blobs/uploads/", nil)
				e.expect(r, http.StatusAccepted, "")
				r = e.do("PATCH", r.h.Get("Location"), blob)
				e.expect(r, http.StatusAccepted, "")
				e.expect(e.do("PUT", r.h.Get("Location")+"?digest="+d, nil), http.StatusCreated, "")
				b.StopTimer()
				e.expect(e.do("DELETE", "/v2/bench/app/blobs/"+d, nil), http.StatusAccepted, "")
				if err := e.blobs.Delete(b.Context(), d); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
		b.Run(drv.name+"/Pull", func(b *testing.B) {
			e := drv.env(b)
			e.pushBlob("bench/app", blob)
			client := e.srv.Client()
			b.SetBytes(int64(len(blob)))
			b.ResetTimer()
			for range b.N {
				resp, err := client.Get(e.srv.URL + "/v2/bench/app/blobs/" + d)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n != int64(len(blob)) {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
		})
		b.Run(drv.name+"/Push1MiB", func(b *testing.B) { benchPush(b, drv.env(b)) })
	}
}
