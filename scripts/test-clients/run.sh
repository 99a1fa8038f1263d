#!/usr/bin/env bash
# make test-clients: real S3 clients against a real 3-node cluster.
#
# Installs the clients (install.sh), starts `strongbox dev --nodes 3` on free
# loopback ports with a fresh data directory, runs one scripted session per
# client with requests spread over the nodes, prints a line per client and
# a final "N passed, N failed" line, and exits non-zero if any step failed.
#
# Environment:
#   TEST_CLIENTS        clients to run (default: awscli boto3 s3cmd rclone js,
#                       plus awscli-pip and boto3-pip when this machine has a
#                       pip-installed AWS CLI / boto3 besides Debian's)
#   TEST_CLIENTS_DEBUG  1: clients log requests and responses (aws --debug,
#                       s3cmd -d, rclone --dump headers, boto3 debug logging)
#   TEST_CLIENTS_KEEP   1: keep the scratch directory (data, logs) afterwards
#   TEST_CLIENTS_PARALLEL  0: run the sessions one after another (default:
#                       all at once, output printed per client at the end)
#   TEST_CLIENTS_TLS    1: the cluster serves HTTPS (`dev --tls`, self-signed;
#                       every client is given the certificate to trust)
#   TEST_CLIENTS_SKIP_INSTALL  1: do not run install.sh
#   BIN                 the strongbox binary (default bin/strongbox)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT" || exit 1

if [ "${TEST_CLIENTS_SKIP_INSTALL:-0}" != 1 ]; then
  "$HERE/install.sh" || {
    echo "test-clients: installing the clients failed" >&2
    exit 1
  }
fi

BIN=${BIN:-bin/strongbox}
if [ ! -x "$BIN" ]; then
  go build -o "$BIN" ./cmd/strongbox || exit 1
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

# Debian's clients, whatever else is first on PATH (pyenv, pip --user...).
PY=/usr/bin/python3
clients=${TEST_CLIENTS:-}
if [ -z "$clients" ]; then
  clients="awscli boto3 s3cmd rclone js"
  # The machine's own pip-installed AWS CLI and boto3, when present, are
  # newer than Debian's and send the 2025+ default checksums: run them too.
  if [ "${TEST_CLIENTS_EXTRA:-1}" = 1 ]; then
    a=$(command -v aws 2>/dev/null || true)
    if [ -n "$a" ] && [ "$(readlink -f "$a")" != /usr/bin/aws ] && "$a" --version >/dev/null 2>&1; then
      clients="$clients awscli-pip"
    fi
    p=$(command -v python3 2>/dev/null || true)
    if [ -n "$p" ] && [ "$(readlink -f "$p")" != "$(readlink -f $PY)" ] && "$p" -c 'import boto3' >/dev/null 2>&1; then
      clients="$clients boto3-pip"
    fi
  fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strongbox-test-clients.XXXXXX")
RESULTS=$WORK/results.tsv
: >"$RESULTS"
DEV_PID=""
FAILED_START=0

print_node_logs() {
  for f in "$WORK"/data/node*.log; do
    [ -f "$f" ] || continue
    echo "---- $f (last ${1:-40} lines)"
    tail -n "${1:-40}" "$f"
  done
}

stop_cluster() {
  [ -n "$DEV_PID" ] || return 0
  local kids deadline
  kids=$(ps -o pid= --ppid "$DEV_PID" 2>/dev/null || true)
  kill -TERM "$DEV_PID" 2>/dev/null || true
  deadline=$((SECONDS + 20))
  while kill -0 "$DEV_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  kill -KILL "$DEV_PID" 2>/dev/null || true
  wait "$DEV_PID" 2>/dev/null || true
  # The nodes run in their own process groups; `dev` stops them on SIGTERM,
  # but never leave one behind if it could not.
  for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
  DEV_PID=""
}

