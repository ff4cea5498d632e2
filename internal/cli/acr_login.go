package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/drydock-dev/drydock/internal/atomicfile"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/errdefs"
	"github.com/spf13/cobra"
)

// registryLookupHost resolves login servers (tests replace it).
var registryLookupHost = net.DefaultResolver.LookupHost

// registryTarget is a registry of a data-plane command: its login server
// and, when ARM knows it, its resource.
type registryTarget struct {
	name        string
	loginServer string
	// path is the resource ID, resource the registry as ARM lists it; both
	// empty when the registry is not in the subscription.
	path     string
	resource map[string]any
	// notFound is why the registry was not found in the subscription (its
	// login server then comes from the cloud's suffix).
	notFound error
}

// registryName strips a login server suffix from --name, as az's
// validate_registry_name does.
func (a *app) registryName(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		suffix := name[i:]
		if j := strings.IndexByte(suffix, ':'); j >= 0 {
			suffix = suffix[:j]
		}
		a.warn("The login server endpoint suffix '%s' is automatically omitted.", suffix)
		return name[:i]
	}
	return name
}

// findRegistry looks the registry up in ARM for its login server. A registry
// missing from the subscription gets <name>.<cloud suffix>[:port] instead,
// as az does.
func (a *app) findRegistry(ctx context.Context, c *client.Client, sub client.Subscription, r registryRef) (*registryTarget, error) {
	ref := registryRef{name: a.registryName(r.name), group: r.group}
	path, reg, err := ref.resolve(ctx, c, sub)
	if err == nil && reg == nil {
		reg, err = registries.fetch(ctx, c, sub.ID, ref.group, "", ref.name, path)
	}
	if err == nil {
		ls := str(reg, "properties", "loginServer")
		if ls == "" {
			ls = str(reg, "loginServer")
		}
		if ls == "" {
			return nil, fmt.Errorf("The registry '%s' has no login server.", ref.name)
		}
		t := &registryTarget{name: str(reg, "name"), loginServer: ls, path: str(reg, "id"), resource: reg}
		if t.name == "" {
			t.name = ref.name
		}
		if t.path == "" {
			t.path = path
		}
		return t, nil
	}
	if !errdefs.IsNotFound(err) {
		return nil, err
	}
	md, merr := c.Metadata(ctx)
	suffix := strings.TrimPrefix(str(md, "suffixes", "acrLoginServer"), ".")
	if merr != nil || suffix == "" {
		return nil, err
	}
	ls := strings.ToLower(ref.name) + "." + suffix
	if addr := str(md, "drydock", "registryAddress"); addr != "" {
		if _, port, e := net.SplitHostPort(addr); e == nil && port != "443" {
			ls += ":" + port
		}
	}
	return &registryTarget{name: ref.name, loginServer: ls, notFound: err}, nil
}

// registryClient builds the data-plane client of a target.
func (a *app) registryClient(c *client.Client, sub client.Subscription, t *registryTarget, username, password string) *client.Registry {
	tenant := sub.TenantID
	if cr := c.Credentials(); tenant == "" && cr != nil {
		tenant = cr.TenantID
	}
	// drydock's CA tells drydock's listener from another server the login
	// server's name may resolve to.
	_, caFile := serverConfig("", "", a.profile)
	return c.Registry(t.loginServer, client.RegistryOptions{
		Name: t.name, Username: username, Password: password, Tenant: tenant, LookupHost: registryLookupHost, CAFile: caFile,
	})
}

// registryAccessFlags are the flags of commands that call a registry's
// data plane.
type registryAccessFlags struct {
	ref                registryRef
	username, password string
}

func (f *registryAccessFlags) add(cmd *cobra.Command) {
	f.ref.flags(cmd)
	cmd.Flags().StringVarP(&f.username, "username", "u", "", "The username used to log into a container registry.")
	cmd.Flags().StringVarP(&f.password, "password", "p", "", "The password used to log into a container registry.")
}

// registryAccess connects to a registry the way az's _get_credentials
// does: the login server must answer the challenge; then the given user
// name and password, else an AAD refresh token (and, unless loginOnly, an
// access token for scope), else the admin user when it is enabled.
func (a *app) registryAccess(ctx context.Context, f registryAccessFlags, scope string, loginOnly bool) (*client.Registry, *registryTarget, error) {
	if f.username == "" && f.password != "" {
		return nil, nil, errors.New("Please also specify username if password is specified.")
	}
	c, sub, err := a.clientAndSub()
	if err != nil {
		return nil, nil, err
	}
	t, err := a.findRegistry(ctx, c, sub, f.ref)
	if err != nil {
		return nil, nil, err
	}
	reg := a.registryClient(c, sub, t, f.username, f.password)
	if _, err := reg.Challenge(ctx); err != nil {
		var re *client.RegistryError
		if errors.As(err, &re) && re.Title != client.TitleForbidden && re.Title != client.TitleChallenge {
			if t.notFound != nil {
				a.warn("%s\nUsing '%s' as the default registry login server.", t.notFound.Error(), t.loginServer)
			}
			return nil, nil, fmt.Errorf("%s Try running 'az acr check-health -n %s --yes' to diagnose this issue.", re.Message, t.name)
		}
		if !errors.As(err, &re) || re.Title == client.TitleForbidden {
			return nil, nil, err
		}
		// A registry that issues no challenge: az goes on and fails in
		// the token phase, with the same message.
	}
	if f.username != "" {
		if f.password == "" {
			return nil, nil, errors.New("Please specify both username and password in non-interactive mode.")
		}
		if !loginOnly {
			if _, err := reg.AccessToken(ctx, scope); err != nil {
				return nil, nil, err
			}
		}
		return reg, t, nil
	}
	if loginOnly {
		_, err = reg.RefreshToken(ctx)
	} else {
		_, err = reg.AccessToken(ctx, scope)
	}
	if err == nil {
		return reg, t, nil
	}
	if errors.Is(err, context.Canceled) {
		return nil, nil, err
	}
	a.warn("Unable to get AAD authorization tokens with message: %s", err.Error())
	switch {
	case t.resource == nil:
		msg := "The registry was not found."
		if t.notFound != nil {
			msg = t.notFound.Error()
		}
		a.warn("Unable to get admin user credentials with message: %s", msg)
	case !adminEnabled(t.resource):
		a.warn("Unable to get admin user credentials with message: Admin user is disabled.")
	default:
		cred, err := registries.act(ctx, c, sub.ID, t.path, targetAt(t.path, "", "", t.name), http.MethodPost, "/listCredentials", nil, false)
		if err != nil {
			a.warn("Unable to get admin user credentials with message: %s", err.Error())
			break
		}
		user, pass := str(cred, "username"), ""
		if pw, ok := cred["passwords"].([]any); ok && len(pw) > 0 {
			if m, ok := pw[0].(map[string]any); ok {
				pass = str(m, "value")
			}
		}
		reg = a.registryClient(c, sub, t, user, pass)
		if !loginOnly {
			if _, err := reg.AccessToken(ctx, scope); err != nil {
				return nil, nil, err
			}
		}
		return reg, t, nil
	}
	return nil, nil, errors.New("Unable to authenticate using AAD or admin login credentials. Please specify both username and password in non-interactive mode.")
}

