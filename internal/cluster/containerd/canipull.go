package containerd

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/drydock-dev/drydock/internal/atomicfile"
)

// CanipullImageRef is the image `az aks check-acr` runs on a node:
// canipull, the program behind it, as Microsoft publishes it. drydock's
// nodes never pull it: for this exact reference the node agent imports a
// CanipullImage, built on this machine from drydock's own executable, whose
// entrypoint runs `drydock canipull`.
const CanipullImageRef = "mcr.microsoft.com/aks/canipull:v0.1.0"

// canipullEntrypoint is the image's entrypoint; the pod's args follow it
// (az passes "-v6", "<login server>").
var canipullEntrypoint = []string{"/drydock", "canipull"}

// mediaTypeLayerTar is an uncompressed layer: compressing ~280 MB of
// executable would cost more time on every import than it saves, as the
// archive never leaves this machine.
const mediaTypeLayerTar = "application/vnd.oci.image.layer.v1.tar"

// canipullFormat versions the image's layout; it is part of the cache key,
// so a change to how the layer is written invalidates cached digests.
const canipullFormat = "drydock canipull image v1"

// libraryDirs are searched, in order, for the shared libraries a
// dynamically linked executable needs (the system search path of glibc's
// loader, Debian's multiarch directories first).
func libraryDirs() []string {
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	var dirs []string
	if triplet != "" {
		dirs = append(dirs, "/lib/"+triplet, "/usr/lib/"+triplet)
	}
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
}

// layerEntry is one entry of the canipull layer: a directory, a symbolic
// link, or a regular file whose bytes are read from src when the layer is
// written.
type layerEntry struct {
	name     string // in the image, relative to /
	typ      byte   // tar.TypeDir, tar.TypeSymlink or tar.TypeReg
	mode     int64
	linkname string
	src      string
	size     int64
	key      string // what identifies src's content: size, mtime, inode
}

// CanipullImage is the canipull image for this machine: one uncompressed
// layer holding the executable as /drydock and, when it is dynamically
// linked, its ELF interpreter and shared libraries at their paths on this
// machine (with their symbolic links), found through the executable's
// PT_INTERP and DT_NEEDED entries; a config whose entrypoint is
// /drydock canipull. The layer's bytes are never held in memory or
// written to disk: WriteArchive streams them from the files, and the
// layer's digest, which takes one pass over them, is cached per set of
// files (their paths, sizes, modification times and inodes).
type CanipullImage struct {
	entries  []layerEntry
	layer    descriptor
	config   []byte
	manifest []byte
	// Manifest is the descriptor of the image's manifest, the digest
	// containerd lists the image by.
	Manifest descriptor
	// Cached reports whether the layer's digest came from the cache.
	Cached bool
}

// canipullCache is what the cache holds for one set of files.
type canipullCache struct {
	LayerDigest string `json:"layerDigest"`
	LayerSize   int64  `json:"layerSize"`
}

// NewCanipullImage describes the canipull image of the executable exe (a
// node agent passes /proc/self/exe: the file it runs, even if its path
// was replaced since). cacheDir holds the layer digests of earlier calls
// (canipull-<key>.json); "" computes the digest without a cache.
func NewCanipullImage(exe, cacheDir string) (*CanipullImage, error) {
	entries, env, err := canipullEntries(exe)
	if err != nil {
		return nil, err
	}
	img := &CanipullImage{entries: entries}
	cachePath := ""
	if cacheDir != "" {
		cachePath = filepath.Join(cacheDir, "canipull-"+cacheKey(entries)+".json")
		var c canipullCache
		if b, err := os.ReadFile(cachePath); err == nil && json.Unmarshal(b, &c) == nil && c.LayerDigest != "" {
			img.layer = descriptor{MediaType: mediaTypeLayerTar, Digest: c.LayerDigest, Size: c.LayerSize}
			img.Cached = true
		}
	}
	if !img.Cached {
		h := sha256.New()
		n := &countingWriter{w: h}
		if err := img.writeLayer(n); err != nil {
			return nil, err
		}
		img.layer = descriptor{MediaType: mediaTypeLayerTar, Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: n.n}
		if cachePath != "" {
			b, _ := json.Marshal(canipullCache{LayerDigest: img.layer.Digest, LayerSize: img.layer.Size})
			if err := os.MkdirAll(cacheDir, 0o700); err != nil {
				return nil, err
			}
			if err := atomicfile.Write(cachePath, b, 0o600); err != nil {
				return nil, err
			}
		}
	}
	if err := img.describe(env); err != nil {
		return nil, err
	}
	return img, nil
}

