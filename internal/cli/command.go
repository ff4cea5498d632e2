package cli

import (
	"context"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

// needs says what a command's run function is handed.
type needs int

const (
	// noClient commands are handed no client: they call no API (version,
	// cloud) or connect on their own terms (login, the registry data plane).
	noClient needs = iota
	// signedIn commands get the client of the logged-in account (Graph).
	signedIn
	// inSubscription commands also get the subscription they work in
	// (--subscription or the default).
	inSubscription
)

// spec declares a command: its help, what it needs, the flags it requires
// (require's syntax) and the usage checks made before signing in.
type spec struct {
	use, short, long, example string
	// hidden leaves the command out of help (drydock's internal commands).
	hidden   bool
	needs    needs
	required []string
	check    func() error
}

// call is what a command's run function receives: the app (its printer and
// prompts), the command's context, and — as the spec asks — the API client
// and the subscription.
type call struct {
	*app
	ctx context.Context
	cmd *cobra.Command
	c   *client.Client
	sub client.Subscription
}

// command builds a command the one way every command is built: require the
// flags, run the usage checks, sign in as the spec needs, then fn.
func (a *app) command(s spec, fn func(r *call) error) *cobra.Command {
	return &cobra.Command{
		Use: s.use, Short: s.short, Long: s.long, Example: s.example,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := require(cmd, s.required...); err != nil {
				return err
			}
			if s.check != nil {
				if err := s.check(); err != nil {
					return err
				}
			}
			x := &call{app: a, ctx: cmd.Context(), cmd: cmd}
			var err error
			switch s.needs {
			case signedIn:
				x.c, err = a.client()
			case inSubscription:
				x.c, x.sub, err = a.clientAndSub()
			}
			if err != nil {
				return err
			}
			return fn(x)
		},
	}
}

// tool builds a command of drydock's own (server, up, down, bench), which
// is no az command: it takes no positional arguments and runs as is.
func tool(s spec, run func(cmd *cobra.Command) error) *cobra.Command {
	return &cobra.Command{Use: s.use, Short: s.short, Long: s.long, Hidden: s.hidden, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd) }}
}

// group is a command group.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short}
	cmd.AddCommand(subs...)
	return cmd
}