func adminEnabled(reg map[string]any) bool {
	if props, ok := reg["properties"].(map[string]any); ok {
		b, _ := props["adminUserEnabled"].(bool)
		return b
	}
	b, _ := reg["adminUserEnabled"].(bool)
	return b
}

func newACRLoginCommand(a *app) *cobra.Command {
	var f registryAccessFlags
	var expose bool
	cmd := a.command(spec{use: "login", short: "Log in to an Azure Container Registry through the Docker CLI.", long: "Log in to an Azure Container Registry: its credentials are written to the Docker configuration file " +
		"($DOCKER_CONFIG/config.json, else ~/.docker/config.json), which docker, podman, buildx, crane and other tools read. " +
		"No Docker daemon is needed.", example: "  az acr login -n myregistry\n" +
		"  az acr login -n myregistry --expose-token", needs: noClient, required: []string{"name"}}, func(x *call) error {
		ctx := x.ctx
		reg, _, err := a.registryAccess(ctx, f, "", true)
		if err != nil {
			return err
		}
		user, pass := reg.Username, reg.Password
		if user == "" {
			rt, err := reg.RefreshToken(ctx)
			if err != nil {
				return err
			}
			user, pass = client.RegistryNullGUID, rt
		}
		if expose {
			a.warn("You can perform manual login using the provided access token below, for example: 'docker login loginServer -u %s -p accessToken'", client.RegistryNullGUID)
			return a.print(map[string]any{"loginServer": reg.LoginServer, "accessToken": pass}, "")
		}
		if reg.Username != "" {
			// docker login checks the credentials before saving them.
			if _, err := reg.AccessToken(ctx, ""); err != nil {
				return err
			}
		}
		path, err := dockerConfigPath()
		if err != nil {
			return err
		}
		helper, err := writeDockerAuth(path, reg.LoginServer, user, pass)
		if err != nil {
			return err
		}
		if helper != "" {
			a.warn("The Docker configuration file '%s' uses the credential helper '%s', so docker reads the credentials of '%s' from it rather than from the 'auths' entry written here.", path, helper, reg.LoginServer)
		}
		_, err = fmt.Fprintln(a.stdout, "Login Succeeded")
		return err
	})
	f.add(cmd)
	cmd.Flags().BoolVarP(&expose, "expose-token", "t", false, "Expose access token instead of automatically logging in through Docker CLI.")
	return cmd
}

// dockerConfigPath is the Docker CLI's configuration file.
func dockerConfigPath() (string, error) {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot locate the Docker configuration file: %w (set DOCKER_CONFIG)", err)
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// writeDockerAuth stores user:password for server in the "auths" of the
// Docker configuration file at path, as docker login does with no
// credential helper, keeping every other entry. It returns the credential
// helper the file configures for server, if any (docker would use it
// instead).
func writeDockerAuth(path, server, user, password string) (string, error) {
	cfg := map[string]json.RawMessage{}
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(strings.TrimSpace(string(old))) > 0 {
			if err := json.Unmarshal(old, &cfg); err != nil {
				return "", fmt.Errorf("The Docker configuration file '%s' is not valid JSON: %v", path, err)
			}
		}
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	if cfg == nil {
		cfg = map[string]json.RawMessage{}
	}
	auths := map[string]json.RawMessage{}
	if raw, ok := cfg["auths"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return "", fmt.Errorf("The Docker configuration file '%s' has invalid 'auths': %v", path, err)
		}
		if auths == nil {
			auths = map[string]json.RawMessage{}
		}
	}
	entry, err := json.Marshal(map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))})
	if err != nil {
		return "", err
	}
	auths[server] = entry
	if cfg["auths"], err = json.Marshal(auths); err != nil {
		return "", err
	}
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(path, append(out, '\n'), 0o600); err != nil {
		return "", err
	}
	var helpers struct {
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	_ = json.Unmarshal(out, &helpers)
	if h := helpers.CredHelpers[server]; h != "" {
		return h, nil
	}
	return helpers.CredsStore, nil
}
