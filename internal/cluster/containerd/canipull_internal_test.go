package containerd

import (
	"strings"
	"testing"
)

const ls = `REF                                   TYPE                                       DIGEST                                                                  SIZE      PLATFORMS   LABELS
drydock.local/pause:3.10              application/vnd.oci.image.index.v1+json    sha256:1111111111111111111111111111111111111111111111111111111111111111 415.0 B   linux/amd64 -
mcr.microsoft.com/aks/canipull:v0.1.0 application/vnd.oci.image.manifest.v1+json sha256:2222222222222222222222222222222222222222222222222222222222222222 270.1 MiB linux/amd64 io.cri-containerd.image=managed
sha256:aaaa                           application/vnd.oci.image.manifest.v1+json sha256:2222222222222222222222222222222222222222222222222222222222222222 270.1 MiB linux/amd64 io.cri-containerd.image=managed
`

func TestListedDigest(t *testing.T) {
	for _, tc := range []struct{ name, out, ref, want string }{
		{"listed", ls, CanipullImageRef, "sha256:2222222222222222222222222222222222222222222222222222222222222222"},
		{"other image", ls, PauseImageRef, "sha256:1111111111111111111111111111111111111111111111111111111111111111"},
		{"not listed", ls, "mcr.microsoft.com/aks/canipull:v0.2.0", ""},
		{"prefix is not a match", ls, "mcr.microsoft.com/aks/canipull", ""},
		{"empty", "", CanipullImageRef, ""},
	} {
		if got := listedDigest(tc.out, tc.ref); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestListedRefs(t *testing.T) {
	for _, tc := range []struct{ name, digest, want string }{
		{"name and image ID", "sha256:2222222222222222222222222222222222222222222222222222222222222222", CanipullImageRef + " sha256:aaaa"},
		{"one name", "sha256:1111111111111111111111111111111111111111111111111111111111111111", PauseImageRef},
		{"none", "sha256:3333", ""},
		{"no digest", "", ""},
	} {
		if got := strings.Join(listedRefs(ls, tc.digest), " "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
