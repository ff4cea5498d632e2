package containerd_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/cluster/containerd"
)

func TestPauseELF(t *testing.T) {
	for _, tc := range []struct {
		arch    string
		machine elf.Machine
	}{
		{"amd64", elf.EM_X86_64},
		{"arm64", elf.EM_AARCH64},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			exe, err := containerd.PauseELF(tc.arch)
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.NewFile(bytes.NewReader(exe))
			if err != nil {
				t.Fatal(err)
			}
			if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Machine != tc.machine || f.Type != elf.ET_EXEC {
				t.Fatalf("got class %v, data %v, machine %v, type %v", f.Class, f.Data, f.Machine, f.Type)
			}
			var loads []*elf.Prog
			for _, p := range f.Progs {
				if p.Type == elf.PT_LOAD {
					loads = append(loads, p)
				}
			}
			if len(loads) != 1 {
				t.Fatalf("%d PT_LOAD segments, want 1", len(loads))
			}
			p := loads[0]
			if f.Entry < p.Vaddr || f.Entry >= p.Vaddr+p.Filesz || p.Flags&elf.PF_X == 0 {
				t.Fatalf("entry %#x outside the executable segment %#x+%#x (flags %v)", f.Entry, p.Vaddr, p.Filesz, p.Flags)
			}
			if p.Off != 0 || p.Filesz != uint64(len(exe)) || p.Vaddr%p.Align != p.Off%p.Align {
				t.Fatalf("segment %+v does not map the %d-byte file", p.ProgHeader, len(exe))
			}
		})
	}
	if _, err := containerd.PauseELF("riscv64"); err == nil {
		t.Error("PauseELF(riscv64) succeeded")
	}
}

// TestPauseRuns runs the pause executable for this machine: it must sleep
// until killed.
func TestPauseRuns(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("cannot run the pause executable on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	exe, err := containerd.PauseELF(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// A harmless signal interrupts the sleep; the loop must sleep again.
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGCHLD)
	select {
	case err := <-exited:
		t.Fatalf("pause exited by itself: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("pause ended with %v, want death by SIGTERM", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("pause ended with %v, want death by SIGTERM", err)
	}
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"platform"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

func TestPauseImageArchive(t *testing.T) {
	archive, err := containerd.PauseImageArchive()
	if err != nil {
		t.Fatal(err)
	}
	again, err := containerd.PauseImageArchive()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(archive, again) {
		t.Fatal("two calls returned different archives")
	}

	files := readTar(t, archive)
	blob := blobsOf(t, files)
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout is %q", files["oci-layout"])
	}

	var top index
	if err := json.Unmarshal(files["index.json"], &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json %s: %v", files["index.json"], err)
	}
	img := top.Manifests[0]
	if img.Annotations["io.containerd.image.name"] != containerd.PauseImageRef || img.Annotations["org.opencontainers.image.ref.name"] != "3.10" {
		t.Errorf("index.json annotations %v", img.Annotations)
	}
	var multi index
	if err := json.Unmarshal(blob(img), &multi); err != nil || img.MediaType != "application/vnd.oci.image.index.v1+json" || multi.MediaType != img.MediaType {
		t.Fatalf("image index (%s) %s: %v", img.MediaType, blob(img), err)
	}
	arches := map[string]bool{}
	for _, m := range multi.Manifests {
		if m.Platform == nil || m.Platform.OS != "linux" {
			t.Fatalf("manifest %s has platform %v", m.Digest, m.Platform)
		}
		arch := m.Platform.Architecture
		arches[arch] = true
		t.Run(arch, func(t *testing.T) { checkPauseImage(t, arch, blob(m), blob) })
	}
	if !arches["amd64"] || !arches["arm64"] || len(arches) != 2 {
		t.Errorf("platforms %v, want amd64 and arm64", arches)
	}
}

func checkPauseImage(t *testing.T, arch string, manifestJSON []byte, blob func(descriptor) []byte) {
	var manifest struct {
		MediaType string       `json:"mediaType"`
		Config    descriptor   `json:"config"`
		Layers    []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(manifestJSON, &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("manifest %s: %v", manifestJSON, err)
	}
	if manifest.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Errorf("layer media type %s", manifest.Layers[0].MediaType)
	}
	var config struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Created      string `json:"created"`
		Config       struct {
			Entrypoint []string `json:"Entrypoint"`
		} `json:"config"`
		RootFS struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(blob(manifest.Config), &config); err != nil {
		t.Fatal(err)
	}
	if config.Architecture != arch || config.OS != "linux" || config.Created == "" ||
		len(config.Config.Entrypoint) != 1 || config.Config.Entrypoint[0] != "/pause" ||
		config.RootFS.Type != "layers" || len(config.RootFS.DiffIDs) != 1 {
		t.Fatalf("config %+v", config)
	}

	zr, err := gzip.NewReader(bytes.NewReader(blob(manifest.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	layer, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(layer); "sha256:"+hex.EncodeToString(sum[:]) != config.RootFS.DiffIDs[0] {
		t.Errorf("diff_id %s, uncompressed layer is sha256:%x", config.RootFS.DiffIDs[0], sum)
	}
	tr := tar.NewReader(bytes.NewReader(layer))
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Clean("/"+h.Name) != "/pause" || h.Typeflag != tar.TypeReg || h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 {
		t.Errorf("layer holds %s (type %c, mode %o, owner %d:%d)", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid)
	}
	got, _ := io.ReadAll(tr)
	want, _ := containerd.PauseELF(arch)
	if !bytes.Equal(got, want) {
		t.Error("/pause is not PauseELF's executable")
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("layer holds more than /pause: %v", err)
	}
}
