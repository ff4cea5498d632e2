package cluster

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestAllocSubnet(t *testing.T) {
	root := t.TempDir()
	old := subnetsFile
	subnetsFile = filepath.Join(root, "state", "pod-subnets.json")
	t.Cleanup(func() { subnetsFile = old })
	node := func(name string) string {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	pool := netip.MustParsePrefix(defaultPodCIDR)
	seen := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range []string{"a", "b", "c", "d"} {
		dir := node(n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := allocSubnet(dir)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if other, dup := seen[s]; dup {
				t.Errorf("%s given to %s and %s", s, other, dir)
			}
			seen[s] = dir
		}()
	}
	wg.Wait()
	for s := range seen {
		p := netip.MustParsePrefix(s)
		if p.Bits() != 24 || !pool.Contains(p.Addr()) {
			t.Errorf("subnet %s is not a /24 of %s", s, pool)
		}
	}
	// The same node keeps its subnet.
	a := filepath.Join(root, "a")
	first, _ := allocSubnet(a)
	if again, _ := allocSubnet(a); again != first {
		t.Errorf("node a got %s, then %s", first, again)
	}
	// Released, or its directory gone: free again.
	if err := releaseSubnet(a); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(root, "b"))
	free := map[string]bool{}
	for _, n := range []string{"e", "f"} {
		s, err := allocSubnet(node(n))
		if err != nil {
			t.Fatal(err)
		}
		free[s] = true
	}
	if len(free) != 2 {
		t.Errorf("new nodes got %v", free)
	}
}

func TestBridgeName(t *testing.T) {
	a, b := bridgeName("/data/clusters/x/nodes/n0"), bridgeName("/data/clusters/x/nodes/n1")
	if a == b || len(a) > 15 || len(b) > 15 || a[:2] != "dd" {
		t.Errorf("bridge names %q and %q", a, b)
	}
	if bridgeName("/data/clusters/x/nodes/n0") != a {
		t.Error("bridge name is not stable")
	}
}
