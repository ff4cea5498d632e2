package distribution

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/registry/storage"
)

func FuzzParseManifest(f *testing.F) {
	d := sha256Digest([]byte("x"))
	seeds := []struct{ body, ct string }{
		{`{"schemaVersion":2,"mediaType":"` + MediaTypeOCIManifest + `","config":{"mediaType":"a/b","digest":"` + d + `","size":1},"layers":[{"mediaType":"a/c","digest":"` + d + `","size":1}]}`, MediaTypeOCIManifest},
		{`{"schemaVersion":2,"mediaType":"` + MediaTypeOCIIndex + `","manifests":[{"mediaType":"` + MediaTypeOCIManifest + `","digest":"` + d + `","size":10}],"subject":{"mediaType":"a/b","digest":"` + d + `","size":3},"annotations":{"k":"v"}}`, ""},
		{`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"` + d + `","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar","digest":"` + d + `","size":1,"urls":["u"]}]}`, "application/json"},
		{`{"schemaVersion":1}`, ""},
		{`{"schemaVersion":2,"mediaType":"` + MediaTypeOCIArtifact + `","blobs":[]}`, MediaTypeOCIArtifact},
		{`[]`, ""},
		{`{"schemaVersion":2,"artifactType":"x/y","config":{"digest":"sha512:` + strings.Repeat("a", 128) + `","size":0}}`, "application/vnd.custom+json; v=1"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.ct)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		p, err := parseManifest(body, ct)
		if err != nil {
			if p != nil || err.Code != ErrManifestInvalid.Code || err.Status != 400 {
				t.Fatalf("error %v with result %v", err, p)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatal("accepted invalid JSON")
		}
		if !validMediaType(p.MediaType) {
			t.Fatalf("accepted media type %q", p.MediaType)
		}
		if p.Index && len(p.Blobs) > 0 {
			t.Fatalf("an index with blobs: %+v", p)
		}
		seen := map[string]bool{}
		for _, ds := range [][]string{p.Blobs, p.Manifests} {
			for _, dg := range ds {
				if _, _, err := storage.ParseDigest(dg); err != nil && !strings.Contains(err.Error(), "unsupported") {
					t.Fatalf("accepted reference %q", dg)
				}
				if seen[dg] && !p.Index {
					t.Fatalf("duplicate reference %q", dg)
				}
				seen[dg] = true
			}
		}
		if p.Subject != "" {
			if _, _, err := storage.ParseDigest(p.Subject); err != nil && !strings.Contains(err.Error(), "unsupported") {
				t.Fatalf("accepted subject %q", p.Subject)
			}
		}
		if p.Annotations != nil {
			var m map[string]string
			if json.Unmarshal(p.Annotations, &m) != nil || len(m) == 0 {
				t.Fatalf("annotations %q", p.Annotations)
			}
		}
		// Parsing is deterministic.
		q, err2 := parseManifest(body, ct)
		if err2 != nil || q.MediaType != p.MediaType || len(q.Blobs) != len(p.Blobs) {
			t.Fatal("second parse differs")
		}
	})
}

func FuzzReference(f *testing.F) {
	for _, s := range []string{"latest", "v1.0-rc_1", "_", "-x", ".x", "a:b", sha256Digest(nil), "sha512:" + strings.Repeat("0", 128),
		"sha256:" + strings.Repeat("A", 64), "md5:d41d8cd98f00b204e9800998ecf8427e", strings.Repeat("t", 128), strings.Repeat("t", 129), "", "ä"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := parseReference(s)
		if err != nil {
			if err.Status != 400 || (err.Code != ErrTagInvalid.Code && err.Code != ErrDigestInvalid.Code) {
				t.Fatalf("parseReference(%q) error %v", s, err)
			}
			if ValidTag(s) {
				t.Fatalf("valid tag %q refused", s)
			}
			return
		}
		if ref.String() != s {
			t.Fatalf("round trip %q -> %q", s, ref.String())
		}
		switch {
		case ref.Tag != "" && ref.Digest == "":
			if !ValidTag(s) || len(s) > MaxTagLength || strings.ContainsAny(s, ":/@") {
				t.Fatalf("accepted tag %q", s)
			}
			if c := s[0]; c == '.' || c == '-' {
				t.Fatalf("tag %q starts with %q", s, c)
			}
		case ref.Digest != "" && ref.Tag == "":
			alg, hex, err := storage.ParseDigest(s)
			if err != nil || alg != ref.Alg || alg+":"+hex != s {
				t.Fatalf("accepted digest %q: %v", s, err)
			}
		default:
			t.Fatalf("reference %+v", ref)
		}
	})
}
