package authz

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drydock-dev/drydock/internal/resourceid"
)

// Assignment is a role assignment: role RoleDefinitionID granted to
// PrincipalID at Scope and everything below it.
type Assignment struct {
	Name             string // GUID (the assignment's name)
	Scope            string // ARM scope string as given
	RoleDefinitionID string // role GUID (a full role definition ID is accepted too)
	PrincipalID      string // object id
	PrincipalType    string // User | Group | ServicePrincipal
	CreatedOn        time.Time
}

// Membership says that the requesting principal belongs to a group.
type Membership struct {
	GroupID     string    // object id of a group the principal belongs to (caller resolves nesting)
	EffectiveAt time.Time // when the membership starts to count (group propagation delay)
}

// Request asks whether PrincipalID may perform Action on Scope at time Now.
type Request struct {
	PrincipalID string
	Groups      []Membership
	Action      string // e.g. "Microsoft.ContainerRegistry/registries/write"
	DataAction  bool   // true when Action is a data action (matched against dataActions/notDataActions only)
	Scope       string // the ARM scope acted upon (resource ID, RG, subscription or "/")
	Now         time.Time
}

// Grant is one role assignment that allows (or will allow) a request.
type Grant struct {
	Assignment  Assignment
	Role        RoleDefinition // shared with the engine; do not modify
	ViaGroup    string         // "" when assigned directly to the principal
	EffectiveAt time.Time      // zero for direct; membership's EffectiveAt for group grants
}

// Decision is the answer to a Request.
type Decision struct {
	Allowed bool
	// Granted lists every grant that allows the action now: direct grants
	// first, then group grants in the order of Request.Groups; each run is
	// ordered by scope, then assignment name.
	Granted []Grant
	// Pending lists grants through group memberships that are not yet
	// effective at Now, earliest first.
	Pending []Grant
	// Reason is one human-readable sentence explaining the decision.
	Reason string
}

// entry is an indexed assignment with its comparison keys precomputed.
type entry struct {
	a         Assignment
	scope     string // resourceid.Normalize(a.Scope), with a leading '/'
	nameKey   string // lower-cased a.Name
	principal string // lower-cased a.PrincipalID
	roleKey   string // lower-cased role GUID
}

func newEntry(a Assignment) *entry {
	return &entry{
		a:         a,
		scope:     normScope(a.Scope),
		nameKey:   strings.ToLower(a.Name),
		principal: strings.ToLower(a.PrincipalID),
		roleKey:   roleGUID(a.RoleDefinitionID),
	}
}

// slot is the per-principal index record of an entry. It keeps the scope's
// hash inline so that Decide can reject assignments at unrelated scopes
// without following pointers.
type slot struct {
	hash uint64 // scopeHash of the entry's normalized scope
	slow bool   // the scope has non-ASCII bytes: always compare strings
	e    *entry
}

func newSlot(en *entry) slot {
	h, ok := scopeHash(en.scope)
	return slot{hash: h, slow: !ok, e: en}
}

func compareSlots(x, y slot) int { return compareEntries(x.e, y.e) }

func compareEntries(x, y *entry) int {
	if c := strings.Compare(x.scope, y.scope); c != 0 {
		return c
	}
	return strings.Compare(x.nameKey, y.nameKey)
}

// normScope returns the lower-case canonical form of an ARM scope. Scopes as
// they appear in ARM URL parameters lack the leading '/'; one is added.
func normScope(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	return resourceid.Normalize(s)
}

// Engine indexes role definitions and role assignments and answers
// authorization requests. It is safe for concurrent use.
type Engine struct {
	mu          sync.RWMutex
	roles       map[string]*RoleDefinition // lower-cased GUID → role
	byName      map[string]*entry          // lower-cased assignment name → entry
	byPrincipal map[string][]slot          // lower-cased principal id → entries sorted by compareEntries
}

