package nodeagent

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
)

func TestRegistryHost(t *testing.T) {
	for _, tc := range []struct{ image, want string }{
		{"nginx", "docker.io"},
		{"library/nginx:1.27", "docker.io"},
		{"myacr.azurecr.io/nginx:v1", "myacr.azurecr.io"},
		{"MyACR.azurecr.io/team/app@sha256:abc", "myacr.azurecr.io"},
		{"localhost/app", "localhost"},
		{"127.0.0.1:5000/app:v1", "127.0.0.1:5000"},
		{"myacr.azurecr.io:8443/app", "myacr.azurecr.io:8443"},
	} {
		if got := registryHost(tc.image); got != tc.want {
			t.Errorf("registryHost(%q) = %q, want %q", tc.image, got, tc.want)
		}
	}
}

func TestHostMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"*.azurecr.io", "myacr.azurecr.io", true},
		{"*.azurecr.io", "azurecr.io", false},
		{"*.azurecr.io", "a.b.azurecr.io", false},
		{"*.azurecr.io", "myacr.azurecr.io:443", false},
		{"*.azurecr.io:5443", "myacr.azurecr.io:5443", true},
		{"*.azurecr.io:5443", "myacr.azurecr.io", false},
		{"*.AzureCR.io", "myacr.azurecr.io", true},
		{"my*.azurecr.io", "myacr.azurecr.io", true},
		{"my*.azurecr.io", "youracr.azurecr.io", false},
		{"[", "x", false},
	} {
		if got := hostMatches(tc.pattern, tc.host); got != tc.want {
			t.Errorf("hostMatches(%q, %q) = %v, want %v", tc.pattern, tc.host, got, tc.want)
		}
	}
	if !matchesAny(credprovider.MatchImages("azurecr.io"), "x.azurecr.io") {
		t.Error("the default match images do not cover a registry")
	}
	if matchesAny(credprovider.MatchImages("azurecr.io"), "docker.io") {
		t.Error("the default match images cover docker.io")
	}
}

func TestPickAuthPrefersExactHost(t *testing.T) {
	auth := map[string]credprovider.AuthConfig{
		"*.azurecr.io":     {},
		"myacr.azurecr.io": {Username: credprovider.AnonymousUser, Password: "refresh"},
		"other.azurecr.io": {Username: "x", Password: "y"},
	}
	got := pickAuth(auth, "myacr.azurecr.io")
	if len(got) != 2 || got[0].Password != "refresh" || got[1].Username != "" {
		t.Fatalf("pickAuth = %+v, want the exact entry, then the wildcard one", got)
	}
}

func dockerConfigSecret(t *testing.T, auths map[string]map[string]string) *corev1.Secret {
	t.Helper()
	b, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: b}}
}

func TestSecretAuths(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("bob:s3cr:et"))
	sec := dockerConfigSecret(t, map[string]map[string]string{
		"https://registry.example.com/v1/": {"auth": basic},
		"other.example.com":                {"username": "alice", "password": "pw"},
		"https://index.docker.io/v1/":      {"username": "hub", "password": "hubpw"},
	})
	for _, tc := range []struct {
		host string
		want []string // user:password
	}{
		{"registry.example.com", []string{"bob:s3cr:et"}},
		{"other.example.com", []string{"alice:pw"}},
		{"docker.io", []string{"hub:hubpw"}},
		{"nowhere.example.com", nil},
	} {
		var got []string
		for _, a := range secretAuths(sec, tc.host) {
			got = append(got, a.Username+":"+a.Password)
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("secretAuths(%s) = %v, want %v", tc.host, got, tc.want)
		}
	}
	if got := secretAuths(&corev1.Secret{Type: corev1.SecretTypeOpaque, Data: sec.Data}, "registry.example.com"); got != nil {
		t.Errorf("an Opaque secret gave credentials: %v", got)
	}
	legacy := &corev1.Secret{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{
		corev1.DockerConfigKey: []byte(`{"registry.example.com":{"username":"u","password":"p"}}`),
	}}
	if got := secretAuths(legacy, "registry.example.com"); len(got) != 1 || got[0].Password != "p" {
		t.Errorf("dockercfg secret: %v", got)
	}
}

func FuzzSecretAuths(f *testing.F) {
	f.Add([]byte(`{"auths":{"r.example.com":{"auth":"dTpw"}}}`), "r.example.com")
	f.Add([]byte(`{"auths":{"https://r.example.com/v1/":{"username":"u"}}}`), "r.example.com:5000")
	f.Add([]byte(`not json`), "x")
	f.Fuzz(func(t *testing.T, data []byte, host string) {
		sec := &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
		for _, a := range secretAuths(sec, host) {
			if a.from == "" {
				t.Fatal("credentials without a source")
			}
		}
	})
}

func TestBackoff(t *testing.T) {
	var b backoff
	now := time.Unix(1000, 0)
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i, w := range want {
		b.fail(now)
		if b.period != w {
			t.Fatalf("failure %d: back-off %s, want %s", i+1, b.period, w)
		}
		if !b.waiting(now.Add(w-time.Second)) || b.waiting(now.Add(w)) {
			t.Fatalf("failure %d: waiting window is wrong", i+1)
		}
	}
	b.reset()
	if b.waiting(now) || b.period != 0 {
		t.Fatal("reset did not clear the back-off")
	}
}

func TestAggregate(t *testing.T) {
	one := aggregate([]error{errString("a")})
	if one.Error() != "a" {
		t.Errorf("one error: %q", one)
	}
	two := aggregate([]error{errString("a"), errString("b")})
	if two.Error() != "[a, b]" {
		t.Errorf("two errors: %q", two)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
