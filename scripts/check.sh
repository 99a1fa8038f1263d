#!/usr/bin/env bash
# make check: the linearizability harness in CI. A short run of each
# nemesis on a fresh 3-node cluster, then every named scenario (each must
# give its expected verdict: the regressions linearizable, the
# demonstration of a deliberately broken server a violation). Reports go
# to $OUT/<run>/; the one-line summaries to $OUT/summaries.jsonl.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/strongbox}
OUT=${OUT:-.run/check}
DURATION=${DURATION:-40s}
NODES=${NODES:-3}
NEMESES=${NEMESES:-kill pause partition-leader partition-majority bridge membership}
rm -rf "$OUT"
mkdir -p "$OUT"
summaries="$OUT/summaries.jsonl"
failed=()

run() { # name, then check's flags
  local name=$1
  shift
  echo "== $name" >&2
  if ! "$BIN" check --out "$OUT/$name" "$@" | tail -n 1 | tee -a "$summaries"; then
    failed+=("$name")
  fi
}

for n in $NEMESES; do
  run "$n" --nodes "$NODES" --nemesis "$n" --duration "$DURATION"
done
for s in $("$BIN" check --list-scenarios | awk '{print $1}'); do
  run "scenario-$s" --scenario "$s"
done

if command -v python3 >/dev/null; then
  python3 - "$summaries" <<'PY'
import json, sys
print(f"\n{'run':<26} {'verdict':<13} {'ops':>6} {'checked':>7} {'avail%':>6} {'under fault%':>12} {'faults':>6} {'check s':>7}")
for line in open(sys.argv[1]):
    try:
        s = json.loads(line)
    except ValueError:
        continue
    name = s.get("scenario") or ",".join(s["nemeses"]) or "none"
    under = [v for k, v in s["availability_by_nemesis_pct"].items() if k != "none"]
    print(f"{name:<26} {s['verdict']:<13} {s['ops']:>6} {s['ops_checked']:>7} {s['availability_pct']:>6} "
          f"{(str(min(under)) if under else '-'):>12} {s['faults']:>6} {s['check_seconds']:>7.2f}")
PY
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "check: unexpected verdict in: ${failed[*]} (reports under $OUT)" >&2
  exit 1
fi
echo "check: every run gave its expected verdict" >&2
