#!/usr/bin/env bash
# Runs drydock's whole test suite: vet, unit tests, the in-process API and
# Azure SDK tests, the end-to-end tests that drive the real binary (among
# them the registry tests with real clients: go-containerregistry, skopeo,
# oras-go, the Azure SDK and Debian's docker-registry as an import source,
# and the real Azure CLI, Debian's azure-cli),
# then the OCI distribution-spec conformance suite against a registry.
# It installs and starts everything the tests need itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the registry end-to-end tests drive; CI machines start
# without them.
need=()
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
# The cluster nodes' container runtime (each node runs its own containerd).
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || [[ -x /usr/sbin/runc ]] || need+=(runc)
[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
# The real Azure CLI, which the real-az end-to-end tests drive.
command -v az >/dev/null 2>&1 || need+=(azure-cli)
# npm, to install Azurite below when it is missing.
command -v azurite-blob >/dev/null 2>&1 || command -v npm >/dev/null 2>&1 || need+=(npm)
# PostgreSQL's server, which the metadata store's suite (internal/store,
# TestPostgres) starts on loopback.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# haproxy, the load balancer in front of the replicas of e2e TestReplicas.
command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] || need+=(haproxy)
if ((${#need[@]} > 0)); then
	echo "== installing ${need[*]}"
	if [[ $(id -u) != 0 ]]; then
		echo "scripts/test.sh: ${need[*]} missing; install them (apt-get install -y ${need[*]}) or run as root" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Azurite, the Azure Blob Storage emulator that the azureblob storage
# driver's tests and benchmark run against (they start azurite-blob
# themselves, on a loopback port, and fail without it under
# DRYDOCK_E2E_REQUIRE_REGISTRY=1).
if ! command -v azurite-blob >/dev/null 2>&1; then
	echo "== installing azurite"
	if [[ $(id -u) != 0 ]]; then
		echo "scripts/test.sh: azurite-blob missing; install it (npm install -g azurite@3) or run as root" >&2
		exit 1
	fi
	npm install -g --no-audit --no-fund --loglevel=error azurite@3 >/dev/null
fi

echo "== go vet"
go vet ./...

# The conformance suite's binary, built once: the distribution package's
# TestOCIConformance runs it in-process (plain HTTP, no auth), and
# scripts/conformance.sh runs it against a real server.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/drydock-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bash scripts/conformance.sh --build "$tmp/oci-conformance"

echo "== go test"
rc=0
# The registry e2e tests fail, rather than skip, when what they need is
# missing (root, skopeo, docker-registry, containerd, runc, CNI plugins).
DRYDOCK_E2E_REQUIRE_REGISTRY=1 DRYDOCK_E2E_REQUIRE_RUNTIME=1 DRYDOCK_REQUIRE_RUNTIME=1 DRYDOCK_E2E_REQUIRE_AZ=1 \
	DRYDOCK_OCI_CONFORMANCE="$tmp/oci-conformance" \
	go test -count=1 -timeout 30m ./... || rc=$?

# The in-process API suite once more with the metadata in PostgreSQL (the
# test starts a server of its own on loopback; every test server gets a
# fresh database), so both metadata backends answer the whole API.
echo "== go test ./internal/server on PostgreSQL"
DRYDOCK_TEST_POSTGRES=1 go test -count=1 -timeout 20m ./internal/server || rc=$?

# The race detector over every package that does not link Kubernetes
# (k8s.io/kubernetes: the control plane and the binary that embeds it, by
# far the slowest builds of the module) and does not drive the binary (e2e).
echo "== go test -race"
race_pkgs=$(go list -f '{{.ImportPath}} {{join .Deps " "}}' ./... |
	awk '$1 ~ /\/e2e$/ { next } { for (i = 2; i <= NF; i++) if ($i ~ /^k8s\.io\/kubernetes\//) next; print $1 }')
DRYDOCK_REQUIRE_RUNTIME=1 DRYDOCK_OCI_CONFORMANCE="$tmp/oci-conformance" \
	go test -race -count=1 -timeout 30m $race_pkgs || rc=$?

# After the Go tests: the registry e2e tests hold 127.0.0.1:443 while they
# run, and so does the conformance run.
OCI_CONFORMANCE_BIN="$tmp/oci-conformance" bash scripts/conformance.sh || rc=1
exit "$rc"
