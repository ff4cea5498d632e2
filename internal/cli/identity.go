package cli

import (
	"github.com/drydock-dev/drydock/internal/cli/azmodel"
	"github.com/spf13/cobra"
)

// renderModel renders with one of az's models.
func renderModel(m string) func(*app, map[string]any) map[string]any {
	return func(_ *app, v map[string]any) map[string]any { return azmodel.Render(m, v) }
}

// creation declares a create command of a tracked resource beyond its
// spec: flags adds its own flags, body its own properties to the request,
// and print, when set, replaces the resource's printer. tagsHelp is the help
// of --tags (no --tags when "-").
type creation struct {
	spec
	tagsHelp string
	flags    func(cmd *cobra.Command)
	body     func(x *call, r *ref, b map[string]any) error
	print    func(r *ref, m map[string]any) error
}

// createCmd is the create command of a tracked resource: it takes --location
// (by default the resource group's) and --tags. The required flags are the
// resource's unless the spec lists them.
func createCmd(a *app, res *armResource, o creation) *cobra.Command {
	var r *ref
	var location string
	var tags []string
	var t map[string]string
	s := o.spec
	s.use, s.needs = "create", inSubscription
	if s.required == nil {
		s.required = res.required
	}
	s.check = func() (err error) {
		if o.check != nil {
			if err := o.check(); err != nil {
				return err
			}
		}
		t, err = parseTags(tags)
		return err
	}
	cmd := a.command(s, func(x *call) error {
		if location == "" {
			var err error
			if location, err = groupLocation(x.ctx, x.c, x.sub.ID, r.group); err != nil {
				return err
			}
		}
		b := map[string]any{"location": location}
		if t != nil {
			b["tags"] = t
		}
		if o.body != nil {
			if err := o.body(x, r, b); err != nil {
				return err
			}
		}
		m, err := r.put(x, b)
		if err != nil {
			return err
		}
		if o.print != nil {
			return o.print(r, m)
		}
		return res.print(a, m)
	})
	r = res.ref(cmd)
	if o.flags != nil {
		o.flags(cmd)
	}
	cmd.Flags().StringVarP(&location, "location", "l", "", "Location. Defaults to the location of the resource group.")
	switch o.tagsHelp {
	case "-":
	case "":
		cmd.Flags().StringArrayVar(&tags, "tags", nil, "Space-separated tags: key[=value] [key[=value] ...].")
	default:
		cmd.Flags().StringArrayVar(&tags, "tags", nil, o.tagsHelp)
	}
	return cmd
}
