package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/internal/config"
	"github.com/drydock-dev/drydock/internal/server/servertest/loopback"
)

// testServer is a drydock server running in-process on a loopback port.
type testServer struct {
	State
	dataDir string
	client  *http.Client
}

func startServer(t *testing.T, mutate func(*config.Config)) *testServer {
	t.Helper()
	return startTuned(t, mutate, nil)
}

// startTuned starts a server after tune (if not nil) changed what the
// configuration does not reach, such as its listeners' timeouts.
func startTuned(t *testing.T, mutate func(*config.Config), tune func(*Server)) *testServer {
	t.Helper()
	ln, cfg := loopback.Config(t)
	if testPostgres != nil {
		cfg.Database = testPostgres.NewDatabase(t)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(srv)
	}
	loopback.Serve(t, ctx, cancel, ln, srv.Serve)
	ts := &testServer{State: srv.State(), dataDir: cfg.DataDir}
	ts.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CA().Pool()}}}
	return ts
}

func (ts *testServer) adminPassword(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(ts.dataDir, AdminPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// token runs an OAuth2 grant against the tenant's token endpoint.
func (ts *testServer) token(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	return loopback.Token(t, ts.client, ts.Endpoint, ts.TenantID, form)
}

func (ts *testServer) userToken(t *testing.T, user, password, scope string) string {
	t.Helper()
	code, out := ts.token(t, url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}, "scope": {scope}, "client_id": {"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}})
	if code != 200 {
		t.Fatalf("password grant: %d %v", code, out)
	}
	return out["access_token"].(string)
}

// do sends a JSON request with a bearer token and decodes the JSON answer.
func (ts *testServer) do(t *testing.T, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, ts.Endpoint+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return loopback.Send(t, ts.client, req)
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func errMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["message"].(string)
	return c
}

// errorOf reads a surface's error envelope; code is "" when the body is
// not that envelope.
func errorOf(envelope string, body map[string]any) (code, msg string) {
	switch envelope {
	case "arm", "graph": // {"error":{"code","message"}}
		e, _ := body["error"].(map[string]any)
		code, _ = e["code"].(string)
		msg, _ = e["message"].(string)
	case "oci": // {"errors":[{"code","message"}]}
		code, msg = ociError(body)
	case "aad": // {"error","error_description":"AADSTSnnn: …","error_codes":[nnn]}
		code, _ = body["error"].(string)
		msg, _ = body["error_description"].(string)
		if codes, _ := body["error_codes"].([]any); !strings.HasPrefix(msg, "AADSTS") || len(codes) == 0 {
			return "", ""
		}
	case "imds": // {"error","error_description"}
		code, _ = body["error"].(string)
		msg, _ = body["error_description"].(string)
	}
	if msg == "" {
		return "", ""
	}
	return code, msg
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
