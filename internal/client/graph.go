package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// GraphBasePath is the path prefix of the Graph-shaped directory API.
const GraphBasePath = "/v1.0"

// DirectoryObject is what every Graph directory object has. JSON is the
// object as the server sent it, which is what az prints.
type DirectoryObject struct {
	ODataType   string          `json:"@odata.type,omitempty"`
	ID          string          `json:"id,omitempty"`
	DisplayName string          `json:"displayName,omitempty"`
	JSON        json.RawMessage `json:"-"`
}

// Raw is the object as the server sent it.
func (o *DirectoryObject) Raw() json.RawMessage { return o.JSON }

func (o *DirectoryObject) setRaw(b []byte) { o.JSON = append(json.RawMessage(nil), b...) }

// User is a Graph user.
type User struct {
	DirectoryObject
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
}

// Group is a Graph group.
type Group struct {
	DirectoryObject
}

// Application is a Graph application.
type Application struct {
	DirectoryObject
	AppID string `json:"appId,omitempty"`
}

// ServicePrincipal is a Graph service principal.
type ServicePrincipal struct {
	DirectoryObject
	AppID                  string   `json:"appId,omitempty"`
	ServicePrincipalNames  []string `json:"servicePrincipalNames,omitempty"`
	AppOwnerOrganizationID string   `json:"appOwnerOrganizationId,omitempty"`
}

// Principal is a directory object of any type (getByIds, group members):
// the fields of users and service principals that name one.
type Principal struct {
	DirectoryObject
	UserPrincipalName     string   `json:"userPrincipalName,omitempty"`
	AppID                 string   `json:"appId,omitempty"`
	ServicePrincipalNames []string `json:"servicePrincipalNames,omitempty"`
}

// NewUser is the body of a user's creation.
type NewUser struct {
	AccountEnabled    bool            `json:"accountEnabled"`
	DisplayName       string          `json:"displayName"`
	UserPrincipalName string          `json:"userPrincipalName"`
	MailNickname      string          `json:"mailNickname"`
	PasswordProfile   PasswordProfile `json:"passwordProfile"`
}

// PasswordProfile is a new user's password.
type PasswordProfile struct {
	Password                      string `json:"password"`
	ForceChangePasswordNextSignIn bool   `json:"forceChangePasswordNextSignIn"`
}

// NewGroup is the body of a group's creation.
type NewGroup struct {
	DisplayName     string `json:"displayName"`
	MailNickname    string `json:"mailNickname"`
	SecurityEnabled bool   `json:"securityEnabled"`
	MailEnabled     bool   `json:"mailEnabled"`
	Description     string `json:"description,omitempty"`
}

// PasswordCredential is an application's password: its name and end on
// creation, the secret in the answer.
type PasswordCredential struct {
	DisplayName string `json:"displayName,omitempty"`
	EndDateTime string `json:"endDateTime,omitempty"`
	SecretText  string `json:"secretText,omitempty"`
}

// Collection is a typed Graph collection such as /users.
type Collection[T any] struct {
	c    *Client
	path string
}

// Users, Groups, Applications and ServicePrincipals are the directory's
// collections.
func (c *Client) Users() Collection[User]   { return Collection[User]{c, "/users"} }
func (c *Client) Groups() Collection[Group] { return Collection[Group]{c, "/groups"} }
func (c *Client) Applications() Collection[Application] {
	return Collection[Application]{c, "/applications"}
}
func (c *Client) ServicePrincipals() Collection[ServicePrincipal] {
	return Collection[ServicePrincipal]{c, "/servicePrincipals"}
}

// Get reads one object.
func (g Collection[T]) Get(ctx context.Context, id string) (*T, error) {
	return graphDo[T](ctx, g.c, http.MethodGet, g.path+"/"+url.PathEscape(id), nil)
}

// Create creates an object from body.
func (g Collection[T]) Create(ctx context.Context, body any) (*T, error) {
	return graphDo[T](ctx, g.c, http.MethodPost, g.path, body)
}

// Delete deletes an object.
func (g Collection[T]) Delete(ctx context.Context, id string) error {
	return g.c.Graph(ctx, http.MethodDelete, g.path+"/"+url.PathEscape(id), nil, nil, nil)
}

