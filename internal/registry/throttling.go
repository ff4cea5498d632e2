package registry

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/registry/auth"
	"github.com/drydock-dev/drydock/internal/registry/distribution"
	"github.com/drydock-dev/drydock/internal/registry/throttle"
)

// ThrottlingTag turns ACR's request throttling on or off for one registry:
// tags {"drydock-throttling": "on"} (or "off"); without it the server's
// registryThrottling setting decides.
//
// A tag rather than a registry property because a tag is the one place an
// ARM resource carries data of the user's own through every client: `az
// acr update --tags drydock-throttling=on`, the Azure SDKs, Bicep and
// Terraform send tags as they are, while they drop a property their model
// does not know (the real az sends PATCH bodies built from the SDK model,
// so a drydock-only property set with --set would never arrive). On Azure
// the tag is inert, so the same template deploys there unchanged. The name
// is matched case-insensitively, as ARM matches tag names; the value must
// be on or off (true/false, enabled/disabled are accepted too), and
// anything else is refused at write time rather than silently ignored.
const ThrottlingTag = "drydock-throttling"

// throttlingTag reads the tag: set reports whether it is present with a
// valid value, on what it says.
func throttlingTag(tags map[string]string) (on, set bool) {
	for k, v := range tags {
		if strings.EqualFold(k, ThrottlingTag) {
			return parseThrottling(v)
		}
	}
	return false, false
}

func parseThrottling(v string) (on, valid bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "enabled":
		return true, true
	case "off", "false", "disabled":
		return false, true
	}
	return false, false
}

// checkThrottlingTag refuses a malformed throttling tag.
func checkThrottlingTag(tags map[string]string) error {
	for k, v := range tags {
		if _, valid := parseThrottling(v); strings.EqualFold(k, ThrottlingTag) && !valid {
			return arm.BadRequest("InvalidTagValue", "The tag '%s' must be 'on' or 'off', not '%s'.", k, v)
		}
	}
	return nil
}

// gate is a registry's throttle: on when its tag says so, or when the
// server throttles every registry and the tag does not say off.
func (dp *DataPlane) gate(res arm.Resource) throttle.Gate {
	on, set := throttlingTag(res.Tags)
	if !set {
		on = dp.p.cfg.Throttling
	}
	if !on || res.SKU == nil {
		return throttle.Gate{}
	}
	limits, ok := throttle.ForSKU(res.SKU.Name)
	if !ok {
		return throttle.Gate{}
	}
	return dp.throttle.Gate(strings.ToLower(res.ID), limits)
}

// internalHeader marks the data plane's own requests (acr import copies
// through its own listener). They are not throttled: on ACR an import is
// a resource-manager operation that the service runs itself, not data-plane
// traffic counted against the registry's ReadOps and WriteOps.
const internalHeader = "X-Drydock-Internal"

func newInternalKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// markInternal adds the internal header to every request of rt.
type markInternal struct {
	rt  *http.Transport
	key string
}

func (m markInternal) CloseIdleConnections() { m.rt.CloseIdleConnections() }

func (m markInternal) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(internalHeader, m.key)
	return m.rt.RoundTrip(r)
}

// admit spends one request of the registry's budget for the request's
// class. Over the limit it answers as ACR does, 429 with Retry-After: on the
// token endpoints in the token service's error shape, elsewhere in the OCI
// envelope with TOOMANYREQUESTS, and returns false.
func (dp *DataPlane) admit(w http.ResponseWriter, r *http.Request, reg auth.Registry, g throttle.Gate) bool {
	if k := r.Header.Get(internalHeader); k != "" && subtle.ConstantTimeCompare([]byte(k), []byte(dp.internalKey)) == 1 {
		return true
	}
	class := throttle.Classify(r.Method, r.URL.Path)
	ok, wait := g.Allow(class)
	if ok {
		return true
	}
	dp.metrics.throttled.WithLabelValues(reg.LoginServer, class.String()).Inc()
	retry := throttle.RetryAfter(wait)
	w.Header().Set("Retry-After", retry)
	msg := fmt.Sprintf("too many requests: registry '%s' allows %d %s per minute; retry after %s s", reg.Name, g.Limit(class), class, retry)
	if class == throttle.Token {
		auth.TooManyRequests(w, msg)
		return false
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	distribution.WriteError(w, r, distribution.ErrTooManyRequests.WithMessage("%s", msg))
	return false
}
