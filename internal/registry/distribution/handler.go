// Package distribution serves the OCI Distribution 1.1 API of every
// registry: blobs (monolithic, streamed and chunked uploads, cross-repository
// mounts, range reads), manifests (images, indexes, artifacts, subjects),
// tags, the referrers API and the catalog, with distribution's error codes.
//
// Blob content lives in a storage.BlobStore shared by all registries (one
// copy per digest); everything else lives in the metadata store,
// partitioned by the registry's key: repositories, manifests (with their
// bytes), tags, the links that make a blob readable through a repository,
// what each manifest refers to, and upload sessions. A blob is linked only
// after the blob store verified its digest, and every metadata change is
// one transaction.
//
// The caller (the registry host router) puts the Registry in the request's
// context with WithRegistry; the Authorizer decides who may do what.
package distribution

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/storage"
	"github.com/drydock-dev/drydock/internal/store"
)

// Registry identifies the registry a request is for.
type Registry struct {
	Key         string // lower-cased ARM resource ID: the metadata partition
	Name        string
	LoginServer string
}

type registryKey struct{}

// WithRegistry returns ctx carrying the registry a request is for.
func WithRegistry(ctx context.Context, r Registry) context.Context {
	r.Key = strings.ToLower(r.Key)
	return context.WithValue(ctx, registryKey{}, r)
}

// RegistryFrom returns the registry WithRegistry put in ctx.
func RegistryFrom(ctx context.Context) (Registry, bool) {
	r, ok := ctx.Value(registryKey{}).(Registry)
	return r, ok && r.Key != ""
}

// Authorizer checks that a request may perform need, e.g.
// [{repository, "team/app", [pull]}], [{repository, "a", [pull, push]},
// {repository, "b", [pull]}] for a cross-repository mount, or
// [{registry, catalog, [*]}]; need is nil for GET /v2/. When refusing it has
// already written the 401/403 response and returns ok=false. granted is
// everything the caller may do (at least need); an automatic mount looks in
// it for repositories the caller may pull from.
type Authorizer interface {
	Authorize(w http.ResponseWriter, r *http.Request, need []auth.Access) (id auth.Identity, granted []auth.Access, ok bool)
}

// Events receives traffic counts: blob bytes served by GET and blob bytes
// committed by uploads.
type Events interface {
	Pulled(reg Registry, repo string, bytes int64)
	Pushed(reg Registry, repo string, bytes int64)
}

// Handler serves /v2/ for every registry.
type Handler struct {
	st    *store.Store
	blobs *storage.BlobStore
	az    Authorizer
	ev    Events
	log   *slog.Logger
	locks keyedLocks
	now   func() time.Time
	hooks testHooks
	// manifests caches manifest lookups; every write below goes through
	// h.update, which invalidates it.
	manifests manifestCache
}

// New returns the distribution API handler. ev and log may be nil.
func New(st *store.Store, blobs *storage.BlobStore, az Authorizer, ev Events, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{st: st, blobs: blobs, az: az, ev: ev, log: log, locks: keyedLocks{m: map[string]*keyedLock{}}, now: time.Now}
}

// Route kinds.
const (
	routeNone = iota
	routeBase
	routeCatalog
	routeTags
	routeManifest
	routeBlob
	routeUploadStart
	routeUpload
	routeReferrers
)

type route struct {
	kind int
	name string // repository
	arg  string // reference, digest or upload id
}

