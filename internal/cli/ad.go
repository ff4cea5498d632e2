package cli

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

// directoryType declares a Graph collection once: its typed client, the
// flag that names one of its objects and how that name resolves to an
// object id, and the filters of its list command. Its show, delete and list
// commands are derived from the declaration.
type directoryType[T any] struct {
	collection func(c *client.Client) client.Collection[T]
	help       verbs
	// flag (with shorthand, may be empty) and help name an object; resolve,
	// when set, turns the flag's value into an object id.
	flag, shorthand, flagHelp string
	resolve                   func(ctx context.Context, g graphAPI, id string) (string, error)
	// filters are list's own filter flags, after --display-name;
	// filterHelp is the help of --filter.
	filters    []listFilter
	filterHelp string
	// paged lists only the first page unless a filter or --all is given,
	// with az's warning.
	paged bool
}

// commands are the type's derived commands and more.
func (d *directoryType[T]) commands(a *app, more ...*cobra.Command) []*cobra.Command {
	return derive(d.help, func() *cobra.Command { return d.showCmd(a, d.help.show) },
		func() *cobra.Command { return d.listCmd(a, d.help.list) },
		func() *cobra.Command { return d.deleteCmd(a, d.help.del) }, more)
}

// listFilter is a flag of a list command that adds an OData clause.
type listFilter struct {
	flag, help string
	clause     func(quoted string) string
}

// id resolves the object a command names.
func (d *directoryType[T]) id(x *call, value string) (string, error) {
	if d.resolve == nil {
		return value, nil
	}
	return d.resolve(x.ctx, x.c, value)
}

func (d *directoryType[T]) idFlag(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVarP(v, d.flag, d.shorthand, "", d.flagHelp)
}

// objectCmd is a command on one object, named by the type's flag; fn gets
// its object id.
func (d *directoryType[T]) objectCmd(a *app, s spec, fn func(x *call, id string) error) *cobra.Command {
	var value string
	s.needs, s.required = signedIn, append([]string{d.flag}, s.required...)
	cmd := a.command(s, func(x *call) error {
		id, err := d.id(x, value)
		if err != nil {
			return err
		}
		return fn(x, id)
	})
	d.idFlag(cmd, &value)
	return cmd
}

func (d *directoryType[T]) showCmd(a *app, short string) *cobra.Command {
	return d.objectCmd(a, spec{use: "show", short: short}, func(x *call, id string) error {
		obj, err := d.collection(x.c).Get(x.ctx, id)
		if err != nil {
			return err
		}
		return a.print(rawOf(obj), "")
	})
}

func (d *directoryType[T]) deleteCmd(a *app, short string) *cobra.Command {
	return d.objectCmd(a, spec{use: "delete", short: short}, func(x *call, id string) error {
		return d.collection(x.c).Delete(x.ctx, id)
	})
}

func (d *directoryType[T]) listCmd(a *app, short string) *cobra.Command {
	var displayName, filter string
	var all bool
	values := make([]string, len(d.filters))
	cmd := a.command(spec{use: "list", short: short, needs: signedIn}, func(x *call) error {
		var clauses []string
		if filter != "" {
			clauses = append(clauses, filter)
		}
		if displayName != "" {
			clauses = append(clauses, "startswith(displayName,"+client.ODataString(displayName)+")")
		}
		for i, f := range d.filters {
			if values[i] != "" {
				clauses = append(clauses, f.clause(client.ODataString(values[i])))
			}
		}
		if d.paged && len(clauses) == 0 && !all {
			a.warn("The result is not complete. You can still use '--all' to get all of them with long latency expected, or provide a filter through command arguments")
		}
		items, _, err := d.collection(x.c).List(x.ctx, strings.Join(clauses, " and "), !d.paged || all || len(clauses) > 0)
		if err != nil {
			return err
		}
		return a.print(rawsOf(items), "")
	})
	f := cmd.Flags()
	f.StringVar(&displayName, "display-name", "", "Object's display name or its prefix.")
	for i, lf := range d.filters {
		f.StringVar(&values[i], lf.flag, "", lf.help)
	}
	f.StringVar(&filter, "filter", "", d.filterHelp)
	if d.paged {
		f.BoolVar(&all, "all", false, "List all entities, expect long delay if under a big organization.")
	}
	return cmd
}

// rawOf is a Graph object as the server sent it.
func rawOf(obj any) json.RawMessage {
	if r, ok := obj.(interface{ Raw() json.RawMessage }); ok {
		return r.Raw()
	}
	return nil
}

// rawsOf is a list of Graph objects as the server sent them.
func rawsOf[T any](items []*T) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		out = append(out, rawOf(it))
	}
	return out
}

func newADSignedInUserShowCommand(a *app) *cobra.Command {
	return a.command(spec{use: "show", short: "Get the details for the currently logged-in user.", needs: signedIn}, func(x *call) error {
		return a.printObject(x.c.Me(x.ctx))
	})
}

// printObject prints a directory object as az does (its raw JSON) unless
// err.
func (a *app) printObject(o interface{ Raw() json.RawMessage }, err error) error {
	if err != nil {
		return err
	}
	return a.print(o.Raw(), "")
}

func newADUserCreateCommand(a *app) *cobra.Command {
	var u client.NewUser
	var forceChange triBool
	cmd := a.command(spec{use: "create", short: "Create a user.",
		example: "  az ad user create --display-name Alice --user-principal-name alice@contoso.onmicrosoft.com --password 'P@ssw0rd1'",
		needs:   signedIn, required: []string{"display-name", "password", "user-principal-name"}}, func(x *call) error {
		if u.MailNickname == "" {
			u.MailNickname, _, _ = strings.Cut(u.UserPrincipalName, "@")
		}
		u.AccountEnabled = true
		u.PasswordProfile.ForceChangePasswordNextSignIn = forceChange.set && forceChange.val
		return a.printObject(x.c.Users().Create(x.ctx, u))
	})
	f := cmd.Flags()
	f.StringVar(&u.DisplayName, "display-name", "", "Object's display name or its prefix.")
	f.StringVar(&u.UserPrincipalName, "user-principal-name", "", "The user principal name (someuser@contoso.com).")
	f.StringVar(&u.PasswordProfile.Password, "password", "", "The password for the user.")
	f.StringVar(&u.MailNickname, "mail-nickname", "", "Mail alias. Defaults to user principal name.")
	addTriBool(f, &forceChange, "force-change-password-next-sign-in", "Marks this user as needing to update their password the next time they authenticate.")
	return cmd
}
