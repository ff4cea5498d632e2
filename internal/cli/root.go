// Package cli implements drydock's command line. Apart from the daemon
// commands (daemon.go) it is only a client of the drydock API, and it mirrors
// the az CLI — verbs, flags, JSON output and error texts — so that
// `alias az=drydock` runs Azure documentation verbatim.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/drydock-dev/drydock/internal/cli/output"
	"github.com/spf13/cobra"
)

// Exit codes, as az uses them.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Execute runs the command line of the process and returns its exit code.
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// Run runs one command line with the given output streams and returns its
// exit code. It never prompts: commands that would ask for confirmation
// fail unless --yes is given.
func Run(args []string, stdout, stderr io.Writer) int {
	return run(context.Background(), args, nil, stdout, stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := newApp(stdin, stdout, stderr)
	root := newRootCommand(a)
	root.SetArgs(normalizeArgs(args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if a.verbose {
		fmt.Fprintf(stderr, "INFO: Command ran in %.3f seconds\n", time.Since(a.started).Seconds())
	}
	if err == nil {
		return exitOK
	}
	return a.reportError(err)
}

// reportError prints err the way az does and returns the exit code.
func (a *app) reportError(err error) int {
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "ERROR: %s\n", ue.msg)
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(a.stderr, "ERROR: Operation cancelled.")
		return exitError
	}
	msg := strings.TrimSpace(err.Error())
	msg = strings.ReplaceAll(msg, "\n", " ")
	fmt.Fprintf(a.stderr, "ERROR: %s\n", msg)
	// Errors that carry their own exit code (aks check-acr: canipull's codes).
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return exitError
}

func newRootCommand(a *app) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "drydock",
		Short: "drydock: a local Azure Container Registry, AKS, Entra ID and Azure RBAC, driven like az.",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				a.printVersion()
				return nil
			}
			return groupRun(cmd, args)
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.validateGlobals()
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(flagError)
	pf := root.PersistentFlags()
	pf.StringVarP(&a.output, "output", "o", "json", "Output format. Allowed values: json, jsonc, none, table, tsv, yaml.")
	pf.StringVar(&a.query, "query", "", "JMESPath query string. See http://jmespath.org/ for more information and examples.")
	pf.StringVar(&a.subscription, "subscription", "", "Name or ID of subscription. You can configure the default subscription using az account set -s NAME_OR_ID.")
	pf.BoolVar(&a.onlyShowErrors, "only-show-errors", false, "Only show errors, suppressing warnings.")
	pf.BoolVar(&a.debug, "debug", false, "Increase logging verbosity to show all debug logs.")
	pf.BoolVar(&a.verbose, "verbose", false, "Increase logging verbosity. Use --debug for full debug logs.")
	root.Flags().BoolVar(&showVersion, "version", false, "Show the versions of drydock and of the az grammar it mirrors.")

	root.AddCommand(a.commandTree()...)
	applyDefaults(root)
	addDaemonCommands(root)
	return root
}

// applyDefaults makes every command reject stray positional arguments, like
// argparse, and makes command groups report unknown subcommands. (Flag errors
// become usage errors through the root's flag error function, which cobra
// consults for every command.)
func applyDefaults(c *cobra.Command) {
	if c.Args == nil {
		if c.HasSubCommands() && c.RunE == nil && c.Run == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = groupRun
		} else {
			c.Args = noArgs
		}
	}
	for _, sub := range c.Commands() {
		applyDefaults(sub)
	}
}

// validateGlobals checks the global arguments before any command runs, as
// argparse does.
func (a *app) validateGlobals() error {
	f, err := output.ParseFormat(a.output)
	if err != nil {
		return usageErrorf("%s", err.Error())
	}
	a.format = f
	if err := output.ValidateQuery(a.query); err != nil {
		return usageErrorf("%s", err.Error())
	}
	return nil
}

// groupRun runs a command group invoked without a subcommand: help, or the
// error az gives for an unknown command.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("'%s' is misspelled or not recognized by the system.", args[0])
	}
	return cmd.Help()
}

// noArgs rejects positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unrecognized arguments: %s", strings.Join(args, " "))
	}
	return nil
}
