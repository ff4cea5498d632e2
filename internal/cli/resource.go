package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/drydock-dev/drydock/internal/client"
	"github.com/drydock-dev/drydock/internal/resourceid"
	"github.com/spf13/cobra"
)

// armResource declares an ARM resource type once: where it lives, how the
// command line names it, and how az prints it. Its show, list and delete
// commands are derived from the declaration (showCmd, listCmd, deleteCmd);
// its other commands use ref and the typed calls below.
type armResource struct {
	provider, typ, apiVersion string
	// help holds the help of the derived commands.
	help verbs
	// parentFlag names the flag of the parent resource of a child type
	// ("cluster-name"); parent is the parent's declaration.
	parent                 *armResource
	parentFlag, parentHelp string
	// nameHelp and groupHelp are the help of --name/-n and
	// --resource-group/-g.
	nameHelp, groupHelp string
	// byName makes --resource-group optional: the resource is then found by
	// name in the subscription.
	byName bool
	// required lists the naming flags in the order az reports them missing.
	required []string
	// flags, when set, replaces the naming flags (resource groups: -n and
	// its alias -g).
	flags func(cmd *cobra.Command, r *ref)
	// path, when set, replaces the resource path (resource groups), and
	// listPath the collection path of list.
	path     func(sub string, r *ref) string
	listPath func(sub, group string) string
	// render turns the raw ARM JSON into what az prints for show and list;
	// table is az's table row, listTable (when set) the whole table
	// expression of list.
	render           func(a *app, m map[string]any) map[string]any
	table, listTable string
	// deleteQuestion is the confirmation delete asks for (none when empty;
	// %s is the name); deleteNoWait adds --no-wait.
	deleteQuestion string
	deleteNoWait   bool
	// sdk, when set, makes show, list, delete and the lookup by name go
	// through the type's Azure SDK for Go client.
	sdk *sdkCalls
}

// sdkCalls are a resource type's calls through its Azure SDK for Go client
// (group is empty to list the subscription). Their answers are read raw,
// through client.Raw and client.RawPages.
type sdkCalls struct {
	get  func(ctx context.Context, s client.SDK, t target) error
	list func(ctx context.Context, c *client.Client, s client.SDK, t target) ([]map[string]any, error)
	del  func(ctx context.Context, s client.SDK, t target, noWait bool) error
	put  func(ctx context.Context, s client.SDK, t target, body map[string]any) error
	// actions are the type's other calls, by method and action path
	// ("PATCH", "POST/listCredentials").
	actions map[string]sdkAction
}

// target names a resource for the SDK: its resource group (empty to list
// the subscription), its parent (child types) and its name.
type target struct{ group, parent, name string }

// targetAt names a resource for the SDK: its group is group, or when that
// is empty the resource group in path (the resource's ID).
func targetAt(path, group, parent, name string) target {
	if group == "" {
		group, _ = resourceGroupOf(path)
	}
	return target{group, parent, name}
}

// sdkAction is an SDK call on one resource, with the request's body.
type sdkAction func(ctx context.Context, s client.SDK, t target, body map[string]any, noWait bool) error

// with adds actions.
func (c *sdkCalls) with(actions map[string]sdkAction) *sdkCalls {
	c.actions = actions
	return c
}

// action is the SDK call of an action, nil when there is none.
func (c *sdkCalls) action(key string) sdkAction {
	if c == nil {
		return nil
	}
	return c.actions[key]
}

// put creates or replaces the resource a ref names with body (its JSON),
// through the SDK when the type has one, and returns it as read after.
func (r *ref) put(x *call, body map[string]any) (map[string]any, error) {
	if sdk := r.res.sdk; sdk != nil && sdk.put != nil {
		return x.c.Raw(x.ctx, func(ctx context.Context) error {
			return sdk.put(ctx, x.c.SDK(x.sub.ID, r.res.apiVersion), target{r.group, r.parent, r.name}, body)
		})
	}
	return r.res.call(x.ctx, x.c, r.res.request(http.MethodPut, r.path(x.sub.ID), body))
}

