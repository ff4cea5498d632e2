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

// GraphList GETs a Graph collection. With all it follows @odata.nextLink;
// otherwise it returns the first page and reports whether more exist.
func (c *Client) GraphList(ctx context.Context, path string, query url.Values, all bool) ([]map[string]any, bool, error) {
	items := []map[string]any{}
	u := c.graphURL(path, query)
	seen := map[string]bool{}
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
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(res.Body, &page); err != nil {
			return nil, false, fmt.Errorf("invalid list response from %s: %w", path, err)
		}
		items = append(items, page.Value...)
		if !all {
			return items, page.NextLink != "", nil
		}
		u = page.NextLink
	}
	return items, false, nil
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
