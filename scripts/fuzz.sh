#!/bin/bash
# Runs every fuzz target in the module for the given time each (default 5s).
# A crash leaves its input under the package's testdata/fuzz, where it
# becomes a regression case for `go test`.
set -euo pipefail
time=${1:-5s}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $target ($time)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "$pkg" > "$log" 2>&1 || {
      cat "$log"; exit 1; }
  done
done
