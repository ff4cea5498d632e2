#!/usr/bin/env bash
# Sets drydock up on this machine: installs what cluster nodes need to run
# pods (Debian's containerd, runc and CNI plugins) when missing, then builds
# bin/drydock. Run it as root (apt-get); without root it only builds and
# says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || [[ -x /usr/sbin/runc ]] || need+=(runc)
[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
if ((${#need[@]} > 0)); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "== installing ${need[*]} (cluster nodes run pods with them)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	else
		echo "setup: cluster nodes need ${need[*]}: install them (apt-get install -y ${need[*]}) as root;" >&2
		echo "setup: until then 'aks create' refuses nodes and says why." >&2
	fi
fi

echo "== building bin/drydock"
# kustomize_disable_go_plugin_support: kubectl's kustomize then cannot load
# Go plugins (.so files, an alpha feature needing the exact toolchain and
# dependencies of drydock); linking package plugin would make the linker
# export every symbol and keep every method of every reachable type
# (binary 307 -> 240 MB).
# -s -w: no symbol table and no DWARF, as Kubernetes' release builds
# (240 -> 169 MB; the link takes a quarter of the time). Stack traces and
# profiles keep their function names.
go build -tags kustomize_disable_go_plugin_support -ldflags='-s -w' -o bin/drydock ./cmd/drydock
echo "bin/drydock built; start it with: bin/drydock up"
