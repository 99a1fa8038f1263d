#!/usr/bin/env bash
# Overload figure (issue 9, "bounded by design, measured"): a fresh 3-node
# cluster of real `strongbox server` processes with --max-in-flight
# MAX_IN_FLIGHT (default 32), driven by `strongbox bench` at 10x that
# concurrency, spread over all three nodes, for DURATION (default 60s).
# While it runs, once a second: each node's goroutine count (pprof on its
# --debug-addr), its RSS, and the leader and term every node reports. At
# the end: the share of requests answered 503 SlowDown, p50/p99 of the
# admitted ones, peak goroutines and peak RSS (VmHWM) per node, and how
# many leaders and terms were seen (one and one: heartbeats never starved).
#
# Environment: MAX_IN_FLIGHT, DURATION, OP (put or get, default put), SIZE
# (bytes, default 4096), S3_PORT / RAFT_PORT / DEBUG_PORT (first node's;
# default 9200 / 7200 / 6200). Every node is stopped and the data removed on
# exit. Needs curl and python3. Every wait gives up after 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${BIN:-bin/strongbox}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-32}
DURATION=${DURATION:-60s}
OP=${OP:-put}
SIZE=${SIZE:-4096}
S3_PORT=${S3_PORT:-9200}
RAFT_PORT=${RAFT_PORT:-7200}
DEBUG_PORT=${DEBUG_PORT:-6200}
CONC=$((MAX_IN_FLIGHT * 10))

$GO build -o "$BIN" ./cmd/strongbox
DIR=$(mktemp -d "${TMPDIR:-/tmp}/strongbox-overload.XXXXXX")
declare -a PIDS
SAMPLER=
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

s3() { echo "http://127.0.0.1:$((S3_PORT + $1))"; }
for i in 0 1 2; do
  if curl -s -o /dev/null --max-time 1 "$(s3 "$i")/_strongbox/health"; then
    echo "port $((S3_PORT + i)) already answers: set S3_PORT / RAFT_PORT / DEBUG_PORT" >&2
    exit 1
  fi
done
start() { # node index, extra flags
  local i=$1; shift
  "$BIN" server --id "n$i" --data-dir "$DIR/n$i" --s3-addr "127.0.0.1:$((S3_PORT + i))" \
    --raft-addr "127.0.0.1:$((RAFT_PORT + i))" --debug-addr "127.0.0.1:$((DEBUG_PORT + i))" \
    --max-in-flight "$MAX_IN_FLIGHT" --quiet "$@" >>"$DIR/n$i.log" 2>&1 &
  PIDS[$i]=$!
  local until=$((SECONDS + 60))
  until curl -sf -o /dev/null --max-time 1 "$(s3 "$i")/_strongbox/health"; do
    kill -0 "${PIDS[$i]}" 2>/dev/null || { echo "node n$i exited; see $DIR/n$i.log" >&2; exit 1; }
    [ "$SECONDS" -lt "$until" ] || { echo "gave up waiting for n$i" >&2; exit 1; }
    sleep 0.1
  done
}
start 0
start 1 --join "127.0.0.1:$RAFT_PORT"
start 2 --join "127.0.0.1:$RAFT_PORT"

# One sample line per node per second: epoch node goroutines rss_kib leader term.
sample() {
  set +e +o pipefail # a failed sample must not end the sampler
  while true; do
    for i in 0 1 2; do
      g=$(curl -s --max-time 5 "http://127.0.0.1:$((DEBUG_PORT + i))/debug/pprof/goroutine?debug=1" | head -1 | awk '{print $NF}')
      rss=$(awk '/^VmRSS/{print $2}' "/proc/${PIDS[$i]}/status" 2>/dev/null || echo 0)
      lt=$("$BIN" cluster status --endpoint "$(s3 "$i")" --json 2>/dev/null |
        python3 -c 'import json,sys
s=json.load(sys.stdin); me=[m for m in s["members"] if m.get("leader")]
print(s.get("leader","-"), max((m["term"] for m in s["members"]), default=0))' 2>/dev/null || echo "- 0")
      echo "$(date +%s) n$i ${g:-0} ${rss:-0} $lt"
    done >>"$DIR/samples"
    sleep 1
  done
}
sample &
SAMPLER=$!

endpoints="$(s3 0),$(s3 1),$(s3 2)"
echo "baseline: $OP ${SIZE} B at concurrency $MAX_IN_FLIGHT (the configured bound) for 20s"
"$BIN" bench --op "$OP" --size "$SIZE" --concurrency "$MAX_IN_FLIGHT" --duration 20s --endpoint "$endpoints" | tee "$DIR/base.out" | grep -v '^{'
echo "3 nodes, --max-in-flight $MAX_IN_FLIGHT; $OP ${SIZE} B at concurrency $CONC for $DURATION over $endpoints"
"$BIN" bench --op "$OP" --size "$SIZE" --concurrency "$CONC" --duration "$DURATION" --endpoint "$endpoints" --ceiling | tee "$DIR/bench.out" | grep -v '^{'
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=
for i in 0 1 2; do
  echo "n$i $(awk '/^VmHWM/{print $2}' "/proc/${PIDS[$i]}/status")" >>"$DIR/hwm"
done
python3 - "$DIR" <<'EOF'
import json, sys, collections
d = sys.argv[1]
res = json.loads([l for l in open(d + "/bench.out") if l.startswith("{")][-1])
base = json.loads([l for l in open(d + "/base.out") if l.startswith("{")][-1])
peak_g, peak_rss, leaders, terms = collections.Counter(), collections.Counter(), set(), set()
for line in open(d + "/samples"):
    f = line.split()
    if len(f) < 6:
        continue
    _, node, g, rss, leader, term = f[:6]
    peak_g[node] = max(peak_g[node], int(g or 0))
    peak_rss[node] = max(peak_rss[node], int(rss or 0))
    if leader != "-":
        leaders.add(leader)
    if term != "0":
        terms.add(term)
hwm = dict(l.split() for l in open(d + "/hwm"))
answers = res["ops"] + res["errors"]
print()
print("| requests | answered 503 SlowDown | other errors | admitted ops/s | p50 admitted | p99 admitted |")
print("|---:|---:|---:|---:|---:|---:|")
print(f"| {answers:,} | {res['shed']:,} ({res['shed_share']*100:.1f}%) | {res['errors']-res['shed']:,} | {res['ops_per_sec']:,.0f} | {res['p50_ms']:.1f} ms | {res['p99_ms']:.1f} ms |")
print()
print(f"at the configured concurrency ({base['concurrency']}): {base['ops_per_sec']:,.0f} ops/s, p50 {base['p50_ms']:.1f} ms, p99 {base['p99_ms']:.1f} ms, {base['errors']} errors; "
      f"under 10x the cluster kept {res['ops_per_sec']/max(base['ops_per_sec'],1)*100:.0f}% of that throughput; ceiling {res['ops_per_sec']/max(res['ratio_to_ceiling'],1e-9):,.0f} ops/s" if res.get('ratio_to_ceiling') else "")
print()
print("| node | peak goroutines | peak RSS (VmHWM) |")
print("|---|---:|---:|")
for n in sorted(hwm):
    print(f"| {n} | {peak_g[n]:,} | {int(hwm[n])/1024:.0f} MiB |")
print()
print(f"leaders seen: {sorted(leaders)}; terms seen: {sorted(terms)}")
EOF
