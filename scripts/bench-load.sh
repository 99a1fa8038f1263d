#!/usr/bin/env bash
# Baseline figures for the README and issue notes: 4 KiB PUT and GET at
# concurrency 1 and 32, through the leader and through a follower of a
# running `make run` cluster, each next to the do-nothing ceiling measured
# by the same client in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/strongbox}
DURATION=${DURATION:-10s}
status=$($BIN cluster status --json)
leader=$(printf '%s' "$status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(next(m["s3_url"] for m in s["members"] if m["id"]==s["leader"]))')
follower=$(printf '%s' "$status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(next(m["s3_url"] for m in s["members"] if m["id"]!=s["leader"]))')
echo "leader $leader, follower $follower, $DURATION per run"
for op in put get; do
  for c in 1 32; do
    $BIN bench --op "$op" --concurrency "$c" --duration "$DURATION" --endpoint "$leader" --ceiling | grep -v '^{'
    $BIN bench --op "$op" --concurrency "$c" --duration "$DURATION" --endpoint "$follower" | grep -v '^{'
  done
done
