package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/drydock-dev/drydock/internal/client"
	"github.com/spf13/cobra"
)

// orderbyParams maps --orderby to the registry's orderby parameter.
var orderbyParams = map[string]string{"time_asc": "timeasc", "time_desc": "timedesc"}

// listOptions are --top and --orderby.
type listOptions struct {
	top     int
	orderby string
}

func (o *listOptions) add(cmd *cobra.Command) {
	cmd.Flags().IntVar(&o.top, "top", 0, "Limit the number of items in the results.")
	cmd.Flags().StringVar(&o.orderby, "orderby", "", "Order the items in the results. Default to alphabetical order of names. Allowed values: time_asc, time_desc.")
}

// values returns top (-1 when not given) and the orderby parameter.
func (o *listOptions) values(cmd *cobra.Command) (int, string, error) {
	top := -1
	if cmd.Flags().Changed("top") {
		top = o.top
	}
	if o.orderby == "" {
		return top, "", nil
	}
	v, err := choice("--orderby", o.orderby, "time_asc", "time_desc")
	if err != nil {
		return 0, "", err
	}
	return top, orderbyParams[v], nil
}

// repoPath is /acr/v1/<repo> plus escaped suffix segments.
func repoPath(repo string, segments ...string) string {
	p := "/acr/v1/" + client.EscapeRepository(repo)
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}

func readScope(repo string) string { return client.RepositoryScope(repo, "metadata_read") }

func newACRRepositoryListCommand(a *app) *cobra.Command {
	var f registryAccessFlags
	var lo listOptions
	cmd := a.command(spec{use: "list", short: "List repositories in an Azure Container Registry.", example: "  az acr repository list -n myregistry", needs: noClient, required: []string{"name"}}, func(x *call) error {
		top, orderby, err := lo.values(x.cmd)
		if err != nil {
			return err
		}
		ctx := x.ctx
		reg, _, err := a.registryAccess(ctx, f, client.ScopeCatalog, false)
		if err != nil {
			return err
		}
		items, err := reg.List(ctx, "/acr/v1/_catalog", client.ScopeCatalog, "repositories", top, orderby)
		if client.IsRouteMissing(err) {
			items, err = reg.List(ctx, "/v2/_catalog", client.ScopeCatalog, "repositories", top, "")
		}
		if err != nil {
			return err
		}
		return a.print(items, "")
	})
	f.add(cmd)
	lo.add(cmd)
	return cmd
}

// repositoryListCmd is show-tags or show-manifests: the ACR metadata list
// of a repository's tags or manifests (segment "_tags" or "_manifests", the
// list under key in the response), each item as row makes it unless
// --detail. fallback, when set, answers for a registry without ACR's
// metadata API.
func repositoryListCmd(a *app, s spec, segment, key string, row func(item any) any,
	fallback func(x *call, reg *client.Registry, repo string, top int, orderby string, detail bool) error) *cobra.Command {
	var f registryAccessFlags
	var lo listOptions
	var repo string
	var detail bool
	s.needs, s.required = noClient, []string{"name", "repository"}
	cmd := a.command(s, func(x *call) error {
		top, orderby, err := lo.values(x.cmd)
		if err != nil {
			return err
		}
		reg, _, err := a.registryAccess(x.ctx, f, readScope(repo), false)
		if err != nil {
			return err
		}
		items, err := reg.List(x.ctx, repoPath(repo, segment), readScope(repo), key, top, orderby)
		if client.IsRouteMissing(err) && fallback != nil {
			return fallback(x, reg, repo, top, orderby, detail)
		}
		if err != nil || detail {
			return orPrint(a, items, err)
		}
		out := make([]any, 0, len(items))
		for _, it := range items {
			out = append(out, row(it))
		}
		return a.print(out, "")
	})
	f.add(cmd)
	lo.add(cmd)
	cmd.Flags().StringVar(&repo, "repository", "", "The name of the repository.")
	cmd.Flags().BoolVar(&detail, "detail", false, "Show detailed information.")
	return cmd
}

// orPrint prints v unless err.
func orPrint(a *app, v any, err error) error {
	if err != nil {
		return err
	}
	return a.print(v, "")
}

func newACRRepositoryShowTagsCommand(a *app) *cobra.Command {
	return repositoryListCmd(a, spec{use: "show-tags", short: "Show tags for a repository in an Azure Container Registry.",
		example: "  az acr repository show-tags -n myregistry --repository myrepo --top 10 --orderby time_desc --detail"},
		"_tags", "tags", func(it any) any {
			if m, ok := it.(map[string]any); ok {
				return m["name"]
			}
			return it
		},
		func(x *call, reg *client.Registry, repo string, top int, orderby string, detail bool) error {
			// A registry without ACR's metadata API: the OCI tag list.
			for i, given := range []bool{detail, top >= 0, orderby != ""} {
				if given {
					a.warn("The specified %s is ignored as it is only supported for managed registries.", []string{"--detail", "--top", "--orderby"}[i])
				}
			}
			items, err := reg.List(x.ctx, "/v2/"+client.EscapeRepository(repo)+"/tags/list", client.RepositoryScope(repo, "pull"), "tags", -1, "")
			return orPrint(a, items, err)
		})
}

