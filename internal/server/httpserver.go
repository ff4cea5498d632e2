package server

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// httpTimeouts bound how long a client may hold a connection without
// making progress. A client that takes longer than header to send its
// request line and headers (and the TLS handshake) is cut off; so is one
// that lets bodyIdle pass without sending any of the request body it
// announced; a keep-alive connection idle for longer than idle is closed.
//
// There is no bound on a whole request body (net/http's ReadTimeout): a
// blob upload of many gigabytes is legitimate as long as its bytes keep
// coming.
type httpTimeouts struct {
	header, bodyIdle, idle time.Duration
}

var (
	apiTimeouts      = httpTimeouts{header: 10 * time.Second, bodyIdle: 30 * time.Second, idle: 2 * time.Minute}
	registryTimeouts = httpTimeouts{header: 30 * time.Second, bodyIdle: 2 * time.Minute, idle: 2 * time.Minute}
)

// httpServer is one of drydock's TLS listeners' servers, with t's bounds.
func (t httpTimeouts) httpServer(h http.Handler, cert tls.Certificate, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           bodyIdleTimeout(h, t.bodyIdle),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: t.header,
		IdleTimeout:       t.idle,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// bodyIdleTimeout cuts off a request whose body stalls: every read of the
// body must see data within d (between d/2 and d: the deadline is moved
// at most every d/2, so a stream of small reads does not pay for a timer
// reset each). A read that times out fails with an error wrapping
// os.ErrDeadlineExceeded, which the handlers answer as the client's fault.
func bodyIdleTimeout(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d > 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), d: d}
		}
		h.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	d     time.Duration
	armed time.Time // when the deadline was last moved; zero: not set
	done  bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	if now := time.Now(); now.Sub(b.armed) >= b.d/2 {
		if b.rc.SetReadDeadline(now.Add(b.d)) == nil {
			b.armed = now
		}
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		// The body is complete: lift the deadline (HTTP/2 would keep its
		// stream's timer; HTTP/1 lifts it too when it starts reading ahead).
		b.done = true
		if !b.armed.IsZero() {
			b.rc.SetReadDeadline(time.Time{})
		}
	case err != nil:
		// A stalled or broken body: the deadline stays, so that the
		// server, which discards what is left of a body after the
		// handler, does not wait for it either.
		b.done = true
	}
	return n, err
}
