package containerd_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/cluster/containerd"
)

// readTar returns the regular files, symbolic links (as "-> target") and
// directories (as "/") of a tar stream, by name.
func readTar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: owner %d:%d, time %s", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		name := strings.TrimSuffix(h.Name, "/")
		switch h.Typeflag {
		case tar.TypeSymlink:
			files[name] = []byte("-> " + h.Linkname)
		case tar.TypeDir:
			files[name] = []byte("/")
		default:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		}
	}
}

// blobsOf checks that every blob of an image layout has its digest, and
// returns a function that reads a descriptor's blob, failing the test when
// it is missing or not its size.
func blobsOf(t *testing.T, files map[string][]byte) func(descriptor) []byte {
	t.Helper()
	for name, data := range files {
		if hexSum, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != hexSum {
				t.Errorf("blob %s has digest %x", name, sum)
			}
		}
	}
	return func(d descriptor) []byte {
		t.Helper()
		data, ok := files["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
		if !ok || int64(len(data)) != d.Size {
			t.Fatalf("blob %s missing or not %d bytes", d.Digest, d.Size)
		}
		return data
	}
}

// canipullImage is what a canipull archive holds.
type canipullImage struct {
	index    index
	manifest struct {
		MediaType string       `json:"mediaType"`
		Config    descriptor   `json:"config"`
		Layers    []descriptor `json:"layers"`
	}
	config struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			Entrypoint []string `json:"Entrypoint"`
			Env        []string `json:"Env"`
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	layer map[string][]byte
}

// archiveOf builds img's archive and checks the layout: every blob has
// its digest, the index names CanipullImageRef, the layer is uncompressed
// and its digest is the config's diff_id.
func archiveOf(t *testing.T, img *containerd.CanipullImage) ([]byte, canipullImage) {
	t.Helper()
	var buf bytes.Buffer
	if err := img.WriteArchive(&buf); err != nil {
		t.Fatal(err)
	}
	files := readTar(t, buf.Bytes())
	blob := blobsOf(t, files)
	var c canipullImage
	if err := json.Unmarshal(files["index.json"], &c.index); err != nil || len(c.index.Manifests) != 1 {
		t.Fatalf("index.json %s: %v", files["index.json"], err)
	}
	m := c.index.Manifests[0]
	if m.Annotations["io.containerd.image.name"] != containerd.CanipullImageRef || m.Annotations["org.opencontainers.image.ref.name"] != "v0.1.0" ||
		m.Digest != img.Manifest.Digest || m.Platform == nil || m.Platform.Architecture != runtime.GOARCH || m.Platform.OS != "linux" {
		t.Errorf("index.json names %+v", m)
	}
	if err := json.Unmarshal(blob(m), &c.manifest); err != nil || len(c.manifest.Layers) != 1 {
		t.Fatalf("manifest %s: %v", blob(m), err)
	}
	if err := json.Unmarshal(blob(c.manifest.Config), &c.config); err != nil {
		t.Fatal(err)
	}
	layer := c.manifest.Layers[0]
	if layer.MediaType != "application/vnd.oci.image.layer.v1.tar" || layer.Size != img.Size() ||
		len(c.config.RootFS.DiffIDs) != 1 || c.config.RootFS.DiffIDs[0] != layer.Digest {
		t.Errorf("layer %+v, diff_ids %v", layer, c.config.RootFS.DiffIDs)
	}
	if c.config.Architecture != runtime.GOARCH || c.config.OS != "linux" || !slices.Equal(c.config.Config.Entrypoint, []string{"/drydock", "canipull"}) {
		t.Errorf("config %+v", c.config)
	}
	c.layer = readTar(t, blob(layer))
	return buf.Bytes(), c
}

