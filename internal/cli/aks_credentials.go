package cli

import (
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/drydock-dev/drydock/internal/atomicfile"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// kubeconfigs is the answer of listClusterUserCredential and
// listClusterAdminCredential.
type kubeconfigs struct {
	Kubeconfigs []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"kubeconfigs"`
}

func newAKSGetCredentialsCommand(a *app) *cobra.Command {
	var r *ref
	var admin, overwrite bool
	var file, contextName, path string
	cmd := a.command(spec{use: "get-credentials", short: "Get access credentials for a managed Kubernetes cluster.", long: "Get access credentials for a managed Kubernetes cluster.\n\n" +
		"By default, the credentials are merged into the .kube/config file so kubectl can use them. See -f parameter for details.", example: "  az aks get-credentials -g MyResourceGroup -n MyManagedCluster\n" +
		"  az aks get-credentials -g MyResourceGroup -n MyManagedCluster --admin --file -", needs: inSubscription, required: []string{"name", "resource-group"}, check: func() error {
		if path = file; path == "" {
			var err error
			path, err = defaultKubeconfigPath()
			return err
		}
		return nil
	}}, func(x *call) error {
		action, entry := "/listClusterUserCredential", "clusterUser"
		if admin {
			action, entry = "/listClusterAdminCredential", "clusterAdmin"
		}
		var res kubeconfigs
		err := r.act(x, http.MethodPost, action, nil, false, func(m map[string]any) (err error) {
			res, err = model[kubeconfigs](m)
			return err
		})
		if err != nil {
			return err
		}
		if len(res.Kubeconfigs) == 0 {
			return &cliError{"No Kubernetes credentials found."}
		}
		value := res.Kubeconfigs[0].Value
		for _, k := range res.Kubeconfigs {
			if k.Name == entry {
				value = k.Value
			}
		}
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return &cliError{"Fail to find kubeconfig file."}
		}
		if path == "-" {
			_, err := fmt.Fprintln(a.stdout, string(raw))
			return err
		}
		if contextName == "" {
			contextName = r.name
		}
		return a.mergeKubeconfigFile(path, raw, contextName, admin, overwrite)
	})
	r = managedClusters.ref(cmd)
	f := cmd.Flags()
	f.BoolVarP(&admin, "admin", "a", false, "Get cluster administrator credentials. Default: cluster user credentials.")
	f.StringVarP(&file, "file", "f", "", "Kubernetes configuration file to update. Use \"-\" to print YAML to stdout instead. Default: the first path of $KUBECONFIG, else ~/.kube/config.")
	f.BoolVar(&overwrite, "overwrite-existing", false, "Overwrite any existing cluster entry with the same name.")
	f.StringVar(&contextName, "context", "", "If specified, overwrite the default context name. Default: the cluster's name ('<name>-admin' with --admin).")
	return cmd
}

// defaultKubeconfigPath is the first path of $KUBECONFIG, as kubectl reads
// it, else ~/.kube/config.
func defaultKubeconfigPath() (string, error) {
	for _, p := range filepath.SplitList(os.Getenv("KUBECONFIG")) {
		if p != "" {
			return p, nil
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot locate ~/.kube/config: %w (pass --file)", err)
	}
	return filepath.Join(home, ".kube", "config"), nil
}

// kubeconfig is a kubeconfig file (clientcmd's v1 Config). Its entries
// stay generic so that fields drydock does not model (exec plugins,
// extensions, certificate data) survive a merge unchanged.
type kubeconfig struct {
	APIVersion     string           `json:"apiVersion,omitempty"`
	Kind           string           `json:"kind,omitempty"`
	Preferences    map[string]any   `json:"preferences"`
	Clusters       []map[string]any `json:"clusters"`
	Contexts       []map[string]any `json:"contexts"`
	CurrentContext string           `json:"current-context"`
	Users          []map[string]any `json:"users"`
	Extensions     []any            `json:"extensions,omitempty"`
}

// parseKubeconfig reads a kubeconfig; an empty document yields nil.
func parseKubeconfig(b []byte) (*kubeconfig, error) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil
	}
	var k kubeconfig
	if err := yaml.Unmarshal(b, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

func (k *kubeconfig) marshal() ([]byte, error) {
	if k.Preferences == nil {
		k.Preferences = map[string]any{}
	}
	for _, l := range []*[]map[string]any{&k.Clusters, &k.Contexts, &k.Users} {
		if *l == nil {
			*l = []map[string]any{}
		}
	}
	return yaml.Marshal(k)
}

// rename renames the cluster's entries as az does: --context (here defaulting
// to the cluster's name) names the first context and the first cluster; an
// admin context then gets "-admin" appended so that it does not replace the
// user context. It returns the context to make current.
func (k *kubeconfig) rename(contextName string, admin bool) string {
	if contextName != "" && len(k.Contexts) > 0 {
		k.Contexts[0]["name"] = contextName
		if ctx, ok := k.Contexts[0]["context"].(map[string]any); ok && len(k.Clusters) > 0 {
			ctx["cluster"] = contextName
		}
		if len(k.Clusters) > 0 {
			k.Clusters[0]["name"] = contextName
		}
		k.CurrentContext = contextName
	}
	for i, ctx := range k.Contexts {
		if strings.HasPrefix(str(ctx, "context", "user"), "clusterAdmin") || (admin && i == 0) {
			name := str(ctx, "name") + "-admin"
			ctx["name"] = name
			k.CurrentContext = name
			break
		}
	}
	if k.CurrentContext == "" && len(k.Contexts) > 0 {
		k.CurrentContext = str(k.Contexts[0], "name")
	}
	return k.CurrentContext
}

// errKubeconfigConflict is az's error for an entry of the same name and
// different content that the user did not agree to overwrite.
func errKubeconfigConflict(name, section string) error {
	return &cliError{fmt.Sprintf("A different object named %s already exists in %s in your kubeconfig file.", name, section)}
}

// mergeKubeconfig merges addition into existing as az's
// merge_kubernetes_configurations does, section by section (clusters, users,
// contexts): an entry of the same name is replaced when it is identical or
// overwrite is set, or when confirm (asked about its name) agrees; otherwise
// the merge fails and existing must be discarded. addition's current context
// becomes current.
func mergeKubeconfig(existing, addition *kubeconfig, overwrite bool, confirm func(name string) bool) (*kubeconfig, error) {
	if existing == nil {
		return addition, nil
	}
	sections := []struct {
		name     string
		old, add *[]map[string]any
	}{
		{"clusters", &existing.Clusters, &addition.Clusters},
		{"users", &existing.Users, &addition.Users},
		{"contexts", &existing.Contexts, &addition.Contexts},
	}
	for _, s := range sections {
		for _, entry := range *s.add {
			name, _ := entry["name"].(string)
			kept := make([]map[string]any, 0, len(*s.old)+1)
			for _, old := range *s.old {
				if oldName, _ := old["name"].(string); name != "" && oldName == name {
					if overwrite || reflect.DeepEqual(old, entry) || confirm(name) {
						continue
					}
					return nil, errKubeconfigConflict(name, s.name)
				}
				kept = append(kept, old)
			}
			*s.old = append(kept, entry)
		}
	}
	existing.CurrentContext = addition.CurrentContext
	return existing, nil
}

// mergeKubeconfigFile merges the cluster's kubeconfig into the file at path
// (creating it, mode 0600, and its directory, mode 0700) and makes its
// context current. Nothing is written when the merge fails.
func (a *app) mergeKubeconfigFile(path string, raw []byte, contextName string, admin, overwrite bool) error {
	addition, err := parseKubeconfig(raw)
	if err != nil || addition == nil || len(addition.Contexts) == 0 {
		return &cliError{"failed to load additional configuration from the cluster's credentials"}
	}
	current := addition.rename(contextName, admin)

	target := path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		target = resolved
	}
	mode := fs.FileMode(0o600)
	old, err := os.ReadFile(target)
	switch {
	case err == nil:
		if st, err := os.Stat(target); err == nil {
			mode = st.Mode().Perm()
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	existing, err := parseKubeconfig(old)
	if err != nil {
		return &cliError{fmt.Sprintf("Error parsing %s (%v)", path, err)}
	}
	merged, err := mergeKubeconfig(existing, addition, overwrite, func(name string) bool {
		ok, err := a.confirm(fmt.Sprintf("A different object named %s already exists in your kubeconfig file.\nOverwrite?", name), false)
		return err == nil && ok
	})
	if err != nil {
		return err
	}
	if st, err := os.Lstat(path); err == nil && st.Mode()&fs.ModeSymlink == 0 && st.Mode().Perm() != 0o600 {
		a.warn("%s has permissions \"%o\".\nIt should be readable and writable only by its owner.", path, st.Mode().Perm())
	}
	out, err := merged.marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(target, out, mode); err != nil {
		return err
	}
	a.warn("Merged \"%s\" as current context in %s", current, path)
	return nil
}
