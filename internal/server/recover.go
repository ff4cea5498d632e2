package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/registry/distribution"
)

// panicGuard turns a panic in a handler into a logged, counted 500: Go's
// server would recover it too, but log it only at DEBUG and drop the
// connection.
type panicGuard struct {
	log    *slog.Logger
	panics *prometheus.CounterVec
}

func newPanicGuard(reg prometheus.Registerer, log *slog.Logger) *panicGuard {
	panics := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drydock_http_panics_total", Help: "Panics recovered in HTTP handlers, by listener.",
	}, []string{"listener"})
	reg.MustRegister(panics)
	return &panicGuard{log: log, panics: panics}
}

// wrap recovers panics in h, one of listener's handlers: each is logged at
// ERROR with its stack and counted; when nothing was written yet, fail
// answers with the listener's 500 error body, and otherwise the response
// is aborted, so the client cannot take it for complete.
func (g *panicGuard) wrap(listener string, h http.Handler, fail func(w http.ResponseWriter, r *http.Request)) http.Handler {
	g.panics.WithLabelValues(listener) // exported at 0 before the first panic
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &writeTracker{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			g.panics.WithLabelValues(listener).Inc()
			g.log.Error("panic serving a request", "listener", listener, "method", r.Method, "host", r.Host, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if tw.wrote {
				panic(http.ErrAbortHandler)
			}
			fail(w, r)
		}()
		h.ServeHTTP(tw, r)
	})
}

// writeTracker notes whether a response has begun.
type writeTracker struct {
	http.ResponseWriter
	wrote bool
}

func (t *writeTracker) WriteHeader(code int) {
	if code >= 200 {
		t.wrote = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *writeTracker) Write(p []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(p)
}

// ReadFrom keeps net/http's sendfile path for blob downloads.
func (t *writeTracker) ReadFrom(src io.Reader) (int64, error) {
	t.wrote = true
	if rf, ok := t.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{t.ResponseWriter}, src)
}

func (t *writeTracker) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// armInternalError is the API listener's answer to a panic: ARM's 500.
func armInternalError(w http.ResponseWriter, r *http.Request) {
	arm.WriteError(w, arm.Errorf(http.StatusInternalServerError, "InternalServerError",
		"Encountered internal server error. Diagnostic information: timestamp '%s', tracking id '%s'.",
		time.Now().UTC().Format("20060102T150405Z"), w.Header().Get("x-ms-request-id")))
}

// registryInternalError is the registry listener's answer to a panic: the
// OCI error envelope's UNKNOWN.
func registryInternalError(w http.ResponseWriter, r *http.Request) {
	distribution.WriteError(w, r, distribution.ErrUnknown.WithMessage("internal server error; the server log has the details"))
}
