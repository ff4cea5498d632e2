package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHostsFileKeepsOtherLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(path, []byte("127.0.0.1 localhost\n10.0.0.1 db"), 0o644)
	a := NewHostsFile(path, "/data/a", "127.0.0.1")
	b := NewHostsFile(path, "/data/b", "127.0.0.1")
	steps := []struct {
		do   func() error
		want []string
		not  []string
	}{
		{func() error { return a.Sync([]string{"one.azurecr.io", "two.azurecr.io"}) }, []string{"127.0.0.1 localhost", "10.0.0.1 db", "127.0.0.1 one.azurecr.io", "127.0.0.1 two.azurecr.io"}, nil},
		{func() error { return b.Sync([]string{"three.azurecr.io"}) }, []string{"127.0.0.1 one.azurecr.io", "127.0.0.1 three.azurecr.io"}, nil},
		{func() error { return a.Sync([]string{"two.azurecr.io"}) }, []string{"127.0.0.1 two.azurecr.io", "127.0.0.1 three.azurecr.io"}, []string{"one.azurecr.io"}},
		{func() error { return a.Sync(nil) }, []string{"127.0.0.1 localhost", "127.0.0.1 three.azurecr.io"}, []string{"two.azurecr.io", a.owner}},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		for _, w := range s.want {
			if !strings.Contains(string(b), w+"\n") {
				t.Errorf("step %d: missing %q in\n%s", i, w, b)
			}
		}
		for _, n := range s.not {
			if strings.Contains(string(b), n) {
				t.Errorf("step %d: still has %q in\n%s", i, n, b)
			}
		}
	}
}