cleanup() {
  local rc=$?
  stop_cluster
  if [ "$FAILED_START" = 1 ]; then
    print_node_logs
    echo "---- $WORK/dev.log"
    cat "$WORK/dev.log"
  fi
  if [ "${TEST_CLIENTS_KEEP:-0}" = 1 ]; then
    echo "test-clients: scratch directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Six free loopback ports: S3 on base..base+2, raft on base+3..base+5
# (`dev` numbers node i's ports first+i). Below the ephemeral range.
ports=$($PY - <<'EOF'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(500):
    b = random.randrange(20000, 32000)
    if all(free(p) for p in range(b, b + 6)):
        print(b, b + 3)
        break
EOF
)
read -r S3_PORT RAFT_PORT <<<"$ports"
if [ -z "${RAFT_PORT:-}" ]; then
  echo "test-clients: no free ports found" >&2
  exit 1
fi

scheme=http
dev_flags=()
if [ "${TEST_CLIENTS_TLS:-0}" = 1 ]; then
  scheme=https
  dev_flags=(--tls)
fi
mkdir -p "$WORK/data"
"$BIN" dev --nodes 3 --data-dir "$WORK/data" --s3-port "$S3_PORT" --raft-port "$RAFT_PORT" "${dev_flags[@]}" >"$WORK/dev.log" 2>&1 &
DEV_PID=$!

ENDPOINTS=""
for i in 0 1 2; do ENDPOINTS="$ENDPOINTS $scheme://127.0.0.1:$((S3_PORT + i))"; done
ENDPOINTS=${ENDPOINTS# }

# Every node must answer health with 200 (a leader is known to it).
deadline=$((SECONDS + 90))
for ep in $ENDPOINTS; do
  until [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$ep/_strongbox/health")" = 200 ]; do
    if ! kill -0 "$DEV_PID" 2>/dev/null; then
      echo "test-clients: the cluster exited during startup" >&2
      FAILED_START=1
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "test-clients: $ep not healthy after 90s" >&2
      FAILED_START=1
      exit 1
    fi
    sleep 0.1
  done
done
echo "test-clients: 3-node cluster up: $ENDPOINTS"

export SB_ENDPOINTS=$ENDPOINTS SB_RESULTS=$RESULTS SB_DEBUG=${TEST_CLIENTS_DEBUG:-0}
export AWS_ACCESS_KEY_ID=strongbox AWS_SECRET_ACCESS_KEY=strongbox-secret
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 2>/dev/null || true
if [ "$scheme" = https ]; then
  # Every client trusts the cluster's self-signed certificate: botocore
  # (AWS CLI, boto3), curl, Python's urllib, Node.js, rclone; s3cmd gets it
  # in its config (s3cmd.sh).
  SB_CA=$WORK/data/tls/cert.pem
  [ -f "$SB_CA" ] || {
    echo "test-clients: $SB_CA not found" >&2
    exit 1
  }
  export SB_CA AWS_CA_BUNDLE=$SB_CA CURL_CA_BUNDLE=$SB_CA SSL_CERT_FILE=$SB_CA NODE_EXTRA_CA_CERTS=$SB_CA RCLONE_CA_CERT=$SB_CA
fi
export LC_ALL=C.UTF-8 LANG=C.UTF-8 PYTHONIOENCODING=utf-8 AWS_EC2_METADATA_DISABLED=true

session() {
  local c=$1
  export SB_CLIENT=$c SB_WORK=$WORK/$c
  mkdir -p "$SB_WORK"
  case $c in
  awscli) SB_AWS_BIN=/usr/bin/aws timeout 300 bash "$HERE/awscli.sh" ;;
  awscli-pip) SB_AWS_BIN=$(command -v aws) timeout 300 bash "$HERE/awscli.sh" ;;
  boto3) timeout 300 "$PY" "$HERE/boto3_session.py" ;;
  boto3-pip) timeout 300 "$(command -v python3)" "$HERE/boto3_session.py" ;;
  s3cmd) timeout 300 bash "$HERE/s3cmd.sh" ;;
  rclone) timeout 300 bash "$HERE/rclone.sh" ;;
  # NODE_NO_WARNINGS: the SDK warns on every start that its future releases
  # need Node.js 22; the lockfile pins a release that supports 20.
  js) NODE_NO_WARNINGS=1 timeout 300 node "$HERE/js/session.mjs" ;;
  *)
    echo "test-clients: unknown client $c" >&2
    return 1
    ;;
  esac
}

# run_one CLIENT: one session, its output in $WORK/CLIENT.out, its exit
# status and duration beside it.
run_one() {
  local c=$1 t0=$SECONDS rc
  if [ "$PARALLEL" = 1 ]; then
    session "$c" >"$WORK/$c.out" 2>&1
    rc=$?
  else
    session "$c" 2>&1 | tee "$WORK/$c.out"
    rc=${PIPESTATUS[0]}
  fi
  echo "$rc" >"$WORK/$c.rc"
  echo $((SECONDS - t0)) >"$WORK/$c.secs"
}

# Sessions use separate buckets, so by default they run at the same time
# (the cluster sees concurrent clients on every node, and the run takes as
# long as the slowest session); TEST_CLIENTS_PARALLEL=0 runs them one by
# one with their output streamed.
PARALLEL=${TEST_CLIENTS_PARALLEL:-1}
if [ "$PARALLEL" = 1 ]; then
  echo "test-clients: running $clients in parallel"
  pids=()
  for c in $clients; do
    run_one "$c" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
fi

summary=()
for c in $clients; do
  echo "== $c"
  if [ "$PARALLEL" = 1 ]; then cat "$WORK/$c.out"; else run_one "$c"; fi
  rc=$(cat "$WORK/$c.rc" 2>/dev/null || echo 1)
  p=$(awk -F'\t' -v c="$c" '$1=="PASS" && $2==c' "$RESULTS" | wc -l)
  f=$(awk -F'\t' -v c="$c" '$1=="FAIL" && $2==c' "$RESULTS" | wc -l)
  ni=$(awk -F'\t' -v c="$c" '$1=="FAIL" && $2==c && $4=="NotImplemented"' "$RESULTS" | wc -l)
  if [ "$rc" -ne 0 ] || [ $((p + f)) -eq 0 ]; then
    # The session itself died (timeout, crash): count that as a failure.
    printf 'FAIL\t%s\t%s\t\n' "$c" "session exited with status $rc" >>"$RESULTS"
    f=$((f + 1))
  fi
  line=$(printf '%-11s %3d passed, %3d failed' "$c:" "$p" "$f")
  [ "$ni" -gt 0 ] && line="$line ($ni of them 501 NotImplemented)"
  summary+=("$line  [$(cat "$WORK/$c.secs" 2>/dev/null)s]")
done

if ! kill -0 "$DEV_PID" 2>/dev/null; then
  printf 'FAIL\t%s\t%s\t\n' cluster "a node or the dev process exited during the run" >>"$RESULTS"
fi

if grep -q '^FAIL' "$RESULTS"; then
  echo
  echo "== node logs"
  print_node_logs 25
fi

echo
echo "== summary"
for l in "${summary[@]}"; do echo "$l"; done
for c in $clients cluster; do
  awk -F'\t' -v c="$c" '$1=="FAIL" && $2==c {printf "  FAIL %s: %s%s\n", $2, $3, ($4 != "" ? " [501 " $4 "]" : "")}' "$RESULTS"
done
passed=$(grep -c '^PASS' "$RESULTS")
failed=$(grep -c '^FAIL' "$RESULTS")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