// parseRoute maps a /v2 path to a route. The repository name may contain
// slashes, so the path is read from its end: the last path components say
// what is asked for and everything before them is the name.
func parseRoute(path string) route {
	if path == "/v2" || path == "/v2/" {
		return route{kind: routeBase}
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return route{}
	}
	if rest == "_catalog" {
		return route{kind: routeCatalog}
	}
	c := strings.Split(rest, "/")
	n := len(c)
	name := func(k int) string { return strings.Join(c[:n-k], "/") }
	switch {
	case n >= 3 && c[n-2] == "tags" && c[n-1] == "list":
		return route{kind: routeTags, name: name(2)}
	case n >= 3 && c[n-2] == "manifests":
		return route{kind: routeManifest, name: name(2), arg: c[n-1]}
	case n >= 3 && c[n-2] == "referrers":
		return route{kind: routeReferrers, name: name(2), arg: c[n-1]}
	case n >= 4 && c[n-3] == "blobs" && c[n-2] == "uploads":
		if c[n-1] == "" {
			return route{kind: routeUploadStart, name: name(3)}
		}
		return route{kind: routeUpload, name: name(3), arg: c[n-1]}
	case n >= 3 && c[n-2] == "blobs":
		if c[n-1] == "uploads" {
			return route{kind: routeUploadStart, name: name(2)}
		}
		return route{kind: routeBlob, name: name(2), arg: c[n-1]}
	}
	return route{}
}

// request is one API call in progress.
type request struct {
	h       *Handler
	w       http.ResponseWriter
	r       *http.Request
	ctx     context.Context
	reg     Registry
	name    string
	arg     string
	granted []auth.Access
}

// ServeHTTP serves the distribution API; anything else is 404 with an OCI
// error body.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt := parseRoute(r.URL.Path)
	reg, ok := RegistryFrom(r.Context())
	if rt.kind == routeNone || !ok {
		WriteError(w, r, codeError(ErrNotFound))
		return
	}
	q := &request{h: h, w: w, r: r, ctx: r.Context(), reg: reg, name: rt.name, arg: rt.arg}
	if rt.kind != routeBase && rt.kind != routeCatalog {
		if err := validName(rt.name); err != nil {
			q.fail(err)
			return
		}
	}
	m := r.Method
	switch rt.kind {
	case routeBase:
		if q.allow(m, http.MethodGet, http.MethodHead) {
			q.base()
		}
	case routeCatalog:
		if q.allow(m, http.MethodGet) {
			q.catalog()
		}
	case routeTags:
		if q.allow(m, http.MethodGet) {
			q.tagsList()
		}
	case routeReferrers:
		if q.allow(m, http.MethodGet) {
			q.referrers()
		}
	case routeManifest:
		switch m {
		case http.MethodGet, http.MethodHead:
			q.getManifest()
		case http.MethodPut:
			q.putManifest()
		case http.MethodDelete:
			q.deleteManifest()
		default:
			q.notAllowed("GET, HEAD, PUT, DELETE")
		}
	case routeBlob:
		switch m {
		case http.MethodGet, http.MethodHead:
			q.getBlob()
		case http.MethodDelete:
			q.deleteBlob()
		default:
			q.notAllowed("GET, HEAD, DELETE")
		}
	case routeUploadStart:
		if q.allow(m, http.MethodPost) {
			q.startUpload()
		}
	case routeUpload:
		switch m {
		case http.MethodGet:
			q.uploadStatus()
		case http.MethodPatch:
			q.patchUpload()
		case http.MethodPut:
			q.putUpload()
		case http.MethodDelete:
			q.cancelUpload()
		default:
			q.notAllowed("GET, PATCH, PUT, DELETE")
		}
	}
}

func (q *request) allow(method string, methods ...string) bool {
	for _, m := range methods {
		if m == method {
			return true
		}
	}
	q.notAllowed(strings.Join(methods, ", "))
	return false
}

func (q *request) notAllowed(allow string) {
	q.w.Header().Set("Allow", allow)
	q.fail(ErrUnsupported.WithMessage("method %s is not supported here; allowed: %s", q.r.Method, allow))
}

// authorize asks the Authorizer for the given actions on the request's
// repository plus any extra accesses.
func (q *request) authorize(actions []string, extra ...auth.Access) bool {
	need := append([]auth.Access{{Type: "repository", Name: q.name, Actions: actions}}, extra...)
	_, granted, ok := q.h.az.Authorize(q.w, q.r, need)
	q.granted = granted
	return ok
}