// model converts a request body to an SDK model.
func model[M any](body map[string]any) (M, error) {
	var m M
	b, err := json.Marshal(body)
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	return m, err
}

// declare completes a declaration with the defaults: -g's help "Name of
// resource group.", and --name and --resource-group required.
func declare(res *armResource) *armResource {
	if res.groupHelp == "" {
		res.groupHelp = "Name of resource group."
	}
	if res.required == nil {
		res.required = []string{"name", "resource-group"}
	}
	return res
}

// confirmOperation is az's generic confirmation question.
const confirmOperation = "Are you sure you want to perform this operation?"

// verbs are the help texts of a type's derived show, list and delete
// commands; an empty one is not derived.
type verbs struct{ show, list, del string }

// commands are the type's derived commands and more.
func (res *armResource) commands(a *app, more ...*cobra.Command) []*cobra.Command {
	return derive(res.help, func() *cobra.Command { return res.showCmd(a, res.help.show) },
		func() *cobra.Command { return res.listCmd(a, res.help.list, nil) },
		func() *cobra.Command { return res.deleteCmd(a, res.help.del) }, more)
}

// derive builds the commands whose help is given, then appends more.
func derive(h verbs, show, list, del func() *cobra.Command, more []*cobra.Command) []*cobra.Command {
	for _, v := range []struct {
		help string
		cmd  func() *cobra.Command
	}{{h.show, show}, {h.list, list}, {h.del, del}} {
		if v.help != "" {
			more = append(more, v.cmd())
		}
	}
	return more
}

// typeName is the full type of a top-level resource type
// ("Microsoft.ContainerRegistry/registries").
func (res *armResource) typeName() string { return res.provider + "/" + res.typ }

// ref is a resource named on the command line.
type ref struct {
	res                 *armResource
	name, group, parent string
}

// ref adds the naming flags of res to cmd and returns what they set.
func (res *armResource) ref(cmd *cobra.Command) *ref {
	r := &ref{res: res}
	if res.flags != nil {
		res.flags(cmd, r)
		return r
	}
	if res.parent != nil {
		cmd.Flags().StringVar(&r.parent, res.parentFlag, "", res.parentHelp)
	}
	cmd.Flags().StringVarP(&r.name, "name", "n", "", res.nameHelp)
	cmd.Flags().StringVarP(&r.group, "resource-group", "g", "", res.groupHelp)
	return r
}

// path is the resource's path, its resource group given.
func (r *ref) path(sub string) string { return r.res.itemPath(sub, r.group, r.parent, r.name) }

// itemPath is the resource's path in resource group group.
func (res *armResource) itemPath(sub, group, parent, name string) string {
	if res.parent != nil {
		return res.parent.itemPath(sub, group, "", parent) + "/" + res.typ + "/" + esc(name)
	}
	return resourcePath(sub, group, res.provider, res.typ, name)
}

// collection is the path of the resources in a resource group, or in the
// subscription when group is empty.
func (res *armResource) collection(sub, group, parent string) string {
	switch {
	case res.listPath != nil:
		return res.listPath(sub, group)
	case res.parent != nil:
		return res.parent.itemPath(sub, group, "", parent) + "/" + res.typ
	case group == "":
		return subscriptionPath(sub) + "/providers/" + res.provider + "/" + res.typ
	}
	return groupPath(sub, group) + "/providers/" + res.provider + "/" + res.typ
}

// resolve returns the resource's path; when the resource group was omitted
// (byName) it is looked up by name, and found is the listed resource.
func (r *ref) resolve(x *call) (path string, found map[string]any, err error) {
	if r.res.path != nil {
		return r.res.path(x.sub.ID, r), nil, nil
	}
	return r.res.resolve(x.ctx, x.c, x.sub, r.group, r.parent, r.name)
}

