package arm

import (
	"fmt"
	"sort"
	"strings"
)

// apiVersions declares, once per resource provider namespace or resource
// type (lower case; a type's entry wins over its namespace's, and a type
// covers its child types and actions), the api-versions Azure publishes
// for it: every version in Azure's REST API specifications and template
// reference (learn.microsoft.com/azure/templates/<namespace>/allversions)
// from the type's first version on, previews included. Every real client
// sends one of them — the Azure SDKs for Go, Python and .NET, azure-cli (its
// 'latest' profile and the versions its commands pin), Terraform, Bicep —
// and a version Azure refuses is refused here too, as ARM refuses it:
// 400 InvalidApiVersionParameter, naming the supported versions.
//
// Router.Handle refuses a route whose type has no entry, so a new provider
// declares its versions here.
var apiVersions = compileAPIVersions(map[string]string{
	// Tenants, subscriptions, resource groups, providers, resources,
	// deployments: ARM's own versions, as its InvalidApiVersionParameter
	// lists them, plus those published since.
	"microsoft.resources": `
		2013-03-01 2014-01-01 2014-02-26 2014-04-01 2014-04-01-preview
		2015-01-01 2015-11-01
		2016-02-01 2016-06-01 2016-07-01 2016-09-01
		2017-03-01 2017-05-01 2017-05-10 2017-06-01 2017-08-01 2017-12-01
		2018-01-01 2018-02-01 2018-05-01 2018-06-01 2018-07-01 2018-08-01 2018-09-01 2018-11-01
		2019-03-01 2019-05-01 2019-05-10 2019-06-01 2019-07-01 2019-08-01 2019-09-01 2019-10-01 2019-11-01
		2020-01-01 2020-05-01 2020-06-01 2020-07-01 2020-08-01 2020-09-01 2020-10-01
		2021-01-01 2021-04-01
		2022-01-01 2022-03-01-preview 2022-05-01 2022-06-01 2022-09-01 2022-11-01-preview 2022-12-01
		2023-03-01-preview 2023-07-01 2023-07-01-preview
		2024-03-01 2024-06-01-preview 2024-07-01 2024-08-01 2024-11-01
		2025-03-01 2025-04-01`,

	"microsoft.subscription": `2019-10-01-preview 2020-09-01 2021-10-01 2024-08-01-preview`,

	// Registries, their child types and actions, checkNameAvailability;
	// the build and task versions (2018-02-01-preview … 2019-06-01-preview)
	// are sent on registries paths by the SDKs and az (scheduleRun,
	// listBuildSourceUploadUrl).
	"microsoft.containerregistry": `
		2016-06-27-preview
		2017-03-01 2017-06-01-preview 2017-10-01
		2018-02-01-preview 2018-09-01
		2019-04-01 2019-05-01 2019-05-01-preview 2019-06-01-preview 2019-12-01-preview
		2020-11-01-preview
		2021-06-01-preview 2021-08-01-preview 2021-09-01 2021-12-01-preview
		2022-02-01-preview 2022-12-01
		2023-01-01-preview 2023-06-01-preview 2023-07-01 2023-08-01-preview 2023-11-01-preview
		2024-11-01-preview
		2025-03-01-preview 2025-04-01 2025-05-01-preview`,

	// Managed clusters and agent pools.
	"microsoft.containerservice": `
		2017-08-31
		2018-03-31 2018-08-01-preview
		2019-02-01 2019-04-01 2019-06-01 2019-08-01 2019-10-01 2019-11-01
		2020-01-01 2020-02-01 2020-03-01 2020-04-01 2020-06-01 2020-07-01 2020-09-01 2020-11-01 2020-12-01
		2021-02-01 2021-03-01 2021-05-01 2021-07-01 2021-08-01 2021-09-01 2021-10-01 2021-11-01-preview
		2022-01-01 2022-01-02-preview 2022-02-01 2022-02-02-preview 2022-03-01 2022-03-02-preview
		2022-04-01 2022-04-02-preview 2022-05-02-preview 2022-06-01 2022-06-02-preview
		2022-07-01 2022-07-02-preview 2022-08-02-preview 2022-08-03-preview 2022-09-01 2022-09-02-preview
		2022-10-02-preview 2022-11-01 2022-11-02-preview
		2023-01-01 2023-01-02-preview 2023-02-01 2023-02-02-preview 2023-03-01 2023-03-02-preview
		2023-04-01 2023-04-02-preview 2023-05-01 2023-05-02-preview 2023-06-01 2023-06-02-preview
		2023-07-01 2023-07-02-preview 2023-08-01 2023-08-02-preview 2023-09-01 2023-09-02-preview
		2023-10-01 2023-10-02-preview 2023-11-01 2023-11-02-preview
		2024-01-01 2024-01-02-preview 2024-02-01 2024-02-02-preview 2024-03-02-preview 2024-04-02-preview
		2024-05-01 2024-05-02-preview 2024-06-02-preview 2024-07-01 2024-07-02-preview 2024-08-01
		2024-09-01 2024-09-02-preview 2024-10-01 2024-10-02-preview
		2025-01-01 2025-01-02-preview 2025-02-01 2025-02-02-preview 2025-03-01 2025-03-02-preview
		2025-04-01 2025-04-02-preview 2025-05-01 2025-05-02-preview 2025-06-02-preview
		2025-07-01 2025-07-02-preview 2025-08-01 2025-08-02-preview 2025-09-01 2025-09-02-preview
		2025-10-01 2025-10-02-preview`,

	"microsoft.managedidentity": `
		2015-08-31-preview 2018-11-30 2021-09-30-preview 2022-01-31-preview 2023-01-31 2023-07-31-preview
		2024-11-30 2025-01-31-preview`,

	// Virtual machines (drydock's hosts) and their actions.
	"microsoft.compute": `
		2015-05-01-preview 2015-06-15
		2016-03-30 2016-04-30-preview
		2017-03-30 2017-12-01
		2018-04-01 2018-06-01 2018-10-01
		2019-03-01 2019-07-01 2019-12-01
		2020-06-01 2020-12-01
		2021-03-01 2021-04-01 2021-07-01 2021-11-01
		2022-03-01 2022-08-01 2022-11-01
		2023-03-01 2023-07-01 2023-09-01
		2024-03-01 2024-07-01 2024-11-01
		2025-04-01`,

	// Role assignments, and the namespace's other routes (drydock's
	// explainAccess).
	"microsoft.authorization": `
		2015-06-01 2015-07-01 2016-07-01 2017-05-01 2017-09-01 2017-10-01-preview
		2018-01-01-preview 2018-07-01 2018-09-01-preview
		2020-03-01-preview 2020-04-01-preview 2020-08-01-preview 2020-10-01-preview
		2022-04-01`,
	"microsoft.authorization/roledefinitions": `
		2015-06-01 2015-07-01 2016-07-01 2017-05-01 2017-09-01
		2018-01-01-preview 2018-07-01
		2022-04-01 2022-05-01-preview`,
})

