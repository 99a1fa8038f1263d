#!/usr/bin/env bash
# Runs every native Go fuzz target in the repository, one after another,
# each for FUZZTIME (default 60s), and prints the executions of each.
# Targets are found by their declarations (func FuzzX(f *testing.F) in a
# _test.go file), so a new target is fuzzed without being listed here.
#
#   FUZZTIME      how long each target runs (go's -fuzztime: 60s, 5s, 1000x)
#   FUZZPARALLEL  workers per target (go's -parallel); default: go's, GOMAXPROCS
#   FUZZMINIMIZE  go's -fuzzminimizetime; default 100x: minimizing every new
#                 corpus entry for go's default 60s would take most short runs
#   FUZZ          only targets whose name matches this extended regexp
#
# A failing input is written by go to <package>/testdata/fuzz/<target>/ and
# the script exits 1. Go 1.26 can end a time-bounded run with "context
# deadline exceeded" although nothing failed (go.dev/issue/75804, fixed in
# Go 1.27): such a run, which wrote no input, is reported as a flake and
# does not fail the script.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-60s}
FUZZMINIMIZE=${FUZZMINIMIZE:-100x}
FUZZ=${FUZZ:-.}
parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then parallel=(-test.parallel="$FUZZPARALLEL"); fi

targets=$(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
  grep -v '^\./\.run/' |
  sed -E 's|^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' |
  grep -E " .*${FUZZ}" | sort)
if [ -z "$targets" ]; then
  echo "fuzz: no target matches '$FUZZ'" >&2
  exit 1
fi

# Each package's test binary is built once, instrumented as `go test -fuzz`
# builds it, and run once per target with the flags `go test -fuzz` would
# pass (the corpus cache is go's own, so the two share what they learn);
# linking once per package instead of once per target saves a few seconds
# a target. A failure prints the equivalent go test command.
work=$(mktemp -d)
out="$work/out"
trap 'rm -rf "$work"' EXIT
cache="$("$GO" env GOCACHE)/fuzz/$("$GO" list -m)"
failed=0 flaked=0
summary=""
start=$SECONDS
for dir in $(cut -d' ' -f1 <<<"$targets" | sort -u); do
  echo "fuzz: building ./$dir"
  if ! "$GO" test -c -fuzz=. -o "$work/${dir//\//_}.test" "./$dir/" >"$out" 2>&1; then
    cat "$out"
    echo "fuzz: cannot build ./$dir" >&2
    exit 1
  fi
done
while read -r dir name; do
  corpus="$dir/testdata/fuzz/$name"
  before=$(ls "$corpus" 2>/dev/null | sort)
  t0=$SECONDS
  echo "fuzz: $name (./$dir) for $FUZZTIME"
  (cd "$dir" && "$work/${dir//\//_}.test" -test.run='^$' -test.fuzz="^${name}\$" -test.fuzztime="$FUZZTIME" \
    -test.fuzzminimizetime="$FUZZMINIMIZE" "${parallel[@]}" -test.fuzzcachedir="$cache/$dir") >"$out" 2>&1
  rc=$?
  execs=$(grep -oE 'execs: [0-9]+' "$out" | tail -1 | grep -oE '[0-9]+')
  after=$(ls "$corpus" 2>/dev/null | sort)
  status=ok
  if [ $rc -ne 0 ]; then
    if [ "$before" = "$after" ] && grep -q 'context deadline exceeded' "$out" && ! grep -qE 'panic:|Failing input|failure while testing seed corpus' "$out"; then
      status=flake
      flaked=$((flaked + 1))
      echo "fuzz: $name ended with go's 'context deadline exceeded' and wrote no input: a flake of the go tool, not a finding"
    else
      status=FAIL
      failed=$((failed + 1))
      cat "$out"
      new=$(comm -13 <(echo "$before") <(echo "$after") | head -1)
      if [ -n "$new" ]; then
        echo "fuzz: $name failed; input saved as $corpus/$new"
        echo "fuzz: reproduce with: $GO test -run '^${name}/${new}\$' ./$dir/"
      fi
      echo "fuzz: fuzz again with: $GO test -run '^\$' -fuzz '^${name}\$' -fuzztime $FUZZTIME ./$dir/"
    fi
  fi
  summary+=$(printf '%-28s %-14s %12s  %4ss  %s' "$name" "./$dir" "${execs:-0}" "$((SECONDS - t0))" "$status")$'\n'
done <<<"$targets"

echo
printf '%-28s %-14s %12s  %5s  %s\n' target package execs time status
printf '%s' "$summary"
echo "fuzz: $(wc -l <<<"$targets") targets, FUZZTIME=$FUZZTIME, $((SECONDS - start))s in all; $failed failed, $flaked flaked"
[ $failed -eq 0 ]