// authorizeDigest authorizes actions on the repository and parses the
// request's digest argument; when either fails it has answered the request
// and returns false.
func (q *request) authorizeDigest(actions []string) (string, bool) {
	if !q.authorize(actions) {
		return "", false
	}
	digest, _, derr := parseDigest(q.arg)
	if derr != nil {
		q.fail(derr)
		return "", false
	}
	return digest, true
}

// authorizeReference authorizes actions on the repository and parses the
// request's reference argument (a tag or a digest); when either fails it
// has answered the request and returns false.
func (q *request) authorizeReference(actions []string) (reference, bool) {
	if !q.authorize(actions) {
		return reference{}, false
	}
	ref, rerr := parseReference(q.arg)
	if rerr != nil {
		q.fail(rerr)
		return reference{}, false
	}
	return ref, true
}

var (
	pullActions     = []string{"pull"}
	pullPushActions = []string{"pull", "push"}
	deleteActions   = []string{"delete"}
)

func (q *request) fail(e *Error) { WriteError(q.w, q.r, e) }

// internal logs err and answers 500, 507 when the disk is full, or the
// matching client error for a cancelled request.
func (q *request) internal(op string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		q.fail(ErrUnknown.WithMessage("request cancelled").WithStatus(http.StatusServiceUnavailable))
		return
	}
	q.h.log.Error("registry request failed", "op", op, "registry", q.reg.Name, "repository", q.name, "err", err)
	if err := store.StorageFull(err); errdefs.KindOf(err) == errdefs.ErrStorageFull {
		// Nothing was stored; the client learns why at once (507 is not
		// retried by clients the way 500 is) and can push again later.
		q.fail(ErrUnknown.WithMessage("%s failed: %s", op, errdefs.MessageOf(err)).WithStatus(http.StatusInsufficientStorage))
		return
	}
	q.fail(ErrUnknown.WithMessage("internal error: %s failed", op))
}

func (q *request) writeJSON(status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		q.internal("encode response", err)
		return
	}
	h := q.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	q.w.WriteHeader(status)
	if q.r.Method != http.MethodHead {
		q.w.Write(body)
	}
}

// empty answers with a status and no body.
func (q *request) empty(status int) {
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(status)
}

func (q *request) base() {
	if _, _, ok := q.h.az.Authorize(q.w, q.r, nil); !ok {
		return
	}
	q.writeJSON(http.StatusOK, "application/json", struct{}{})
}

func (q *request) view(fn func(*store.Tx) error) error   { return q.h.st.View(q.ctx, fn) }
func (q *request) update(fn func(*store.Tx) error) error { return q.h.update(q.ctx, fn) }

func (h *Handler) pulled(reg Registry, repo string, n int64) {
	if h.ev != nil && n > 0 {
		h.ev.Pulled(reg, repo, n)
	}
}

func (h *Handler) pushed(reg Registry, repo string, n int64) {
	if h.ev != nil {
		h.ev.Pushed(reg, repo, n)
	}
}

// countingWriter counts the body bytes written. It keeps io.ReaderFrom so
// that http.ServeContent of an *os.File still reaches sendfile(2).
type countingWriter struct {
	http.ResponseWriter
	n int64
	// tls is set for requests over TLS, where sendfile cannot apply: the
	// body is then copied in 1 MiB reads rather than net/http's 32 KiB.
	tls bool
}

var bigCopyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	var n int64
	var err error
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok && !c.tls {
		n, err = rf.ReadFrom(src)
	} else if c.tls {
		buf := bigCopyBufs.Get().(*[]byte)
		n, err = io.CopyBuffer(writerOnly{c.ResponseWriter}, src, *buf)
		bigCopyBufs.Put(buf)
	} else {
		n, err = io.Copy(writerOnly{c.ResponseWriter}, src)
	}
	c.n += n
	return n, err
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

type writerOnly struct{ io.Writer }