// NewEngine returns an engine without assignments whose assignments may refer
// to roles (typically BuiltInRoles(), plus custom roles). The roles are copied.
func NewEngine(roles []RoleDefinition) *Engine {
	e := &Engine{
		roles:       make(map[string]*RoleDefinition, len(roles)),
		byName:      make(map[string]*entry),
		byPrincipal: make(map[string][]slot),
	}
	for _, r := range roles {
		e.putRoleLocked(r)
	}
	return e
}

func (e *Engine) putRoleLocked(r RoleDefinition) {
	key := roleGUID(r.GUID)
	if key == "" {
		return
	}
	c := r.Clone()
	e.roles[key] = &c
}

// PutRole adds or replaces (by GUID) a role definition, e.g. a custom role.
// Existing assignments that refer to its GUID use the new definition at once.
func (e *Engine) PutRole(r RoleDefinition) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.putRoleLocked(r)
}

// RemoveRole removes a role definition by GUID or role definition ID.
// Assignments that refer to it remain but grant nothing.
func (e *Engine) RemoveRole(idOrGUID string) bool {
	key := roleGUID(idOrGUID)
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.roles[key]; !ok {
		return false
	}
	delete(e.roles, key)
	return true
}

// Role returns the engine's role definition with the given GUID (or role
// definition ID), ignoring case.
func (e *Engine) Role(guid string) (RoleDefinition, bool) {
	key := roleGUID(guid)
	e.mu.RLock()
	defer e.mu.RUnlock()
	r, ok := e.roles[key]
	if !ok {
		return RoleDefinition{}, false
	}
	return r.Clone(), true
}

// Roles returns copies of all role definitions of the engine, sorted by name.
func (e *Engine) Roles() []RoleDefinition {
	e.mu.RLock()
	out := make([]RoleDefinition, 0, len(e.roles))
	for _, r := range e.roles {
		out = append(out, r.Clone())
	}
	e.mu.RUnlock()
	slices.SortFunc(out, func(a, b RoleDefinition) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(a.GUID, b.GUID))
	})
	return out
}

// Load replaces all assignments. When names repeat, the last one wins.
func (e *Engine) Load(as []Assignment) {
	byName := make(map[string]*entry, len(as))
	for _, a := range as {
		en := newEntry(a)
		byName[en.nameKey] = en
	}
	byPrincipal := make(map[string][]slot)
	for _, en := range byName {
		byPrincipal[en.principal] = append(byPrincipal[en.principal], newSlot(en))
	}
	for _, list := range byPrincipal {
		slices.SortFunc(list, compareSlots)
	}
	e.mu.Lock()
	e.byName, e.byPrincipal = byName, byPrincipal
	e.mu.Unlock()
}

// Add adds an assignment, replacing any assignment with the same name
// (ignoring case).
func (e *Engine) Add(a Assignment) {
	en := newEntry(a)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.removeLocked(en.nameKey)
	e.byName[en.nameKey] = en
	list := e.byPrincipal[en.principal]
	sl := newSlot(en)
	i, _ := slices.BinarySearchFunc(list, sl, compareSlots)
	e.byPrincipal[en.principal] = slices.Insert(list, i, sl)
}

// Remove removes the assignment with the given name, ignoring case, and
// reports whether there was one.
func (e *Engine) Remove(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.removeLocked(strings.ToLower(name))
}

func (e *Engine) removeLocked(nameKey string) bool {
	en, ok := e.byName[nameKey]
	if !ok {
		return false
	}
	delete(e.byName, nameKey)
	list := e.byPrincipal[en.principal]
	if i := slices.IndexFunc(list, func(sl slot) bool { return sl.e == en }); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(e.byPrincipal, en.principal)
	} else {
		e.byPrincipal[en.principal] = list
	}
	return true
}

// Get returns the assignment with the given name, ignoring case.
func (e *Engine) Get(name string) (Assignment, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	en, ok := e.byName[strings.ToLower(name)]
	if !ok {
		return Assignment{}, false
	}
	return en.a, true
}

// Len returns the number of assignments.
func (e *Engine) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.byName)
}

