#!/usr/bin/env bash
# Large-object figures (DESIGN.md, "A 1 GiB upload through any node: peak
# RSS under 256 MiB on every node"): starts a fresh 3-node cluster of real
# `strongbox server` processes in a temporary directory, on ports that do
# not clash with `make run`, and runs scripts/bench-large against it
# through a follower:
#   1. a 1 GiB PutObject, streamed from a generator;
#   2. a 1 GiB multipart upload, 8 MiB parts, 4 in parallel;
#      each with the peak RSS (VmHWM) of every node process;
#   3. 64 MiB PUT and GET throughput, next to the disk's write bandwidth
#      measured with dd on the same filesystem in the same run.
# Every node is stopped, and the data removed, on exit (KEEP=1 keeps the
# data directory and the node logs).
#
# Environment: SIZE (bytes, default 1 GiB), PART_SIZE, PARALLEL, OBJ_SIZE,
# ITERATIONS, S3_PORT / RAFT_PORT (first node's; default 9100 / 7100),
# TMPDIR (where the data directory goes: put it on the disk to measure).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${BIN:-bin/strongbox}
TOOL=bin/bench-large
S3_PORT=${S3_PORT:-9100}
RAFT_PORT=${RAFT_PORT:-7100}
NODES=3

$GO build -o "$BIN" ./cmd/strongbox
$GO build -o "$TOOL" ./scripts/bench-large

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for i in $(seq 0 $((NODES - 1))); do
  for p in $((S3_PORT + i)) $((RAFT_PORT + i)); do
    port_free "$p" || { echo "bench-large: port $p is in use; set S3_PORT / RAFT_PORT" >&2; exit 1; }
  done
done

work=$(mktemp -d "${TMPDIR:-/tmp}/strongbox-bench-large.XXXXXX")
pids=()
cleanup() {
  status=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP:-0}" = 1 ] || [ "$status" != 0 ]; then
    echo "data and node logs kept in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The largest single PutObject must admit the 1 GiB object (5 GiB, S3's).
export STRONGBOX_MAX_OBJECT_SIZE=${STRONGBOX_MAX_OBJECT_SIZE:-5368709120}

endpoints=()
for i in $(seq 1 $NODES); do
  id=node$i
  s3=127.0.0.1:$((S3_PORT + i - 1))
  raft=127.0.0.1:$((RAFT_PORT + i - 1))
  args=(server --quiet --id "$id" --data-dir "$work/$id" --s3-addr "$s3" --raft-addr "$raft")
  if [ "$i" -gt 1 ]; then args+=(--join "127.0.0.1:$RAFT_PORT"); fi
  "$BIN" "${args[@]}" >"$work/$id.log" 2>&1 &
  pids+=($!)
  endpoints+=("http://$s3")
  # Grow the cluster one node at a time, as `strongbox dev` does.
  if ! "$TOOL" --wait-healthy "http://$s3"; then
    echo "bench-large: $id did not become healthy; its log:" >&2
    cat "$work/$id.log" >&2
    exit 1
  fi
done

echo "3-node cluster in $work (pids ${pids[*]})"
"$TOOL" --endpoints "$(IFS=,; echo "${endpoints[*]}")" --pids "$(IFS=,; echo "${pids[*]}")" --data-dir "$work" \
  ${SIZE:+--size "$SIZE"} ${PART_SIZE:+--part-size "$PART_SIZE"} ${PARALLEL:+--parallel "$PARALLEL"} \
  ${OBJ_SIZE:+--obj-size "$OBJ_SIZE"} ${ITERATIONS:+--iterations "$ITERATIONS"}
