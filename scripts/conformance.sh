#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite against a drydock
# registry reached the way users reach one: a server on drydock's defaults
# for the registries (listener on 127.0.0.1:443, login servers resolved
# through drydock's block in /etc/hosts), TLS verified against drydock's CA,
# and ACR's token flow with the null-GUID user and a refresh token from
# `drydock acr login --expose-token`.
#
# It builds the suite from the Go module proxy in a scratch module, runs it
# with every API and data variant the suite documents switched on, prints
# the suite's report and "conformance: N passed, N failed, N skipped", and
# fails on any failure, error, skipped or disabled test.
#
# Needs root (port 443, /etc/hosts) and nothing else holding 127.0.0.1:443.
#
# Usage:
#   scripts/conformance.sh               build the suite and run it
#   scripts/conformance.sh --build OUT   only build the suite's binary as OUT
#
# Environment:
#   DRYDOCK_BIN=<path>                 test this binary instead of building ./cmd/drydock
#   OCI_CONFORMANCE_BIN=<path>         the suite's binary, already built (--build)
#   OCI_CONFORMANCE_VERSION=<version>  another version of the suite's module
#   OCI_CONFORMANCE_KEEP=1             keep the work directory (server log, reports)
#   OCI_CONFORMANCE_AUTH_PER_REQUEST=1 a second pass that fetches a token for every request
#   OCI_DATA_SPARSE=true               also push sparse manifests (refused by drydock, as by ACR)
set -euo pipefail
caller_pwd=$PWD
cd "$(dirname "$0")/.."

