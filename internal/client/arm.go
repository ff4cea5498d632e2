package client

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Request is one ARM call.
type Request struct {
	Method string
	// Path is the absolute path below the endpoint, e.g.
	// "/subscriptions/{s}/resourcegroups/{g}"; callers escape its segments.
	Path       string
	APIVersion string
	// Query holds extra query parameters such as $filter.
	Query url.Values
	// Body is marshalled as JSON when not nil.
	Body any
	// NoWait returns after the first response of a long-running operation
	// instead of polling it.
	NoWait bool
}

// ARM performs an ARM request with the ARM token, follows a long-running
// operation to its end unless r.NoWait, and decodes the final JSON body
// into out (when out is not nil and there is a body). For PUT and PATCH the
// final body is the resource read after the operation succeeded.
func (c *Client) ARM(ctx context.Context, r Request, out any) error {
	res, err := c.sendARM(ctx, r)
	if err != nil {
		return err
	}
	if res.Status >= 400 {
		return DecodeAPIError(res.Status, res.Body)
	}
	if !r.NoWait && r.Method != http.MethodGet && (res.Status == http.StatusCreated || res.Status == http.StatusAccepted) {
		final, polled, err := c.pollLRO(ctx, res)
		if err != nil {
			return err
		}
		if polled {
			switch r.Method {
			case http.MethodPut, http.MethodPatch:
				res, err = c.send(ctx, http.MethodGet, c.armURL(r.Path, r.APIVersion, nil), ARMScope, nil)
				if err != nil {
					return err
				}
				if res.Status >= 400 {
					return DecodeAPIError(res.Status, res.Body)
				}
			case http.MethodDelete:
				return nil
			default:
				if final != nil {
					res = final
				}
			}
		}
	}
	return decodeInto(res.Body, out)
}

// sendARM sends an ARM request once, its body marshalled as JSON.
func (c *Client) sendARM(ctx context.Context, r Request) (*response, error) {
	var body []byte
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	return c.send(ctx, r.Method, c.armURL(r.Path, r.APIVersion, r.Query), ARMScope, body)
}

