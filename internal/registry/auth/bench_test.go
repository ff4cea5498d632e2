package auth

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/authz"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/store"
	"github.com/drydock-dev/drydock/internal/store/storetest"
	"github.com/drydock-dev/drydock/internal/tokens"
)

// tokenWorld is the registry token service as the server assembles it —
// the real store and directory, the RBAC engine behind arm.RBAC, the
// ES256 registry signer, an audit log file — with n role assignments of
// other principals in the engine and one user who may push to the
// registry, holding a refresh token for it.
type tokenWorld struct {
	svc     *Service
	reg     Registry
	refresh string
}

func newTokenWorld(b *testing.B, n int) *tokenWorld {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	st := storetest.Open(b)
	dirSigner, err := tokens.LoadOrCreate(filepath.Join(dir, "keys"))
	if err != nil {
		b.Fatal(err)
	}
	d, err := directory.New(ctx, st, dirSigner, directory.Config{TenantID: "5e0f3e5c-7d3a-4bb1-9a54-4d7e4f6a0c11", BaseURL: "https://127.0.0.1:8443", Domain: "contoso.test"})
	if err != nil {
		b.Fatal(err)
	}
	var user directory.Principal
	if err := st.Update(ctx, func(tx *store.Tx) (err error) {
		user, err = d.CreateUser(ctx, tx, "alice@contoso.test", "Alice", "correct-horse-battery", nil)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	sub := "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	reg := Registry{ID: sub + "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myacr", Name: "myacr",
		LoginServer: "myacr.azurecr.io", Created: time.Now().Add(-time.Hour)}

	rng := rand.New(rand.NewPCG(1, 2))
	roles := []string{authz.AcrPullGUID, authz.AcrPushGUID, authz.ReaderGUID, authz.ContributorGUID, authz.OwnerGUID}
	as := make([]authz.Assignment, 0, n+1)
	for i := range n {
		scope := fmt.Sprintf("%s/resourceGroups/rg-%d", sub, rng.IntN(20))
		if i%2 == 0 {
			scope += fmt.Sprintf("/providers/Microsoft.ContainerRegistry/registries/acr%d", rng.IntN(10))
		}
		as = append(as, authz.Assignment{Name: fmt.Sprintf("%08x-3333-4333-8333-%012x", i, i), Scope: scope,
			RoleDefinitionID: roles[rng.IntN(len(roles))], PrincipalID: fmt.Sprintf("%08x-1111-4111-8111-%012x", i%(n/5+1), i), PrincipalType: "ServicePrincipal"})
	}
	as = append(as, authz.Assignment{Name: "a0c1ec1d-0000-4000-8000-000000000001", Scope: sub, RoleDefinitionID: authz.AcrPushGUID,
		PrincipalID: user.ObjectID, PrincipalType: "User"})
	engine := authz.NewEngine(authz.BuiltInRoles())
	engine.Load(as)

	signer, err := tokens.LoadOrCreateEC(filepath.Join(dir, "keys"), "registry-signing.key")
	if err != nil {
		b.Fatal(err)
	}
	auditFile, err := os.OpenFile(filepath.Join(dir, "audit.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { auditFile.Close() })
	svc := New(d, signer, arm.NewRBAC(engine, d).Decide, nil, slog.New(slog.NewJSONHandler(auditFile, nil)), Config{})
	rc := refreshClaims{tokenClaims: svc.claims(reg, user.Name(), grantRefresh, time.Hour)}
	rc.ObjectID = user.ObjectID
	refresh, err := signer.Sign(rc)
	if err != nil {
		b.Fatal(err)
	}
	return &tokenWorld{svc: svc, reg: reg, refresh: refresh}
}

// BenchmarkHandleToken measures POST /oauth2/token with a refresh token
// for pull and push of one repository: refresh-token verification (cached
// after the first), two RBAC decisions per action, signing, the audit
// record and the answer.
func BenchmarkHandleToken(b *testing.B) {
	for _, n := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("assignments=%d", n), func(b *testing.B) {
			w := newTokenWorld(b, n)
			body := url.Values{"grant_type": {"refresh_token"}, "service": {w.reg.LoginServer},
				"scope": {"repository:bench:pull,push"}, "refresh_token": {w.refresh}}.Encode()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				w.svc.HandleToken(rec, r, w.reg)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
