package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/registry/storage"
)

// Digest returns the digest of data with alg ("sha256" or "sha512").
func Digest(alg string, data []byte) string {
	if alg == storage.SHA512 {
		s := sha512.Sum512(data)
		return "sha512:" + hex.EncodeToString(s[:])
	}
	s := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(s[:])
}

// noSeeker hides a driver's storage.Seeker, so that BlobStore.Open falls
// back to its Reader-based ReadSeeker.
type noSeeker struct{ storage.Driver }

// pieces reads its data in pieces of varying, mostly small, sizes.
type pieces struct {
	data []byte
	i    int
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(b), len(p.data), 1+(p.i*7919)%70_000)
	p.i++
	copy(b, p.data[:n])
	p.data = p.data[n:]
	return n, nil
}

// failAfter returns n bytes of data, then err.
func failAfter(data []byte, n int, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(data[:n]), errReader{err})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func readBlob(t *testing.T, bs *storage.BlobStore, digest string) []byte {
	t.Helper()
	rc, desc, err := bs.Open(context.Background(), digest)
	if err != nil {
		t.Fatalf("Open(%s): %v", digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", digest, err)
	}
	if desc.Digest != digest || desc.Size != int64(len(b)) {
		t.Fatalf("Open(%s) Descriptor = %+v, read %d bytes", digest, desc, len(b))
	}
	return b
}

func mustPut(t *testing.T, bs *storage.BlobStore, data []byte, alg string) storage.Descriptor {
	t.Helper()
	dg := Digest(alg, data)
	desc, err := bs.Put(context.Background(), dg, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%s): %v", dg, err)
	}
	if desc != (storage.Descriptor{Digest: dg, Size: int64(len(data))}) {
		t.Fatalf("Put = %+v", desc)
	}
	return desc
}

// assertAbsent checks that digest is not visible through any BlobStore
// method nor anywhere under the blobs tree.
func assertAbsent(t *testing.T, d storage.Driver, bs *storage.BlobStore, digest string) {
	t.Helper()
	ctx := context.Background()
	if _, err := bs.Stat(ctx, digest); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("Stat(%s) = %v, want ErrBlobUnknown", digest, err)
	}
	if rc, _, err := bs.Open(ctx, digest); !errors.Is(err, storage.ErrBlobUnknown) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Open(%s) = %v, want ErrBlobUnknown", digest, err)
	}
	bs.Walk(ctx, func(desc storage.Descriptor, _ time.Time) error {
		if desc.Digest == digest {
			t.Fatalf("Walk reports %s", digest)
		}
		return nil
	})
	_, hx, _ := storage.ParseDigest(digest)
	d.Walk(ctx, "", func(fi storage.FileInfo) error {
		if strings.HasPrefix(fi.Path, "blobs/") && strings.Contains(fi.Path, hx) {
			t.Fatalf("%s is on the driver", fi.Path)
		}
		return nil
	})
}

// uploadsLeft lists what is under uploads/.
func uploadsLeft(t *testing.T, d storage.Driver) []string {
	t.Helper()
	got, err := d.List(context.Background(), "uploads")
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("List(uploads): %v", err)
	}
	return got
}

func wantNoUploads(t *testing.T, d storage.Driver) {
	t.Helper()
	if got := uploadsLeft(t, d); len(got) != 0 {
		t.Fatalf("uploads left behind: %q", got)
	}
}

func mustAppend(t *testing.T, bs *storage.BlobStore, id string, offset int64, data []byte) int64 {
	t.Helper()
	n, err := bs.Append(context.Background(), id, offset, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Append(%s, %d, %d bytes): %v", id, offset, len(data), err)
	}
	return n
}

