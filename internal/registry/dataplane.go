package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/distribution"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/registry/throttle"
	"github.com/drydock-dev/drydock/internal/store"
)

// DataPlane serves every registry's login server on one TLS listener,
// routing by host name: /oauth2/exchange and /oauth2/token to the token
// service, /v2/ to the distribution API behind the auth check.
type DataPlane struct {
	p       *Provider
	tokens  *auth.Service
	dist    *distribution.Handler
	log     *slog.Logger
	hosts   *HostsFile
	metrics *metrics

	selfAddr string            // the registry listener, for server-side copies
	ca       *x509.Certificate // drydock's CA

	regCache sync.Map // host → cachedRegistry; cleared on every registry change

	throttle    *throttle.Limiter // every registry's request budgets (see throttling.go)
	internalKey string            // marks the data plane's own requests (internalHeader)
}

type cachedRegistry struct {
	reg  auth.Registry
	gate throttle.Gate // zero when the registry is not throttled
	ok   bool
	at   time.Time
}

// registryCacheTTL bounds how stale a cached registry lookup may be; ARM
// writes clear the cache at once, so this only matters for other writers.
const registryCacheTTL = 5 * time.Second

// forget drops cached registry lookups (after ARM changes a registry).
func (dp *DataPlane) forget() { dp.regCache.Clear() }

// ForgetRegistries drops cached registry lookups: for a replica of a set,
// when another replica changed resources.
func (dp *DataPlane) ForgetRegistries() { dp.forget() }

type metrics struct {
	pulls, pushes, pullBytes, pushBytes *prometheus.CounterVec
	authOK, authFail                    *prometheus.CounterVec
	throttled                           *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	c := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"registry"})
		reg.MustRegister(v)
		return v
	}
	m := &metrics{
		pulls:     c("drydock_registry_pulls_total", "Blob downloads served, per registry."),
		pushes:    c("drydock_registry_pushes_total", "Blobs committed by uploads, per registry."),
		pullBytes: c("drydock_registry_pull_bytes_total", "Bytes of blobs served, per registry."),
		pushBytes: c("drydock_registry_push_bytes_total", "Bytes of blobs committed, per registry."),
		authOK:    c("drydock_registry_auth_success_total", "Requests whose credentials were accepted, per registry."),
		authFail:  c("drydock_registry_auth_failure_total", "Requests refused for missing or insufficient credentials, per registry."),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drydock_registry_throttled_requests_total",
			Help: "Requests answered 429 because the registry's per-minute limit for their class was spent, per registry and class."}, []string{"registry", "class"}),
	}
	reg.MustRegister(m.throttled)
	return m
}

func (m *metrics) Pulled(reg distribution.Registry, _ string, n int64) {
	m.pulls.WithLabelValues(reg.LoginServer).Inc()
	m.pullBytes.WithLabelValues(reg.LoginServer).Add(float64(n))
}

func (m *metrics) Pushed(reg distribution.Registry, _ string, n int64) {
	m.pushes.WithLabelValues(reg.LoginServer).Inc()
	m.pushBytes.WithLabelValues(reg.LoginServer).Add(float64(n))
}

// NewDataPlane assembles the data plane over the blob store, its
// metadata in st. hosts may be
// nil (no name management).
func NewDataPlane(st *store.Store, p *Provider, tokens *auth.Service, blobs *storage.BlobStore, hosts *HostsFile, promReg prometheus.Registerer, log *slog.Logger) *DataPlane {
	dp := &DataPlane{p: p, tokens: tokens, log: log, hosts: hosts, metrics: newMetrics(promReg),
		throttle: throttle.New(p.cfg.Now), internalKey: newInternalKey()}
	dp.dist = distribution.New(st, blobs, dp, dp.metrics, log)
	promReg.MustRegister(storageCollector{dp})
	p.dataPlane = dp
	return dp
}

// storageCollector reports each registry's storage use when scraped.
type storageCollector struct{ dp *DataPlane }

var storageDesc = prometheus.NewDesc("drydock_registry_storage_bytes",
	"Bytes a registry holds: distinct blobs linked in its repositories plus manifests.", []string{"registry"}, nil)

func (c storageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- storageDesc }

func (c storageCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	rows, err := store.Read(ctx, c.dp.p.kit.Store, func(tx *store.Tx) ([]store.Resource, error) {
		return tx.ListResources(store.ResourceFilter{Type: registryType})
	})
	if err != nil {
		return
	}
	for _, row := range rows {
		u, err := c.dp.dist.Usage(ctx, strings.ToLower(row.ID))
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(storageDesc, prometheus.GaugeValue, float64(u.Size), c.dp.p.LoginServer(row.Name))
	}
}

// Distribution is the OCI API handler (for repository commands and GC).
func (dp *DataPlane) Distribution() *distribution.Handler { return dp.dist }

type regKey struct{}

// registryByID loads a registry's data-plane view by resource ID.
func (dp *DataPlane) registryByID(ctx context.Context, id string) (auth.Registry, error) {
	row, err := dp.p.row(ctx, id)
	if err != nil {
		return auth.Registry{}, err
	}
	reg, _, err := dp.view(row)
	return reg, err
}

// view is the data-plane view of a stored registry and its throttle.
func (dp *DataPlane) view(row store.Resource) (auth.Registry, throttle.Gate, error) {
	res, props, err := dp.p.decode(row)
	if err != nil {
		return auth.Registry{}, throttle.Gate{}, err
	}
	return auth.Registry{ID: res.ID, Name: res.Name, LoginServer: props.LoginServer, AnonymousPull: props.AnonymousPullEnabled,
		AdminEnabled: props.AdminUserEnabled, Created: row.CreatedAt}, dp.gate(res), nil
}

