package hostdial

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
)

func TestResolve(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name     string
		lookup   Lookup
		ips      []string
		notFound bool
		err      error
	}{
		{"addresses", func(context.Context, string) ([]string, error) { return []string{"127.0.0.1", "::1"}, nil }, []string{"127.0.0.1", "::1"}, false, nil},
		{"none", func(context.Context, string) ([]string, error) { return nil, nil }, nil, true, nil},
		{"error", func(context.Context, string) ([]string, error) { return nil, boom }, nil, false, boom},
	} {
		ips, err := Resolve(t.Context(), tc.lookup, "myacr.azurecr.test")
		var dnsErr *net.DNSError
		if !slices.Equal(ips, tc.ips) || (tc.notFound != (errors.As(err, &dnsErr) && dnsErr.IsNotFound && dnsErr.Name == "myacr.azurecr.test")) ||
			(tc.err != nil && !errors.Is(err, tc.err)) || (tc.err == nil && !tc.notFound && err != nil) {
			t.Errorf("%s: %v %v", tc.name, ips, err)
		}
	}
}

func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	// A closed port on another loopback address refuses; the listener
	// answers.
	var d net.Dialer
	conn, err := Dial(t.Context(), &d, "tcp", []string{"127.0.0.2", "127.0.0.1"}, port)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if got := conn.RemoteAddr().String(); got != ln.Addr().String() {
		t.Errorf("connected to %s", got)
	}
	conn.Close()
	// None answers: the first error.
	_, err = Dial(t.Context(), &d, "tcp", []string{"127.0.0.2", "127.0.0.3"}, port)
	var op *net.OpError
	if !errors.As(err, &op) || op.Addr.String() != net.JoinHostPort("127.0.0.2", port) {
		t.Errorf("err = %v", err)
	}
	if c, err := Dial(t.Context(), &d, "tcp", nil, port); c != nil || !errors.Is(err, errNoAddress) {
		t.Errorf("no addresses: %v %v", c, err)
	}
}
