# shellcheck shell=bash
# Step runner shared by the shell sessions (awscli.sh, s3cmd.sh, rclone.sh).
# Sourced, not executed. run.sh exports:
#   SB_CLIENT     client name used in the report
#   SB_ENDPOINTS  space-separated S3 endpoints, one per node
#   SB_RESULTS    file that collects one "STATUS<TAB>client<TAB>step<TAB>tag" line per step
#   SB_WORK       scratch directory for this client
#   SB_DEBUG      1: clients run with their wire-level debug output
#
# A step is a shell function run by `step "name" fn`. It runs in a subshell
# with `set -e -o pipefail`, so the first failing command fails the step.
# Client commands go through `traced`, which logs them; the step's log is
# printed only on failure. Steps are independent: a failed step never stops
# the session.

read -r -a EP <<<"$SB_ENDPOINTS"
NODES=${#EP[@]}
mkdir -p "$SB_WORK/logs"
STEP_NO=0

# host N: host:port of node N (N taken modulo the node count).
host() { local u=${EP[$(($1 % NODES))]}; printf '%s\n' "${u#*://}"; }
# url N: the endpoint URL of node N.
url() { printf '%s\n' "${EP[$(($1 % NODES))]}"; }

step() {
  local name=$1 fn=$2 log rc tag="" t0 dt
  STEP_NO=$((STEP_NO + 1))
  t0=$(date +%s%N)
  log=$SB_WORK/logs/$(printf '%02d' "$STEP_NO")-$fn.log
  (
    set -e -o pipefail
    cd "$SB_WORK"
    "$fn"
  ) >"$log" 2>&1 </dev/null
  rc=$?
  dt=$(( ($(date +%s%N) - t0) / 100000000 ))
  dt="$((dt / 10)).$((dt % 10))s"
  if [ "$rc" -eq 0 ]; then
    printf '  ok    %-8s %s (%s)\n' "$SB_CLIENT" "$name" "$dt"
    printf 'PASS\t%s\t%s\t\n' "$SB_CLIENT" "$name" >>"$SB_RESULTS"
    return 0
  fi
  if grep -q 'NotImplemented' "$log"; then tag="NotImplemented"; fi
  [ "$rc" -eq 124 ] && rc="124: a command timed out"
  printf '  FAIL  %-8s %s%s (%s, exit %s; log %s)\n' "$SB_CLIENT" "$name" "${tag:+ [501 $tag]}" "$dt" "$rc" "$log"
  # The tail is where the failing command and its output are (progress
  # meters use carriage returns; give each update its own line).
  tr '\r' '\n' <"$log" | grep -v '^[[:space:]]*$' | tail -n "${SB_LOG_LINES:-60}" | sed 's/^/        | /'
  printf 'FAIL\t%s\t%s\t%s\n' "$SB_CLIENT" "$name" "$tag" >>"$SB_RESULTS"
  return 0
}

# traced cmd...: log the command line, then run it.
traced() {
  printf '+ %s\n' "$*" >&2
  "$@"
}

# --- assertions (used inside steps; a failed one fails the step) -----------

fail() { echo "ASSERTION FAILED: $*" >&2; return 1; }

# expect_eq ACTUAL EXPECTED [what]
expect_eq() {
  if [ "$1" != "$2" ]; then
    fail "${3:-value}: got [$1], want [$2]"
  fi
}

# expect_contains HAYSTACK NEEDLE [what]
expect_contains() {
  case "$1" in
  *"$2"*) return 0 ;;
  esac
  fail "${3:-output} does not contain [$2]: [$1]"
}

# expect_not_contains HAYSTACK NEEDLE [what]
expect_not_contains() {
  case "$1" in
  *"$2"*) fail "${3:-output} contains [$2]: [$1]" ;;
  esac
  return 0
}

# expect_error CODE cmd...: cmd must fail and mention CODE (an S3 error code
# such as NoSuchKey, or a status such as 404) in its output.
expect_error() {
  local code=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out" >&2
  if [ "$rc" -eq 0 ]; then
    fail "expected failure with $code, but the command succeeded: $*"
  fi
  expect_contains "$out" "$code" "error output of: $*"
}

# header FILE NAME: the value of response header NAME in a `curl -D` dump
# (case-insensitive: over HTTPS curl speaks HTTP/2, whose names are lower case).
header() { tr -d '\r' <"$1" | awk -v n="$2" 'BEGIN { n = tolower(n) ":" } tolower($1) == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'; }

# same FILE1 FILE2: byte-for-byte equal.
same() { cmp -- "$1" "$2"; }

# md5_of FILE: hex MD5 (the ETag S3 gives a single-part upload).
md5_of() { md5sum -- "$1" | cut -d' ' -f1; }

# tree_listing DIR: relative paths of all files under DIR, sorted bytewise.
tree_listing() { (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort); }

# make_tree DIR: a small directory tree with nested directories, names that
# need URL and signature escaping, an empty file and a binary file.
make_tree() {
  local d=$1
  mkdir -p "$d/docs/deep/deeper" "$d/img" "$d/with space" "$d/ünïcødé"
  printf 'top level\n' >"$d/top.txt"
  printf 'readme %s\n' "$d" >"$d/docs/readme.md"
  printf 'deep\n' >"$d/docs/deep/a.txt"
  printf 'deeper\n' >"$d/docs/deep/deeper/b.txt"
  head -c 200000 /dev/urandom >"$d/img/random.bin"
  : >"$d/img/empty.dat"
  printf 'spaces\n' >"$d/with space/file name.txt"
  printf 'plus\n' >"$d/with space/a+b=c&d.txt"
  printf 'unicode\n' >"$d/ünïcødé/ßü.txt"
}