func TestCanipullImageStatic(t *testing.T) {
	exe, err := containerd.PauseELF("amd64") // any static executable
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "drydock")
	if err := os.WriteFile(path, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := containerd.NewCanipullImage(path, "")
	if err != nil {
		t.Fatal(err)
	}
	archive, c := archiveOf(t, img)
	if len(c.layer) != 1 || !bytes.Equal(c.layer["drydock"], exe) {
		t.Errorf("layer holds %d entries, want only /drydock", len(c.layer))
	}
	if !slices.Equal(c.config.Config.Env, []string{"PATH=/", "GODEBUG=netdns=go"}) {
		t.Errorf("env %v", c.config.Config.Env)
	}
	again, err := containerd.NewCanipullImage(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if second, _ := archiveOf(t, again); !bytes.Equal(archive, second) {
		t.Error("two builds of the same files differ")
	}
}

// dynamicExecutable returns an executable of this machine that needs an
// ELF interpreter, or skips the test.
func dynamicExecutable(t *testing.T) string {
	for _, p := range []string{"/bin/echo", "/usr/bin/echo"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
		f.Close()
		if dynamic {
			return p
		}
	}
	t.Skip("no dynamically linked echo on this machine")
	return ""
}

func TestCanipullImageDynamic(t *testing.T) {
	exe := dynamicExecutable(t)
	img, err := containerd.NewCanipullImage(exe, "")
	if err != nil {
		t.Fatal(err)
	}
	_, c := archiveOf(t, img)
	want, _ := os.ReadFile(exe)
	if !bytes.Equal(c.layer["drydock"], want) {
		t.Errorf("/drydock is not %s", exe)
	}
	// The interpreter and the C library are there, at this machine's
	// paths, symbolic links followed to regular files.
	f, _ := elf.Open(exe)
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, _ := io.ReadAll(p.Open())
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	resolve := func(name string) []byte {
		for range 10 {
			b, ok := c.layer[strings.TrimPrefix(name, "/")]
			if !ok {
				t.Fatalf("layer lacks %s (has %v)", name, keys(c.layer))
			}
			target, link := strings.CutPrefix(string(b), "-> ")
			if !link {
				return b
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(name), target)
			}
			name = target
		}
		t.Fatalf("%s: too many links", name)
		return nil
	}
	realInterp, _ := filepath.EvalSymlinks(interp)
	if wantInterp, _ := os.ReadFile(realInterp); !bytes.Equal(resolve(interp), wantInterp) {
		t.Errorf("the interpreter %s is not this machine's", interp)
	}
	var libDirs []string
	for _, kv := range c.config.Config.Env {
		if v, ok := strings.CutPrefix(kv, "LD_LIBRARY_PATH="); ok {
			libDirs = strings.Split(v, ":")
		}
	}
	libc := ""
	for _, d := range libDirs {
		if _, ok := c.layer[strings.TrimPrefix(d, "/")+"/libc.so.6"]; ok {
			libc = d + "/libc.so.6"
		}
	}
	if libc == "" {
		t.Fatalf("no libc.so.6 in LD_LIBRARY_PATH %v (env %v)", libDirs, c.config.Config.Env)
	}
	// Every parent directory has its entry.
	for name := range c.layer {
		if dir := filepath.Dir(name); dir != "." && string(c.layer[dir]) != "/" {
			t.Errorf("%s has no directory entry for %s", name, dir)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The layer's digest is computed once per set of files: a second image of
// the same files reads it from the cache; a changed file is hashed again.
func TestCanipullImageCache(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	exe := filepath.Join(dir, "drydock")
	pause, _ := containerd.PauseELF("amd64")
	write := func(b []byte, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(exe, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(exe, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	build := func() *containerd.CanipullImage {
		t.Helper()
		img, err := containerd.NewCanipullImage(exe, cache)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	write(pause, time.Unix(1700000000, 0))
	first := build()
	second := build()
	write(append(pause, 0x90), time.Unix(1700000100, 0))
	changed := build()
	for _, tc := range []struct {
		name       string
		img        *containerd.CanipullImage
		wantCached bool
		wantSame   bool // the same manifest as the first build
	}{
		{"first", first, false, true},
		{"same files", second, true, true},
		{"changed file", changed, false, false},
	} {
		if tc.img.Cached != tc.wantCached || (tc.img.Manifest.Digest == first.Manifest.Digest) != tc.wantSame {
			t.Errorf("%s: cached %v, manifest %s (first %s)", tc.name, tc.img.Cached, tc.img.Manifest.Digest, first.Manifest.Digest)
		}
	}
	if _, c := archiveOf(t, changed); !bytes.Equal(c.layer["drydock"], append(pause, 0x90)) {
		t.Error("the changed image does not hold the changed file")
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 2 {
		t.Errorf("cache holds %d entries, want one per set of files", len(entries))
	}
}

// A file that changes size after the image was described fails the
// archive rather than streaming a layer that does not match its digest.
func TestCanipullImageFileChanged(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "drydock")
	pause, _ := containerd.PauseELF("amd64")
	os.WriteFile(exe, pause, 0o755)
	img, err := containerd.NewCanipullImage(exe, "")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(exe, append(pause, 1, 2, 3), 0o755)
	if err := img.WriteArchive(io.Discard); err == nil || !strings.Contains(err.Error(), "changed while the image was built") {
		t.Errorf("WriteArchive = %v", err)
	}
}

// TestCanipullImageRuns imports the canipull image of a dynamically
// linked echo into a real containerd and runs it: the entrypoint
// (/drydock canipull) prints "canipull", so the interpreter and libraries
// were found in the image. A second import is skipped, and the layer's
// blob is gone from the content store once unpacked.
func TestCanipullImageRuns(t *testing.T) {
	exe := dynamicExecutable(t)
	d, _, _ := startDaemon(t, 1)
	ctr := ctrOf(t, d)
	img, err := containerd.NewCanipullImage(exe, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		imported, err := d.ImportCanipullImage(context.Background(), img)
		if err != nil || imported != want {
			t.Fatalf("import %d: imported %v, %v; want %v", i+1, imported, err, want)
		}
	}
	if !hasLine(ctr("images", "ls"), containerd.CanipullImageRef, img.Manifest.Digest) {
		t.Errorf("containerd does not list %s at %s", containerd.CanipullImageRef, img.Manifest.Digest)
	}
	var layer string
	var m struct{ Layers []struct{ Digest string } }
	out, _ := exec.Command("ctr", "-a", d.Socket(), "-n", "k8s.io", "content", "get", img.Manifest.Digest).Output()
	if json.Unmarshal(out, &m) == nil && len(m.Layers) == 1 {
		layer = m.Layers[0].Digest
	}
	if layer == "" || strings.Contains(ctr("content", "ls", "-q"), layer) {
		t.Errorf("the layer's blob %q is still in the content store", layer)
	}
	if got := ctr("run", "--rm", containerd.CanipullImageRef, "canipull-test"); got != "canipull\n" {
		t.Errorf("the image's entrypoint printed %q, want %q", got, "canipull\n")
	}

	// The image of another executable (a newer drydock) replaces it: the
	// earlier image goes with every name of it, and its snapshot with it.
	snapshots := len(strings.Split(ctr("snapshots", "ls"), "\n"))
	newer := filepath.Join(t.TempDir(), "echo")
	b, _ := os.ReadFile(exe)
	os.WriteFile(newer, append(b, 0), 0o755)
	img2, err := containerd.NewCanipullImage(newer, "")
	if err != nil {
		t.Fatal(err)
	}
	if imported, err := d.ImportCanipullImage(context.Background(), img2); err != nil || !imported {
		t.Fatalf("importing a newer image: %v, %v", imported, err)
	}
	images := ctr("images", "ls")
	if !hasLine(images, containerd.CanipullImageRef, img2.Manifest.Digest) || strings.Contains(images, img.Manifest.Digest) {
		t.Errorf("after a newer image, containerd lists:\n%s", images)
	}
	if n := len(strings.Split(ctr("snapshots", "ls"), "\n")); n != snapshots {
		t.Errorf("%d snapshots after the newer image, %d before", n, snapshots)
	}
	if got := ctr("run", "--rm", containerd.CanipullImageRef, "canipull-test2"); got != "canipull\n" {
		t.Errorf("the newer image's entrypoint printed %q", got)
	}
}