// describe builds the config and the manifest around the layer.
func (img *CanipullImage) describe(env []string) error {
	var err error
	img.config, err = json.Marshal(map[string]any{
		"created":      pauseCreated.Format(time.RFC3339),
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": canipullEntrypoint,
			"Env":        env,
			"WorkingDir": "/",
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{img.layer.Digest}},
		"history": []map[string]any{{
			"created":    pauseCreated.Format(time.RFC3339),
			"created_by": "drydock: its own executable, running `drydock canipull`",
		}},
	})
	if err != nil {
		return err
	}
	config := blobs{}.add(mediaTypeConfig, img.config)
	img.manifest, err = json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeManifest,
		"config":        config,
		"layers":        []descriptor{img.layer},
	})
	if err != nil {
		return err
	}
	img.Manifest = blobs{}.add(mediaTypeManifest, img.manifest)
	return nil
}

// Size is the size of the image's layer, what unpacking it takes on disk.
func (img *CanipullImage) Size() int64 { return img.layer.Size }

// WriteArchive writes the image as an OCI image layout in a tar stream,
// the format `ctr images import` reads, named CanipullImageRef. The layer
// is read from the files as it is written; a file that changed since
// NewCanipullImage makes the stream fail, or its digest not match.
func (img *CanipullImage) WriteArchive(w io.Writer) error {
	named := img.Manifest
	named.Annotations = map[string]string{
		"io.containerd.image.name":          CanipullImageRef,
		"org.opencontainers.image.ref.name": CanipullImageRef[strings.LastIndex(CanipullImageRef, ":")+1:],
	}
	named.Platform = &platform{Architecture: runtime.GOARCH, OS: "linux"}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeIndex,
		"manifests":     []descriptor{named},
	})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{blobPath(sha256Digest(img.config)), img.config},
		{blobPath(img.Manifest.Digest), img.manifest},
	} {
		if err := writeTarFile(tw, f.name, 0o644, f.data); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: blobPath(img.layer.Digest), Mode: 0o644, Size: img.layer.Size,
		ModTime: pauseCreated, Format: tar.FormatPAX,
	}); err != nil {
		return err
	}
	if err := img.writeLayer(tw); err != nil {
		return err
	}
	return tw.Close()
}

