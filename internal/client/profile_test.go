package client

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func sampleProfile() *Profile {
	return &Profile{TenantID: "t", Subscriptions: []Subscription{
		{ID: "11111111-1111-1111-1111-111111111111", Name: "Dev", IsDefault: false},
		{ID: "22222222-2222-2222-2222-222222222222", Name: "Prod", IsDefault: true},
		{ID: "33333333-3333-3333-3333-333333333333", Name: "11111111-1111-1111-1111-111111111111"},
	}}
}

func TestProfileResolve(t *testing.T) {
	tests := []struct {
		name, flag, wantID, wantErr string
	}{
		{"default", "", "22222222-2222-2222-2222-222222222222", ""},
		{"by name ignoring case", "dev", "11111111-1111-1111-1111-111111111111", ""},
		{"by id ignoring case", "22222222-2222-2222-2222-222222222222", "22222222-2222-2222-2222-222222222222", ""},
		{"id wins over name", "11111111-1111-1111-1111-111111111111", "11111111-1111-1111-1111-111111111111", ""},
		{"unknown guid passes through", "44444444-4444-4444-4444-44444444444A", "44444444-4444-4444-4444-44444444444a", ""},
		{"unknown name", "Test", "", "Subscription 'Test' not found. Check the spelling and casing and try again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sampleProfile().Resolve(tt.flag)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || s.ID != tt.wantID {
				t.Fatalf("Resolve(%q) = %v, %v; want %s", tt.flag, s.ID, err, tt.wantID)
			}
		})
	}
	if _, err := (&Profile{}).Resolve(""); err != ErrNoSubscription {
		t.Errorf("empty profile: %v", err)
	}
	p := sampleProfile()
	p.Subscriptions[1].IsDefault = false
	if s, _ := p.Resolve(""); s.Name != "Dev" {
		t.Errorf("no default falls back to the first, got %s", s.Name)
	}
}

func TestProfileSetDefaultReplaceAdd(t *testing.T) {
	p := sampleProfile()
	if err := p.SetDefault("DEV"); err != nil || p.Default().Name != "Dev" {
		t.Fatalf("SetDefault: %v %v", err, p.Default())
	}
	if err := p.SetDefault("nope"); err == nil || err.Error() != "The subscription of 'nope' doesn't exist in cloud 'drydock'." {
		t.Errorf("SetDefault(nope) = %v", err)
	}
	p.Replace([]Subscription{{ID: "x", Name: "X"}, {ID: "11111111-1111-1111-1111-111111111111", Name: "Dev"}})
	if p.Default().ID != "11111111-1111-1111-1111-111111111111" || p.Subscriptions[0].IsDefault {
		t.Errorf("Replace kept wrong default: %+v", p.Subscriptions)
	}
	p.Replace([]Subscription{{ID: "y", Name: "Y"}, {ID: "z"}})
	if p.Default().ID != "y" {
		t.Errorf("Replace default = %+v", p.Default())
	}
	empty := &Profile{}
	empty.Add(Subscription{ID: "a", Name: "A"})
	empty.Add(Subscription{ID: "b", Name: "B"})
	empty.Add(Subscription{ID: "A", Name: "A2"})
	if len(empty.Subscriptions) != 2 || empty.Default().Name != "A2" {
		t.Errorf("Add: %+v", empty.Subscriptions)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	t.Setenv(EnvConfigDir, dir)
	s, err := DefaultStore()
	if err != nil || s.Dir != dir {
		t.Fatalf("DefaultStore = %v, %v", s, err)
	}
	if p, err := s.LoadProfile(); err != nil || len(p.Subscriptions) != 0 {
		t.Fatalf("missing profile: %v %v", p, err)
	}
	if c, err := s.LoadCredentials(); err != nil || c != nil {
		t.Fatalf("missing credentials: %v %v", c, err)
	}
	if err := s.SaveProfile(sampleProfile()); err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SaveCredentials(&Credentials{TenantID: "t", RefreshToken: "r", AccessTokens: map[string]AccessToken{ARMScope: {Token: "a", ExpiresOn: exp}}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ProfileFile, TokensFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st, err)
		}
	}
	p, _ := s.LoadProfile()
	c, _ := s.LoadCredentials()
	if p.Default().Name != "Prod" || c.AccessTokens[ARMScope].ExpiresOn != exp {
		t.Errorf("round trip: %+v %+v", p, c)
	}
	if err := s.RemoveCredentials(); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.LoadCredentials(); c != nil {
		t.Error("credentials survived removal")
	}
}

func TestEncodeQuery(t *testing.T) {
	got := EncodeQuery(map[string][]string{"api-version": {"2022-04-01"}, "$filter": {"roleName eq 'Acr+Pull'"}})
	if want := "$filter=roleName%20eq%20%27Acr%2BPull%27&api-version=2022-04-01"; got != want {
		t.Errorf("EncodeQuery = %q, want %q", got, want)
	}
}

func TestParseClaims(t *testing.T) {
	c, err := ParseClaims(fakeJWT(map[string]any{"tid": "t", "preferred_username": "bob@x"}))
	if err != nil || c.TenantID != "t" || c.Username() != "bob@x" {
		t.Errorf("claims %+v %v", c, err)
	}
	if _, err := ParseClaims("opaque"); err == nil {
		t.Error("opaque token parsed")
	}
}
