package directory

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// fuzzTenant is a directory with one host carrying two managed identities
// and one service principal with a client secret, served on a mux.
type fuzzTenant struct {
	d   *Directory
	mux *http.ServeMux
	// placeholders in fuzz inputs, replaced by the real values, so that
	// the fuzzer can reach the paths that succeed.
	values *strings.Replacer
	// secrets is what a request must carry to be answered 200.
	hostCredential, clientSecret, refreshToken string
	identities                                 []Principal
}

const fuzzTenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

func newFuzzTenant(f *testing.F) *fuzzTenant {
	d, st := newTestDirectory(f)
	ctx := context.Background()
	ft := &fuzzTenant{d: d, mux: http.NewServeMux()}
	var sp Principal
	var err error
	err = st.Update(ctx, func(tx *store.Tx) error {
		for _, name := range []string{"kubelet", "other"} {
			p, err := d.CreateManagedIdentity(tx, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+name, name)
			if err != nil {
				return err
			}
			ft.identities = append(ft.identities, p)
		}
		if ft.hostCredential, err = d.RegisterHost(tx, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
			[]string{ft.identities[0].ObjectID, ft.identities[1].ObjectID}); err != nil {
			return err
		}
		app, err := d.CreateApplication(tx, "app", "")
		if err != nil {
			return err
		}
		if sp, err = d.CreateServicePrincipal(tx, app.AppID, ""); err != nil {
			return err
		}
		ft.clientSecret, _, err = d.AddPassword(tx, app.ObjectID, "secret", time.Now().Add(time.Hour))
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	if ft.refreshToken, err = d.IssueRefreshToken(sp); err != nil {
		f.Fatal(err)
	}
	d.Routes(ft.mux)
	ft.values = strings.NewReplacer(
		"$CRED", ft.hostCredential, "$SECRET", ft.clientSecret, "$APPID", sp.AppID, "$REFRESH", ft.refreshToken,
		"$CLIENT", ft.identities[0].AppID, "$OBJECT", ft.identities[0].ObjectID, "$RESID", ft.identities[0].ResourceID,
		"$TENANT", fuzzTenantID)
	return ft
}

func (ft *fuzzTenant) serve(t *testing.T, req *http.Request) (int, map[string]any) {
	w := httptest.NewRecorder()
	ft.mux.ServeHTTP(w, req)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, non-JSON body %q", w.Code, w.Body)
	}
	return w.Code, body
}

// FuzzIMDS feeds the managed-identity endpoint arbitrary queries (which
// identity, which resource) and host credentials: it answers 200 only to
// the host's own credential, only for an identity assigned to the host,
// and otherwise 400 or 401 in the IMDS error shape.
func FuzzIMDS(f *testing.F) {
	ft := newFuzzTenant(f)
	f.Add("api-version=2018-02-01&resource=https://management.azure.com/&client_id=$CLIENT", "X-IDENTITY-HEADER", "$CRED")
	f.Add("api-version=2018-02-01&resource=https://containerregistry.azure.net&object_id=$OBJECT", "X-IDENTITY-HEADER", "$CRED")
	f.Add("api-version=2017-09-01&resource=https://management.azure.com/&clientid=$CLIENT", "secret", "$CRED")
	f.Add("api-version=2018-02-01&resource=https://management.azure.com/&msi_res_id=$RESID", "X-IDENTITY-HEADER", "dhc_0.x")
	f.Fuzz(func(t *testing.T, query, header, credential string) {
		credential = ft.values.Replace(credential)
		req := httptest.NewRequest("GET", "/metadata/identity/oauth2/token", nil)
		req.URL.RawQuery = ft.values.Replace(query)
		req.Header.Set("Metadata", "true")
		req.Header[http.CanonicalHeaderKey(header)] = []string{credential}
		status, body := ft.serve(t, req)
		switch status {
		case 200:
			if credential != ft.hostCredential {
				t.Fatalf("a token for the credential %q", credential)
			}
			if cid := body["client_id"]; cid != ft.identities[0].AppID && cid != ft.identities[1].AppID {
				t.Fatalf("a token for %v, not an identity of the host", cid)
			}
		case 400, 401:
			if e, _ := body["error"].(string); e == "" {
				t.Fatalf("%d without an error code: %v", status, body)
			}
		default:
			t.Fatalf("status %d: %v", status, body)
		}
	})
}

// FuzzTokenRequest feeds the token endpoint arbitrary form bodies: it
// answers 200 only to a request carrying the service principal's secret
// or a refresh token, with an access token that verifies for the resource
// it names, and otherwise an AADSTS error.
func FuzzTokenRequest(f *testing.F) {
	ft := newFuzzTenant(f)
	f.Add("grant_type=client_credentials&client_id=$APPID&client_secret=$SECRET&scope=https://management.azure.com/.default")
	f.Add("grant_type=refresh_token&refresh_token=$REFRESH&scope=https://graph.microsoft.com/.default offline_access openid")
	f.Add("grant_type=refresh_token&refresh_token=$REFRESH&resource=https://containerregistry.azure.net")
	f.Add("grant_type=client_credentials&client_id=$APPID&client_secret=nope&scope=https://management.azure.com/.default")
	f.Add("grant_type=password&username=a&password=b&scope=x")
	f.Add("grant_type=refresh_token&refresh_token=a.b.c&scope=%zz")
	f.Fuzz(func(t *testing.T, form string) {
		form = ft.values.Replace(form)
		if v, err := url.ParseQuery(form); err == nil && v.Get("grant_type") == "password" {
			return // every password check costs a bcrypt comparison, by design
		}
		req := httptest.NewRequest("POST", "/"+fuzzTenantID+"/oauth2/v2.0/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		status, body := ft.serve(t, req)
		if status == 200 {
			if !strings.Contains(form, ft.clientSecret) && !strings.Contains(form, ft.refreshToken) {
				t.Fatalf("a token without a credential: %v", body)
			}
			tok, _ := body["access_token"].(string)
			aud, _ := body["resource"].(string)
			if _, err := ft.d.VerifyAccessToken(tok, aud); err != nil {
				t.Fatalf("the access token does not verify for %q: %v", aud, err)
			}
			return
		}
		desc, _ := body["error_description"].(string)
		if status < 400 || status > 499 || body["error"] == nil || !strings.HasPrefix(desc, "AADSTS") {
			t.Fatalf("status %d: %v", status, body)
		}
	})
}

// newTestDirectory is a directory over a fresh store, both closed when tb
// ends.
func newTestDirectory(tb testing.TB) (*Directory, *store.Store) {
	tb.Helper()
	st := storetest.Open(tb)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := New(context.Background(), st, tokens.NewSigner(key), Config{TenantID: fuzzTenantID, BaseURL: "https://127.0.0.1:8443"})
	if err != nil {
		tb.Fatal(err)
	}
	return d, st
}
