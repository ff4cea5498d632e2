package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

// az's acr/import.py messages.
const (
	importSourceRegistryNotFound = "The source container registry can not be found in the current subscription. Please provide a valid address and/or credentials."
	importSourceNotFound         = "Source cannot be found. Please provide a valid image and source registry or a fully qualified source."
	importLoginServerNotValid    = "Login server of the registry is not valid because it is not a fully qualified domain name."
	importCredentialsInvalid     = "Authentication failed. Please provide password."
)

var resourceIDPattern = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+`)

func newACRImportCommand(a *app) *cobra.Command {
	var r registryRef
	var source, sourceRegistry, username, password string
	var targets, repositories []string
	var force, noWait bool
	cmd := a.command(spec{use: "import", short: "Imports an image to an Azure Container Registry from another Container Registry. Import removes the need to docker pull, docker tag, docker push.", example: "  az acr import -n myregistry --source sourceregistry.azurecr.io/sourcerepository:sourcetag\n" +
		"  az acr import -n myregistry --source sourcerepository:sourcetag -t targetrepository:targettag -r sourceregistry\n" +
		"  az acr import -n myregistry --source docker.io/library/hello-world:latest -t targetrepository:targettag\n" +
		"  az acr import -n myregistry --source myprivateregistry.azurecr.io/hello-world:latest -u username -p password", needs: inSubscription, required: []string{"name", "source"}, check: func() error {
		if username != "" && password == "" {
			return errors.New(importCredentialsInvalid)
		}
		return nil
	}}, func(x *call) error {
		ctx, c, sub := x.ctx, x.c, x.sub
		r.name = a.registryName(r.name)
		path, _, err := r.resolve(ctx, c, sub)
		if err != nil {
			return err
		}
		src, image, found, err := a.importSource(ctx, c, sub, source, sourceRegistry, username, password)
		if err != nil {
			return err
		}
		if len(targets) == 0 && len(repositories) == 0 {
			t := image
			if i := strings.Index(image, "@"); i > 0 {
				t = image[:i]
			}
			targets = []string{t}
		}
		body := map[string]any{"source": src, "mode": "NoForce"}
		if force {
			body["mode"] = "Force"
		}
		if len(targets) > 0 {
			body["targetTags"] = targets
		}
		if len(repositories) > 0 {
			body["untaggedTargetRepositories"] = repositories
		}
		req := registries.request(http.MethodPost, path+"/importImage", body)
		if noWait {
			a.warn("Import has started. Due to no-wait option, failures will not be reflected.")
			req.NoWait = true
			return c.ARM(ctx, req, nil)
		}
		var pp *progressPrinter
		if !a.onlyShowErrors {
			pp = newProgressPrinter(a.stderr, "Importing image...")
			req.Progress = pp.update
		}
		err = c.ARM(ctx, req, nil)
		if pp != nil {
			pp.done()
		}
		if err != nil && found != nil && sourceRegistry != "" {
			if ls := str(found, "properties", "loginServer"); ls != "" && strings.Contains(strings.ToLower(image), strings.ToLower(ls)) {
				a.warn("Import from source failed.\n\tsource image: '%s/%s'\nAttention: When source registry is specified with `--registry`, "+
					"`--source` is considered to be a source image name. Do not prefix `--source` with the registry login server name.", ls, image)
			}
		}
		return err
	})
	r.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "Source image name or fully qualified source containing the registry login server. If --registry is used, --source will always be interpreted as a source image, even if it contains the login server.")
	f.StringVarP(&sourceRegistry, "registry", "r", "", "The source Azure container registry. This can be name, login server or resource ID of the source registry.")
	f.StringVarP(&username, "username", "u", "", "The username of source container registry.")
	f.StringVarP(&password, "password", "p", "", "The password of source container registry.")
	f.StringArrayVarP(&targets, "image", "t", nil, "The name and tag of the image using the format: '-t repo/image:tag'. Multiple tags are supported by passing -t multiple times.")
	f.StringArrayVar(&repositories, "repository", nil, "The repository name for a manifest-only copy of images. Multiple copies supported by passing --repository multiple times.")
	f.BoolVar(&force, "force", false, "Overwrite the existing tag of the image to be imported.")
	f.BoolVar(&noWait, "no-wait", false, "Do not wait for the import to complete and return immediately after queuing the import.")
	return cmd
}

// importSource builds the import's "source" as az does: a registry given
// by --registry (resource ID, name or login server) or found in the
// subscription by the login server in --source becomes "resourceId";
// anything else is "registryUri", with credentials when given. It returns
// the source image and the source registry found, if any.
func (a *app) importSource(ctx context.Context, c *client.Client, sub client.Subscription, source, sourceRegistry, username, password string) (map[string]any, string, map[string]any, error) {
	if sourceRegistry != "" {
		if resourceIDPattern.MatchString(sourceRegistry) {
			return map[string]any{"resourceId": sourceRegistry, "sourceImage": source}, source, nil, nil
		}
		reg, err := registryByNameOrLoginServer(ctx, c, sub, sourceRegistry, sourceRegistry)
		if err != nil {
			return nil, "", nil, err
		}
		if reg == nil {
			return nil, "", nil, errors.New(importSourceRegistryNotFound)
		}
		image := source
		prefix := str(reg, "properties", "loginServer") + "/"
		if len(prefix) > 1 && strings.HasPrefix(strings.ToLower(image), strings.ToLower(prefix)) {
			a.warn("The login server name of \"%s\" in the \"--source\" argument will be ignored as \"--registry\" already supplies the same information", prefix[:len(prefix)-1])
			image = image[len(prefix):]
		}
		return map[string]any{"resourceId": str(reg, "id"), "sourceImage": image}, image, reg, nil
	}
	slash := strings.Index(source, "/")
	if slash <= 0 {
		return nil, "", nil, errors.New(importSourceNotFound)
	}
	registryURI, image := source[:slash], source[slash+1:]
	if !strings.Contains(registryURI, ".") {
		return nil, "", nil, errors.New(importLoginServerNotValid)
	}
	if password != "" {
		cred := map[string]any{"password": password}
		if username != "" {
			cred["username"] = username
		}
		return map[string]any{"registryUri": registryURI, "sourceImage": image, "credentials": cred}, image, nil, nil
	}
	reg, err := registryByNameOrLoginServer(ctx, c, sub, registryURI, "")
	if err != nil {
		return nil, "", nil, err
	}
	if reg != nil {
		return map[string]any{"resourceId": str(reg, "id"), "sourceImage": image}, image, reg, nil
	}
	return map[string]any{"registryUri": registryURI, "sourceImage": image}, image, nil, nil
}

// registryByNameOrLoginServer finds the one registry of the subscription
// with the login server (or, when name is not empty, the name), as az's
// get_registry_from_name_or_login_server does; nil when none or several.
func registryByNameOrLoginServer(ctx context.Context, c *client.Client, sub client.Subscription, loginServer, name string) (map[string]any, error) {
	items, err := registries.list(ctx, c, sub.ID, "", "")
	if err != nil {
		return nil, err
	}
	var found []map[string]any
	for _, it := range items {
		if strings.EqualFold(str(it, "properties", "loginServer"), loginServer) || (name != "" && strings.EqualFold(str(it, "name"), name)) {
			found = append(found, it)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return nil, nil
}

// progressPrinter shows a long-running operation's progress on stderr: a
// spinner line rewritten in place on a terminal, else a plain line each
// time the progress text changes.
type progressPrinter struct {
	w      io.Writer
	tty    bool
	label  string
	last   string
	frame  int
	active bool
}

var spinnerFrames = []string{"|", "/", "-", "\\"}

func newProgressPrinter(w io.Writer, label string) *progressPrinter {
	p := &progressPrinter{w: w, tty: isTerminal(w), label: label}
	if p.tty {
		p.draw("")
	}
	return p
}

func (p *progressPrinter) draw(text string) {
	line := p.label
	if text != "" {
		line += " " + text
	}
	fmt.Fprintf(p.w, "\r\033[K%s %s", spinnerFrames[p.frame%len(spinnerFrames)], line)
	p.frame++
	p.active = true
}

func (p *progressPrinter) update(st client.OperationStatus) {
	switch strings.ToLower(st.Status) {
	case "succeeded", "failed", "canceled", "cancelled":
		// The end is the command's result, not progress.
		return
	}
	text := progressText(st)
	if p.tty {
		p.draw(text)
		return
	}
	if text == "" || text == p.last {
		return
	}
	p.last = text
	fmt.Fprintf(p.w, "%s %s\n", p.label, text)
}

// done clears the spinner line.
func (p *progressPrinter) done() {
	if p.active {
		fmt.Fprint(p.w, "\r\033[K")
		p.active = false
	}
}

// progressText describes a status document's progress: drydock's
// properties.progress and a percentComplete above 0.
func progressText(st client.OperationStatus) string {
	var pct string
	// drydock always sends percentComplete; 0 says nothing yet.
	if st.PercentComplete != nil && *st.PercentComplete > 0 && !math.IsNaN(*st.PercentComplete) {
		pct = strconv.FormatFloat(math.Round(*st.PercentComplete*10)/10, 'f', -1, 64) + "% complete"
	}
	switch {
	case st.Progress != "" && pct != "":
		return st.Progress + ", " + pct
	case st.Progress != "":
		return st.Progress
	}
	return pct
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
