package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPanicGuard(t *testing.T) {
	cases := []struct {
		name     string
		listener string
		fail     func(http.ResponseWriter, *http.Request)
		handler  http.HandlerFunc
		status   int    // 0: the connection is aborted
		body     string // a fragment of the error body
		counted  bool
	}{
		{"api, nothing written", "api", armInternalError,
			func(w http.ResponseWriter, r *http.Request) { panic("boom") }, 500, `{"error":{"code":"InternalServerError","message":"Encountered internal server error.`, true},
		{"registry, nothing written", "registry", registryInternalError,
			func(w http.ResponseWriter, r *http.Request) { panic("boom") }, 500, `{"errors":[{"code":"UNKNOWN","message":"internal server error`, true},
		{"registry, half a body written", "registry", registryInternalError,
			func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(200)
				w.Write([]byte("partial"))
				w.(http.Flusher).Flush()
				panic("boom")
			}, 0, "", true},
		{"deliberate abort", "api", armInternalError,
			func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, 0, "", false},
		{"no panic", "api", armInternalError,
			func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }, 200, "ok", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			g := newPanicGuard(prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
			srv := httptest.NewServer(g.wrap(c.listener, c.handler, c.fail))
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/x")
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			// The handler may still be logging after an aborted response:
			// Close waits for it before the log is read.
			srv.Close()
			switch {
			case c.status == 0 && err == nil:
				t.Errorf("want an aborted response, got %d %q", resp.StatusCode, body)
			case c.status != 0 && err != nil:
				t.Errorf("want %d, got %v", c.status, err)
			case c.status != 0 && (resp.StatusCode != c.status || !strings.Contains(string(body), c.body)):
				t.Errorf("want %d with %s, got %d %s", c.status, c.body, resp.StatusCode, body)
			case c.status == 500 && !json.Valid(body):
				t.Errorf("500 body is not JSON: %s", body)
			}
			want := 0.0
			if c.counted {
				want = 1
			}
			if n := testutil.ToFloat64(g.panics.WithLabelValues(c.listener)); n != want {
				t.Errorf("drydock_http_panics_total{listener=%q} = %v, want %v", c.listener, n, want)
			}
			if logged := strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "goroutine "); logged != c.counted {
				t.Errorf("logged at ERROR with a stack: %v, want %v:\n%s", logged, c.counted, logs.String())
			}
		})
	}
}

// Both listeners of a real server export the counter.
func TestPanicCounterExported(t *testing.T) {
	ts := startServer(t, nil)
	resp, err := ts.client.Get(ts.Endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, l := range []string{"api", "registry"} {
		if m := `drydock_http_panics_total{listener="` + l + `"} 0`; !strings.Contains(string(metrics), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}
