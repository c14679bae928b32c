#!/bin/bash
# Runs every fuzz target in the module for the given time each (default 5s).
# Each package's test binary is built once, instrumented for fuzzing, and
# runs its targets one after another from the package's directory, with the
# corpus cache `go test -fuzz` uses. A crash leaves its input under the
# package's testdata/fuzz/<target>, where every `go test` replays it from
# then on: it becomes a regression test. All targets run; the script fails
# at the end if any found something. A run that ends with a bare "context
# deadline exceeded" and no new input is Go's own race at the end of
# -fuzztime (go.dev/issue/75804, fixed in Go 1.27), not a finding: it is
# reported and not counted.
set -euo pipefail
time=${1:-5s}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=$(go env GOCACHE)/fuzz
failed=()
# inputs counts the files of a corpus directory, 0 when there is none.
inputs() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }
while read -r pkg dir; do
  grep -qs '^func Fuzz[A-Z]' "$dir"/*_test.go || continue
  bin="$work/fuzz.test"
  go test -c -fuzz=. -o "$bin" "$pkg"
  for target in $(cd "$dir" && "$bin" -test.list '^Fuzz' | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $target ($time)"
    corpus="$dir/testdata/fuzz/$target"
    before=$(inputs "$corpus")
    if ! (cd "$dir" && "$bin" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="$time" \
        -test.fuzzcachedir="$cache/$pkg") > "$work/log" 2>&1; then
      if [ "$(inputs "$corpus")" -eq "$before" ] &&
          grep -q '^    context deadline exceeded$' "$work/log"; then
        echo "fuzz: $pkg $target: stopped by Go's -fuzztime race (go.dev/issue/75804); nothing found"
        continue
      fi
      cat "$work/log"
      echo "fuzz: $pkg $target FAILED; a failing input is in $corpus"
      failed+=("$pkg $target")
    fi
  done
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
if ((${#failed[@]})); then
  printf 'fuzz: failed: %s\n' "${failed[@]}"
  exit 1
fi
