package controlplane

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage/storagebackend"
)

func TestWatchCached(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name    string
		enable  bool
		sizes   []string
		want    bool
		wantErr bool
	}{
		{name: "cache enabled", enable: true, want: true},
		{name: "cache disabled", enable: false, want: false},
		{name: "another resource's size", enable: true, sizes: []string{"secrets#0"}, want: true},
		{name: "size 0", enable: true, sizes: []string{"pods#0"}, want: false},
		{name: "positive size", enable: true, sizes: []string{"pods#100"}, want: true},
		{name: "invalid size", enable: true, sizes: []string{"pods"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := watchCached(&genericoptions.EtcdOptions{EnableWatchCache: tt.enable, WatchCacheSizes: tt.sizes}, pods)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("cached %v, want %v", got, tt.want)
			}
		})
	}
}

// The storages of one transport share one client, closed with the last
// of them; TLS transports are refused rather than connected without TLS.
func TestSharedETCDAcquire(t *testing.T) {
	se := &sharedETCD{}
	tr := storagebackend.TransportConfig{ServerList: []string{"unix://" + filepath.Join(t.TempDir(), "kine.sock")}}
	a, releaseA, err := se.acquire(tr, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, releaseB, err := se.acquire(tr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.refs != 2 {
		t.Fatalf("two acquisitions: clients %p and %p, refs %d; want one client, 2 refs", a, b, a.refs)
	}
	releaseA()
	releaseA() // a destroy function may be called again
	if len(se.clients) != 1 || a.refs != 1 {
		t.Fatalf("after one release: %d clients, refs %d; want 1 client, 1 ref", len(se.clients), a.refs)
	}
	releaseB()
	if len(se.clients) != 0 {
		t.Fatalf("after the last release: %d clients, want 0", len(se.clients))
	}
	if err := a.client.Ctx().Err(); err == nil {
		t.Error("the client is still open after the last release")
	}

	tls := tr
	tls.TrustedCAFile = "ca.crt"
	if _, _, err := se.acquire(tls, 0); err == nil {
		t.Error("a TLS transport was accepted")
	}
}