func newACRRepositoryShowManifestsCommand(a *app) *cobra.Command {
	return repositoryListCmd(a, spec{use: "show-manifests", short: "Show manifests of a repository in an Azure Container Registry.",
		example: "  az acr repository show-manifests -n myregistry --repository myrepo --top 10 --orderby time_desc"},
		"_manifests", "manifests", func(it any) any {
			m, _ := it.(map[string]any)
			row := map[string]any{"digest": "", "tags": []any{}, "timestamp": ""}
			for from, to := range map[string]string{"digest": "digest", "tags": "tags", "lastUpdateTime": "timestamp"} {
				if v, ok := m[from]; ok {
					row[to] = v
				}
			}
			return row
		}, nil)
}

// parseImage splits an image name as az's _parse_image_name does: name@digest
// (when allowed), name:tag, or name (the tag "latest").
func parseImage(image string, allowDigest bool) (repo, tag, digest string, err error) {
	if allowDigest && strings.Contains(image, "@") {
		if parts := strings.Split(image, "@"); len(parts) == 2 {
			return parts[0], "", parts[1], nil
		}
	}
	if !strings.Contains(image, ":") {
		return image, "latest", "", nil
	}
	if parts := strings.Split(image, ":"); len(parts) == 2 {
		return parts[0], parts[1], "", nil
	}
	if allowDigest {
		return "", "", "", errors.New("The name of the image to delete may include a tag in the format 'name:tag' or digest in the format 'name@digest'.")
	}
	return "", "", "", errors.New("The name of the image may include a tag in the format 'name:tag'.")
}

// repoOrImage reads the --repository or --image (repo:tag or repo@digest)
// of show and delete, exactly one of which must be given.
func repoOrImage(repo, image string) (string, string, string, error) {
	if (repo == "") == (image == "") {
		return "", "", "", errors.New("Usage error: --image IMAGE | --repository REPOSITORY")
	}
	if image == "" {
		return repo, "", "", nil
	}
	return parseImage(image, true)
}

// imageCmd is show or delete: --repository or --image (repo:tag or
// repo@digest) in a registry reached with the scope scope gives; fn gets
// the registry's client and the parsed image.
func imageCmd(a *app, s spec, scope func(repo string) string, fn func(x *call, reg *client.Registry, scope, repo, tag, digest string) error) *cobra.Command {
	var f registryAccessFlags
	var repo, image string
	s.needs, s.required = noClient, []string{"name"}
	cmd := a.command(s, func(x *call) error {
		repo, tag, digest, err := repoOrImage(repo, image)
		if err != nil {
			return err
		}
		sc := scope(repo)
		reg, _, err := a.registryAccess(x.ctx, f, sc, false)
		if err != nil {
			return err
		}
		return fn(x, reg, sc, repo, tag, digest)
	})
	f.add(cmd)
	cmd.Flags().StringVar(&repo, "repository", "", "The name of the repository.")
	cmd.Flags().StringVarP(&image, "image", "t", "", "The name of the image. May include a tag in the format 'name:tag' or digest in the format 'name@digest'.")
	return cmd
}

func newACRRepositoryShowCommand(a *app) *cobra.Command {
	return imageCmd(a, spec{use: "show", short: "Get the attributes of a repository or image in an Azure Container Registry.",
		example: "  az acr repository show -n myregistry --repository hello-world\n" +
			"  az acr repository show -n myregistry --image hello-world:latest\n" +
			"  az acr repository show -n myregistry --image hello-world@sha256:abc123"}, readScope,
		func(x *call, reg *client.Registry, _, repo, tag, digest string) error {
			res, err := showRepositoryItem(x.ctx, reg, repo, tag, digest)
			return orPrint(x.app, res, err)
		})
}

