#!/usr/bin/env bash
# Static checks: gofmt, go vet, and golangci-lint when it can be had.
#
# golangci-lint comes from PATH if installed there, otherwise it is built with
# `go run` at a pinned version (slow the first time, cached afterwards). If
# neither works (no network, say) it is skipped with a warning; gofmt and go
# vet still decide the exit status.
set -euo pipefail

cd "$(dirname "$0")/.."
GOLANGCI_LINT_VERSION=${GOLANGCI_LINT_VERSION:-v2.15.0}

unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
	echo "lint: these files need gofmt -w:" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "lint: gofmt ok"

go vet ./...
echo "lint: go vet ok"

if command -v golangci-lint >/dev/null 2>&1; then
	golangci=(golangci-lint)
else
	golangci=(go run "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${GOLANGCI_LINT_VERSION}")
fi
# Build (or find) it first so that "unavailable" is told apart from findings.
if ! "${golangci[@]}" version >/dev/null 2>&1; then
	echo "lint: warning: golangci-lint ${GOLANGCI_LINT_VERSION} is unavailable; skipped" >&2
	exit 0
fi
"${golangci[@]}" run ./...
echo "lint: golangci-lint ok"
