package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Registries created in parallel all end up in the managed hosts block:
// the last write of the file reflects the latest registry list.
func TestHostsFileAfterParallelCreations(t *testing.T) {
	e := newEnv(t, nil)
	e.createGroup(t, "rg")
	const n = 24
	logins := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := e.do(t, e.arm, "PUT", e.rg("rg")+fmt.Sprintf("/providers/Microsoft.ContainerRegistry/registries/parallel%02d?api-version=2023-07-01", i),
				map[string]any{"location": "eastus", "sku": map[string]any{"name": "Basic"}})
			if code != 201 {
				t.Errorf("create parallel%02d: %d %v", i, code, out)
				return
			}
			logins[i] = out["properties"].(map[string]any)["loginServer"].(string)
		}()
	}
	wg.Wait()
	hosts, err := os.ReadFile(filepath.Join(e.dataDir, "hosts"))
	if err != nil {
		t.Fatal(err)
	}
	for _, login := range logins {
		host, _, _ := strings.Cut(login, ":")
		if !strings.Contains(string(hosts), " "+host+"\n") {
			t.Errorf("the hosts file lacks %s:\n%s", host, hosts)
		}
	}
}