func (res *armResource) resolve(ctx context.Context, c *client.Client, sub client.Subscription, group, parent, name string) (path string, found map[string]any, err error) {
	if group != "" || !res.byName {
		return res.itemPath(sub.ID, group, parent, name), nil, nil
	}
	items, err := res.list(ctx, c, sub.ID, "", "")
	if err != nil {
		return "", nil, err
	}
	for _, it := range items {
		if strings.EqualFold(str(it, "name"), name) {
			return str(it, "id"), it, nil
		}
	}
	return "", nil, resourceNotFound(name, res.typeName(), sub)
}

// list lists the resources of a resource group, or of the subscription
// when group is empty, or of a parent.
func (res *armResource) list(ctx context.Context, c *client.Client, sub, group, parent string) ([]map[string]any, error) {
	if res.sdk != nil {
		return res.sdk.list(ctx, c, c.SDK(sub, res.apiVersion), target{group: group, parent: parent})
	}
	return c.ARMList(ctx, res.collection(sub, group, parent), res.apiVersion, nil)
}

// fetch reads the resource a ref names, found at path.
func (r *ref) fetch(x *call, path string) (map[string]any, error) {
	return r.res.fetch(x.ctx, x.c, x.sub.ID, r.group, r.parent, r.name, path)
}

// fetchID reads a resource of this type by ID, in whatever subscription the
// ID names.
func (res *armResource) fetchID(ctx context.Context, c *client.Client, id string) (map[string]any, error) {
	rid, err := resourceid.Parse(id)
	if err != nil || res.parent != nil || !rid.IsResource() || rid.Scope != nil || !strings.EqualFold(rid.Type(), res.typeName()) {
		return res.get(ctx, c, id)
	}
	return res.fetch(ctx, c, rid.SubscriptionID, rid.ResourceGroup, "", rid.Name(), id)
}

// fetch reads a resource, named by group and name for the SDK and found at
// path otherwise (the group, when empty, taken from path).
func (res *armResource) fetch(ctx context.Context, c *client.Client, sub, group, parent, name, path string) (map[string]any, error) {
	if res.sdk == nil {
		return res.get(ctx, c, path)
	}
	return c.Raw(ctx, func(ctx context.Context) error {
		return res.sdk.get(ctx, c.SDK(sub, res.apiVersion), targetAt(path, group, parent, name))
	})
}

// act resolves the resource and sends method to it (or to its action,
// "/name") as armResource.act does, then hands the result to done.
func (r *ref) act(x *call, method, action string, body map[string]any, noWait bool, done func(map[string]any) error) error {
	path, _, err := r.resolve(x)
	if err != nil {
		return err
	}
	m, err := r.res.act(x.ctx, x.c, x.sub.ID, path, targetAt(path, r.group, r.parent, r.name), method, action, body, noWait)
	if err != nil {
		return err
	}
	return done(m)
}

// act sends method to the resource at path, t for the SDK (or to its
// action, "/name"), through the SDK when the type has that action, and
// returns the result; with noWait a long-running operation is only started.
func (res *armResource) act(ctx context.Context, c *client.Client, sub, path string, t target, method, action string, body map[string]any, noWait bool) (map[string]any, error) {
	if f := res.sdk.action(method + action); f != nil {
		return c.Raw(ctx, func(ctx context.Context) error { return f(ctx, c.SDK(sub, res.apiVersion), t, body, noWait) })
	}
	req := res.request(method, path+action, body)
	req.NoWait = noWait
	return res.call(ctx, c, req)
}

// request is one call on a resource of this type (path is the resource's
// or an action's path).
func (res *armResource) request(method, path string, body any) client.Request {
	return client.Request{Method: method, Path: path, APIVersion: res.apiVersion, Body: body}
}

// get reads a resource.
func (res *armResource) get(ctx context.Context, c *client.Client, path string) (map[string]any, error) {
	return res.call(ctx, c, res.request(http.MethodGet, path, nil))
}

