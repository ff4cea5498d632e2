package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drydock-dev/drydock/internal/directory"
)

func (s *Server) routes() http.Handler {
	reg := s.prom
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drydock_http_requests_total", Help: "HTTP requests served, by API surface, method and status code.",
	}, []string{"surface", "method", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "drydock_http_request_duration_seconds", Help: "HTTP request latency by API surface.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"surface"})
	reg.MustRegister(requests, latency)

	mux := http.NewServeMux()
	s.dir.Routes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /metadata/endpoints", s.endpoints)
	mux.Handle("/", s.router)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		w.Header().Set("x-ms-request-id", uuid.NewString())
		mux.ServeHTTP(rec, r)
		surface := surfaceOf(r.URL.Path)
		d := time.Since(start)
		requests.WithLabelValues(surface, r.Method, strconv.Itoa(rec.status)).Inc()
		latency.WithLabelValues(surface).Observe(d.Seconds())
		lvl := slog.LevelDebug
		if rec.status >= 500 {
			lvl = slog.LevelError
		}
		s.log.Log(r.Context(), lvl, "request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", d)
	})
}

// surfaceOf classifies a path for metrics without unbounded labels.
func surfaceOf(p string) string {
	switch {
	case strings.HasPrefix(p, "/v1.0/"), strings.HasPrefix(p, directory.GraphPath+"/v1.0/"):
		return "graph"
	case strings.HasPrefix(p, "/metadata/identity"):
		return "imds"
	case strings.Contains(p, "/oauth2/"), strings.Contains(p, "/discovery/"), strings.Contains(p, "/.well-known/"):
		return "login"
	case p == "/healthz" || p == "/readyz" || p == "/metrics":
		return "ops"
	}
	return "arm"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		http.Error(w, "metadata store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}