# abspath makes a path given by the caller absolute.
abspath() { [[ $1 == /* ]] && echo "$1" || echo "$caller_pwd/$1"; }

module=github.com/opencontainers/distribution-spec/conformance
version=${OCI_CONFORMANCE_VERSION:-v0.0.0-20260831232431-97274622c111}
registry=ociconformance
null_guid=00000000-0000-0000-0000-000000000000

# build_suite builds the suite's binary as $1 from the module proxy, in a
# scratch module (the suite is a main package; "go test -c" of it still
# works but is deprecated upstream).
build_suite() {
	local out=$1 tmp
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/drydock-conformance-build.XXXXXX")
	echo "== OCI conformance: building $module@$version"
	if ! (
		cd "$tmp"
		export GOWORK=off GOFLAGS=-mod=mod
		go mod init drydock.local/conformance-runner >/dev/null 2>&1 &&
			go get "$module@$version" >go-get.log 2>&1 &&
			go build -o "$out" "$module"
	); then
		cat "$tmp/go-get.log" >&2 2>/dev/null || true
		rm -rf "$tmp"
		echo "conformance: building $module@$version failed" >&2
		return 1
	fi
	rm -rf "$tmp"
}

if [[ ${1:-} == --build ]]; then
	[[ -n ${2:-} ]] || { echo "usage: $0 --build OUT" >&2; exit 2; }
	build_suite "$(abspath "$2")"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/drydock-conformance.XXXXXX")
server_pid=
cleanup() {
	local status=$?
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if ((status == 0)) && [[ ${OCI_CONFORMANCE_KEEP:-} != 1 ]]; then
		rm -rf "$work"
	else
		echo "conformance: the server log, the suite's output and its reports are in $work" >&2
	fi
}
trap cleanup EXIT

if [[ $(id -u) != 0 ]]; then
	echo "conformance: needs root (drydock's registry listener on 127.0.0.1:443 and /etc/hosts)" >&2
	exit 1
fi
if (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null; then
	echo "conformance: 127.0.0.1:443 is already in use; stop whatever holds it" >&2
	exit 1
fi

echo "== OCI conformance: building drydock"
bin=${DRYDOCK_BIN:+$(abspath "$DRYDOCK_BIN")}
if [[ -z $bin ]]; then
	# The flags of scripts/setup.sh's build.
	go build -tags kustomize_disable_go_plugin_support -ldflags='-s -w' -o "$work/drydock" ./cmd/drydock
	bin=$work/drydock
fi
suite=${OCI_CONFORMANCE_BIN:+$(abspath "$OCI_CONFORMANCE_BIN")}
if [[ -z $suite ]]; then
	suite=$work/conformance
	build_suite "$suite"
fi

# A free loopback port for the API (the registries are on 443).
port=
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 40000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		port=$p
		break
	fi
done
[[ -n $port ]] || { echo "conformance: no free port found" >&2; exit 1; }

data=$work/data
mkdir -p "$work/home" "$work/cli" "$work/certs"
# A clean environment: drydock's defaults, nothing of the caller's setup.
env -i PATH="$PATH" HOME="$work/home" "$bin" server --data-dir "$data" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!

cli() {
	env -i PATH="$PATH" HOME="$work/home" DRYDOCK_CONFIG_DIR="$work/cli" \
		DRYDOCK_ENDPOINT="https://127.0.0.1:$port" DRYDOCK_CA_FILE="$data/pki/ca.crt" "$bin" "$@"
}

# Wait (bounded, against hangs) for the server to come up and sign in.
ready=
for _ in $(seq 1 600); do
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "conformance: drydock server exited during start-up:" >&2
		cat "$work/server.log" >&2
		exit 1
	fi
	if [[ -s $data/admin-password && -s $data/server.json ]] &&
		cli login -u admin@drydock.local -p "$(cat "$data/admin-password")" -o none 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.2
done
[[ -n $ready ]] || { echo "conformance: drydock server did not become ready" >&2; cat "$work/server.log" >&2; exit 1; }

cli group create -n conformance -l eastus -o none
login_server=$(cli acr create -n "$registry" -g conformance --sku Standard --query loginServer -o tsv)
if [[ $login_server != "$registry.azurecr.io" ]]; then
	echo "conformance: login server is '$login_server', want $registry.azurecr.io" >&2
	exit 1
fi
if [[ $(getent hosts "$login_server" | awk '{print $1}') != 127.0.0.1 ]]; then
	echo "conformance: $login_server does not resolve to 127.0.0.1 through /etc/hosts:" >&2
	cat /etc/hosts >&2
	exit 1
fi
refresh_token=$(cli acr login -n "$registry" --expose-token --query accessToken -o tsv 2>/dev/null)
[[ -n $refresh_token ]] || { echo "conformance: acr login --expose-token printed no token" >&2; exit 1; }
# Go reads trusted roots from SSL_CERT_FILE / SSL_CERT_DIR: drydock's CA only.
cp "$data/pki/ca.crt" "$work/certs/ca.crt"

# The suite's current variables (config.go in the module). The legacy ones
# map onto them: OCI_ROOT_URL=https://<registry> -> OCI_REGISTRY + OCI_TLS,
# OCI_NAMESPACE -> OCI_REPO1, OCI_CROSSMOUNT_NAMESPACE -> OCI_REPO2,
# OCI_TEST_PULL/PUSH -> OCI_API_PULL/PUSH, OCI_TEST_CONTENT_DISCOVERY ->
# OCI_API_TAGS_LIST + OCI_API_REFERRER, OCI_TEST_CONTENT_MANAGEMENT ->
# OCI_API_*_DELETE, OCI_AUTOMATIC_CROSSMOUNT -> OCI_API_BLOBS_MOUNT_ANONYMOUS;
# OCI_DELETE_MANIFEST_BEFORE_BLOBS and the chunk sizes are no longer
# settings (the suite always deletes manifests first and picks its own
# chunks). Every API and data variant is switched on, including those off
# by default for version 1.1 (upload cancel, digest headers, the tag
# parameter on manifest pushes), except sparse manifests (manifests that
# reference blobs or manifests never pushed): the distribution spec lets a
# registry refuse them, and drydock does, as ACR does, with
# MANIFEST_BLOB_UNKNOWN. OCI_DATA_SPARSE=true runs that variant too.
suite_env=(
	PATH="$PATH" HOME="$work/home"
	SSL_CERT_FILE="$work/certs/ca.crt" SSL_CERT_DIR="$work/certs"
	OCI_VERSION=1.1
	OCI_REGISTRY="$login_server" OCI_TLS=enabled
	OCI_USERNAME="$null_guid" OCI_PASSWORD="$refresh_token"
	OCI_RESULTS_DIR="$work/results" OCI_LOG=warn
	OCI_API_PING=true OCI_API_PULL=true OCI_API_PUSH=true OCI_API_REFERRER=true
	OCI_API_BLOBS_ATOMIC=true OCI_API_BLOBS_DELETE=true OCI_API_BLOBS_DIGEST_HEADER=true
	OCI_API_BLOBS_MOUNT_ANONYMOUS=true OCI_API_BLOBS_UPLOAD_CANCEL=true
	OCI_API_MANIFESTS_ATOMIC=true OCI_API_MANIFESTS_DELETE=true OCI_API_MANIFESTS_DIGEST_HEADER=true
	OCI_API_MANIFESTS_TAG_PARAM=true
	OCI_API_TAGS_ATOMIC=true OCI_API_TAGS_DELETE=true OCI_API_TAGS_LIST=true
	OCI_DATA_IMAGE=true OCI_DATA_INDEX=true OCI_DATA_INDEX_LIST=true OCI_DATA_SPARSE="${OCI_DATA_SPARSE:-false}"
	OCI_DATA_ARTIFACT=true OCI_DATA_SUBJECT=true OCI_DATA_SUBJECT_MISSING=true
	OCI_DATA_ARTIFACT_LIST=true OCI_DATA_SUBJECT_LIST=true OCI_DATA_DATA_FIELD=true
	OCI_DATA_NONDISTRIBUTABLE=true OCI_DATA_CUSTOM_FIELDS=true OCI_DATA_NO_LAYERS=true
	OCI_DATA_EMPTY_BLOB=true OCI_DATA_SHA512=true
)

# The suite reuses its tokens, as clients do. OCI_CONFORMANCE_AUTH_PER_REQUEST=1
# adds a second pass that asks for a token on every request (the token
# service under load); there the anonymous blob mount (POST ?mount= without
# from=) falls back to an upload, since each token is scoped to the one
# repository, and the suite counts that as 2 skipped tests.
total_pass=0 total_failed=0 total_skipped=0 rc=0
run_pass() {
	local name=$1 cache=$2 repo=$3
	local out=$work/conformance-$name.out
	echo "== OCI conformance ($name): https://$login_server/$repo as $null_guid with a refresh token, OCI_CACHE_AUTH=$cache"
	local suite_rc=0
	(cd "$work" && env -i "${suite_env[@]}" OCI_CACHE_AUTH="$cache" OCI_REPO1="$repo/repo1" OCI_REPO2="$repo/repo2" \
		OCI_RESULTS_DIR="$work/results-$name" "$suite") >"$out" 2>&1 || suite_rc=$?
	cat "$out"
	# The counts of the report's "OCI Conformance Result" block.
	count() {
		local n
		n=$(grep -E "^  $1\.+: +[0-9]+$" "$out" | head -n 1 | awk '{print $NF}') || true
		echo "${n:-0}"
	}
	local pass failed skipped
	pass=$(count Pass)
	failed=$(($(count FAIL) + $(count Error)))
	skipped=$(($(count Skip) + $(count Disabled)))
	echo "conformance ($name): $pass passed, $failed failed, $skipped skipped (suite exit code $suite_rc)"
	total_pass=$((total_pass + pass))
	total_failed=$((total_failed + failed))
	total_skipped=$((total_skipped + skipped))
	if ((suite_rc != 0 || failed != 0 || skipped != 0 || pass == 0)); then
		rc=1
	fi
}
run_pass cached-auth true conformance/cached
if [[ ${OCI_CONFORMANCE_AUTH_PER_REQUEST:-} == 1 ]]; then
	run_pass auth-per-request false conformance/uncached
fi

# The server stops gracefully and takes its block out of /etc/hosts.
kill -TERM "$server_pid"
server_rc=0
wait "$server_pid" || server_rc=$?
server_pid=
if ((server_rc != 0)); then
	echo "conformance: drydock server exited with $server_rc after SIGTERM:" >&2
	tail -n 50 "$work/server.log" >&2
	rc=1
fi
if grep -q "$login_server" /etc/hosts; then
	echo "conformance: /etc/hosts still names $login_server after the server stopped" >&2
	rc=1
fi

echo "conformance: $total_pass passed, $total_failed failed, $total_skipped skipped"
if ((rc != 0)); then
	echo "conformance: FAILED (every test must pass, none skipped or disabled; see the reports above)" >&2
	exit 1
fi
