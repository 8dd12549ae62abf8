#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short while.
#
#   FUZZTIME=10s scripts/fuzz.sh        # default 10s per target
#
# For each package whose test files mention "func Fuzz", asks `go test -list`
# for its Fuzz* functions and runs each one alone with -fuzz for FUZZTIME
# (go test can fuzz only one target per invocation). A crash fails the run and
# leaves the failing input in the package's testdata/fuzz directory.
set -euo pipefail

cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}

# Listed up front so that a go list failure stops the script (set -e).
packages=$(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
targets=0
while read -r pkg dir; do
	# Cheap filter first: compiling every package's tests just to list
	# nothing would be slow.
	grep -qs '^func Fuzz' "$dir"/*_test.go || continue
	listed=$(go test -list '^Fuzz' "$pkg" </dev/null)
	for name in $(grep '^Fuzz' <<<"$listed" || true); do
		echo "fuzz: $pkg $name for $fuzztime"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" </dev/null
		targets=$((targets + 1))
	done
done <<<"$packages"

echo "fuzz: ran $targets fuzz target(s) for $fuzztime each"