func blobPath(digest string) string { return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:") }

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// writeLayer writes the layer's tar stream: the same bytes at every call
// while the files are unchanged (fixed times, root ownership, sorted).
func (img *CanipullImage) writeLayer(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, e := range img.entries {
		hdr := &tar.Header{Typeflag: e.typ, Name: e.name, Mode: e.mode, Linkname: e.linkname, ModTime: pauseCreated, Format: tar.FormatPAX}
		if e.typ == tar.TypeDir {
			hdr.Name += "/"
		}
		if e.typ == tar.TypeReg {
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if e.typ != tar.TypeReg {
			continue
		}
		if err := copyFile(tw, e); err != nil {
			return err
		}
	}
	return tw.Close()
}

// copyFile copies exactly e.size bytes of e.src, failing if the file
// changed size since it was described.
func copyFile(w io.Writer, e layerEntry) error {
	f, err := os.Open(e.src)
	if err != nil {
		return fmt.Errorf("canipull image: %w", err)
	}
	defer f.Close()
	changed := fmt.Errorf("canipull image: %s changed while the image was built (it was %d bytes)", e.src, e.size)
	if _, err := io.CopyN(w, f, e.size); err == io.EOF {
		return changed
	} else if err != nil {
		return fmt.Errorf("canipull image: reading %s: %w", e.src, err)
	}
	if n, _ := f.Read(make([]byte, 1)); n > 0 {
		return changed
	}
	return nil
}

// canipullEntries lists the layer's entries for exe, sorted, with the
// image's environment: LD_LIBRARY_PATH naming the directories of the
// shared libraries (so the loader finds them without /etc/ld.so.cache),
// and GODEBUG=netdns=go (host names resolve through /etc/hosts, which the
// runtime provides, without the C library's name service configuration).
func canipullEntries(exe string) ([]layerEntry, []string, error) {
	byName := map[string]layerEntry{}
	add := func(e layerEntry) { byName[e.name] = e }
	fi, err := os.Stat(exe)
	if err != nil {
		return nil, nil, fmt.Errorf("canipull image: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("canipull image: %s is not a regular file", exe)
	}
	add(layerEntry{name: "drydock", typ: tar.TypeReg, mode: 0o755, src: exe, size: fi.Size(), key: fileKey(fi)})

	files, libDirs, err := sharedObjects(exe)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range files {
		if err := addPath(add, p); err != nil {
			return nil, nil, err
		}
	}
	// Every parent directory, as a directory entry.
	for name := range byName {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if _, ok := byName[dir]; !ok {
				byName[dir] = layerEntry{name: dir, typ: tar.TypeDir, mode: 0o755}
			}
		}
	}
	entries := make([]layerEntry, 0, len(byName))
	for _, e := range byName {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b layerEntry) int { return strings.Compare(a.name, b.name) })
	env := []string{"PATH=/", "GODEBUG=netdns=go"}
	if len(libDirs) > 0 {
		env = append(env, "LD_LIBRARY_PATH="+strings.Join(libDirs, ":"))
	}
	return entries, env, nil
}

// addPath adds the file at p as it is on this machine: a symbolic link
// (and what it points to, in turn) or a regular file.
func addPath(add func(layerEntry), p string) error {
	for hops := 0; ; hops++ {
		if hops > 40 {
			return fmt.Errorf("canipull image: too many symbolic links at %s", p)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("canipull image: %w", err)
		}
		name := strings.TrimPrefix(filepath.Clean(p), "/")
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("canipull image: %w", err)
			}
			add(layerEntry{name: name, typ: tar.TypeSymlink, mode: 0o777, linkname: target})
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(p), target)
			}
			p = target
		case fi.Mode().IsRegular():
			add(layerEntry{name: name, typ: tar.TypeReg, mode: int64(fi.Mode().Perm()), src: p, size: fi.Size(), key: fileKey(fi)})
			return nil
		default:
			return fmt.Errorf("canipull image: %s is neither a file nor a symbolic link", p)
		}
	}
}

// sharedObjects returns what exe needs to run, by absolute path: its ELF
// interpreter and the shared libraries of DT_NEEDED, transitively; and the
// directories the libraries were found in. A statically linked exe needs
// nothing.
func sharedObjects(exe string) ([]string, []string, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return nil, nil, fmt.Errorf("canipull image: %s is not an ELF executable: %w", exe, err)
	}
	defer f.Close()
	var files []string
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return nil, nil, fmt.Errorf("canipull image: reading the interpreter of %s: %w", exe, err)
		}
		files = append(files, string(bytes.TrimRight(b, "\x00")))
	}
	var dirs []string
	seen := map[string]bool{}
	queue, err := f.ImportedLibraries()
	if err != nil {
		return nil, nil, fmt.Errorf("canipull image: reading the libraries %s needs: %w", exe, err)
	}
	for len(queue) > 0 {
		lib := queue[0]
		queue = queue[1:]
		if seen[lib] {
			continue
		}
		seen[lib] = true
		p, needs, err := findLibrary(lib, f.Class, f.Machine)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, p)
		if d := filepath.Dir(p); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
		queue = append(queue, needs...)
	}
	return files, dirs, nil
}

