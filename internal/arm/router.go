package arm

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/drydock-dev/drydock/internal/httpjson"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

// Request is one parsed ARM request handed to a provider.
type Request struct {
	*http.Request
	Writer     http.ResponseWriter
	Caller     Caller
	APIVersion string
	// ID is the target: a resource, or for collection requests the parent
	// scope with the collection's provider and type (Names one short).
	ID resourceid.ID
	// Collection is true for list requests (".../registries").
	Collection bool
	// Action is the trailing action segment of a POST (e.g. "listCredentials").
	Action string
	// BaseURL is the server's public base URL (for operation URLs).
	BaseURL string
}

// Handler serves one kind of ARM request. It returns the status and body
// to write, or an error (an *errdefs.Error with ARM's code, or any error
// of an errdefs kind; see WriteError).
type Handler func(r *Request) (int, any, error)

// Router dispatches ARM requests to providers by method and resource type.
type Router struct {
	st         Store
	principals Principals
	base       string
	log        *slog.Logger
	routes     map[string]Handler
	// Ops runs the long-running operations of every provider and serves
	// their polling URLs.
	Ops *Operations
}

// NewRouter builds the ARM front door: callers' tokens are verified and
// their principals resolved by principals; subscriptions and resource
// groups are looked up, and operations kept, in st.
func NewRouter(st Store, principals Principals, baseURL string, log *slog.Logger) *Router {
	r := &Router{st: st, principals: principals, base: baseURL, log: log, routes: map[string]Handler{}}
	r.Ops = newOperations(st, baseURL, log)
	r.Handle("GET", "Microsoft.Resources/operationStatuses", r.Ops.status)
	r.Handle("GET", "Microsoft.Resources/operationResults", r.Ops.result)
	return r
}

// Handle registers h for method and a type key: the resource type
// ("Microsoft.ContainerRegistry/registries"), the type plus "[]" for its
// collection, or the type plus "/<action>" for POST actions. A bare
// namespace plus action ("Microsoft.ContainerRegistry/checkNameAvailability")
// is a provider-level action. The type's api-versions must be declared in
// apiVersions.
func (rt *Router) Handle(method, typeKey string, h Handler) {
	if _, ok := versionsFor(typeKey); !ok {
		panic("arm: no api-versions are declared for " + typeKey + " (see apiVersions)")
	}
	rt.routes[method+" "+strings.ToLower(typeKey)] = h
}

var apiVersionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-[a-zA-Z0-9]+)?$`)

// ServeHTTP implements the ARM pipeline: authenticate, check the
// api-version's form, parse the path, check that the type has that
// api-version, check the subscription and resource group, dispatch.
func (rt *Router) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	caller, aerr := authenticate(rt.principals, hr)
	if aerr != nil {
		WriteError(w, aerr)
		return
	}
	ver := hr.URL.Query().Get("api-version")
	if ver == "" {
		WriteError(w, BadRequest("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
		return
	}
	if !apiVersionRE.MatchString(ver) {
		WriteError(w, BadRequest("InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are of the form 'yyyy-mm-dd' or 'yyyy-mm-dd-preview'.", ver))
		return
	}
	req := &Request{Request: hr.WithContext(WithCaller(hr.Context(), caller)), Writer: w, Caller: caller, APIVersion: ver, BaseURL: rt.base}
	key, err := rt.parse(req)
	if err != nil {
		WriteError(w, err)
		return
	}
	h, ok := rt.routes[hr.Method+" "+key]
	if !ok {
		if rt.knownType(key) {
			WriteError(w, Errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The method '%s' is not allowed on '%s'.", hr.Method, hr.URL.Path))
			return
		}
		WriteError(w, BadRequest("InvalidResourceType", "The resource type '%s' could not be found in the namespace '%s' for api version '%s'.", typePart(key), req.ID.Provider, ver))
		return
	}
	if err := checkAPIVersion(key, ver); err != nil {
		WriteError(w, err)
		return
	}
	if err := rt.checkParents(req); err != nil {
		WriteError(w, err)
		return
	}
	status, body, err := h(req)
	if err != nil {
		if errdefs.CodeOf(err) == "" {
			rt.log.Error("arm handler failed", "method", hr.Method, "path", hr.URL.Path, "err", err)
		}
		WriteError(w, err)
		return
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	httpjson.Write(w, status, body)
}

func typePart(key string) string {
	if i := strings.Index(key, "/"); i >= 0 {
		return strings.TrimSuffix(key[i+1:], "[]")
	}
	return key
}

func (rt *Router) knownType(key string) bool {
	for k := range rt.routes {
		if strings.HasSuffix(k, " "+key) {
			return true
		}
	}
	return false
}

// parse fills req.ID, Collection and Action and returns the route key.
func (rt *Router) parse(req *Request) (string, error) {
	path := req.URL.Path
	if req.Method == http.MethodPost {
		i := strings.LastIndex(strings.TrimSuffix(path, "/"), "/")
		if i <= 0 {
			return "", BadRequest("InvalidRequestUri", "The request URI '%s' is not valid.", path)
		}
		req.Action = strings.TrimSuffix(path, "/")[i+1:]
		path = path[:i]
	}
	if key, ok := scopeCollection(req, path); ok {
		return key, nil
	}
	id, err := resourceid.Parse(path)
	if err != nil || (!id.IsResource() && id.Provider != "") {
		cid, cerr := resourceid.ParseCollection(path)
		if cerr != nil {
			return "", BadRequest("InvalidResourceId", "%s", strings.TrimPrefix(err.Error(), "invalid resource ID "))
		}
		id, req.Collection = cid, true
	}
	req.ID = id
	var typ string
	switch {
	case id.Provider != "":
		typ = id.Provider
		if len(id.Types) > 0 {
			typ += "/" + strings.Join(id.Types, "/")
		}
	case id.SubscriptionID == "" && req.Collection:
		typ = "Microsoft.Resources/subscriptions"
	case len(id.Types) == 1 && id.ResourceGroup == "":
		typ = "Microsoft.Resources/resourceGroups"
	default:
		typ = id.Type()
	}
	key := strings.ToLower(typ)
	if req.Collection && !(id.Provider != "" && len(id.Types) == 0) {
		key += "[]"
	}
	if req.Action != "" {
		key = strings.TrimSuffix(key, "[]") + "/" + strings.ToLower(req.Action)
	}
	return key, nil
}

// scopeCollection recognises the collections ARM serves at a scope rather
// than under a provider: GET /tenants, and GET <subscription or resource
// group>/resources (every resource there, which az uses to find a resource
// by name and type).
func scopeCollection(req *Request, path string) (string, bool) {
	if req.Method != http.MethodGet {
		return "", false
	}
	path = strings.TrimSuffix(path, "/")
	if strings.EqualFold(path, "/tenants") {
		req.Collection = true
		return "microsoft.resources/tenants[]", true
	}
	if len(path) > len("/resources") && strings.EqualFold(path[len(path)-len("/resources"):], "/resources") {
		id, err := resourceid.Parse(path[:len(path)-len("/resources")])
		if err == nil && id.SubscriptionID != "" && id.Provider == "" && id.Scope == nil {
			req.ID, req.Collection = id, true
			return "microsoft.resources/resources[]", true
		}
	}
	return "", false
}

// checkParents makes sure the subscription and resource group in the path
// exist, as ARM does before a provider sees the request.
func (rt *Router) checkParents(req *Request) error {
	id := req.ID
	for id.Scope != nil {
		id = *id.Scope
	}
	if id.SubscriptionID == "" {
		return nil
	}
	return rt.st.View(req.Context(), func(tx *store.Tx) error {
		if _, err := tx.GetSubscription(id.SubscriptionID); err != nil {
			return SubscriptionNotFound(id.SubscriptionID)
		}
		isGroupItself := id.Provider == "" && req.ID.Scope == nil && !req.Collection
		if id.ResourceGroup != "" && !isGroupItself {
			if _, err := tx.GetResource(resourceid.ResourceGroupID(id.SubscriptionID, id.ResourceGroup).String()); err != nil {
				return ResourceGroupNotFound(id.ResourceGroup)
			}
		}
		return nil
	})
}

// Decode reads the JSON request body into v, mapping failures to
// InvalidRequestContent, a body over 4 MiB to ARM's 413
// RequestContentTooLarge and a stalled one to 408 RequestTimeout.
func Decode(r *Request, v any) error {
	err := httpjson.Decode(r.Request, v, true)
	if err == nil {
		return nil
	}
	switch status, _ := httpjson.BodyFailure(err); status {
	case http.StatusRequestEntityTooLarge:
		return Errorf(status, "RequestContentTooLarge", "The request content size exceeds the maximum size of 4 MB.")
	case http.StatusRequestTimeout:
		return Errorf(status, "RequestTimeout", "The client did not send the request content in time.")
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &te) {
		return InvalidRequestContent(err)
	}
	return BadRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: '%v'.", err)
}