// showRepositoryItem reads a repository's, tag's or manifest's attributes
// (GET /acr/v1/<repo>[/_tags/<tag>|/_manifests/<digest>]). A server without
// those routes is answered from the listings.
func showRepositoryItem(ctx context.Context, reg *client.Registry, repo, tag, digest string) (any, error) {
	scope := readScope(repo)
	var path, index string
	switch {
	case tag != "":
		path, index = repoPath(repo, "_tags", tag), "tag"
	case digest != "":
		path, index = repoPath(repo, "_manifests", digest), "manifest"
	default:
		path = repoPath(repo)
	}
	res, _, err := reg.Data(ctx, http.MethodGet, path, nil, scope, index)
	switch {
	case err == nil && res != nil:
		return res, nil
	case err != nil && !client.IsRouteMissing(err):
		return nil, err
	}
	// The route is not served, or answered without the expected member
	// (a listing): look the item up in the listing.
	if tag != "" || digest != "" {
		// A tag by its name; a manifest by its digest, in any case.
		segment, key, match := "_tags", "tags", func(m map[string]any) bool { return m["name"] == tag }
		if tag == "" {
			segment, key, match = "_manifests", "manifests", func(m map[string]any) bool { return strings.EqualFold(fmt.Sprint(m["digest"]), digest) }
		}
		items, err := reg.List(ctx, repoPath(repo, segment), scope, key, -1, "")
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if m, ok := it.(map[string]any); ok && match(m) {
				return m, nil
			}
		}
		return nil, &client.RegistryError{Status: http.StatusNotFound, Message: "The requested data does not exist."}
	}
	manifests, err := reg.List(ctx, repoPath(repo, "_manifests"), scope, "manifests", -1, "")
	if err != nil {
		return nil, err
	}
	tags, err := reg.List(ctx, repoPath(repo, "_tags"), scope, "tags", -1, "")
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"registry": reg.LoginServer, "imageName": repo, "manifestCount": len(manifests), "tagCount": len(tags),
		"changeableAttributes": map[string]any{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true},
	}
	var created, updated string
	for _, x := range manifests {
		m, _ := x.(map[string]any)
		if c := str(m, "createdTime"); c != "" && (created == "" || c < created) {
			created = c
		}
		if u := str(m, "lastUpdateTime"); u != "" && u > updated {
			updated = u
		}
	}
	if created != "" {
		out["createdTime"] = created
	}
	if updated != "" {
		out["lastUpdateTime"] = updated
	}
	return out, nil
}

func newACRRepositoryDeleteCommand(a *app) *cobra.Command {
	var yes bool
	cmd := imageCmd(a, spec{use: "delete", short: "Delete a repository or image in an Azure Container Registry.", long: "Delete a repository or image in an Azure Container Registry. An image given by tag deletes the manifest " +
		"the tag points to, and with it every other tag of that manifest; to remove only the tag, use 'az acr repository untag'.", example: "  az acr repository delete -n myregistry --image hello-world:latest\n" +
		"  az acr repository delete -n myregistry --image hello-world@sha256:abc123\n" +
		"  az acr repository delete -n myregistry --repository hello-world"}, func(repo string) string { return client.RepositoryScope(repo, "delete", "metadata_read", "pull") },
		func(x *call, reg *client.Registry, scope, repo, tag, digest string) (err error) {
			ctx := x.ctx
			var path string
			if tag != "" || digest != "" {
				if digest == "" {
					if digest, err = reg.ManifestDigest(ctx, repo, tag, scope); err != nil {
						return err
					}
				}
				tags, err := reg.List(ctx, repoPath(repo, "_tags"), scope, "tags", -1, "")
				if err != nil && !client.IsRouteMissing(err) {
					return err
				}
				var images []string
				for _, t := range tags {
					if m, ok := t.(map[string]any); ok && m["digest"] == digest {
						images = append(images, fmt.Sprintf("'%s:%v'", repo, m["name"]))
					}
				}
				msg := fmt.Sprintf("This operation will delete the manifest '%s'", digest)
				if len(images) > 0 {
					msg += " and all the following images: " + strings.Join(images, ", ")
				}
				if yes {
					a.warn("%s", msg)
				} else if ok, err := a.confirm(msg+".\nAre you sure you want to continue?", false); err != nil || !ok {
					return err
				}
				path = "/v2/" + client.EscapeRepository(repo) + "/manifests/" + url.PathEscape(digest)
			} else {
				ok, err := a.confirm(fmt.Sprintf("Are you sure you want to delete the repository '%s' and all images under it?", repo), yes)
				if err != nil || !ok {
					return err
				}
				path = repoPath(repo)
			}
			res, _, err := reg.Data(ctx, http.MethodDelete, path, nil, scope, "")
			if err != nil || res == nil {
				return err
			}
			return a.print(res, "")
		})
	yesFlag(cmd.Flags(), &yes)
	return cmd
}

func newACRRepositoryUntagCommand(a *app) *cobra.Command {
	var f registryAccessFlags
	var image string
	cmd := a.command(spec{use: "untag", short: "Untag an image in an Azure Container Registry.", long: "Untag an image in an Azure Container Registry. This command does not delete the manifest referenced by the tag or any associated layer data.", example: "  az acr repository untag -n myregistry --image hello-world:latest", needs: noClient, required: []string{"name", "image"}}, func(x *call) error {
		repo, tag, _, err := parseImage(image, false)
		if err != nil {
			return err
		}
		ctx := x.ctx
		scope := client.RepositoryScope(repo, "delete")
		reg, _, err := a.registryAccess(ctx, f, scope, false)
		if err != nil {
			return err
		}
		res, _, err := reg.Data(ctx, http.MethodDelete, repoPath(repo, "_tags", tag), nil, scope, "")
		if client.IsRouteMissing(err) {
			// The OCI way: DELETE of a manifest by tag removes the tag.
			res, _, err = reg.Data(ctx, http.MethodDelete, "/v2/"+client.EscapeRepository(repo)+"/manifests/"+url.PathEscape(tag), nil, scope, "")
		}
		if err != nil || res == nil {
			return err
		}
		return a.print(res, "")
	})
	f.add(cmd)
	cmd.Flags().StringVarP(&image, "image", "t", "", "The name of the image. May include a tag in the format 'name:tag'.")
	return cmd
}