// TestBlobStore checks BlobStore's contract over drivers from newDriver.
func TestBlobStore(t *testing.T, newDriver NewDriverFunc) {
	ctx := context.Background()
	setup := func(t *testing.T) (storage.Driver, *storage.BlobStore) {
		d := newDriver(t)
		return d, storage.NewBlobStore(d)
	}

	t.Run("Put", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		for i, tc := range []struct {
			alg  string
			size int
		}{
			{"sha256", 0}, {"sha256", 1}, {"sha256", 1000}, {"sha256", 1 << 20}, {"sha256", 1<<20 + 1},
			{"sha256", 5<<20 + 7}, {"sha512", 0}, {"sha512", 3}, {"sha512", 2<<20 + 3},
		} {
			data := RandomBytes(uint64(1000+i), tc.size)
			for _, r := range []io.Reader{bytes.NewReader(data), &pieces{data: data}, io.MultiReader(bytes.NewReader(data))} {
				dg := Digest(tc.alg, data)
				desc, err := bs.Put(ctx, dg, r)
				if err != nil {
					t.Fatalf("Put(%s, %d bytes, %T): %v", tc.alg, tc.size, r, err)
				}
				if desc != (storage.Descriptor{Digest: dg, Size: int64(tc.size)}) {
					t.Fatalf("Put = %+v", desc)
				}
				if got, err := bs.Stat(ctx, dg); err != nil || got != desc {
					t.Fatalf("Stat = %+v, %v; want %+v", got, err, desc)
				}
				if got := readBlob(t, bs, dg); !bytes.Equal(got, data) {
					t.Fatalf("%s: read back %d bytes that differ", dg, len(got))
				}
			}
		}
		wantNoUploads(t, d)
	})

	t.Run("PutDigestMismatch", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		for _, alg := range []string{"sha256", "sha512"} {
			for _, size := range []int{0, 10, 3<<20 + 1} {
				data := RandomBytes(7, size)
				claimed := Digest(alg, append(slices.Clone(data), '!'))
				_, err := bs.Put(ctx, claimed, bytes.NewReader(data))
				var me *storage.DigestMismatchError
				if !errors.Is(err, storage.ErrDigestMismatch) || !errors.As(err, &me) {
					t.Fatalf("Put with a wrong digest: %v", err)
				}
				if me.Expected != claimed || me.Actual != Digest(alg, data) || me.Size != int64(size) {
					t.Fatalf("mismatch error = %+v", me)
				}
				assertAbsent(t, d, bs, claimed)
				assertAbsent(t, d, bs, Digest(alg, data))
				wantNoUploads(t, d)
			}
		}
	})

	t.Run("PutBadDigest", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		for _, tc := range []struct {
			digest string
			want   error
		}{
			{"", storage.ErrDigestInvalid},
			{"sha256", storage.ErrDigestInvalid},
			{"sha256:", storage.ErrDigestInvalid},
			{"sha256:abc", storage.ErrDigestInvalid},
			{"sha256:" + strings.Repeat("A", 64), storage.ErrDigestInvalid},
			{"sha512:" + strings.Repeat("a", 64), storage.ErrDigestInvalid},
			{"md5:d41d8cd98f00b204e9800998ecf8427e", storage.ErrDigestUnsupported},
			{"../../x:" + strings.Repeat("a", 64), storage.ErrDigestInvalid},
		} {
			if _, err := bs.Put(ctx, tc.digest, strings.NewReader("x")); !errors.Is(err, tc.want) {
				t.Errorf("Put(%q) = %v, want %v", tc.digest, err, tc.want)
			}
			if _, err := bs.Stat(ctx, tc.digest); !errors.Is(err, tc.want) {
				t.Errorf("Stat(%q) = %v, want %v", tc.digest, err, tc.want)
			}
			if _, _, err := bs.Open(ctx, tc.digest); !errors.Is(err, tc.want) {
				t.Errorf("Open(%q) = %v, want %v", tc.digest, err, tc.want)
			}
			if err := bs.Delete(ctx, tc.digest); !errors.Is(err, tc.want) {
				t.Errorf("Delete(%q) = %v, want %v", tc.digest, err, tc.want)
			}
		}
		if got := walkAll(t, d, ""); len(got) != 0 {
			t.Fatalf("bad digests left %+v", got)
		}
	})

	t.Run("PutReadError", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		data := RandomBytes(8, 3<<20)
		boom := errors.New("client went away")
		for _, n := range []int{0, 100, 1 << 20, 1<<20 + 100, 2<<20 + 5} {
			if _, err := bs.Put(ctx, Digest("sha256", data), failAfter(data, n, boom)); !errors.Is(err, boom) {
				t.Fatalf("Put failing after %d bytes: %v", n, err)
			}
			assertAbsent(t, d, bs, Digest("sha256", data))
			wantNoUploads(t, d)
		}
	})

	t.Run("PutCanceled", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		data := RandomBytes(9, 4<<20)
		cctx, cancel := context.WithCancel(ctx)
		r := io.MultiReader(bytes.NewReader(data[:2<<20]), readerFunc(func(p []byte) (int, error) {
			cancel()
			return copy(p, data[2<<20:2<<20+10]), nil
		}), bytes.NewReader(data[2<<20+10:]))
		if _, err := bs.Put(cctx, Digest("sha256", data), r); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put with a context canceled part way: %v", err)
		}
		assertAbsent(t, d, bs, Digest("sha256", data))
		wantNoUploads(t, d)
	})

	t.Run("ChunkedUpload", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		data := RandomBytes(10, 3<<20+11)
		dg := Digest("sha256", data)
		id, err := bs.StartUpload(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := bs.UploadSize(ctx, id); err != nil || n != 0 {
			t.Fatalf("UploadSize = %d, %v", n, err)
		}
		cuts := []int{0, 5, 5, 1 << 20, 1<<20 + 3, 3 << 20, len(data)}
		for i := 1; i < len(cuts); i++ {
			if n := mustAppend(t, bs, id, int64(cuts[i-1]), data[cuts[i-1]:cuts[i]]); n != int64(cuts[i]) {
				t.Fatalf("Append returned size %d, want %d", n, cuts[i])
			}
			if n, err := bs.UploadSize(ctx, id); err != nil || n != int64(cuts[i]) {
				t.Fatalf("UploadSize = %d, %v; want %d", n, err, cuts[i])
			}
		}
		// Out-of-order offsets write nothing.
		for _, off := range []int64{0, 1, int64(len(data)) - 1, int64(len(data)) + 1} {
			_, err := bs.Append(ctx, id, off, strings.NewReader("junk"))
			var re *storage.RangeError
			if !errors.Is(err, storage.ErrRangeInvalid) || !errors.As(err, &re) || re.Offset != off || re.Size != int64(len(data)) {
				t.Fatalf("Append at offset %d: %v", off, err)
			}
		}
		if _, err := bs.Stat(ctx, dg); !errors.Is(err, storage.ErrBlobUnknown) {
			t.Fatalf("blob visible before Commit: %v", err)
		}
		desc, err := bs.Commit(ctx, id, dg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if desc != (storage.Descriptor{Digest: dg, Size: int64(len(data))}) {
			t.Fatalf("Commit = %+v", desc)
		}
		if got := readBlob(t, bs, dg); !bytes.Equal(got, data) {
			t.Fatal("committed blob differs")
		}
		if _, err := bs.UploadSize(ctx, id); !errors.Is(err, storage.ErrUploadUnknown) {
			t.Fatalf("UploadSize after Commit: %v", err)
		}
		if _, err := bs.Append(ctx, id, int64(len(data)), strings.NewReader("x")); !errors.Is(err, storage.ErrUploadUnknown) {
			t.Fatalf("Append after Commit: %v", err)
		}
		wantNoUploads(t, d)
	})

	t.Run("CommitWithFinalChunk", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		for i, alg := range []string{"sha256", "sha512"} {
			data := RandomBytes(uint64(11+i), 2<<20+99)
			id, err := bs.StartUpload(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, bs, id, 0, data[:1000])
			mustAppend(t, bs, id, -1, data[1000:1<<20]) // streamed: at the end
			desc, err := bs.Commit(ctx, id, Digest(alg, data), &pieces{data: data[1<<20:]})
			if err != nil {
				t.Fatalf("%s: %v", alg, err)
			}
			if desc.Size != int64(len(data)) {
				t.Fatalf("Commit = %+v", desc)
			}
			if got := readBlob(t, bs, Digest(alg, data)); !bytes.Equal(got, data) {
				t.Fatal("committed blob differs")
			}
		}
		// A whole blob in Commit's final chunk, and an empty blob.
		for _, data := range [][]byte{RandomBytes(13, 100), {}} {
			id, _ := bs.StartUpload(ctx)
			if _, err := bs.Commit(ctx, id, Digest("sha256", data), bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if got := readBlob(t, bs, Digest("sha256", data)); !bytes.Equal(got, data) {
				t.Fatal("committed blob differs")
			}
		}
		wantNoUploads(t, d)
	})

	t.Run("CommitDigestMismatch", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		for _, alg := range []string{"sha256", "sha512"} {
			data := RandomBytes(14, 1<<20+5)
			id, _ := bs.StartUpload(ctx)
			mustAppend(t, bs, id, 0, data)
			wrong := Digest(alg, data[1:])
			_, err := bs.Commit(ctx, id, wrong, nil)
			var me *storage.DigestMismatchError
			if !errors.As(err, &me) || !errors.Is(err, storage.ErrDigestMismatch) || me.Actual != Digest(alg, data) {
				t.Fatalf("Commit with a wrong %s digest: %v", alg, err)
			}
			assertAbsent(t, d, bs, wrong)
			assertAbsent(t, d, bs, Digest(alg, data))
			if _, err := bs.UploadSize(ctx, id); !errors.Is(err, storage.ErrUploadUnknown) {
				t.Fatalf("upload kept after a mismatch: %v", err)
			}
			wantNoUploads(t, d)
		}
	})

	t.Run("CommitBadDigestKeepsUpload", func(t *testing.T) {
		t.Parallel()
		_, bs := setup(t)
		data := []byte("keep me")
		id, _ := bs.StartUpload(ctx)
		mustAppend(t, bs, id, 0, data)
		for _, tc := range []struct {
			digest string
			want   error
		}{{"sha256:nothex", storage.ErrDigestInvalid}, {"crc32:abcd", storage.ErrDigestUnsupported}} {
			if _, err := bs.Commit(ctx, id, tc.digest, nil); !errors.Is(err, tc.want) {
				t.Fatalf("Commit(%q) = %v, want %v", tc.digest, err, tc.want)
			}
		}
		if n, err := bs.UploadSize(ctx, id); err != nil || n != int64(len(data)) {
			t.Fatalf("UploadSize after bad Commits = %d, %v", n, err)
		}
		if _, err := bs.Commit(ctx, id, Digest("sha256", data), nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("UnknownUploads", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		real, _ := bs.StartUpload(ctx)
		for _, id := range []string{"", "x", "../" + real, strings.ToUpper(real), real + "/", "00000000-0000-4000-8000-000000000000", real[:35] + "/"} {
			if _, err := bs.UploadSize(ctx, id); !errors.Is(err, storage.ErrUploadUnknown) {
				t.Errorf("UploadSize(%q) = %v", id, err)
			}
			if _, err := bs.Append(ctx, id, 0, strings.NewReader("x")); !errors.Is(err, storage.ErrUploadUnknown) {
				t.Errorf("Append(%q) = %v", id, err)
			}
			if _, err := bs.Commit(ctx, id, Digest("sha256", nil), nil); !errors.Is(err, storage.ErrUploadUnknown) {
				t.Errorf("Commit(%q) = %v", id, err)
			}
			if err := bs.CancelUpload(ctx, id); !errors.Is(err, storage.ErrUploadUnknown) {
				t.Errorf("CancelUpload(%q) = %v", id, err)
			}
		}
		if got := uploadsLeft(t, d); !slices.Equal(got, []string{"uploads/" + real}) {
			t.Fatalf("uploads = %q", got)
		}
	})

	t.Run("CancelUpload", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		id, _ := bs.StartUpload(ctx)
		mustAppend(t, bs, id, 0, []byte("abc"))
		if err := bs.CancelUpload(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := bs.UploadSize(ctx, id); !errors.Is(err, storage.ErrUploadUnknown) {
			t.Fatalf("UploadSize after cancel: %v", err)
		}
		if err := bs.CancelUpload(ctx, id); !errors.Is(err, storage.ErrUploadUnknown) {
			t.Fatalf("second CancelUpload: %v", err)
		}
		wantNoUploads(t, d)
	})

	t.Run("ResumeInNewStore", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		data := RandomBytes(15, 2<<20+1)
		id, _ := bs.StartUpload(ctx)
		mustAppend(t, bs, id, 0, data[:1<<20+7])
		bs2 := storage.NewBlobStore(d) // a restarted process
		if n, err := bs2.UploadSize(ctx, id); err != nil || n != 1<<20+7 {
			t.Fatalf("UploadSize in a new store = %d, %v", n, err)
		}
		mustAppend(t, bs2, id, 1<<20+7, data[1<<20+7:])
		if _, err := storage.NewBlobStore(d).Commit(ctx, id, Digest("sha256", data), nil); err != nil {
			t.Fatal(err)
		}
		if got := readBlob(t, bs, Digest("sha256", data)); !bytes.Equal(got, data) {
			t.Fatal("blob differs")
		}
	})

	t.Run("StateRepair", func(t *testing.T) {
		t.Parallel()
		data := RandomBytes(16, 1<<20+300)
		for _, tc := range []struct {
			name   string
			damage func(t *testing.T, d storage.Driver, id string)
		}{
			{"state missing", func(t *testing.T, d storage.Driver, id string) {
				if err := d.Delete(ctx, "uploads/"+id+"/state"); err != nil {
					t.Fatal(err)
				}
			}},
			{"state garbage", func(t *testing.T, d storage.Driver, id string) {
				Write(t, d, "uploads/"+id+"/state", []byte("{not json"))
			}},
			{"state torn", func(t *testing.T, d storage.Driver, id string) {
				st := Read(t, d, "uploads/"+id+"/state")
				Write(t, d, "uploads/"+id+"/state", st[:len(st)/2])
			}},
			{"state checksum", func(t *testing.T, d storage.Driver, id string) {
				st := Read(t, d, "uploads/"+id+"/state")
				i := bytes.Index(st, []byte(`"sha256":"`)) + len(`"sha256":"`) + 20
				if st[i] == 'A' { // still base64, but a different hash state
					st[i] = 'B'
				} else {
					st[i] = 'A'
				}
				Write(t, d, "uploads/"+id+"/state", st)
			}},
			{"data ahead of state", func(t *testing.T, d storage.Driver, id string) {
				// A crash after the data was written, before the state was.
				w, err := d.Writer(ctx, "uploads/"+id+"/data", true)
				if err != nil {
					t.Fatal(err)
				}
				w.Write(data[1000:1200])
				w.Commit()
				w.Close()
			}},
			{"state from another upload", func(t *testing.T, d storage.Driver, id string) {
				bs := storage.NewBlobStore(d)
				other, _ := bs.StartUpload(ctx)
				mustAppend(t, bs, other, 0, bytes.Repeat([]byte{'z'}, 1000))
				Write(t, d, "uploads/"+id+"/state", Read(t, d, "uploads/"+other+"/state"))
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, bs := setup(t)
				id, _ := bs.StartUpload(ctx)
				mustAppend(t, bs, id, 0, data[:1000])
				tc.damage(t, d, id)
				bs = storage.NewBlobStore(d)
				n, err := bs.UploadSize(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if n != 1000 && n != 1200 {
					t.Fatalf("UploadSize after damage = %d", n)
				}
				mustAppend(t, bs, id, n, data[n:])
				if _, err := bs.Commit(ctx, id, Digest("sha256", data), nil); err != nil {
					t.Fatalf("Commit after repair: %v", err)
				}
				if got := readBlob(t, bs, Digest("sha256", data)); !bytes.Equal(got, data) {
					t.Fatal("blob differs")
				}
			})
		}
	})

	t.Run("AppendReadError", func(t *testing.T) {
		t.Parallel()
		_, bs := setup(t)
		data := RandomBytes(17, 3<<20)
		id, _ := bs.StartUpload(ctx)
		mustAppend(t, bs, id, 0, data[:10])
		boom := errors.New("connection reset")
		n, err := bs.Append(ctx, id, 10, failAfter(data[10:], 1<<20+5, boom))
		if !errors.Is(err, boom) {
			t.Fatalf("Append with a failing reader: %v", err)
		}
		// What was read is kept, and reported.
		if n != 10+1<<20+5 {
			t.Fatalf("Append returned size %d", n)
		}
		if got, err := bs.UploadSize(ctx, id); err != nil || got != n {
			t.Fatalf("UploadSize = %d, %v; want %d", got, err, n)
		}
		mustAppend(t, bs, id, n, data[n:])
		if _, err := bs.Commit(ctx, id, Digest("sha256", data), nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Dedupe", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		data := RandomBytes(18, 70_000)
		first := mustPut(t, bs, data, "sha256")
		fi1, _ := d.Stat(ctx, "blobs/sha256/"+first.Digest[7:9]+"/"+first.Digest[7:]+"/data")
		mustPut(t, bs, data, "sha256")
		id, _ := bs.StartUpload(ctx)
		mustAppend(t, bs, id, 0, data)
		if desc, err := bs.Commit(ctx, id, first.Digest, nil); err != nil || desc != first {
			t.Fatalf("Commit of a stored blob = %+v, %v", desc, err)
		}
		fi2, _ := d.Stat(ctx, "blobs/sha256/"+first.Digest[7:9]+"/"+first.Digest[7:]+"/data")
		if !fi1.ModTime.Equal(fi2.ModTime) {
			t.Errorf("a duplicate replaced the stored blob (modtime %v -> %v)", fi1.ModTime, fi2.ModTime)
		}
		// A dedupe must not hide a mismatch.
		if _, err := bs.Put(ctx, first.Digest, bytes.NewReader(data[1:])); !errors.Is(err, storage.ErrDigestMismatch) {
			t.Fatalf("Put of other content under a stored digest: %v", err)
		}
		if got := readBlob(t, bs, first.Digest); !bytes.Equal(got, data) {
			t.Fatal("stored blob changed")
		}
		wantNoUploads(t, d)
		n := 0
		bs.Walk(ctx, func(storage.Descriptor, time.Time) error { n++; return nil })
		if n != 1 {
			t.Fatalf("Walk reports %d blobs, want 1", n)
		}
	})

	t.Run("ConcurrentSameDigestPuts", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		data := RandomBytes(19, 1<<20+17)
		dg := Digest("sha256", data)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				var r io.Reader = bytes.NewReader(data)
				if i%2 == 1 {
					r = &pieces{data: data}
				}
				if _, err := bs.Put(ctx, dg, r); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if got := readBlob(t, bs, dg); !bytes.Equal(got, data) {
			t.Fatal("blob differs")
		}
		var all []string
		bs.Walk(ctx, func(desc storage.Descriptor, _ time.Time) error { all = append(all, desc.Digest); return nil })
		if !slices.Equal(all, []string{dg}) {
			t.Fatalf("Walk = %q", all)
		}
		wantNoUploads(t, d)
	})

	t.Run("ConcurrentAppends", func(t *testing.T) {
		t.Parallel()
		_, bs := setup(t)
		chunk := RandomBytes(20, 300_001)
		const writers, each = 4, 3
		id, _ := bs.StartUpload(ctx)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for range writers {
			wg.Go(func() {
				for done := 0; done < each; {
					n, err := bs.UploadSize(ctx, id)
					if err != nil {
						errs <- err
						return
					}
					_, err = bs.Append(ctx, id, n, bytes.NewReader(chunk))
					if errors.Is(err, storage.ErrRangeInvalid) {
						continue // lost the race; ask again
					}
					if err != nil {
						errs <- err
						return
					}
					done++
				}
			})
		}
		// Streamed appends (offset -1) race with them too.
		for range 2 {
			wg.Go(func() {
				if _, err := bs.Append(ctx, id, -1, bytes.NewReader(chunk)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		want := bytes.Repeat(chunk, writers*each+2)
		if _, err := bs.Commit(ctx, id, Digest("sha256", want), nil); err != nil {
			t.Fatalf("Commit after concurrent appends: %v", err)
		}
	})

	openModes := []struct {
		name string
		wrap func(storage.Driver) storage.Driver
	}{
		{"DriverSeeker", func(d storage.Driver) storage.Driver { return d }},
		{"ReaderFallback", func(d storage.Driver) storage.Driver { return noSeeker{d} }},
	}
	for _, mode := range openModes {
		t.Run("OpenSeek/"+mode.name, func(t *testing.T) {
			t.Parallel()
			d := newDriver(t)
			data := RandomBytes(21, 3<<20+3)
			mustPut(t, storage.NewBlobStore(d), data, "sha256")
			bs := storage.NewBlobStore(mode.wrap(d))
			dg := Digest("sha256", data)
			size := int64(len(data))
			rc, desc, err := bs.Open(ctx, dg)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if desc.Size != size {
				t.Fatalf("Open Descriptor = %+v", desc)
			}
			for _, tc := range []struct {
				offset int64
				whence int
				pos    int64
				n      int
			}{
				{0, io.SeekStart, 0, 10},
				{100, io.SeekStart, 100, 1000},
				{-10, io.SeekEnd, size - 10, 10},
				{0, io.SeekEnd, size, 0},
				{1 << 20, io.SeekStart, 1 << 20, 1<<20 + 1},
				{5, io.SeekCurrent, 2<<20 + 6, 300},
				{-1000, io.SeekCurrent, 2<<20 + 6 + 300 - 1000, 2000},
				{size + 5, io.SeekStart, size + 5, 0},
				{3, io.SeekStart, 3, int(size) - 3},
			} {
				pos, err := rc.Seek(tc.offset, tc.whence)
				if err != nil || pos != tc.pos {
					t.Fatalf("Seek(%d, %d) = %d, %v; want %d", tc.offset, tc.whence, pos, err, tc.pos)
				}
				buf := make([]byte, tc.n)
				if _, err := io.ReadFull(rc, buf); err != nil {
					t.Fatalf("read %d at %d: %v", tc.n, pos, err)
				}
				if !bytes.Equal(buf, data[min(pos, size):min(pos+int64(tc.n), size)]) {
					t.Fatalf("read %d at %d: wrong bytes", tc.n, pos)
				}
			}
			if n, err := rc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("read at the end = %d, %v", n, err)
			}
			if _, err := rc.Seek(-1, io.SeekStart); err == nil {
				t.Fatal("Seek to -1 succeeded")
			}

			// What the HTTP layer will do with it.
			for _, tc := range []struct {
				rangeHdr   string
				status     int
				start, end int64
			}{
				{"", http.StatusOK, 0, size},
				{"bytes=10-19", http.StatusPartialContent, 10, 20},
				{fmt.Sprintf("bytes=%d-", size-7), http.StatusPartialContent, size - 7, size},
				{"bytes=-5", http.StatusPartialContent, size - 5, size},
				{fmt.Sprintf("bytes=%d-", size), http.StatusRequestedRangeNotSatisfiable, 0, 0},
			} {
				rc, desc, err := bs.Open(ctx, dg)
				if err != nil {
					t.Fatal(err)
				}
				req := httptest.NewRequest(http.MethodGet, "/blob", nil)
				if tc.rangeHdr != "" {
					req.Header.Set("Range", tc.rangeHdr)
				}
				rec := httptest.NewRecorder()
				http.ServeContent(rec, req, "", time.Time{}, rc)
				rc.Close()
				if rec.Code != tc.status {
					t.Fatalf("ServeContent(Range %q) = %d, want %d", tc.rangeHdr, rec.Code, tc.status)
				}
				if tc.status != http.StatusRequestedRangeNotSatisfiable && !bytes.Equal(rec.Body.Bytes(), data[tc.start:tc.end]) {
					t.Fatalf("ServeContent(Range %q) body: %d bytes, wrong", tc.rangeHdr, rec.Body.Len())
				}
				_ = desc
			}
		})
	}

	t.Run("Walk", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		start := time.Now().Add(-2 * time.Second)
		want := map[string]int64{}
		for i, alg := range []string{"sha256", "sha512", "sha256", "sha256", "sha512"} {
			data := RandomBytes(uint64(30+i), 100*i)
			want[mustPut(t, bs, data, alg).Digest] = int64(len(data))
		}
		// Things under blobs/ that are not blobs are not reported.
		Write(t, d, "blobs/sha256/zz/junk", []byte("x"))
		Write(t, d, "blobs/sha256/00/"+strings.Repeat("1", 64)+"/data", []byte("wrong prefix dir"))
		Write(t, d, "blobs/md5/d4/d41d8cd98f00b204e9800998ecf8427e/data", []byte("x"))
		// An upload is not a blob.
		id, _ := bs.StartUpload(ctx)
		mustAppend(t, bs, id, 0, []byte("pending"))

		got := map[string]int64{}
		var order []string
		err := bs.Walk(ctx, func(desc storage.Descriptor, mod time.Time) error {
			if mod.Before(start) || mod.After(time.Now().Add(2*time.Second)) {
				t.Errorf("%s modTime %v", desc.Digest, mod)
			}
			got[desc.Digest] = desc.Size
			order = append(order, desc.Digest)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Walk = %v, want %v", got, want)
		}
		if !slices.IsSorted(order) {
			t.Fatalf("Walk order %q", order)
		}
		stop := errors.New("stop")
		calls := 0
		if err := bs.Walk(ctx, func(storage.Descriptor, time.Time) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("Walk with an error = %v after %d calls", err, calls)
		}
		// Deleting while walking (garbage collection).
		err = bs.Walk(ctx, func(desc storage.Descriptor, _ time.Time) error { return bs.Delete(ctx, desc.Digest) })
		if err != nil {
			t.Fatal(err)
		}
		if err := bs.Walk(ctx, func(desc storage.Descriptor, _ time.Time) error {
			return fmt.Errorf("%s survived", desc.Digest)
		}); err != nil {
			t.Fatal(err)
		}
		// An empty store walks nothing.
		if err := storage.NewBlobStore(newDriver(t)).Walk(ctx, func(storage.Descriptor, time.Time) error { return errors.New("called") }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		a := mustPut(t, bs, []byte("a"), "sha256")
		b := mustPut(t, bs, []byte("b"), "sha256")
		if err := bs.Delete(ctx, a.Digest); err != nil {
			t.Fatal(err)
		}
		assertAbsent(t, d, bs, a.Digest)
		if err := bs.Delete(ctx, a.Digest); !errors.Is(err, storage.ErrBlobUnknown) {
			t.Fatalf("second Delete: %v", err)
		}
		if got := readBlob(t, bs, b.Digest); string(got) != "b" {
			t.Fatalf("other blob = %q", got)
		}
		// Stored again after a delete.
		mustPut(t, bs, []byte("a"), "sha256")
		if got := readBlob(t, bs, a.Digest); string(got) != "a" {
			t.Fatalf("re-stored blob = %q", got)
		}
	})

	t.Run("PurgeUploads", func(t *testing.T) {
		t.Parallel()
		d, bs := setup(t)
		idle, _ := bs.StartUpload(ctx)
		mustAppend(t, bs, idle, 0, []byte("idle"))
		// What a Put that crashed leaves: data and no state.
		Write(t, d, "uploads/0f0e0d0c-0b0a-4908-8706-050403020100/data", []byte("crashed put"))
		// Something that is not an upload is left alone.
		Write(t, d, "uploads/not-an-upload", []byte("?"))

		// An upload that is busy (an Append is streaming into it).
		busy, _ := bs.StartUpload(ctx)
		pr, pw := io.Pipe()
		appended := make(chan error, 1)
		go func() {
			_, err := bs.Append(ctx, busy, 0, pr)
			appended <- err
		}()
		pw.Write([]byte("streaming"))

		if n, err := bs.PurgeUploads(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("PurgeUploads(an hour ago) = %d, %v; want 0", n, err)
		}
		if n, err := bs.PurgeUploads(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
			t.Fatalf("PurgeUploads(in an hour) = %d, %v; want 2 (not the busy upload)", n, err)
		}
		pw.Write([]byte(" more"))
		pw.Close()
		if err := <-appended; err != nil {
			t.Fatalf("Append to the busy upload: %v", err)
		}
		if _, err := bs.UploadSize(ctx, idle); !errors.Is(err, storage.ErrUploadUnknown) {
			t.Fatalf("purged upload: %v", err)
		}
		if n, err := bs.UploadSize(ctx, busy); err != nil || n != int64(len("streaming more")) {
			t.Fatalf("busy upload size = %d, %v", n, err)
		}
		if got := uploadsLeft(t, d); !slices.Equal(got, []string{"uploads/" + busy, "uploads/not-an-upload"}) {
			t.Fatalf("uploads left = %q", got)
		}
		if _, err := bs.Commit(ctx, busy, Digest("sha256", []byte("streaming more")), nil); err != nil {
			t.Fatal(err)
		}
	})
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
