package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/drydock-dev/drydock/internal/cli/azcompat"
)

// azCloudConfig is the --cloud-config that registers drydock with the real
// az, derived from the server's cloud metadata. az 2.45 fills the active
// directory endpoint and its resource ID from <resourceManager>/metadata/
// endpoints itself (msrestazure reads four legacy keys there), but it has no
// flag for Microsoft Graph's resource ID and does not read the ACR suffix
// from the metadata, so the config carries those.
func azCloudConfig(md map[string]any) (string, error) {
	suffix := str(md, "suffixes", "acrLoginServer")
	cfg := map[string]any{
		"endpoints": map[string]string{
			"resourceManager":          str(md, "resourceManager"),
			"microsoftGraphResourceId": str(md, "microsoftGraphResourceId"),
		},
		"suffixes": map[string]string{"acrLoginServerEndpoint": "." + strings.TrimPrefix(suffix, ".")},
	}
	b, err := json.Marshal(cfg)
	return string(b), err
}

// printRealAzSetup prints the commands that register drydock with the real
// az and sign it in as user, and installs the shim Debian's az 2.45 needs
// under dataDir.
func (a *app) printRealAzSetup(ctx context.Context, w io.Writer, endpoint, caFile, dataDir, user, passwordFile string) error {
	c, err := a.newClient(endpoint, caFile)
	if err != nil {
		return err
	}
	md, err := c.Metadata(ctx)
	if err != nil {
		return err
	}
	cloudConfig, err := azCloudConfig(md)
	if err != nil {
		return err
	}
	compat, err := azcompat.Install(filepath.Join(dataDir, "az-debian-compat"))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, `
The real Azure CLI (az 2.45 or later) reaches drydock as a registered cloud:
  export REQUESTS_CA_BUNDLE=%s
  export PYTHONPATH=%s    # Debian's azure-cli 2.45 only (see README)
  az cloud register -n %s --cloud-config '%s'
  az cloud set -n %s
  az login -u %s -p "$(cat %s)"
`, caFile, compat, cloudName, cloudConfig, cloudName, user, passwordFile)
	return nil
}
