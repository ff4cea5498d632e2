package checkacr

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/drydock-dev/drydock/internal/cluster/credprovider"
)

// canipullUsage is printed for -h and for a bad command line.
const canipullUsage = `Usage: drydock canipull [-v <level>] [--config <azure.json>] <login server>

Checks, from inside a pod on a node, that the node can pull from the registry:
the program of the image mcr.microsoft.com/aks/canipull:v0.1.0 on drydock's
nodes, which 'az aks check-acr' runs. It reads the node's azure.json
(default /etc/kubernetes/azure.json), prints canipull's lines and exits with
canipull's status (0: the cluster can pull).

  -v, --verbose <level>  canipull's verbosity; drydock prints every line at any level
      --config <path>    the azure.json file
`

// canipullArgs is canipull's command line.
type canipullArgs struct {
	config string   // --config; "" for /etc/kubernetes/azure.json
	acrs   []string // positional arguments: exactly one login server
	help   bool
}

// parseCanipullArgs reads canipull's command line as its pflag parser
// does: -v6, -v 6, -v=6, --verbose[=]6, --config[=]<path>, -h/--help, and
// "--" ending the flags.
func parseCanipullArgs(args []string) (canipullArgs, error) {
	var a canipullArgs
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			a.acrs = append(a.acrs, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			a.acrs = append(a.acrs, arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		long := strings.HasPrefix(arg, "--")
		if !long && name != "" && !hasValue && len(name) > 1 {
			name, value, hasValue = name[:1], name[1:], true // -v6
		}
		switch {
		case name == "h" && !long, name == "help" && long:
			a.help = true
			continue
		case name == "v" && !long, name == "verbose" && long, name == "config" && long:
		default:
			return a, fmt.Errorf("unknown flag: %s", arg)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return a, fmt.Errorf("flag needs an argument: %s", arg)
			}
			i++
			value = args[i]
		}
		if name == "config" {
			a.config = value
			continue
		}
		if _, err := strconv.ParseUint(value, 10, 32); err != nil {
			return a, fmt.Errorf("invalid argument %q for %s: the verbosity is a number", value, arg)
		}
	}
	return a, nil
}

// Main is `drydock canipull [-v <level>] [--config <azure.json>] <login
// server>`, the program of the canipull image drydock builds for its nodes
// (the image `az aks check-acr` runs in a pod with hostNetwork and the
// node's /etc/kubernetes mounted). It runs Run from the node's view, with
// the azure.json of --config or /etc/kubernetes/azure.json, writes
// canipull's lines to stdout (on a refusal, with drydock's explanation of
// the fix) and returns canipull's exit code: 0 when the cluster can pull.
// A bad command line prints the usage on stderr and returns ExitUsage.
//
// Before the first line it waits for kubectl to attach (waitForAttach):
// az runs canipull with `kubectl run -it`, which attaches only once it
// sees the pod Running, and what the pod printed before that would be
// missing from what az prints.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	terminal := term.IsTerminal(int(os.Stdin.Fd()))
	return canipull(ctx, args, stdout, stderr, nil, func(ctx context.Context) {
		waitForAttach(ctx, os.Stdin, terminal)
	})
}

// How long canipull waits for kubectl to attach: with its standard input
// open, at most attachWait, until kubectl's input ends; with a terminal,
// terminalWait. kubectl attaches within tens of milliseconds of the pod
// turning Running, about as long as drydock's checks take. (Variables
// for tests.)
var (
	attachWait   = 5 * time.Second
	terminalWait = time.Second
)

// waitForAttach returns when canipull may print without kubectl missing
// it, or when ctx ends. `kubectl run -it` gives the container a standard
// input that stays open until kubectl attaches and its own input ends (at
// once when az runs without a terminal: containerd then closes the
// container's input, as the pod's stdinOnce asks); so it reads stdin to
// its end, for at most attachWait. A container without stdin reads its end
// at once. With a terminal (kubectl run -it from a terminal), whose input
// does not end, it can only wait terminalWait.
func waitForAttach(ctx context.Context, stdin io.Reader, terminal bool) {
	limit := attachWait
	var eof chan struct{} // nil: never
	if terminal {
		limit = terminalWait
	} else {
		eof = make(chan struct{})
		go func() {
			io.Copy(io.Discard, stdin)
			close(eof)
		}()
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-eof:
	case <-t.C:
	case <-ctx.Done():
	}
}

// canipull is Main with the resolver of host names (nil: the system's)
// and the wait for kubectl before the checks (nil: none).
func canipull(ctx context.Context, args []string, stdout, stderr io.Writer, lookup credprovider.LookupHost, wait func(context.Context)) int {
	a, err := parseCanipullArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n%s", err, canipullUsage)
		return ExitUsage
	}
	if a.help {
		fmt.Fprint(stdout, canipullUsage)
		return ExitOK
	}
	if len(a.acrs) != 1 {
		fmt.Fprintln(stdout, "No ACR input. Expect `canipull myacr.azurecr.io`.")
		return ExitUsage
	}
	path := a.config
	if path == "" {
		path = credprovider.DefaultConfigPath
	}
	if wait != nil {
		wait(ctx)
	}
	return Run(ctx, Params{AzureJSON: path, LoginServer: a.acrs[0], LookupHost: lookup}, stdout).ExitCode
}
