package e2e

import "testing"

// TestRegistry proves the registries' data plane with real clients against
// one server that uses drydock's defaults for the registries (listener on
// 127.0.0.1:443, login servers resolved through /etc/hosts). It is not
// parallel: only one server may hold 443, so the subtests run one after
// the other, each on registries of its own.
func TestRegistry(t *testing.T) {
	e := startRegistryEnv(t)
	e.createRegistries(t, "e2eggcr", "e2eskopeo", "e2eoras", "e2eazsdk", "e2erbac", "e2eanon", "e2eimport", "e2ecli", "e2erealaz")
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *regEnv)
	}{
		{"GoContainerRegistry", testRegistryGGCR},
		{"Skopeo", testRegistrySkopeo},
		{"OrasReferrers", testRegistryOras},
		{"AzureSDK", testRegistryAzureSDK},
		{"RBAC", testRegistryRBAC},
		{"AnonymousPull", testRegistryAnonymousPull},
		{"ImportFromDistribution", testRegistryImport},
		{"RepositoryCommands", testRegistryCLI},
		{"RealAz", testRegistryRealAz},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, e) })
	}
}