// ARMList GETs an ARM collection and follows nextLink, returning every
// element of "value".
func (c *Client) ARMList(ctx context.Context, path, apiVersion string, query url.Values) ([]map[string]any, error) {
	items := []map[string]any{}
	u := c.armURL(path, apiVersion, query)
	seen := map[string]bool{}
	for u != "" && !seen[u] {
		seen[u] = true
		res, err := c.send(ctx, http.MethodGet, u, ARMScope, nil)
		if err != nil {
			return nil, err
		}
		if res.Status >= 400 {
			return nil, DecodeAPIError(res.Status, res.Body)
		}
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"nextLink"`
		}
		if err := json.Unmarshal(res.Body, &page); err != nil {
			return nil, fmt.Errorf("invalid list response from %s: %w", path, err)
		}
		items = append(items, page.Value...)
		u = page.NextLink
	}
	return items, nil
}

// Metadata returns the server's cloud metadata (GET
// /metadata/endpoints), which needs no token.
func (c *Client) Metadata(ctx context.Context) (map[string]any, error) {
	res, err := c.send(ctx, http.MethodGet, c.armURL("/metadata/endpoints", APIVersionMetadata, nil), "", nil)
	if err != nil {
		return nil, err
	}
	if res.Status >= 400 {
		return nil, DecodeAPIError(res.Status, res.Body)
	}
	// An array of clouds; drydock serves one.
	var clouds []map[string]any
	if err := json.Unmarshal(res.Body, &clouds); err != nil || len(clouds) == 0 {
		return nil, fmt.Errorf("invalid metadata response: %s", res.Body)
	}
	return clouds[0], nil
}

func (c *Client) armURL(path, apiVersion string, query url.Values) string {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if apiVersion != "" {
		q.Set("api-version", apiVersion)
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	s := c.Endpoint + path
	if enc := EncodeQuery(q); enc != "" {
		s += "?" + enc
	}
	return s
}

// EncodeQuery encodes query parameters with sorted keys, spaces as %20 and
// a leading "$" in keys (OData's $filter) left readable.
func EncodeQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		ek := url.QueryEscape(k)
		if strings.HasPrefix(ek, "%24") {
			ek = "$" + ek[3:]
		}
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(ek)
			b.WriteByte('=')
			b.WriteString(strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	return b.String()
}

// send performs one request, with a bearer token for scope when scope is
// not empty and the URL is on the endpoint's origin. A 401 answer is retried
// once with a newly acquired token.
func (c *Client) send(ctx context.Context, method, rawURL, scope string, body []byte) (*response, error) {
	for attempt := 0; ; attempt++ {
		var rd *bytes.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		var req *http.Request
		var err error
		if rd != nil {
			req, err = http.NewRequestWithContext(ctx, method, rawURL, rd)
		} else {
			req, err = http.NewRequestWithContext(ctx, method, rawURL, nil)
		}
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		authorized := false
		if scope != "" && c.sameOrigin(rawURL) {
			tok, err := c.Token(ctx, scope)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			authorized = true
		}
		res, err := c.roundTrip(req)
		if err != nil {
			return nil, c.transportError(err)
		}
		if res.Status == http.StatusUnauthorized && authorized && attempt == 0 {
			c.InvalidateToken(scope)
			continue
		}
		return res, nil
	}
}

// transportError explains a failure to talk to the server.
func (c *Client) transportError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	if errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) || strings.Contains(err.Error(), "certificate") {
		return fmt.Errorf("cannot connect to drydock at %s: %v (pass --ca-file or set DRYDOCK_CA_FILE to drydock's CA certificate)", c.Endpoint, err)
	}
	return fmt.Errorf("cannot connect to drydock at %s: %v", c.Endpoint, err)
}

func decodeInto(body []byte, out any) error {
	if out == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("invalid JSON response: %w", err)
	}
	return nil
}

// pollLRO follows a long-running operation started by res. It reports
// whether there was anything to poll and, for Location polling (or a
// Location given next to Azure-AsyncOperation), the final response.
func (c *Client) pollLRO(ctx context.Context, res *response) (*response, bool, error) {
	if ao := res.Header.Get("Azure-AsyncOperation"); ao != "" {
		if err := c.pollAsyncOperation(ctx, ao, res.Header, nil); err != nil {
			return nil, true, err
		}
		if loc := res.Header.Get("Location"); loc != "" {
			final, err := c.pollLocation(ctx, loc, nil)
			return final, true, err
		}
		return nil, true, nil
	}
	if loc := res.Header.Get("Location"); loc != "" {
		final, err := c.pollLocation(ctx, loc, res.Header)
		return final, true, err
	}
	return nil, false, nil
}

// pollAsyncOperation GETs an Azure-AsyncOperation URL until its status is
// terminal, handing each status to progress (when not nil).
func (c *Client) pollAsyncOperation(ctx context.Context, u string, h http.Header, progress func(OperationStatus)) error {
	for {
		if err := c.Sleep(ctx, c.retryAfter(h)); err != nil {
			return err
		}
		res, err := c.send(ctx, http.MethodGet, u, ARMScope, nil)
		if err != nil {
			return err
		}
		if res.Status >= 400 {
			return DecodeAPIError(res.Status, res.Body)
		}
		h = res.Header
		var op operationStatus
		if err := json.Unmarshal(res.Body, &op); err != nil {
			return fmt.Errorf("invalid operation status response: %w", err)
		}
		if progress != nil {
			progress(OperationStatus{Status: op.Status, PercentComplete: op.PercentComplete, Progress: op.Properties.Progress})
		}
		switch strings.ToLower(op.Status) {
		case "succeeded":
			return nil
		case "failed", "canceled", "cancelled":
			return operationError(res.Status, res.Body)
		}
	}
}

// operationStatus is the body of an Azure-AsyncOperation status.
type operationStatus struct {
	Status          string   `json:"status"`
	PercentComplete *float64 `json:"percentComplete"`
	Properties      struct {
		Progress string `json:"progress"`
	} `json:"properties"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// operationError is the error of a long-running operation that ended
// Failed or Canceled: its error, or its status.
func operationError(status int, body []byte) *APIError {
	var op operationStatus
	_ = json.Unmarshal(body, &op)
	e := &APIError{Status: status, Code: op.Status, Message: fmt.Sprintf("Long running operation failed with status '%s'.", op.Status)}
	if op.Error != nil {
		if op.Error.Code != "" {
			e.Code = op.Error.Code
		}
		if op.Error.Message != "" {
			e.Message = op.Error.Message
		}
	}
	return e
}

// pollLocation GETs a Location URL until it stops answering 202. With a nil
// h it polls at once.
func (c *Client) pollLocation(ctx context.Context, u string, h http.Header) (*response, error) {
	for {
		if h != nil {
			if err := c.Sleep(ctx, c.retryAfter(h)); err != nil {
				return nil, err
			}
		}
		res, err := c.send(ctx, http.MethodGet, u, ARMScope, nil)
		if err != nil {
			return nil, err
		}
		if res.Status >= 400 {
			return nil, DecodeAPIError(res.Status, res.Body)
		}
		if res.Status != http.StatusAccepted {
			return res, nil
		}
		h = res.Header
	}
}

// retryAfter is the delay a response asks for before the next poll.
func (c *Client) retryAfter(h http.Header) time.Duration {
	def := c.PollInterval
	if def <= 0 {
		def = time.Second
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(c.Now()); d > 0 {
			return d
		}
		return 0
	}
	return def
}
