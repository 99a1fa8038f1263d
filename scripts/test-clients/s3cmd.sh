#!/usr/bin/env bash
# s3cmd session: mb, ls, put, get, cp, mv, del, sync, signurl, setcors,
# delcors, rb, with a generated config per node (path-style, signature v4,
# plain HTTP, or HTTPS trusting $SB_CA when run.sh sets it).
# Run by run.sh.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

S3CMD_BIN=${SB_S3CMD_BIN:-/usr/bin/s3cmd}
DEBUG_FLAG=()
[ "${SB_DEBUG:-0}" = 1 ] && DEBUG_FLAG=(--debug)

for i in $(seq 0 $((NODES - 1))); do
  cat >"$SB_WORK/s3cfg-$i" <<EOF
[default]
access_key = strongbox
secret_key = strongbox-secret
host_base = $(host "$i")
host_bucket = $(host "$i")
bucket_location = us-east-1
use_https = $([ -n "${SB_CA:-}" ] && echo True || echo False)
ca_certs_file = ${SB_CA:-}
signature_v2 = False
EOF
done

# s3n N args...: s3cmd against node N.
s3n() {
  local n=$1
  shift
  traced timeout 60 "$S3CMD_BIN" -c "$SB_WORK/s3cfg-$((n % NODES))" "${DEBUG_FLAG[@]}" "$@"
}

