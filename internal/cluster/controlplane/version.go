package controlplane

import (
	"sync/atomic"
	_ "unsafe" // go:linkname

	// The packages whose version variables are set below.
	_ "k8s.io/client-go/pkg/version"
	_ "k8s.io/component-base/version"
)

// Kubernetes' release builds set its version with -ldflags -X; a plain
// `go build` of drydock leaves the placeholder "v0.0.0-master+$Format:%H$",
// which kubectl cannot parse. The variables are set here instead, at init,
// so no build flags are needed.
//
// Values computed from the version by other packages' init functions keep
// the placeholder: the effective version registered by
// k8s.io/apiserver/pkg/util/compatibility falls back to the hard-coded
// binary version (1.37, the same major.minor), and the
// kubernetes_build_info metric shows v0.0.0.

//go:linkname componentGitVersion k8s.io/component-base/version.gitVersion
var componentGitVersion string

//go:linkname componentGitMajor k8s.io/component-base/version.gitMajor
var componentGitMajor string

//go:linkname componentGitMinor k8s.io/component-base/version.gitMinor
var componentGitMinor string

//go:linkname componentGitCommit k8s.io/component-base/version.gitCommit
var componentGitCommit string

//go:linkname componentGitTreeState k8s.io/component-base/version.gitTreeState
var componentGitTreeState string

//go:linkname componentDynamicGitVersion k8s.io/component-base/version.dynamicGitVersion
var componentDynamicGitVersion atomic.Value

//go:linkname clientGitVersion k8s.io/client-go/pkg/version.gitVersion
var clientGitVersion string

//go:linkname clientGitMajor k8s.io/client-go/pkg/version.gitMajor
var clientGitMajor string

//go:linkname clientGitMinor k8s.io/client-go/pkg/version.gitMinor
var clientGitMinor string

//go:linkname clientGitCommit k8s.io/client-go/pkg/version.gitCommit
var clientGitCommit string

//go:linkname clientGitTreeState k8s.io/client-go/pkg/version.gitTreeState
var clientGitTreeState string

func init() {
	const gitVersion = "v" + KubernetesVersion
	major, minor := "1", majorMinor(KubernetesVersion)[len("1."):]
	componentGitVersion, componentGitMajor, componentGitMinor = gitVersion, major, minor
	componentGitCommit, componentGitTreeState = "", "clean"
	componentDynamicGitVersion.Store(gitVersion)
	clientGitVersion, clientGitMajor, clientGitMinor = gitVersion, major, minor
	clientGitCommit, clientGitTreeState = "", "clean"
}