// List lists the collection, filtered by an OData filter when not empty;
// see ListPath.
func (g Collection[T]) List(ctx context.Context, filter string, all bool) ([]*T, bool, error) {
	var q url.Values
	if filter != "" {
		q = url.Values{"$filter": {filter}}
	}
	return ListPath[T](ctx, g.c, g.path, q, all)
}

// Me is the signed-in user.
func (c *Client) Me(ctx context.Context) (*User, error) {
	return graphDo[User](ctx, c, http.MethodGet, "/me", nil)
}

// GetByIDs reads the directory objects with the given ids.
func (c *Client) GetByIDs(ctx context.Context, ids []string) ([]*Principal, error) {
	var res struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := c.Graph(ctx, http.MethodPost, "/directoryObjects/getByIds", nil, map[string]any{"ids": ids}, &res); err != nil {
		return nil, err
	}
	return decodeObjects[Principal](res.Value)
}

// AddPassword adds a password to an application and returns it with its
// secret.
func (c *Client) AddPassword(ctx context.Context, appObjectID string, p PasswordCredential) (*PasswordCredential, error) {
	var out PasswordCredential
	body := map[string]any{"passwordCredential": p}
	return &out, c.Graph(ctx, http.MethodPost, "/applications/"+url.PathEscape(appObjectID)+"/addPassword", nil, body, &out)
}

func graphDo[T any](ctx context.Context, c *Client, method, path string, body any) (*T, error) {
	var raw json.RawMessage
	if err := c.Graph(ctx, method, path, nil, body, &raw); err != nil {
		return nil, err
	}
	return decodeObject[T](raw)
}

func decodeObject[T any](raw json.RawMessage) (*T, error) {
	t := new(T)
	if err := json.Unmarshal(raw, t); err != nil {
		return nil, fmt.Errorf("invalid JSON response: %w", err)
	}
	if r, ok := any(t).(interface{ setRaw([]byte) }); ok {
		r.setRaw(raw)
	}
	return t, nil
}

func decodeObjects[T any](raws []json.RawMessage) ([]*T, error) {
	out := make([]*T, 0, len(raws))
	for _, raw := range raws {
		t, err := decodeObject[T](raw)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Graph performs a Microsoft-Graph-shaped request with the Graph token.
// path is below /v1.0 (e.g. "/users"); callers escape its segments.
func (c *Client) Graph(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	res, err := c.send(ctx, method, c.graphURL(path, query), GraphScope, b)
	if err != nil {
		return err
	}
	if res.Status >= 400 {
		return DecodeAPIError(res.Status, res.Body)
	}
	return decodeInto(res.Body, out)
}

// ListPath GETs a Graph collection as objects of type T. With all it
// follows @odata.nextLink; otherwise it returns the first page and reports
// whether more exist.
func ListPath[T any](ctx context.Context, c *Client, path string, query url.Values, all bool) ([]*T, bool, error) {
	var raws []json.RawMessage
	u := c.graphURL(path, query)
	seen := map[string]bool{}
	more := false
	for u != "" && !seen[u] {
		seen[u] = true
		res, err := c.send(ctx, http.MethodGet, u, GraphScope, nil)
		if err != nil {
			return nil, false, err
		}
		if res.Status >= 400 {
			return nil, false, DecodeAPIError(res.Status, res.Body)
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(res.Body, &page); err != nil {
			return nil, false, fmt.Errorf("invalid list response from %s: %w", path, err)
		}
		raws = append(raws, page.Value...)
		if !all {
			more = page.NextLink != ""
			break
		}
		u = page.NextLink
	}
	items, err := decodeObjects[T](raws)
	return items, more, err
}

func (c *Client) graphURL(path string, query url.Values) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	s := c.Endpoint + GraphBasePath + path
	if enc := EncodeQuery(query); enc != "" {
		s += "?" + enc
	}
	return s
}

// ODataString quotes s as an OData string literal ('it”s').
func ODataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Find lists the directory objects of a collection (path, e.g. "/groups")
// that match an OData filter, following every page.
func (c *Client) Find(ctx context.Context, path, filter string) ([]*Principal, error) {
	items, _, err := ListPath[Principal](ctx, c, path, url.Values{"$filter": {filter}}, true)
	return items, err
}