// call performs a request and decodes the resource or result it returns.
func (res *armResource) call(ctx context.Context, c *client.Client, req client.Request) (map[string]any, error) {
	var m map[string]any
	if err := c.ARM(ctx, req, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// print prints one resource as az does.
func (res *armResource) print(a *app, m map[string]any) error {
	return a.print(res.render(a, m), res.table)
}

func (res *armResource) showCmd(a *app, short string) *cobra.Command {
	var r *ref
	cmd := a.command(spec{use: "show", short: short, needs: inSubscription, required: res.required}, func(x *call) error {
		path, m, err := r.resolve(x)
		if err != nil {
			return err
		}
		if m == nil {
			if m, err = r.fetch(x, path); err != nil {
				return err
			}
		}
		return res.print(a, m)
	})
	r = res.ref(cmd)
	return cmd
}

// listCmd lists the resources of the subscription, a resource group or a
// parent; keep, when not nil, filters them.
func (res *armResource) listCmd(a *app, short string, keep func(m map[string]any) bool) *cobra.Command {
	var group, parent string
	s := spec{use: "list", short: short, needs: inSubscription}
	if res.parent != nil {
		s.required = []string{"resource-group", res.parentFlag}
	}
	cmd := a.command(s, func(x *call) error {
		items, err := res.list(x.ctx, x.c, x.sub.ID, group, parent)
		if err != nil {
			return err
		}
		out := make([]map[string]any, 0, len(items))
		for _, m := range items {
			if keep == nil || keep(m) {
				out = append(out, res.render(a, m))
			}
		}
		table := res.listTable
		if table == "" && res.table != "" {
			table = "[]." + res.table
		}
		return a.print(out, table)
	})
	if res.parent != nil {
		cmd.Flags().StringVar(&parent, res.parentFlag, "", res.parentHelp)
	}
	if res.listPath == nil {
		cmd.Flags().StringVarP(&group, "resource-group", "g", "", "Name of resource group.")
	}
	return cmd
}

func (res *armResource) deleteCmd(a *app, short string) *cobra.Command {
	var r *ref
	var yes, noWait bool
	cmd := a.command(spec{use: "delete", short: short, needs: inSubscription, required: res.required}, func(x *call) error {
		path, _, err := r.resolve(x)
		if err != nil {
			return err
		}
		if res.deleteQuestion != "" {
			ok, err := a.confirm(sprintfIf(res.deleteQuestion, r.name), yes)
			if err != nil || !ok {
				return err
			}
		}
		if res.sdk != nil {
			_, err := x.c.Raw(x.ctx, func(ctx context.Context) error {
				return res.sdk.del(ctx, x.c.SDK(x.sub.ID, res.apiVersion), targetAt(path, r.group, r.parent, r.name), noWait)
			})
			return err
		}
		req := res.request(http.MethodDelete, path, nil)
		req.NoWait = noWait
		return x.c.ARM(x.ctx, req, nil)
	})
	r = res.ref(cmd)
	if res.deleteQuestion != "" {
		yesFlag(cmd.Flags(), &yes)
	}
	if res.deleteNoWait {
		noWaitFlag(cmd, &noWait)
	}
	return cmd
}

// noWaitFlag adds az's --no-wait.
func noWaitFlag(cmd *cobra.Command, v *bool) {
	cmd.Flags().BoolVar(v, "no-wait", false, "Do not wait for the long-running operation to finish.")
}

// sprintfIf formats format with arg when it has a verb.
func sprintfIf(format, arg string) string {
	if strings.Contains(format, "%s") {
		return fmt.Sprintf(format, arg)
	}
	return format
}

// done finishes a long-running operation the SDK began, unless noWait.
func done[T any](ctx context.Context, p *runtime.Poller[T], err error, noWait bool) error {
	if err != nil || noWait {
		return err
	}
	_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Second})
	return err
}

// sdkOp is a call of an SDK client on a named resource, with the
// request's JSON body; noWait leaves a long-running operation running.
type sdkOp[C any] func(ctx context.Context, c *C, group, name string, body map[string]any, noWait bool) error

