package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// azCompatVersion is the az release whose grammar drydock's commands
// mirror; scripts that check `az --version` (the document asks for 2.7.0
// or later) see it as azure-cli's version.
const azCompatVersion = "2.70.0"

// drydockVersion is this build's module version, or its VCS revision.
func drydockVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "-dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return rev + modified
	}
	if v == "" {
		return "(devel)"
	}
	return v
}

// printVersion is `drydock --version`, laid out as `az --version`.
func (a *app) printVersion() {
	fmt.Fprintf(a.stdout, "%-34s%s\n\n", "azure-cli", azCompatVersion)
	fmt.Fprintf(a.stdout, "%-34s%s\n", "core", azCompatVersion)
	fmt.Fprintf(a.stdout, "%-34s%s\n\n", "drydock", drydockVersion())
	fmt.Fprintf(a.stdout, "Go %s (%s/%s)\n\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(a.stdout, "drydock mirrors az's grammar for the commands it implements; it is not the Azure CLI.")
}

// newVersionCommand is `drydock version` (az version): the versions as
// JSON, so that --query works on them.
func newVersionCommand(a *app) *cobra.Command {
	return a.command(spec{use: "version", short: "Show the versions of drydock and of the az grammar it mirrors.", needs: noClient}, func(x *call) error {
		return a.print(map[string]any{
			"azure-cli":      azCompatVersion,
			"azure-cli-core": azCompatVersion,
			"drydock":        drydockVersion(),
			"extensions":     map[string]any{},
		}, "")
	})
}
