package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/drydock-dev/drydock/internal/atomicfile"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// Environment variables read by the CLI.
const (
	EnvConfigDir = "DRYDOCK_CONFIG_DIR"
	EnvEndpoint  = "DRYDOCK_ENDPOINT"
	EnvCAFile    = "DRYDOCK_CA_FILE"
)

// File names inside the configuration directory.
const (
	ProfileFile = "profile.json"
	TokensFile  = "tokens.json"
)

// User types, as az records them.
const (
	UserTypeUser             = "user"
	UserTypeServicePrincipal = "servicePrincipal"
)

// Profile is what profile.json holds: which server to talk to and the
// subscriptions of the logged-in account.
type Profile struct {
	Endpoint string `json:"endpoint,omitempty"`
	CAFile   string `json:"caFile,omitempty"`
	TenantID string `json:"tenantId,omitempty"`
	// User is the logged-in account, also known when it has no
	// subscriptions.
	User          *Account       `json:"user,omitempty"`
	Subscriptions []Subscription `json:"subscriptions"`
}

// Subscription is one subscription of the logged-in account.
type Subscription struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	TenantID  string  `json:"tenantId"`
	State     string  `json:"state"`
	IsDefault bool    `json:"isDefault"`
	User      Account `json:"user"`
}

// Account is the account a subscription is used with.
type Account struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ErrNoSubscription is returned when a command needs a subscription and the
// profile has none.
var ErrNoSubscription = errors.New("No subscription found. Run 'az account create --name <name>' to create one, or 'az account set' to select one.")

// Default returns the default subscription, or nil.
func (p *Profile) Default() *Subscription {
	for i := range p.Subscriptions {
		if p.Subscriptions[i].IsDefault {
			return &p.Subscriptions[i]
		}
	}
	return nil
}

// Find returns the subscription whose id or name is nameOrID (ignoring
// case; ids win over names), or nil.
func (p *Profile) Find(nameOrID string) *Subscription {
	for i := range p.Subscriptions {
		if strings.EqualFold(p.Subscriptions[i].ID, nameOrID) {
			return &p.Subscriptions[i]
		}
	}
	for i := range p.Subscriptions {
		if strings.EqualFold(p.Subscriptions[i].Name, nameOrID) {
			return &p.Subscriptions[i]
		}
	}
	return nil
}

// SetDefault makes the subscription named by nameOrID the default.
func (p *Profile) SetDefault(nameOrID string) error {
	s := p.Find(nameOrID)
	if s == nil {
		return fmt.Errorf("The subscription of '%s' doesn't exist in cloud 'drydock'.", nameOrID)
	}
	id := s.ID
	for i := range p.Subscriptions {
		p.Subscriptions[i].IsDefault = p.Subscriptions[i].ID == id
	}
	return nil
}

// Resolve returns the subscription a command runs against: the one named by
// flag (the --subscription value) or else the default. An id not in the
// profile is used as is, so that subscriptions shared after login work.
func (p *Profile) Resolve(flag string) (Subscription, error) {
	if flag != "" {
		if s := p.Find(flag); s != nil {
			return *s, nil
		}
		if _, err := uuid.Parse(flag); err == nil && len(flag) == 36 {
			return Subscription{ID: strings.ToLower(flag), Name: flag, TenantID: p.TenantID, State: "Enabled"}, nil
		}
		return Subscription{}, fmt.Errorf("Subscription '%s' not found. Check the spelling and casing and try again.", flag)
	}
	if s := p.Default(); s != nil {
		return *s, nil
	}
	if len(p.Subscriptions) > 0 {
		return p.Subscriptions[0], nil
	}
	return Subscription{}, ErrNoSubscription
}

// Replace sets the subscription list, keeping the previous default when it
// is still present and otherwise making the first one the default.
func (p *Profile) Replace(subs []Subscription) {
	prev := ""
	if d := p.Default(); d != nil {
		prev = d.ID
	}
	p.Subscriptions = append([]Subscription{}, subs...)
	found := false
	for i := range p.Subscriptions {
		p.Subscriptions[i].IsDefault = prev != "" && strings.EqualFold(p.Subscriptions[i].ID, prev) && !found
		found = found || p.Subscriptions[i].IsDefault
	}
	if !found && len(p.Subscriptions) > 0 {
		p.Subscriptions[0].IsDefault = true
	}
}

// Add inserts or updates one subscription; it becomes the default when
// there was none.
func (p *Profile) Add(s Subscription) {
	s.IsDefault = false
	if old := p.Find(s.ID); old != nil && strings.EqualFold(old.ID, s.ID) {
		s.IsDefault = old.IsDefault
		*old = s
	} else {
		p.Subscriptions = append(p.Subscriptions, s)
	}
	if p.Default() == nil {
		p.Subscriptions[len(p.Subscriptions)-1].IsDefault = true
	}
}

// Store reads and writes the configuration directory.
type Store struct {
	Dir string
}

// DefaultStore returns the store in $DRYDOCK_CONFIG_DIR, else ~/.drydock.
func DefaultStore() (*Store, error) {
	if d := os.Getenv(EnvConfigDir); d != "" {
		return &Store{Dir: d}, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, fmt.Errorf("cannot locate the configuration directory: %w (set %s)", err, EnvConfigDir)
	}
	return &Store{Dir: filepath.Join(home, ".drydock")}, nil
}

// LoadProfile reads profile.json; a missing file yields an empty profile.
func (s *Store) LoadProfile() (*Profile, error) {
	p := &Profile{}
	if err := s.read(ProfileFile, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return p, nil
}

// SaveProfile writes profile.json with mode 0600.
func (s *Store) SaveProfile(p *Profile) error {
	if p.Subscriptions == nil {
		p.Subscriptions = []Subscription{}
	}
	return s.write(ProfileFile, p)
}

// LoadCredentials reads tokens.json; a missing file yields (nil, nil).
func (s *Store) LoadCredentials() (*Credentials, error) {
	c := &Credentials{}
	if err := s.read(TokensFile, c); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return c, nil
}

// SaveCredentials writes tokens.json with mode 0600.
func (s *Store) SaveCredentials(c *Credentials) error { return s.write(TokensFile, c) }

// RemoveCredentials deletes tokens.json.
func (s *Store) RemoveCredentials() error {
	err := os.Remove(filepath.Join(s.Dir, TokensFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (s *Store) read(name string, v any) error {
	b, err := os.ReadFile(filepath.Join(s.Dir, name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is corrupt: %w", filepath.Join(s.Dir, name), err)
	}
	return nil
}

// write replaces a file atomically, readable only by its owner.
func (s *Store) write(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.Dir, name), append(b, '\n'), 0o600)
}