// lro adapts a client's long-running method without a body (BeginDelete,
// BeginStop, ...): the operation is finished unless noWait.
func lro[C, O, R any](begin func(*C, context.Context, string, string, *O) (*runtime.Poller[R], error)) sdkOp[C] {
	return func(ctx context.Context, c *C, group, name string, _ map[string]any, noWait bool) error {
		p, err := begin(c, ctx, group, name, nil)
		return done(ctx, p, err, noWait)
	}
}

// lroWith adapts a client's long-running method taking a model (BeginCreate,
// BeginCreateOrUpdate), made of the request's body.
func lroWith[C, M, O, R any](begin func(*C, context.Context, string, string, M, *O) (*runtime.Poller[R], error)) sdkOp[C] {
	return func(ctx context.Context, c *C, group, name string, body map[string]any, noWait bool) error {
		m, err := model[M](body)
		if err != nil {
			return err
		}
		p, err := begin(c, ctx, group, name, m, nil)
		return done(ctx, p, err, noWait)
	}
}

// plain adapts a client's method without a body (Delete, ListCredentials, ...).
func plain[C, O, R any](fn func(*C, context.Context, string, string, *O) (R, error)) sdkOp[C] {
	return func(ctx context.Context, c *C, group, name string, _ map[string]any, _ bool) error {
		_, err := fn(c, ctx, group, name, nil)
		return err
	}
}

// plainWith adapts a client's method taking a model made of the request's
// body (CreateOrUpdate, RegenerateCredential).
func plainWith[C, M, O, R any](fn func(*C, context.Context, string, string, M, *O) (R, error)) sdkOp[C] {
	return func(ctx context.Context, c *C, group, name string, body map[string]any, _ bool) error {
		m, err := model[M](body)
		if err == nil {
			_, err = fn(c, ctx, group, name, m, nil)
		}
		return err
	}
}

// sdkOf builds a type's SDK calls from its client's constructor and
// methods: get, the subscription's and a resource group's list pagers,
// delete, create (nil when the client has none) and the other actions, by
// method and action path ("POST/stop").
func sdkOf[C, GO, GR, SO, SR, RO, RR any](
	newClient func(string, azcore.TokenCredential, *arm.ClientOptions) (*C, error),
	get func(*C, context.Context, string, string, *GO) (GR, error),
	listSub func(*C, *SO) *runtime.Pager[SR],
	listGroup func(*C, string, *RO) *runtime.Pager[RR],
	del, put sdkOp[C],
	actions map[string]sdkOp[C],
) *sdkCalls {
	with := func(s client.SDK, fn func(c *C) error) error {
		c, err := newClient(s.Sub, s.Cred, s.Options)
		if err != nil {
			return err
		}
		return fn(c)
	}
	bind := func(op sdkOp[C]) sdkAction {
		return func(ctx context.Context, s client.SDK, t target, body map[string]any, noWait bool) error {
			return with(s, func(c *C) error { return op(ctx, c, t.group, t.name, body, noWait) })
		}
	}
	calls := &sdkCalls{
		get: func(ctx context.Context, s client.SDK, t target) error {
			return with(s, func(c *C) error { _, err := get(c, ctx, t.group, t.name, nil); return err })
		},
		list: func(ctx context.Context, api *client.Client, s client.SDK, t target) (items []map[string]any, err error) {
			err = with(s, func(c *C) error {
				if t.group == "" {
					items, err = client.RawPages(ctx, api, listSub(c, nil))
				} else {
					items, err = client.RawPages(ctx, api, listGroup(c, t.group, nil))
				}
				return err
			})
			return items, err
		},
		del: func(ctx context.Context, s client.SDK, t target, noWait bool) error {
			return bind(del)(ctx, s, t, nil, noWait)
		},
		actions: map[string]sdkAction{},
	}
	if put != nil {
		calls.put = func(ctx context.Context, s client.SDK, t target, body map[string]any) error {
			return bind(put)(ctx, s, t, body, false)
		}
	}
	for k, op := range actions {
		calls.actions[k] = bind(op)
	}
	return calls
}
