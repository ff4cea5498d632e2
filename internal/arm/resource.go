package arm

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/drydock-dev/drydock/internal/store"
)

// Resource is the ARM envelope of a tracked resource.
type Resource struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location,omitempty"`
	Tags       map[string]string `json:"tags"`
	SKU        *SKU              `json:"sku,omitempty"`
	Identity   json.RawMessage   `json:"identity,omitempty"`
	ManagedBy  string            `json:"managedBy,omitempty"`
	Properties json.RawMessage   `json:"properties,omitempty"`
	SystemData *SystemData       `json:"systemData,omitempty"`
}

// SKU is a resource's pricing tier.
type SKU struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
}

// SystemData records who created and last changed a resource.
type SystemData struct {
	CreatedBy          string    `json:"createdBy"`
	CreatedByType      string    `json:"createdByType"`
	CreatedAt          time.Time `json:"createdAt"`
	LastModifiedBy     string    `json:"lastModifiedBy"`
	LastModifiedByType string    `json:"lastModifiedByType"`
	LastModifiedAt     time.Time `json:"lastModifiedAt"`
}

// Touch updates systemData for a write by c (creating it on first write).
func (res *Resource) Touch(c Caller) {
	now := time.Now().UTC()
	typ := "User"
	if c.PrincipalType != "User" {
		typ = "Application"
	}
	if res.SystemData == nil {
		res.SystemData = &SystemData{CreatedBy: c.Name, CreatedByType: typ, CreatedAt: now}
	}
	res.SystemData.LastModifiedBy, res.SystemData.LastModifiedByType, res.SystemData.LastModifiedAt = c.Name, typ, now
	if res.Tags == nil {
		res.Tags = map[string]string{}
	}
}

// Row converts the resource to its store row.
func (res *Resource) Row(id resourceid.ID) (store.Resource, error) {
	b, err := json.Marshal(res)
	return store.Resource{ID: id.String(), Type: id.Type(), Subscription: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Name: id.Name(), Body: b}, err
}

// FromRow decodes a stored resource body.
func FromRow(r store.Resource) (Resource, error) {
	var res Resource
	err := json.Unmarshal(r.Body, &res)
	return res, err
}

// NormalizeLocation lower-cases a location and removes spaces ("East US" → "eastus").
func NormalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(l), " ", ""))
}

var locationRE = regexp.MustCompile(`^[a-z0-9]{2,40}$`)

// CheckLocation validates a location, defaulting to def when empty.
func CheckLocation(l, def string) (string, error) {
	l = NormalizeLocation(l)
	if l == "" {
		l = def
	}
	if l == "" {
		return "", BadRequest("LocationRequired", "The location property is required for this definition.")
	}
	if !locationRE.MatchString(l) {
		return "", BadRequest("LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type. Locations are lower-case letters and digits, like 'eastus'.", l)
	}
	return l, nil
}

// NoContent is a handler result for an absent body.
func NoContent() (int, any, error) { return http.StatusNoContent, nil, nil }

// List wraps items as ARM's {"value": [...]}.
func List[T any](items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"value": items}
}
