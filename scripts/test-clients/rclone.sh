#!/usr/bin/env bash
# rclone session: mkdir, copy a tree, ls/lsf/lsd, check, cat, server-side
# copy and move, delete, sync, purge; one remote per node configured
# through RCLONE_CONFIG_* environment variables (provider Other).
# Run by run.sh.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

RCLONE_BIN=${SB_RCLONE_BIN:-/usr/bin/rclone}
# rclone 1.60's AWS SDK refuses to start when AWS_CA_BUNDLE is set ("unable
# to load custom CA bundle, HTTPClient's transport unsupported type"). Over
# HTTPS rclone trusts the cluster's certificate through RCLONE_CA_CERT
# (set by run.sh) instead.
unset AWS_CA_BUNDLE
export RCLONE_CONFIG=$SB_WORK/rclone.conf
: >"$RCLONE_CONFIG"
for i in $(seq 0 $((NODES - 1))); do
  export "RCLONE_CONFIG_SB${i}_TYPE=s3" \
    "RCLONE_CONFIG_SB${i}_PROVIDER=Other" \
    "RCLONE_CONFIG_SB${i}_ACCESS_KEY_ID=strongbox" \
    "RCLONE_CONFIG_SB${i}_SECRET_ACCESS_KEY=strongbox-secret" \
    "RCLONE_CONFIG_SB${i}_REGION=us-east-1" \
    "RCLONE_CONFIG_SB${i}_ENDPOINT=$(url "$i")"
done
DEBUG_FLAGS=()
[ "${SB_DEBUG:-0}" = 1 ] && DEBUG_FLAGS=(-vv --dump headers)

# rc N args...: rclone with remote "sbN:" meaning node N. The remote is
# named in the arguments, so N only picks which node this command prefers
# in its log line.
rc() {
  traced timeout 60 "$RCLONE_BIN" "${DEBUG_FLAGS[@]}" --retries 1 --low-level-retries 1 "$@"
}
# r N: the remote for node N.
r() { printf 'sb%s:' "$(($1 % NODES))"; }

B=${SB_CLIENT//[^a-z0-9-]/-}-bucket
cd "$SB_WORK"
printf 'hello from %s\n' "$SB_CLIENT" >small.txt
head -c 900000 /dev/urandom >blob.bin
make_tree tree

s_mkdir_lsd() {
  rc mkdir "$(r 0)$B"
  out=$(rc lsd "$(r 1)")
  expect_contains "$out" " $B"
}

s_copy_tree() {
  rc copy tree "$(r 1)$B/tree"
  files=$(rc lsf -R --files-only "$(r 2)$B/tree" | LC_ALL=C sort)
  expect_eq "$files" "$(tree_listing tree)" "lsf -R"
  dirs=$(rc lsf --dirs-only "$(r 0)$B/tree" | LC_ALL=C sort | tr '\n' ' ')
  expect_eq "$dirs" "docs/ img/ with space/ ünïcødé/ " "lsf --dirs-only"
}

s_check() {
  rc check tree "$(r 2)$B/tree"
  rc check --download tree "$(r 0)$B/tree"
}

s_copy_again() {
  out=$(rc copy -v tree "$(r 0)$B/tree" 2>&1)
  expect_not_contains "$out" "Copied" "second copy output (must copy nothing)"
}

s_copyto_cat() {
  rc copyto blob.bin "$(r 1)$B/blob.bin"
  rc copyto "$(r 2)$B/blob.bin" got-blob.bin
  same blob.bin got-blob.bin
  out=$(rc cat "$(r 0)$B/tree/top.txt")
  expect_eq "$out" "$(cat tree/top.txt)" "cat"
  rc cat "$(r 1)$B/tree/ünïcødé/ßü.txt" >got-unicode.txt
  same "tree/ünïcødé/ßü.txt" got-unicode.txt
  want=$(md5_of blob.bin)
  got=$(rc md5sum "$(r 2)$B/blob.bin" | cut -d' ' -f1)
  expect_eq "$got" "$want" "md5sum"
  out=$(rc ls "$(r 0)$B/blob.bin")
  expect_contains "$out" "900000 blob.bin"
}

s_server_side_copy_move() {
  rc copyto "$(r 0)$B/blob.bin" "$(r 0)$B/copies/blob.bin"
  rc copyto "$(r 1)$B/copies/blob.bin" got-copy.bin
  same blob.bin got-copy.bin
  rc moveto "$(r 2)$B/copies/blob.bin" "$(r 2)$B/copies/moved.bin"
  out=$(rc lsf "$(r 0)$B/copies")
  expect_eq "$out" "moved.bin" "after moveto"
}

s_errors() {
  # (A missing key is not an error to rclone: it is an empty directory.)
  expect_error "directory not found" rc lsf "$(r 2)$B-missing"
  expect_error "directory not found" rc ls "$(r 0)$B-missing"
}

s_delete() {
  rc delete "$(r 1)$B/tree" --include '*.txt'
  files=$(rc lsf -R --files-only "$(r 2)$B/tree" | LC_ALL=C sort | tr '\n' ' ')
  expect_eq "$files" "docs/readme.md img/empty.dat img/random.bin " "after delete --include *.txt"
  out=$(rc lsf "$(r 1)$B/blob.bin")
  expect_eq "$out" blob.bin "lsf of the file"
  rc deletefile "$(r 0)$B/blob.bin"
  out=$(rc lsf "$(r 1)$B/blob.bin")
  expect_eq "$out" "" "lsf after deletefile"
}

s_sync() {
  rm tree/docs/readme.md
  printf 'changed\n' >>tree/top.txt
  rc sync tree "$(r 2)$B/tree"
  rc check tree "$(r 0)$B/tree"
  files=$(rc lsf -R --files-only "$(r 1)$B/tree" | LC_ALL=C sort)
  expect_eq "$files" "$(tree_listing tree)" "after sync"
}

s_multipart() {
  head -c 12582912 /dev/urandom >big.bin
  rc copyto --s3-upload-cutoff 5M --s3-chunk-size 5M big.bin "$(r 1)$B/big.bin"
  rc copyto "$(r 2)$B/big.bin" got-big.bin
  same big.bin got-big.bin
  rc deletefile "$(r 0)$B/big.bin"
}

s_purge() {
  rc purge "$(r 0)$B"
  out=$(rc lsd "$(r 1)")
  expect_not_contains "$out" " $B" "lsd after purge"
}

step "mkdir, lsd" s_mkdir_lsd
step "copy a tree, lsf -R, lsf --dirs-only" s_copy_tree
step "check, check --download" s_check
step "copy again (no-op)" s_copy_again
step "copyto up and down, cat, md5sum, ls" s_copyto_cat
step "server-side copyto and moveto" s_server_side_copy_move
step "errors (missing bucket)" s_errors
step "delete --include, deletefile" s_delete
step "sync after changes" s_sync
step "multipart upload (5 MiB chunks), download" s_multipart
step "purge" s_purge
