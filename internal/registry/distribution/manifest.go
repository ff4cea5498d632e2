package distribution

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/drydock-dev/drydock/internal/registry/storage"
)

// Manifest media types the registry knows by name. Any other media type is
// accepted when the body has the shape of a manifest or an index.
const (
	MediaTypeOCIManifest        = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex           = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeOCIArtifact        = "application/vnd.oci.artifact.manifest.v1+json" // withdrawn from OCI 1.1; still accepted
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1JWS   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	mediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// MaxManifestSize is the largest manifest accepted (4 MiB, as the spec
// suggests); larger ones get 413.
const MaxManifestSize = 4 << 20

// parsedManifest is what the registry keeps from a manifest it accepts.
type parsedManifest struct {
	MediaType    string          // what GET answers as Content-Type
	ArtifactType string          // artifactType, else config.mediaType (image manifests)
	Subject      string          // subject digest, if any
	Annotations  json.RawMessage // top-level annotations object, if any
	Index        bool            // an index (or list): Manifests are its children
	Blobs        []string        // config and layers that must be in the repository (distinct)
	Manifests    []string        // child manifests (distinct)
}

type descriptorJSON struct {
	MediaType string   `json:"mediaType"`
	Digest    string   `json:"digest"`
	Size      *int64   `json:"size"`
	URLs      []string `json:"urls"`
}

type manifestJSON struct {
	SchemaVersion *int             `json:"schemaVersion"`
	MediaType     string           `json:"mediaType"`
	ArtifactType  string           `json:"artifactType"`
	Config        *descriptorJSON  `json:"config"`
	Layers        []descriptorJSON `json:"layers"`
	Blobs         []descriptorJSON `json:"blobs"` // the withdrawn OCI artifact manifest
	Manifests     []descriptorJSON `json:"manifests"`
	Subject       *descriptorJSON  `json:"subject"`
	Annotations   json.RawMessage  `json:"annotations"`
}

var errManifestNotObject = errors.New("a manifest is a JSON object")

// parseManifest checks a manifest body pushed with the given Content-Type
// (which may be empty) and extracts what the registry indexes. Errors are
// MANIFEST_INVALID.
func parseManifest(body []byte, contentType string) (*parsedManifest, *Error) {
	invalid := func(format string, args ...any) (*parsedManifest, *Error) {
		return nil, ErrManifestInvalid.WithMessage("manifest invalid: "+format, args...)
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return invalid("%v", errManifestNotObject)
	}
	var m manifestJSON
	if err := json.Unmarshal(body, &m); err != nil {
		return invalid("%v", err)
	}
	if err := strictFields(body); err != nil {
		return invalid("%v", err)
	}
	if m.SchemaVersion == nil {
		return invalid("schemaVersion is missing")
	}
	if *m.SchemaVersion != 2 {
		return invalid("schemaVersion %d is not supported; push schema 2 manifests", *m.SchemaVersion)
	}

	ct := baseMediaType(contentType)
	if ct == "application/json" || ct == "application/octet-stream" || ct == "text/plain" {
		ct = "" // a generic type says nothing: go by the body
	}
	if ct != "" && m.MediaType != "" && ct != m.MediaType {
		return invalid("Content-Type %q does not match the manifest's mediaType %q", ct, m.MediaType)
	}
	mt := m.MediaType
	if mt == "" {
		mt = ct
	}
	if mt == "" {
		switch {
		case m.Manifests != nil:
			mt = MediaTypeOCIIndex
		case m.Config != nil:
			mt = MediaTypeOCIManifest
		default:
			return invalid("the media type is unknown: set Content-Type or mediaType")
		}
	}
	if !validMediaType(mt) {
		return invalid("invalid media type %q", truncate(mt, 200))
	}
	if m.ArtifactType != "" && !validMediaType(m.ArtifactType) {
		return invalid("invalid artifactType %q", truncate(m.ArtifactType, 200))
	}

	p := &parsedManifest{MediaType: mt, ArtifactType: m.ArtifactType}
	var kind string
	switch mt {
	case MediaTypeOCIManifest, MediaTypeDockerManifest:
		kind = "manifest"
	case MediaTypeOCIIndex, MediaTypeDockerManifestList:
		kind = "index"
	case MediaTypeOCIArtifact:
		kind = "artifact"
	case mediaTypeDockerSchema1, mediaTypeDockerSchema1JWS:
		return invalid("Docker schema 1 manifests are not supported")
	default:
		switch {
		case m.Manifests != nil:
			kind = "index"
		case m.Config != nil || m.Layers != nil:
			kind = "manifest"
		case m.Blobs != nil:
			kind = "artifact"
		default:
			kind = "other" // no references: accepted as it is
		}
	}

	seenBlob := map[string]bool{}
	addBlob := func(field string, d *descriptorJSON, layer bool) *Error {
		if err := checkDescriptor(field, d); err != nil {
			return err
		}
		if layer && nondistributable(d.MediaType) {
			// Foreign layers live elsewhere (their URLs): the registry
			// neither has nor needs them.
			return nil
		}
		if !seenBlob[d.Digest] {
			seenBlob[d.Digest] = true
			p.Blobs = append(p.Blobs, d.Digest)
		}
		return nil
	}
	switch kind {
	case "manifest":
		if m.Config == nil {
			return invalid("an image manifest has a config descriptor")
		}
		if err := addBlob("config", m.Config, false); err != nil {
			return nil, err
		}
		for i := range m.Layers {
			if err := addBlob("layers", &m.Layers[i], true); err != nil {
				return nil, err
			}
		}
		if p.ArtifactType == "" {
			p.ArtifactType = m.Config.MediaType
		}
	case "artifact":
		for i := range m.Blobs {
			if err := addBlob("blobs", &m.Blobs[i], true); err != nil {
				return nil, err
			}
		}
	case "index":
		p.Index = true
		seen := map[string]bool{}
		for i := range m.Manifests {
			d := &m.Manifests[i]
			if err := checkDescriptor("manifests", d); err != nil {
				return nil, err
			}
			if !seen[d.Digest] {
				seen[d.Digest] = true
				p.Manifests = append(p.Manifests, d.Digest)
			}
		}
	}
	if m.Subject != nil {
		if err := checkDescriptor("subject", m.Subject); err != nil {
			return nil, err
		}
		p.Subject = m.Subject.Digest
	}
	if len(m.Annotations) > 0 && !bytes.Equal(m.Annotations, []byte("null")) {
		var ann map[string]string
		if err := json.Unmarshal(m.Annotations, &ann); err != nil {
			return invalid("annotations are a map of strings: %v", err)
		}
		if len(ann) > 0 {
			var buf bytes.Buffer
			if err := json.Compact(&buf, m.Annotations); err != nil {
				return invalid("annotations: %v", err)
			}
			p.Annotations = buf.Bytes()
		}
	}
	return p, nil
}

// checkDescriptor validates a descriptor's digest (a well-formed digest of
// any algorithm; one the registry cannot hold is then simply unknown) and
// size.
func checkDescriptor(field string, d *descriptorJSON) *Error {
	if _, _, err := storage.ParseDigest(d.Digest); err != nil && !errors.Is(err, storage.ErrDigestUnsupported) {
		return ErrManifestInvalid.WithMessage("manifest invalid: %s: invalid digest %q", field, truncate(d.Digest, 200))
	}
	if d.Size == nil || *d.Size < 0 {
		return ErrManifestInvalid.WithMessage("manifest invalid: %s: descriptor %s has no valid size", field, truncate(d.Digest, 200))
	}
	if d.MediaType != "" && !validMediaType(d.MediaType) {
		return ErrManifestInvalid.WithMessage("manifest invalid: %s: invalid media type %q", field, truncate(d.MediaType, 200))
	}
	return nil
}

// nondistributable reports layer media types whose content is not pushed to
// registries (OCI non-distributable layers, Docker foreign layers).
func nondistributable(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.oci.image.layer.nondistributable.") || mt == mediaTypeDockerForeignLayer
}

// baseMediaType strips parameters and case from a Content-Type.
func baseMediaType(ct string) string {
	ct = strings.TrimSpace(ct)
	if ct == "" {
		return ""
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// validMediaType checks the RFC 6838 shape type/subtype, with the
// characters restricted names allow.
func validMediaType(mt string) bool {
	if len(mt) == 0 || len(mt) > 255 {
		return false
	}
	slash := strings.IndexByte(mt, '/')
	if slash <= 0 || slash == len(mt)-1 || strings.IndexByte(mt[slash+1:], '/') >= 0 {
		return false
	}
	for i := 0; i < len(mt); i++ {
		c := mt[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$&-^_.+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Field names the parser reads, by their lower-case form. encoding/json
// matches names case-insensitively and lets a repeated name win silently;
// another parser could read the other spelling or the first occurrence, and
// so see other references than the registry checked. strictFields refuses
// both for these names.
type fieldSet map[string]string

func newFieldSet(names ...string) fieldSet {
	f := fieldSet{}
	for _, n := range names {
		f[strings.ToLower(n)] = n
	}
	return f
}

var (
	manifestFields   = newFieldSet("schemaVersion", "mediaType", "artifactType", "config", "layers", "blobs", "manifests", "subject", "annotations")
	descriptorFields = newFieldSet("mediaType", "digest", "size", "urls")
)

// strictFields checks the field names of a manifest (valid JSON, an object)
// and of its descriptors.
func strictFields(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // '{'
		return err
	}
	return walkObject(dec, manifestFields, func(key string) error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch key {
		case "config", "subject":
			if t == json.Delim('{') {
				return walkObject(dec, descriptorFields, nil)
			}
		case "layers", "manifests", "blobs":
			if t == json.Delim('[') {
				for dec.More() {
					e, err := dec.Token()
					if err != nil {
						return err
					}
					if e == json.Delim('{') {
						err = walkObject(dec, descriptorFields, nil)
					} else {
						err = skipAfter(dec, e)
					}
					if err != nil {
						return err
					}
				}
				_, err := dec.Token() // ']'
				return err
			}
		}
		return skipAfter(dec, t)
	})
}

// walkObject reads the members of an object whose '{' was read, up to and
// including its '}'. For a name of fields, child (if not nil) consumes the
// value; every other value is skipped.
func walkObject(dec *json.Decoder, fields fieldSet, child func(key string) error) error {
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		if exact, known := fields[strings.ToLower(key)]; known {
			if key != exact {
				return fmt.Errorf("field %q must be spelled %q", truncate(key, 100), exact)
			}
			if seen[key] {
				return fmt.Errorf("field %q appears more than once", key)
			}
			seen[key] = true
			if child != nil {
				if err := child(key); err != nil {
					return err
				}
				continue
			}
		}
		v, err := dec.Token()
		if err != nil {
			return err
		}
		if err := skipAfter(dec, v); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

// skipAfter consumes the rest of a value whose first token was t.
func skipAfter(dec *json.Decoder, t json.Token) error {
	if d, ok := t.(json.Delim); !ok || d == '}' || d == ']' {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}