// lookup finds the registry whose login server is host.
func (dp *DataPlane) lookup(ctx context.Context, host string) (cachedRegistry, bool) {
	host = strings.ToLower(host)
	if v, ok := dp.regCache.Load(host); ok {
		c := v.(cachedRegistry)
		if time.Since(c.at) < registryCacheTTL {
			return c, c.ok
		}
	}
	c := dp.lookupStore(ctx, host)
	c.at = time.Now()
	dp.regCache.Store(host, c)
	return c, c.ok
}

func (dp *DataPlane) lookupStore(ctx context.Context, host string) cachedRegistry {
	name, ok := strings.CutSuffix(host, "."+strings.ToLower(dp.p.cfg.LoginServerSuffix))
	if !ok || name == "" || strings.Contains(name, ".") {
		return cachedRegistry{}
	}
	rows, err := store.Read(ctx, dp.p.kit.Store, func(tx *store.Tx) ([]store.Resource, error) {
		return tx.ListResources(store.ResourceFilter{Type: registryType, Name: name})
	})
	if err != nil || len(rows) != 1 {
		return cachedRegistry{}
	}
	reg, gate, err := dp.view(rows[0])
	return cachedRegistry{reg: reg, gate: gate, ok: err == nil}
}

func distRegistry(r auth.Registry) distribution.Registry {
	return distribution.Registry{Key: strings.ToLower(r.ID), Name: r.Name, LoginServer: r.LoginServer}
}

// ServeHTTP routes a data-plane request by host name.
func (dp *DataPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	c, ok := dp.lookup(r.Context(), host)
	if !ok {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		http.Error(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"no registry is served at `+jsonEscape(host)+`"}]}`, http.StatusNotFound)
		return
	}
	reg := c.reg
	if c.gate.On() && !dp.admit(w, r, reg, c.gate) {
		return
	}
	ctx := context.WithValue(r.Context(), regKey{}, reg)
	ctx = distribution.WithRegistry(ctx, distRegistry(reg))
	r = r.WithContext(ctx)
	switch p := r.URL.Path; {
	case p == "/oauth2/exchange":
		dp.tokens.HandleExchange(w, r, reg)
	case p == "/oauth2/token":
		dp.tokens.HandleToken(w, r, reg)
	case strings.HasPrefix(p, "/acr/v1/"):
		dp.serveACRv1(w, r, reg)
	default:
		dp.dist.ServeHTTP(w, r)
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// Authorize implements distribution.Authorizer with ACR's rules: a bearer
// access token from /oauth2/token, Basic credentials (null GUID + refresh
// or access token, admin user, service principal), or anonymous pull.
func (dp *DataPlane) Authorize(w http.ResponseWriter, r *http.Request, need []auth.Access) (auth.Identity, []auth.Access, bool) {
	reg, _ := r.Context().Value(regKey{}).(auth.Registry)
	h := r.Header.Get("Authorization")
	var id auth.Identity
	var grants []auth.Access
	var err error
	switch {
	case strings.HasPrefix(h, "Bearer "):
		id, grants, err = dp.tokens.VerifyAccessToken(reg, strings.TrimSpace(h[len("Bearer "):]))
	case strings.HasPrefix(h, "Basic "):
		user, pass, ok := r.BasicAuth()
		if !ok {
			err = errors.New("malformed Basic credentials")
			break
		}
		id, grants, err = dp.tokens.BasicGrants(r.Context(), reg, user, pass, need)
	case h == "":
		id = auth.Identity{Kind: "anonymous"}
		if reg.AnonymousPull && len(need) > 0 {
			grants, _ = dp.tokens.Grant(r.Context(), reg, id, need)
		}
		if len(need) == 0 || !covers(grants, need) {
			dp.metrics.authFail.WithLabelValues(reg.LoginServer).Inc()
			auth.Challenge(w, reg, need, false)
			return id, nil, false
		}
	default:
		err = errors.New("unsupported authorization scheme")
	}
	if err != nil {
		dp.metrics.authFail.WithLabelValues(reg.LoginServer).Inc()
		auth.Challenge(w, reg, need, false)
		return id, nil, false
	}
	if !covers(grants, need) {
		dp.metrics.authFail.WithLabelValues(reg.LoginServer).Inc()
		if strings.HasPrefix(h, "Basic ") {
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}` + "\n"))
			return id, grants, false
		}
		auth.Challenge(w, reg, need, true)
		return id, grants, false
	}
	dp.metrics.authOK.WithLabelValues(reg.LoginServer).Inc()
	return id, grants, true
}

func covers(grants, need []auth.Access) bool {
	for _, n := range need {
		for _, a := range n.Actions {
			if !auth.Allows(grants, n.Type, n.Name, a) {
				return false
			}
		}
	}
	return true
}

// TLSConfig serves one wildcard certificate for *.<suffix>.
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// SyncHosts rewrites the managed hosts block from the registries in the
// store, read under the hosts file's lock (see HostsFile.SyncFrom).
func (dp *DataPlane) SyncHosts(ctx context.Context) error {
	if dp.hosts == nil {
		return nil
	}
	return dp.hosts.SyncFrom(func() ([]string, error) {
		rows, err := store.Read(ctx, dp.p.kit.Store, func(tx *store.Tx) ([]store.Resource, error) {
			return tx.ListResources(store.ResourceFilter{Type: registryType})
		})
		if err != nil {
			return nil, err
		}
		var hosts []string
		for _, row := range rows {
			hosts = append(hosts, strings.ToLower(row.Name)+"."+dp.p.cfg.LoginServerSuffix)
		}
		return hosts, nil
	})
}

// Close removes the managed hosts block.
func (dp *DataPlane) Close() error {
	if dp.hosts == nil {
		return nil
	}
	return dp.hosts.Sync(nil)
}