// findLibrary finds a shared library by its DT_NEEDED name in
// libraryDirs, for the executable's class and machine, and returns its
// path and the libraries it needs in turn.
func findLibrary(name string, class elf.Class, machine elf.Machine) (string, []string, error) {
	if strings.Contains(name, "/") {
		return "", nil, fmt.Errorf("canipull image: library %q is named by path", name)
	}
	for _, dir := range libraryDirs() {
		p := filepath.Join(dir, name)
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		needs, err := f.ImportedLibraries()
		ok := err == nil && f.Class == class && f.Machine == machine
		f.Close()
		if ok {
			return p, needs, nil
		}
	}
	return "", nil, fmt.Errorf("canipull image: shared library %s not found in %s", name, strings.Join(libraryDirs(), ", "))
}

// fileKey identifies a file's content without reading it.
func fileKey(fi os.FileInfo) string {
	k := fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k += fmt.Sprintf(" %d %d", st.Dev, st.Ino)
	}
	return k
}

// cacheKey names the layer the entries make.
func cacheKey(entries []layerEntry) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", canipullFormat, runtime.GOARCH)
	for _, e := range entries {
		fmt.Fprintf(h, "%c %o %q %q %q %s\n", e.typ, e.mode, e.name, e.linkname, e.src, e.key)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// countingWriter counts what it passes on.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ImportCanipullImage makes CanipullImageRef name img in this containerd
// and reports whether it imported it: containerd already listing the
// reference with img's manifest digest needs nothing; otherwise img's
// archive is streamed to `ctr images import` (which unpacks the layer
// into a snapshot), and the layer's blob is then deleted from the content
// store, where nothing reads it again: containerd's CRI creates containers
// from the snapshot, as with its discard_unpacked_layers setting. That
// keeps one copy of the ~280 MB layer per node instead of two. The image
// of an earlier drydock executable that the reference named is removed
// with every other name of it (the CRI's image ID), so that containerd
// collects its snapshot. Imports into one containerd are serialized.
func (d *Daemon) ImportCanipullImage(ctx context.Context, img *CanipullImage) (bool, error) {
	d.importMu.Lock()
	defer d.importMu.Unlock()
	out, err := d.runCtr(ctx, nil, "images", "ls")
	if err != nil {
		return false, err
	}
	old := listedDigest(string(out), CanipullImageRef)
	if old == img.Manifest.Digest {
		return false, nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(img.WriteArchive(pw)) }()
	_, err = d.runCtr(ctx, pr, "images", "import", "-")
	pr.Close() // ends WriteArchive if ctr stopped reading early
	if err != nil {
		return false, err
	}
	if _, err := d.runCtr(ctx, nil, "content", "rm", img.layer.Digest); err != nil {
		d.log.Warn("removing the canipull layer's blob after unpacking it", "err", err)
	}
	if stale := slices.DeleteFunc(listedRefs(string(out), old), func(r string) bool { return r == CanipullImageRef }); len(stale) > 0 {
		if _, err := d.runCtr(ctx, nil, append([]string{"images", "rm", "--sync"}, stale...)...); err != nil {
			d.log.Warn("removing the canipull image of an earlier drydock", "err", err)
		}
	}
	return true, nil
}

// listedDigest returns the digest `ctr images ls` lists ref with (columns
// REF TYPE DIGEST SIZE PLATFORMS LABELS), or "".
func listedDigest(out, ref string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == ref {
			return f[2]
		}
	}
	return ""
}

// listedRefs returns the references `ctr images ls` lists with digest
// ("" matches none).
func listedRefs(out, digest string) []string {
	var refs []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); digest != "" && len(f) >= 3 && f[2] == digest {
			refs = append(refs, f[0])
		}
	}
	return refs
}
