package filesystem_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/storage/filesystem"
	"github.com/drydock-dev/drydock/internal/registry/storage/storagetest"
)

// Benchmarks. Compare Put with the SHA-256 baseline:
//
//	go test -run '^$' -bench 'SHA256|Put' -benchtime 5x ./internal/registry/storage/filesystem/
//
// (DRYDOCK_BENCH_DIR=/dev/shm takes the disk out of it), and the memory of a
// 1 GiB Put:
//
//	go test -run '^$' -bench PutMemory -benchtime 1x ./internal/registry/storage/filesystem/

const benchSize = 256 << 20

// benchDriver makes a driver for a benchmark, in $DRYDOCK_BENCH_DIR if set
// (say /dev/shm, to take the disk out of the measurement), else in a
// temporary directory.
func benchDriver(b *testing.B) *filesystem.Driver {
	dir := os.Getenv("DRYDOCK_BENCH_DIR")
	if dir == "" {
		return newDriverAt(b, b.TempDir())
	}
	dir, err := os.MkdirTemp(dir, "drydock-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return newDriverAt(b, dir)
}

var benchPattern = sync.OnceValue(func() []byte { return storagetest.RandomBytes(7, 1<<20) })

// patternReader yields size bytes of the repeated pattern, as a network
// body would: the cost of a read is a copy into the caller's buffer.
type patternReader struct{ pos, size int64 }

func newPattern(size int64) *patternReader { return &patternReader{size: size} }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	pat := benchPattern()
	n := 0
	for n < len(p) && r.pos < r.size {
		off := int(r.pos % int64(len(pat)))
		m := copy(p[n:], pat[off:min(int64(len(pat)), int64(off)+r.size-r.pos)])
		n += m
		r.pos += int64(m)
	}
	return n, nil
}

func patternDigest(size int64) string {
	h := sha256.New()
	io.CopyBuffer(h, newPattern(size), make([]byte, 1<<20))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// BenchmarkSHA256 is the baseline: Go's SHA-256 over 256 MiB in 1 MiB
// writes, with no I/O at all.
func BenchmarkSHA256(b *testing.B) {
	pat := benchPattern()
	b.SetBytes(benchSize)
	for b.Loop() {
		h := sha256.New()
		for n := 0; n < benchSize; n += len(pat) {
			h.Write(pat)
		}
		h.Sum(nil)
	}
}

// BenchmarkPut is a monolithic push of 256 MiB: read, hash, write, fsync,
// verify, rename into place.
func BenchmarkPut(b *testing.B) {
	d := benchDriver(b)
	bs := storage.NewBlobStore(d)
	ctx := context.Background()
	dg := patternDigest(benchSize)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		if _, err := bs.Put(ctx, dg, newPattern(benchSize)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := bs.Delete(ctx, dg); err != nil {
			b.Fatal(err)
		}
		settle()
		b.StartTimer()
	}
}

// BenchmarkWrite is the disk's ceiling: the same 256 MiB written through
// the driver in 1 MiB writes and fsynced, with no hashing.
func BenchmarkWrite(b *testing.B) {
	d := benchDriver(b)
	ctx := context.Background()
	buf := make([]byte, 1<<20)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		w, err := d.Writer(ctx, "f", false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(w, newPattern(benchSize), buf); err != nil {
			b.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		w.Close()
		b.StopTimer()
		d.Delete(ctx, "f")
		settle()
		b.StartTimer()
	}
}

// BenchmarkPutChunked pushes 256 MiB as four 64 MiB PATCHes and a PUT.
func BenchmarkPutChunked(b *testing.B) {
	d := benchDriver(b)
	bs := storage.NewBlobStore(d)
	ctx := context.Background()
	dg := patternDigest(benchSize)
	const chunk = benchSize / 4
	b.SetBytes(benchSize)
	b.ResetTimer()
	for range b.N {
		id, err := bs.StartUpload(ctx)
		if err != nil {
			b.Fatal(err)
		}
		src := newPattern(benchSize)
		for off := int64(0); off < benchSize; off += chunk {
			if _, err := bs.Append(ctx, id, off, io.LimitReader(src, chunk)); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := bs.Commit(ctx, id, dg, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		bs.Delete(ctx, dg)
		settle()
		b.StartTimer()
	}
}

// BenchmarkPutMemory pushes 1 GiB and reports how far the Go heap and the
// process RSS rose above where they started while it ran (sampled every
// 10ms): memory must stay flat whatever the blob size.
func BenchmarkPutMemory(b *testing.B) {
	const size = 1 << 30
	d := benchDriver(b)
	bs := storage.NewBlobStore(d)
	ctx := context.Background()
	dg := patternDigest(size)
	var maxHeap, maxRSS uint64
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap0, rss0 := ms.HeapInuse, rss()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > heap0 {
					maxHeap = max(maxHeap, ms.HeapInuse-heap0)
				}
				if r := rss(); r > rss0 {
					maxRSS = max(maxRSS, r-rss0)
				}
			}
		})
		_, err := bs.Put(ctx, dg, newPattern(size))
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		bs.Delete(ctx, dg)
		settle()
		b.StartTimer()
	}
	b.ReportMetric(float64(maxHeap)/(1<<20), "heap-growth-MiB")
	b.ReportMetric(float64(maxRSS)/(1<<20), "rss-growth-MiB")
}

// rss is the resident set size from /proc/self/status (0 elsewhere).
func rss() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkServe compares a pull through BlobStore.Open and
// http.ServeContent with http.ServeFile of the same file, over loopback.
func BenchmarkServe(b *testing.B) {
	d := benchDriver(b)
	bs := storage.NewBlobStore(d)
	ctx := context.Background()
	dg := patternDigest(benchSize)
	if _, err := bs.Put(ctx, dg, newPattern(benchSize)); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(d.Dir(), "blobs", "sha256", dg[7:9], dg[7:], "data")
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"ServeFile", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, file) }},
		{"BlobStore", func(w http.ResponseWriter, r *http.Request) {
			rc, _, err := bs.Open(r.Context(), dg)
			if err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			defer rc.Close()
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeContent(w, r, "", time.Time{}, rc)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			buf := make([]byte, 1<<20)
			b.SetBytes(benchSize)
			for b.Loop() {
				resp, err := http.Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, buf)
				resp.Body.Close()
				if err != nil || n != benchSize {
					b.Fatalf("read %d, %v", n, err)
				}
			}
		})
	}
}
