#!/usr/bin/env bash
# Runs drydock's whole test suite: vet, unit tests, the in-process API and
# Azure SDK tests, and the end-to-end tests that drive the real binary.
# It installs and starts everything the tests need itself.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 30m ./...