// operationTypes are the long-running operations' status and result
// types: their URLs carry the api-version of the request that started the
// operation, so they take every declared version.
var operationTypes = []string{"microsoft.resources/operationstatuses", "microsoft.resources/operationresults"}

func init() {
	all := versionSet{}
	for _, vs := range apiVersions {
		for v := range vs {
			all[v] = true
		}
	}
	for _, t := range operationTypes {
		apiVersions[t] = all
	}
}

// versionSet is the api-versions of one namespace or type.
type versionSet map[string]bool

func compileAPIVersions(decl map[string]string) map[string]versionSet {
	out := make(map[string]versionSet, len(decl))
	for key, list := range decl {
		vs := versionSet{}
		for _, v := range strings.Fields(list) {
			if !apiVersionRE.MatchString(v) || vs[v] {
				panic(fmt.Sprintf("arm: api-version %q of %s is malformed or repeated", v, key))
			}
			vs[v] = true
		}
		out[key] = vs
	}
	return out
}

// String lists the versions as ARM does: newest first, a date's stable
// version before its preview, separated by commas.
func (vs versionSet) String() string {
	list := make([]string, 0, len(vs))
	for v := range vs {
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool {
		if di, dj := list[i][:10], list[j][:10]; di != dj {
			return di > dj
		}
		return len(list[i]) < len(list[j])
	})
	return strings.Join(list, ",")
}

// versionsFor returns the api-versions of a route key ("microsoft.
// containerregistry/registries/listcredentials"): those of the longest
// declared prefix of its type path, down to its namespace.
func versionsFor(key string) (versionSet, bool) {
	k := strings.ToLower(key)
	for {
		k = strings.TrimSuffix(k, "[]")
		if vs, ok := apiVersions[k]; ok {
			return vs, true
		}
		i := strings.LastIndex(k, "/")
		if i < 0 {
			return nil, false
		}
		k = k[:i]
	}
}

// checkAPIVersion answers whether ver is a version of the route key's type.
func checkAPIVersion(key, ver string) error {
	vs, _ := versionsFor(key)
	if vs[ver] {
		return nil
	}
	return BadRequest("InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are '%s'.", ver, vs)
}