// List returns the assignments for which filter returns true (all when filter
// is nil), sorted by scope, then name, both without regard to case.
func (e *Engine) List(filter func(Assignment) bool) []Assignment {
	e.mu.RLock()
	picked := make([]*entry, 0, len(e.byName))
	for _, en := range e.byName {
		if filter == nil || filter(en.a) {
			picked = append(picked, en)
		}
	}
	e.mu.RUnlock()
	slices.SortFunc(picked, compareEntries)
	out := make([]Assignment, len(picked))
	for i, en := range picked {
		out[i] = en.a
	}
	return out
}

// ForPrincipal returns the assignments made directly to principalID (not via
// groups), sorted like List.
func (e *Engine) ForPrincipal(principalID string) []Assignment {
	e.mu.RLock()
	defer e.mu.RUnlock()
	list := e.byPrincipal[strings.ToLower(principalID)]
	out := make([]Assignment, len(list))
	for i, sl := range list {
		out[i] = sl.e.a
	}
	return out
}

// Decide answers whether req.PrincipalID may perform req.Action on req.Scope
// at req.Now (the current time when zero). It considers assignments to the
// principal itself and to the groups in req.Groups at req.Scope or any scope
// above it. Group grants whose membership is not yet effective are returned
// in Pending and do not allow the action.
func (e *Engine) Decide(req Request) Decision {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	var d Decision
	var t target
	t.init(req.Scope)

	e.mu.RLock()
	if req.PrincipalID != "" && req.Action != "" {
		for _, sl := range e.byPrincipal[lowerKey(req.PrincipalID)] {
			if role := e.applies(sl, &t, req.Action, req.DataAction); role != nil {
				d.Granted = append(d.Granted, Grant{Assignment: sl.e.a, Role: *role})
			}
		}
		var buf [8]member
		for _, g := range groupsOf(&req, buf[:0]) {
			for _, sl := range e.byPrincipal[g.key] {
				role := e.applies(sl, &t, req.Action, req.DataAction)
				if role == nil {
					continue
				}
				gr := Grant{Assignment: sl.e.a, Role: *role, ViaGroup: g.id, EffectiveAt: g.effective}
				if now.Before(g.effective) {
					d.Pending = append(d.Pending, gr)
				} else {
					d.Granted = append(d.Granted, gr)
				}
			}
		}
	}
	e.mu.RUnlock()

	d.Allowed = len(d.Granted) > 0
	if len(d.Pending) > 1 {
		slices.SortStableFunc(d.Pending, func(a, b Grant) int { return a.EffectiveAt.Compare(b.EffectiveAt) })
	}
	d.Reason = reason(&req, &d)
	return d
}

// member is one distinct group of a request.
type member struct {
	id        string    // as given
	key       string    // lower-cased
	effective time.Time // earliest EffectiveAt among the group's occurrences
}

// groupsOf appends the distinct usable groups of req to buf, in order of
// first occurrence. Empty group IDs and the principal's own ID are skipped.
// A group listed more than once counts from its earliest EffectiveAt.
func groupsOf(req *Request, buf []member) []member {
	out := buf
	var index map[string]int // built only for long group lists
	for _, g := range req.Groups {
		if g.GroupID == "" || strings.EqualFold(g.GroupID, req.PrincipalID) {
			continue
		}
		key := lowerKey(g.GroupID)
		at := -1
		if index != nil {
			if j, ok := index[key]; ok {
				at = j
			}
		} else {
			for j := range out {
				if out[j].key == key {
					at = j
					break
				}
			}
		}
		if at >= 0 {
			if g.EffectiveAt.Before(out[at].effective) {
				out[at].effective = g.EffectiveAt
			}
			continue
		}
		out = append(out, member{id: g.GroupID, key: key, effective: g.EffectiveAt})
		switch {
		case index != nil:
			index[key] = len(out) - 1
		case len(out) > 16:
			index = make(map[string]int, len(req.Groups))
			for j := range out {
				index[out[j].key] = j
			}
		}
	}
	return out
}

// applies returns the role of sl's assignment when the assignment's scope
// contains the target and its role allows the action, and nil otherwise.
func (e *Engine) applies(sl slot, t *target, action string, data bool) *RoleDefinition {
	if !t.mayBeWithin(sl) || !resourceid.Within(sl.e.scope, t.scope) {
		return nil
	}
	role := e.roles[sl.e.roleKey]
	if role == nil || !role.Allows(action, data) {
		return nil
	}
	return role
}

