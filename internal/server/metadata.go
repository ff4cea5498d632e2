package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/drydock-dev/drydock/internal/arm"
	"github.com/drydock-dev/drydock/internal/directory"
	"github.com/drydock-dev/drydock/internal/httpjson"
)

// Cloud metadata (GET /metadata/endpoints) in the shapes ARM has served
// over time, because each generation of client reads its own:
//
//   - 2015-01-01 (and no api-version): one object with the legacy keys
//     galleryEndpoint, graphEndpoint, portalEndpoint and
//     authentication.{loginEndpoint,audiences}. azure-cli's `az cloud
//     register --endpoint-resource-manager` (msrestazure) reads exactly
//     these four values. drydock adds its modern keys to the same object.
//   - 2019-05-01 and 2022-09-01: an array of clouds, each with name,
//     resourceManager, authentication, microsoftGraphResourceId, graph,
//     suffixes (azure-cli's ARM_CLOUD_METADATA_URL, newer tools).
//   - 2020-06-01: one cloud object in the modern shape.
//
// The login endpoint is ADFS-shaped (<base>/adfs): MSAL treats such an
// authority as known to the developer, so it reads
// <base>/adfs/.well-known/openid-configuration instead of asking
// login.microsoftonline.com for instance discovery, and signs users in
// with username and password without user-realm discovery. Nothing leaves
// the machine.
const (
	// metadataLegacyVersion is the version msrestazure asks for.
	metadataLegacyVersion = "2015-01-01"
	// metadataObjectVersion answers one modern cloud object.
	metadataObjectVersion = "2020-06-01"
)

// metadataArrayVersions answer an array of clouds.
var metadataArrayVersions = []string{"2019-05-01", "2022-09-01"}

// cloudMetadata is the modern description of the drydock cloud.
func (s *Server) cloudMetadata() map[string]any {
	base := s.cfg.PublicURL
	return map[string]any{
		"name":                     "drydock",
		"resourceManager":          base + "/",
		"portal":                   base + "/",
		"gallery":                  base + "/",
		"graph":                    base + directory.GraphPath + "/",
		"graphAudience":            base + directory.GraphPath + "/",
		"microsoftGraphResourceId": base + directory.GraphPath + "/",
		"authentication": map[string]any{
			"loginEndpoint":    base + directory.ADFSPath,
			"audiences":        s.dir.AcceptedAudiences(directory.AudienceARM),
			"tenant":           s.dir.TenantID(),
			"identityProvider": "ADFS",
		},
		"suffixes": map[string]any{"acrLoginServer": s.cfg.LoginServerSuffix},
		"drydock": map[string]any{
			"caFile":                    s.state.CAFile,
			"containerRegistryAudience": directory.AudienceACR,
			"managedIdentityEndpoint":   base + "/metadata/identity/oauth2/token",
			"hostCredentialHeader":      directory.HostCredentialHeader,
			"registryAddress":           s.regLn.Addr().String(),
		},
	}
}

// endpoints serves the cloud metadata in the shape the api-version asks.
func (s *Server) endpoints(w http.ResponseWriter, r *http.Request) {
	ver := r.URL.Query().Get("api-version")
	md := s.cloudMetadata()
	switch {
	case ver == "" || ver == metadataLegacyVersion:
		base := s.cfg.PublicURL
		md["galleryEndpoint"] = base + "/"
		md["graphEndpoint"] = base + directory.GraphPath + "/"
		md["portalEndpoint"] = base + "/"
		httpjson.Write(w, http.StatusOK, md)
	case ver == metadataObjectVersion:
		httpjson.Write(w, http.StatusOK, md)
	case slices.Contains(metadataArrayVersions, ver):
		httpjson.Write(w, http.StatusOK, []any{md})
	default:
		supported := append([]string{metadataLegacyVersion, metadataObjectVersion}, metadataArrayVersions...)
		slices.Sort(supported)
		arm.WriteError(w, arm.BadRequest("InvalidApiVersionParameter",
			"The api-version '%s' is invalid. The supported versions are '%s'.", ver, strings.Join(supported, ",")))
	}
}
