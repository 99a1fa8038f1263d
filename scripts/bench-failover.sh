#!/usr/bin/env bash
# Failover figure (DESIGN.md: "after the leader dies, writes succeed again
# within 1.5 s with default timeouts on loopback"): starts a fresh 3-node
# cluster of real `strongbox server` processes with default Raft timeouts,
# then ROUNDS times kills the leader with SIGKILL and times how long until
# a PUT through a surviving node succeeds again (one attempt every 10 ms,
# each with a 1 s timeout), then restarts the killed node and waits until it
# serves again. Needs curl 7.75+ (--aws-sigv4) and python3. Every wait gives
# up after 60 s, so a cluster that never recovers fails the run instead of
# hanging it.
#
# Environment: ROUNDS (default 5), S3_PORT / RAFT_PORT (first node's;
# default 9150 / 7150). Every node is stopped and the data removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${BIN:-bin/strongbox}
ROUNDS=${ROUNDS:-5}
S3_PORT=${S3_PORT:-9150}
RAFT_PORT=${RAFT_PORT:-7150}

$GO build -o "$BIN" ./cmd/strongbox
DIR=$(mktemp -d "${TMPDIR:-/tmp}/strongbox-failover.XXXXXX")
declare -a PIDS
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

s3() { echo "http://127.0.0.1:$((S3_PORT + $1))"; }
# deadline WHAT: fails the run once the wait that called it has lasted 60 s.
deadline() {
  if [ "$SECONDS" -ge "$WAIT_UNTIL" ]; then
    echo "gave up after 60 s: $1; logs in $DIR" >&2
    exit 1
  fi
}
for i in 0 1 2; do
  if curl -s -o /dev/null --max-time 1 "$(s3 "$i")/_strongbox/health"; then
    echo "port $((S3_PORT + i)) already answers: set S3_PORT / RAFT_PORT" >&2
    exit 1
  fi
done
start() { # node index, extra flags
  local i=$1; shift
  "$BIN" server --id "n$i" --data-dir "$DIR/n$i" --s3-addr "127.0.0.1:$((S3_PORT + i))" \
    --raft-addr "127.0.0.1:$((RAFT_PORT + i))" "$@" >>"$DIR/n$i.log" 2>&1 &
  PIDS[$i]=$!
  WAIT_UNTIL=$((SECONDS + 60))
  until curl -sf -o /dev/null --max-time 1 "$(s3 "$i")/_strongbox/health"; do
    kill -0 "${PIDS[$i]}" 2>/dev/null || { echo "node n$i exited; see $DIR/n$i.log" >&2; exit 1; }
    deadline "n$i to serve"
    sleep 0.1
  done
}
sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user strongbox:strongbox-secret -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
now() { date +%s.%N; }

start 0
start 1 --join "127.0.0.1:$RAFT_PORT"
start 2 --join "127.0.0.1:$RAFT_PORT"
curl -sf -o /dev/null "${sig[@]}" -X PUT "$(s3 0)/failover-bench"

for round in $(seq 1 "$ROUNDS"); do
  leader=""
  WAIT_UNTIL=$((SECONDS + 60))
  until [ -n "$leader" ]; do
    deadline "a leader"
    for i in 0 1 2; do
      leader=$("$BIN" cluster status --endpoint "$(s3 "$i")" --json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("leader",""))' 2>/dev/null) && [ -n "$leader" ] && break
    done
    [ -n "$leader" ] || sleep 0.05
  done
  li=${leader#n}
  via=$(((li + 1) % 3))
  t0=$(now)
  kill -9 "${PIDS[$li]}"
  wait "${PIDS[$li]}" 2>/dev/null || true # reaped here, so bash reports nothing later
  tries=0
  WAIT_UNTIL=$((SECONDS + 60))
  until curl -sf -o /dev/null --max-time 1 "${sig[@]}" -X PUT --data x "$(s3 "$via")/failover-bench/k$round"; do
    tries=$((tries + 1))
    deadline "a PUT after the kill"
    sleep 0.01
  done
  t1=$(now)
  printf 'round %d: killed leader %s; a PUT through n%d succeeded %.3f s later (%d failed attempts)\n' \
    "$round" "$leader" "$via" "$(awk "BEGIN{print $t1 - $t0}")" "$tries"
  start "$li"
done
