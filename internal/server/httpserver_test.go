package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// The body timeout cuts a stalled body, and only that: once a body is
// complete, a handler may take longer than the timeout without its request
// being cancelled (the server's read-ahead after the body must not time
// out), and the connection serves its next request.
func TestBodyIdleTimeout(t *testing.T) {
	const d = 200 * time.Millisecond
	readErr := make(chan error, 1)
	srv := httptest.NewServer(bodyIdleTimeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
			return
		}
		if r.URL.Path == "/slow" {
			time.Sleep(3 * d) // work that outlasts the body timeout
		}
		if err := r.Context().Err(); err != nil {
			http.Error(w, "cancelled: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}), d))
	defer srv.Close()

	// A complete body, a slow handler, then a second request on the same
	// connection.
	client := srv.Client()
	for _, path := range []string{"/slow", "/again"} {
		resp, err := client.Post(srv.URL+path, "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if err := <-readErr; err != nil {
			t.Fatalf("%s: reading the body: %v", path, err)
		}
	}

	// A body that stops: the handler's read fails with the deadline.
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("stalled body: want a deadline error, got %v", err)
		}
	case <-time.After(100 * d):
		t.Fatal("the stalled body was not cut")
	}
}
