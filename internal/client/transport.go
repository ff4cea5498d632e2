package client

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// response is a fully read HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// maxBody bounds how much of a response body is read.
const maxBody = 64 << 20

// roundTrip sends req with hc as drydock-cli and reads the response.
func roundTrip(hc *http.Client, req *http.Request) (*response, error) {
	req.Header.Set("User-Agent", "drydock-cli")
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading response of %s %s: %w", req.Method, redactURL(req.URL), err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: body}, nil
}

// debugTransport logs requests and responses, like az --debug, with
// credentials redacted: bodies by redact (redactBody when nil), headers
// always.
type debugTransport struct {
	next   http.RoundTripper
	w      io.Writer
	redact func(body []byte, contentType string) string
	mu     sync.Mutex
}

func (d *debugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	d.mu.Lock()
	fmt.Fprintf(d.w, "DEBUG: Request URL: '%s'\n", redactURL(req.URL))
	fmt.Fprintf(d.w, "DEBUG: Request method: '%s'\n", req.Method)
	d.headers("Request", req.Header)
	if len(reqBody) > 0 {
		fmt.Fprintf(d.w, "DEBUG: Request body:\nDEBUG: %s\n", d.redactBody(reqBody, req.Header.Get("Content-Type")))
	}
	d.mu.Unlock()

	res, err := d.next.RoundTrip(req)
	if err != nil {
		d.mu.Lock()
		fmt.Fprintf(d.w, "DEBUG: Request failed: %v\n", err)
		d.mu.Unlock()
		return nil, err
	}
	body, rerr := io.ReadAll(io.LimitReader(res.Body, maxBody))
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.w, "DEBUG: Response status: %d\n", res.StatusCode)
	d.headers("Response", res.Header)
	if len(body) > 0 {
		fmt.Fprintf(d.w, "DEBUG: Response content:\nDEBUG: %s\n", d.redactBody(body, res.Header.Get("Content-Type")))
	}
	if rerr != nil {
		return nil, rerr
	}
	return res, nil
}

func (d *debugTransport) redactBody(b []byte, contentType string) string {
	if d.redact != nil {
		return d.redact(b, contentType)
	}
	return redactBody(b, contentType)
}

func (d *debugTransport) headers(kind string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(d.w, "DEBUG: %s headers:\n", kind)
	for _, k := range keys {
		v := strings.Join(h[k], ", ")
		if strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Cookie") {
			v = "*****"
		}
		fmt.Fprintf(d.w, "DEBUG:     '%s': '%s'\n", k, v)
	}
}

// formSecrets are the form fields of token requests that are redacted.
var formSecrets = []string{"password", "client_secret", "refresh_token"}

var secretJSON = regexp.MustCompile(`"(access_token|refresh_token|id_token|password|client_secret|secretText|hostCredential|accessToken|refreshToken)"\s*:\s*"[^"]*"`)

// passwordValue matches the values of registry credentials.
var passwordValue = regexp.MustCompile(`"value"\s*:\s*"[^"]*"`)

// redactBody hides credentials in form and JSON bodies.
func redactBody(b []byte, contentType string) string {
	if form, ok := redactForm(b, contentType, formSecrets); ok {
		return form
	}
	s := secretJSON.ReplaceAllString(string(b), `"$1": "*****"`)
	if strings.Contains(s, `"passwords"`) {
		s = passwordValue.ReplaceAllString(s, `"value": "*****"`)
	}
	return s
}

// redactForm hides the fields of a form body (ok is false when the body is
// not a form).
func redactForm(b []byte, contentType string, fields []string) (form string, ok bool) {
	if !strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		return "", false
	}
	v, err := url.ParseQuery(string(b))
	if err != nil {
		return "", false
	}
	for _, f := range fields {
		if v.Has(f) {
			v.Set(f, "*****")
		}
	}
	return v.Encode(), true
}

func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		c.User = url.User("*****")
	}
	return c.String()
}
