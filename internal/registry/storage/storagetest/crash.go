package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/storage"
)

// Crash tests run a child process (the driver's test binary, re-executed
// with -test.run=^TestCrashChild$) that kills itself with SIGKILL in the
// middle of writing a blob; then the parent opens the same storage in a
// fresh BlobStore, as a restarted registry (or another replica) would. The
// driver's TestCrashChild calls CrashChild; its crash tests call
// RunCrashChild, then their own checks of what the crash left, then
// CheckCrashedPut or ResumeCrashedUpload.
const (
	CrashBlob   = 6<<20 + 123 // bytes of the blob pushed
	CrashAfter  = 3<<20 + 7   // the child's killer dies after yielding this many
	CrashChunk1 = 1<<20 + 3   // the chunked child's first, completed Append
)

// CrashData is the blob the crash tests push.
func CrashData() []byte { return RandomBytes(42, CrashBlob) }

// Killer yields data and kills its own process once it has handed out
// CrashAfter bytes and ready reports true (it is asked again every
// millisecond): ready waits for part of the push to have reached the
// storage, so that the crash leaves something for the parent to find.
func Killer(data []byte, ready func() bool) io.Reader {
	return &killer{data: data, n: CrashAfter, ready: ready}
}

type killer struct {
	data  []byte
	n     int
	ready func() bool
}

func (k *killer) Read(p []byte) (int, error) {
	if k.n <= 0 {
		for !k.ready() {
			time.Sleep(time.Millisecond)
		}
		pr, _ := os.FindProcess(os.Getpid())
		pr.Kill()
		time.Sleep(time.Minute) // the kill is asynchronous
	}
	m := copy(p, k.data[:min(len(p), k.n, len(k.data))])
	k.data, k.n = k.data[m:], k.n-m
	return m, nil
}

// CrashChild is the child's body. In mode "put" it Puts CrashData read
// through killer; in mode "chunked" it starts an upload, appends its first
// CrashChunk1 bytes, writes the upload's id to idFile and appends the rest
// through killer. killer(data) must yield data and kill the process after
// CrashAfter bytes: see Killer.
func CrashChild(t *testing.T, bs *storage.BlobStore, mode, idFile string, killer func(data []byte) io.Reader) {
	ctx := context.Background()
	data := CrashData()
	switch mode {
	case "put":
		bs.Put(ctx, Digest("sha256", data), killer(data))
	case "chunked":
		id, err := bs.StartUpload(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bs.Append(ctx, id, 0, bytes.NewReader(data[:CrashChunk1])); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(idFile, []byte(id), 0o600); err != nil {
			t.Fatal(err)
		}
		bs.Append(ctx, id, CrashChunk1, killer(data[CrashChunk1:]))
	}
	t.Fatal("still alive")
}

// RunCrashChild runs the test binary's TestCrashChild with env added to
// the environment and checks that it died of a kill.
func RunCrashChild(t *testing.T, env ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("crash test runs a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Exited() {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "FAIL") {
		t.Fatalf("child failed:\n%s", out)
	}
}

// CheckCrashedPut checks that no client sees the blob a child died
// putting, and that it can be pushed again.
func CheckCrashedPut(t *testing.T, bs *storage.BlobStore) {
	t.Helper()
	ctx := context.Background()
	data := CrashData()
	dg := Digest("sha256", data)
	wantNoBlobs(t, bs)
	if _, err := bs.Put(ctx, dg, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// ResumeCrashedUpload checks the upload id a chunked child died in, whose
// size the caller checked to be n: no blob is visible, an Append at 0 is
// refused, and the client can resume from n, commit and read the blob.
func ResumeCrashedUpload(t *testing.T, bs *storage.BlobStore, id string, n int64) {
	t.Helper()
	ctx := context.Background()
	data := CrashData()
	dg := Digest("sha256", data)
	wantNoBlobs(t, bs)
	if _, err := bs.Append(ctx, id, 0, strings.NewReader("x")); !errors.Is(err, storage.ErrRangeInvalid) {
		t.Fatalf("Append at 0: %v", err)
	}
	if _, err := bs.Append(ctx, id, n, bytes.NewReader(data[n:])); err != nil {
		t.Fatal(err)
	}
	desc, err := bs.Commit(ctx, id, dg, nil)
	if err != nil {
		t.Fatalf("Commit after resuming: %v", err)
	}
	if desc.Size != CrashBlob {
		t.Fatalf("Commit = %+v", desc)
	}
	if got := readBlob(t, bs, dg); !bytes.Equal(got, data) {
		t.Fatal("blob differs")
	}
}

// wantNoBlobs checks that bs shows no blob, the crash's blob included.
func wantNoBlobs(t *testing.T, bs *storage.BlobStore) {
	t.Helper()
	ctx := context.Background()
	dg := Digest("sha256", CrashData())
	if _, err := bs.Stat(ctx, dg); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("Stat after the crash: %v", err)
	}
	if _, _, err := bs.Open(ctx, dg); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("Open after the crash: %v", err)
	}
	if err := bs.Walk(ctx, func(desc storage.Descriptor, _ time.Time) error {
		return errors.New("found blob " + desc.Digest)
	}); err != nil {
		t.Fatal(err)
	}
}
