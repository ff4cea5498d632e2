package containerd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// Media types of the OCI image spec.
const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// pauseCreated is the pause image's fixed creation time, which keeps the
// archive the same bytes at every call.
var pauseCreated = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// pauseArches are the architectures the pause image is built for.
var pauseArches = []string{"amd64", "arm64"}

// pauseCode is, per architecture, a loop that sleeps in a system call
// forever: a signal that does not kill the process ends the call, and the
// loop sleeps again.
var pauseCode = map[string]struct {
	machine elf.Machine
	code    []byte
}{
	"amd64": {elf.EM_X86_64, []byte{
		0xb8, 0x22, 0x00, 0x00, 0x00, // mov eax, 34 (pause)
		0x0f, 0x05, // syscall
		0xeb, 0xf7, // jmp -9, back to mov
	}},
	"arm64": {elf.EM_AARCH64, arm64Words(
		0xd2800000, // mov x0, #0 (fds = NULL)
		0xd2800001, // mov x1, #0 (nfds = 0)
		0xd2800002, // mov x2, #0 (timeout = NULL: forever)
		0xd2800003, // mov x3, #0 (sigmask = NULL)
		0xd2800928, // mov x8, #73 (ppoll)
		0xd4000001, // svc #0
		0x17fffffa, // b -6 instructions, back to the first mov
	)},
}

func arm64Words(words ...uint32) []byte {
	b := make([]byte, 0, 4*len(words))
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// pauseBase is where the executable is loaded; 64 KiB aligned, so valid
// for any page size.
const pauseBase = 0x400000

// PauseELF returns the pause executable for arch ("amd64" or "arm64"): a
// static 64-bit ELF whose single loadable segment (the whole file) holds a
// loop sleeping in pause(2), or on arm64 (which lacks pause) ppoll(2).
func PauseELF(arch string) ([]byte, error) {
	c, ok := pauseCode[arch]
	if !ok {
		return nil, fmt.Errorf("containerd: no pause executable for architecture %q", arch)
	}
	const (
		ehsize    = 64
		phentsize = 56
		phnum     = 2 // PT_LOAD and PT_GNU_STACK
		codeOff   = ehsize + phnum*phentsize
	)
	size := uint64(codeOff + len(c.code))
	hdr := elf.Header64{
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(c.machine),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     pauseBase + codeOff,
		Phoff:     ehsize,
		Ehsize:    ehsize,
		Phentsize: phentsize,
		Phnum:     phnum,
		Shentsize: 64,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	hdr.Ident[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	progs := []elf.Prog64{
		{
			Type:   uint32(elf.PT_LOAD),
			Flags:  uint32(elf.PF_R | elf.PF_X),
			Off:    0,
			Vaddr:  pauseBase,
			Paddr:  pauseBase,
			Filesz: size,
			Memsz:  size,
			Align:  0x10000,
		},
		// A non-executable stack, which the kernel otherwise assumes
		// executable for binaries that do not say.
		{Type: uint32(elf.PT_GNU_STACK), Flags: uint32(elf.PF_R | elf.PF_W), Align: 16},
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, hdr)
	binary.Write(&b, binary.LittleEndian, progs)
	b.Write(c.code)
	if b.Len() != int(size) {
		return nil, fmt.Errorf("containerd: pause executable is %d bytes, not %d", b.Len(), size)
	}
	return b.Bytes(), nil
}

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// blobs holds an image layout's content, by digest.
type blobs map[string][]byte

// add stores data and returns its descriptor.
func (bs blobs) add(mediaType string, data []byte) descriptor {
	sum := sha256.Sum256(data)
	d := "sha256:" + hex.EncodeToString(sum[:])
	bs[d] = data
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func (bs blobs) addJSON(mediaType string, v any) (descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, err
	}
	return bs.add(mediaType, data), nil
}

// PauseImageArchive returns the pause image as an OCI image layout in a tar
// archive, the format `ctr images import` reads: a multi-platform index of
// linux/amd64 and linux/arm64 images, each a single layer holding /pause,
// named PauseImageRef. It returns the same bytes at every call.
func PauseImageArchive() ([]byte, error) {
	bs := blobs{}
	var manifests []descriptor
	for _, arch := range pauseArches {
		m, err := pauseImage(bs, arch)
		if err != nil {
			return nil, err
		}
		manifests = append(manifests, m)
	}
	index, err := bs.addJSON(mediaTypeIndex, map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeIndex,
		"manifests":     manifests,
	})
	if err != nil {
		return nil, err
	}
	index.Annotations = map[string]string{
		"io.containerd.image.name":          PauseImageRef,
		"org.opencontainers.image.ref.name": "3.10",
	}
	top, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeIndex,
		"manifests":     []descriptor{index},
	})
	if err != nil {
		return nil, err
	}

	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", top},
	}
	digests := make([]string, 0, len(bs))
	for d := range bs {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	for _, d := range digests {
		files = append(files, struct {
			name string
			data []byte
		}{"blobs/sha256/" + d[len("sha256:"):], bs[d]})
	}
	for _, f := range files {
		if err := writeTarFile(tw, f.name, 0o644, f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// pauseImage adds arch's layer, config and manifest to bs and returns the
// manifest's descriptor.
func pauseImage(bs blobs, arch string) (descriptor, error) {
	exe, err := PauseELF(arch)
	if err != nil {
		return descriptor{}, err
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := writeTarFile(tw, "pause", 0o755, exe); err != nil {
		return descriptor{}, err
	}
	if err := tw.Close(); err != nil {
		return descriptor{}, err
	}
	diffID := sha256.Sum256(layerTar.Bytes())

	var layerGz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&layerGz, gzip.BestCompression)
	if err != nil {
		return descriptor{}, err
	}
	if _, err := io.Copy(zw, &layerTar); err != nil {
		return descriptor{}, err
	}
	if err := zw.Close(); err != nil {
		return descriptor{}, err
	}
	layer := bs.add(mediaTypeLayer, layerGz.Bytes())

	config, err := bs.addJSON(mediaTypeConfig, map[string]any{
		"created":      pauseCreated.Format(time.RFC3339),
		"architecture": arch,
		"os":           "linux",
		"config": map[string]any{
			"User":       "65535:65535",
			"Entrypoint": []string{"/pause"},
			"WorkingDir": "/",
		},
		"rootfs": map[string]any{
			"type":     "layers",
			"diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])},
		},
		"history": []map[string]any{{
			"created":    pauseCreated.Format(time.RFC3339),
			"created_by": "drydock: pause executable generated in Go",
		}},
	})
	if err != nil {
		return descriptor{}, err
	}
	manifest, err := bs.addJSON(mediaTypeManifest, map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeManifest,
		"config":        config,
		"layers":        []descriptor{layer},
	})
	if err != nil {
		return descriptor{}, err
	}
	manifest.Platform = &platform{Architecture: arch, OS: "linux"}
	return manifest, nil
}

// writeTarFile writes a regular file owned by root with the fixed time.
func writeTarFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     mode,
		Size:     int64(len(data)),
		ModTime:  pauseCreated,
		Format:   tar.FormatUSTAR,
	}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