B=${SB_CLIENT//[^a-z0-9-]/-}-bucket
cd "$SB_WORK"
printf 'hello from %s\n' "$SB_CLIENT" >small.txt
head -c 700000 /dev/urandom >blob.bin
make_tree tree

s_mb_ls() {
  s3n 0 mb "s3://$B"
  out=$(s3n 1 ls)
  expect_contains "$out" "s3://$B"
  expect_error BucketAlreadyOwnedByYou s3n 2 mb "s3://$B"
}

s_put_get() {
  s3n 0 put small.txt "s3://$B/small.txt"
  s3n 1 put --mime-type=application/x-test blob.bin "s3://$B/dir/blob.bin"
  s3n 2 get "s3://$B/small.txt" got-small.txt
  same small.txt got-small.txt
  s3n 0 get --force "s3://$B/dir/blob.bin" got-blob.bin
  same blob.bin got-blob.bin
  # s3cmd keeps file attributes in x-amz-meta-s3cmd-attrs and checks the
  # MD5 it finds there (or in the ETag) on download.
  out=$(s3n 1 get --force "s3://$B/dir/blob.bin" got-blob2.bin 2>&1)
  expect_not_contains "$out" "WARNING" "get output"
}

s_ls() {
  out=$(s3n 2 ls "s3://$B/")
  expect_contains "$out" "DIR  s3://$B/dir/"
  expect_contains "$out" "s3://$B/small.txt"
  out=$(s3n 0 ls --recursive "s3://$B")
  expect_contains "$out" "s3://$B/dir/blob.bin"
  expect_eq "$(printf '%s\n' "$out" | grep -c "s3://$B/")" 2 "objects listed recursively"
  # Not `la`: it lists every bucket, then each one's objects, and the other
  # clients' sessions create and delete their buckets on the same cluster at
  # the same time, so a bucket it just saw can be gone (NoSuchBucket), as it
  # would be on real S3.
  out=$(s3n 1 ls)
  expect_contains "$out" "s3://$B"
  out=$(s3n 2 du "s3://$B")
  expect_contains "$out" "$((700000 + $(stat -c %s small.txt)))"
}

s_errors() {
  expect_error "does not exist" s3n 0 get "s3://$B/no/such/key" nope.out
  expect_error NoSuchBucket s3n 1 ls "s3://$B-missing"
}

s_cp_mv() {
  s3n 0 cp "s3://$B/small.txt" "s3://$B/copies/small.txt"
  s3n 1 get "s3://$B/copies/small.txt" got-cp.txt
  same small.txt got-cp.txt
  s3n 2 mv "s3://$B/copies/small.txt" "s3://$B/copies/moved.txt"
  s3n 0 get "s3://$B/copies/moved.txt" got-mv.txt
  same small.txt got-mv.txt
  expect_error "does not exist" s3n 1 get "s3://$B/copies/small.txt" got-gone.txt
}

s_del() {
  s3n 1 del "s3://$B/copies/moved.txt"
  expect_error "does not exist" s3n 2 get "s3://$B/copies/moved.txt" got-gone2.txt
}

s_del_recursive() {
  # `del --recursive` deletes in batches with DeleteObjects (POST ?delete).
  for i in 1 2 3; do s3n "$i" put small.txt "s3://$B/batch/$i.txt"; done
  s3n 0 del --recursive --force "s3://$B/batch/"
  out=$(s3n 1 ls --recursive "s3://$B/batch/")
  expect_eq "$out" "" "listing after del --recursive"
}

s_sync() {
  s3n 0 sync tree/ "s3://$B/tree/"
  keys=$(s3n 1 ls --recursive "s3://$B/tree/" | sed "s|.*s3://$B/tree/||" | LC_ALL=C sort)
  expect_eq "$keys" "$(tree_listing tree)" "synced keys"
  again=$(s3n 2 sync tree/ "s3://$B/tree/")
  expect_not_contains "$again" "upload:" "second sync output (must upload nothing)"
  s3n 1 sync "s3://$B/tree/" tree-down/
  diff -r tree tree-down
}

s_sync_delete_removed() {
  printf 'changed\n' >>tree/top.txt
  rm tree/docs/readme.md
  out=$(s3n 0 sync --delete-removed tree/ "s3://$B/tree/")
  expect_contains "$out" "upload: 'tree/top.txt'"
  expect_contains "$out" "delete: 's3://$B/tree/docs/readme.md'"
  s3n 2 sync --delete-removed "s3://$B/tree/" tree-down/
  diff -r tree tree-down
}

s_signurl() {
  u=$(s3n 1 signurl "s3://$B/small.txt" +300)
  # s3cmd 2.3's signurl always writes http://, even with use_https.
  [ -n "${SB_CA:-}" ] && u=${u/#http:/https:}
  code=$(curl -sS ${SB_CA:+--cacert "$SB_CA"} -o signed.txt -w '%{http_code}' "$u")
  [ "$code" = 200 ] || {
    echo "GET $u -> $code: $(cat signed.txt)" >&2
    fail "signurl fetch status $code"
  }
  same small.txt signed.txt
}

s_cors() {
  cat >cors.xml <<'XML'
<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>http://localhost:3000</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <MaxAgeSeconds>600</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>
XML
  s3n 0 setcors cors.xml "s3://$B"
  traced curl -sS -o /dev/null -D preflight.txt -X OPTIONS -H 'Origin: http://localhost:3000' \
    -H 'Access-Control-Request-Method: PUT' "$(url 1)/$B/some/key"
  cat preflight.txt
  expect_contains "$(head -1 preflight.txt)" " 200"
  expect_eq "$(header preflight.txt Access-Control-Allow-Origin)" "http://localhost:3000" "preflight Access-Control-Allow-Origin"
  s3n 2 delcors "s3://$B"
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X OPTIONS -H 'Origin: http://localhost:3000' \
    -H 'Access-Control-Request-Method: PUT' "$(url 0)/$B/some/key")
  expect_eq "$code" 403 "preflight after delcors"
}

s_multipart() {
  head -c 12582912 /dev/urandom >big.bin
  s3n 1 put --multipart-chunk-size-mb=5 big.bin "s3://$B/big.bin"
  out=$(s3n 2 get --force "s3://$B/big.bin" got-big.bin 2>&1)
  same big.bin got-big.bin
  expect_not_contains "$out" "WARNING" "get output"
  s3n 0 del "s3://$B/big.bin"
}

s_rb() {
  expect_error BucketNotEmpty s3n 2 rb "s3://$B"
  s3n 0 del --recursive --force "s3://$B"
  s3n 1 rb "s3://$B"
  out=$(s3n 2 ls)
  expect_not_contains "$out" "s3://$B" "bucket list after rb"
}

step "mb, ls (BucketAlreadyOwnedByYou)" s_mb_ls
step "put, get (MD5 verified)" s_put_get
step "ls, ls --recursive, ls (buckets), du" s_ls
step "errors (missing key, NoSuchBucket)" s_errors
step "cp, mv" s_cp_mv
step "del" s_del
step "del --recursive (multi-object delete)" s_del_recursive
step "sync tree up, again (no-op), down" s_sync
step "sync --delete-removed after changes" s_sync_delete_removed
step "signurl + curl" s_signurl
step "setcors, delcors (checked with a curl preflight)" s_cors
step "multipart put (5 MiB chunks), get (MD5 verified)" s_multipart
step "rb (BucketNotEmpty, then empty)" s_rb
