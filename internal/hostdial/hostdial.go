// Package hostdial dials a host name at the addresses a resolver of the
// caller's choice gives: what the CLI's registry client and a node's
// credential provider and check-acr do before falling back, each by its
// own rule, to the registry listener when a login server's name does not
// resolve (or, for the CLI, leads elsewhere). Tests pass resolvers that
// know their names. It imports only the standard library.
package hostdial

import (
	"context"
	"errors"
	"net"
)

// Lookup resolves a host name to IP addresses.
type Lookup func(ctx context.Context, host string) ([]string, error)

// Resolve looks host up with lookup (nil: the system resolver). A name
// without addresses is a not-found *net.DNSError.
func Resolve(ctx context.Context, lookup Lookup, host string) ([]string, error) {
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	ips, err := lookup(ctx, host)
	if err == nil && len(ips) == 0 {
		err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ips, err
}

// errNoAddress is Dial's error for an empty list.
var errNoAddress = errors.New("no address to dial")

// Dial dials port at each of ips in turn and returns the first connection
// made, or the first error when none is.
func Dial(ctx context.Context, d *net.Dialer, network string, ips []string, port string) (net.Conn, error) {
	first := errNoAddress
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip, port))
		if err == nil {
			return conn, nil
		}
		if first == errNoAddress {
			first = err
		}
	}
	return nil, first
}
