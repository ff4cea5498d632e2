package distribution

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Benchmarks over a real loopback HTTP server with the filesystem blob
// store: go test -run XXX -bench . ./internal/registry/distribution/

func benchGet(b *testing.B, e *env, path string, size int64) {
	b.Helper()
	client := e.srv.Client()
	b.SetBytes(size)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(e.srv.URL + path)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func BenchmarkManifestGetByTag(b *testing.B) {
	e := newEnv(b, envOpts{filesystem: true})
	body, _ := e.image("bench/app", 3, nil)
	e.putManifest("bench/app", "latest", body, MediaTypeOCIManifest)
	benchGet(b, e, "/v2/bench/app/manifests/latest", int64(len(body)))
}

func BenchmarkBlobGet1MiB(b *testing.B) {
	e := newEnv(b, envOpts{filesystem: true})
	blob := randomBytes(1 << 20)
	d := e.pushBlob("bench/app", blob)
	benchGet(b, e, "/v2/bench/app/blobs/"+d, int64(len(blob)))
}

func BenchmarkBlobPushMonolithic1MiB(b *testing.B) {
	for _, fs := range []bool{false, true} {
		name := "inmemory"
		if fs {
			name = "filesystem"
		}
		b.Run(name, func(b *testing.B) { benchPush(b, newEnv(b, envOpts{filesystem: fs})) })
	}
}

func benchPush(b *testing.B, e *env) {
	client := e.srv.Client()
	blob := randomBytes(1 << 20)
	b.SetBytes(int64(len(blob)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		blob[0], blob[1], blob[2] = byte(i), byte(i>>8), byte(i>>16)
		req, _ := http.NewRequest("POST", e.srv.URL+"/v2/bench/app/blobs/uploads/?digest="+sha256Digest(blob), bytes.NewReader(blob))
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