// maxPrefixes bounds the number of ancestor scopes whose hashes a target
// keeps; deeper scopes fall back to string comparison.
const maxPrefixes = 24

// target is the scope of a request with the hashes of all its ancestors
// (every prefix ending at a segment boundary, the root included), so that an
// assignment scope can be pre-filtered by one hash comparison per ancestor.
type target struct {
	scope  string // as given, with a leading '/'
	n      int
	exact  bool // hashes is complete; otherwise compare every scope as a string
	hashes [maxPrefixes]uint64
}

func (t *target) init(scope string) {
	if !strings.HasPrefix(scope, "/") {
		scope = "/" + strings.TrimSpace(scope)
	}
	t.scope = scope
	s := strings.TrimSuffix(scope, "/")
	h := uint64(fnvOffset)
	t.exact = true
	t.n = 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			t.exact = false
			return
		}
		if c == '/' {
			if !t.add(h) {
				return
			}
		}
		h = fnvStep(h, c)
	}
	t.add(h)
}

func (t *target) add(h uint64) bool {
	if t.n == maxPrefixes {
		t.exact = false
		return false
	}
	t.hashes[t.n] = h
	t.n++
	return true
}

// mayBeWithin reports whether the slot's scope can contain the target. A
// false answer is definite; a true one must be confirmed by comparing the
// strings (hashes may collide).
func (t *target) mayBeWithin(sl slot) bool {
	if !t.exact || sl.slow {
		return true
	}
	for _, h := range t.hashes[:t.n] {
		if h == sl.hash {
			return true
		}
	}
	return false
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvStep(h uint64, c byte) uint64 {
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	return (h ^ uint64(c)) * fnvPrime
}

// scopeHash hashes a normalized scope the way target.init hashes the
// target's prefixes: the root "/" hashes like the empty prefix. ok is false
// when the scope has non-ASCII bytes, whose case folding the hash does not
// model.
func scopeHash(norm string) (h uint64, ok bool) {
	s := strings.TrimSuffix(norm, "/")
	h = fnvOffset
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return 0, false
		}
		h = fnvStep(h, s[i])
	}
	return h, true
}

// lowerKey lower-cases s for a map lookup, without allocating when s is
// already lower case (object IDs usually are).
func lowerKey(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

func reason(req *Request, d *Decision) string {
	kind := "'"
	if req.DataAction {
		kind = "data action '"
	}
	if req.Action == "" {
		return "no action was given, so nothing is allowed"
	}
	if d.Allowed {
		g := d.Granted[0]
		s := "allowed by role '" + g.Role.Name + "' assigned to " + grantee(req, g) +
			" at scope '" + g.Assignment.Scope + "' (assignment " + g.Assignment.Name + ")"
		if n := len(d.Granted) - 1; n == 1 {
			s += " and 1 other grant"
		} else if n > 1 {
			s += fmt.Sprintf(" and %d other grants", n)
		}
		return s
	}
	s := "no role assignment of " + req.PrincipalID + " at or above scope '" + req.Scope + "' grants " + kind + req.Action + "'"
	if len(d.Pending) == 0 {
		return s
	}
	p := d.Pending[0]
	s += " yet: role '" + p.Role.Name + "' assigned to " + grantee(req, p) + " at scope '" + p.Assignment.Scope +
		"' (assignment " + p.Assignment.Name + ") becomes effective at " + p.EffectiveAt.UTC().Format(time.RFC3339) +
		" (group membership propagation)"
	if n := len(d.Pending) - 1; n == 1 {
		s += "; 1 more grant is pending"
	} else if n > 1 {
		s += fmt.Sprintf("; %d more grants are pending", n)
	}
	return s
}

func grantee(req *Request, g Grant) string {
	if g.ViaGroup == "" {
		return req.PrincipalID
	}
	return "group " + g.ViaGroup + " (of which " + req.PrincipalID + " is a member)"
}
