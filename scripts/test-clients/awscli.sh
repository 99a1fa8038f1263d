#!/usr/bin/env bash
# AWS CLI session: aws s3 (mb/ls/cp/mv/rm/rb/sync/presign) and aws s3api
# (put/get/head/copy-object, delete-objects, list-objects-v2, object
# tagging, bucket CORS), default settings, requests spread over every node.
# Run by run.sh with SB_AWS_BIN naming the CLI (Debian's v2, or a pip v1).
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

AWS_BIN=${SB_AWS_BIN:-/usr/bin/aws}
# Nothing from the user's ~/.aws: default settings, our credentials.
export AWS_CONFIG_FILE=$SB_WORK/aws-config AWS_SHARED_CREDENTIALS_FILE=$SB_WORK/aws-credentials
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
export AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
DEBUG_FLAG=()
[ "${SB_DEBUG:-0}" = 1 ] && DEBUG_FLAG=(--debug)

# awsn N args...: the CLI against node N. Every command here takes a second
# or two; 45 s means a stalled connection (botocore's read timeout is 60 s).
awsn() {
  local n=$1
  shift
  traced timeout 45 "$AWS_BIN" --endpoint-url "$(url "$n")" "${DEBUG_FLAG[@]}" "$@"
}

B=${SB_CLIENT//[^a-z0-9-]/-}-bucket
cd "$SB_WORK"
printf 'hello from %s\n' "$SB_CLIENT" >small.txt
head -c 1048576 /dev/urandom >one.bin
make_tree tree

s_mb() {
  awsn 0 s3 mb "s3://$B"
  out=$(awsn 1 s3 ls)
  expect_contains "$out" " $B"
  awsn 2 s3api head-bucket --bucket "$B"
}

s_bucket_errors() {
  expect_error BucketAlreadyOwnedByYou awsn 1 s3 mb "s3://$B"
  expect_error NoSuchBucket awsn 2 s3 ls "s3://$B-missing"
  expect_error InvalidBucketName awsn 0 s3api create-bucket --bucket Bad_Name
}

s_cp() {
  awsn 0 s3 cp small.txt "s3://$B/small.txt"
  awsn 1 s3 cp one.bin "s3://$B/dir/one.bin"
  awsn 2 s3 cp "s3://$B/small.txt" got-small.txt
  same small.txt got-small.txt
  awsn 0 s3 cp "s3://$B/dir/one.bin" got-one.bin
  same one.bin got-one.bin
}

s_cp_stdin_stdout() {
  printf 'streamed through stdin\n' | awsn 1 s3 cp - "s3://$B/stdin.txt"
  out=$(awsn 2 s3 cp "s3://$B/stdin.txt" -)
  expect_eq "$out" "streamed through stdin"
}

s_put_head_get() {
  etag=$(awsn 1 s3api put-object --bucket "$B" --key api/obj.bin --body one.bin \
    --content-type application/x-test --metadata color=blue,shape=round --query ETag --output text)
  expect_eq "$etag" "\"$(md5_of one.bin)\"" "put-object ETag"
  head=$(awsn 2 s3api head-object --bucket "$B" --key api/obj.bin \
    --query '[ContentLength,ContentType,Metadata.color,Metadata.shape,ETag]' --output text)
  expect_eq "$head" "$(printf '1048576\tapplication/x-test\tblue\tround\t"%s"' "$(md5_of one.bin)")" "head-object"
  awsn 0 s3api get-object --bucket "$B" --key api/obj.bin got-obj.bin >/dev/null
  same one.bin got-obj.bin
}

s_range_get() {
  awsn 1 s3api get-object --bucket "$B" --key api/obj.bin --range bytes=10-19 part.bin >range.json
  dd if=one.bin of=want-part.bin bs=1 skip=10 count=10 status=none
  same want-part.bin part.bin
  expect_contains "$(cat range.json)" '"ContentRange": "bytes 10-19/1048576"'
}

s_object_errors() {
  expect_error NoSuchKey awsn 2 s3api get-object --bucket "$B" --key nope nope.out
  expect_error "(404)" awsn 0 s3api head-object --bucket "$B" --key nope
  expect_error NoSuchBucket awsn 1 s3api get-object --bucket "$B-missing" --key nope nope.out
}

s_ls() {
  out=$(awsn 2 s3 ls "s3://$B/")
  expect_contains "$out" "PRE api/"
  expect_contains "$out" "PRE dir/"
  expect_contains "$out" "small.txt"
  keys=$(awsn 0 s3 ls --recursive "s3://$B" | awk '{print $4}' | LC_ALL=C sort | tr '\n' ' ')
  expect_eq "$keys" "api/obj.bin dir/one.bin small.txt stdin.txt "
}

s_list_objects_v2() {
  # --page-size 1 makes the CLI follow continuation tokens page by page.
  keys=$(awsn 1 s3api list-objects-v2 --bucket "$B" --page-size 1 --query 'Contents[].Key' --output text |
    tr '\t' '\n' | LC_ALL=C sort | tr '\n' ' ')
  expect_eq "$keys" "api/obj.bin dir/one.bin small.txt stdin.txt "
  prefixes=$(awsn 2 s3api list-objects-v2 --bucket "$B" --delimiter / --query 'CommonPrefixes[].Prefix' --output text)
  expect_eq "$prefixes" "$(printf 'api/\tdir/')"
  n=$(awsn 0 s3api list-objects-v2 --bucket "$B" --prefix dir/ --no-paginate --query KeyCount --output text)
  expect_eq "$n" 1 KeyCount
}

s_copy_object() {
  awsn 0 s3api copy-object --copy-source "$B/small.txt" --bucket "$B" --key copies/small-copy.txt
  awsn 1 s3 cp "s3://$B/copies/small-copy.txt" got-copy.txt
  same small.txt got-copy.txt
  awsn 2 s3api copy-object --copy-source "$B/api/obj.bin" --bucket "$B" --key copies/replaced.bin \
    --metadata-directive REPLACE --content-type text/x-replaced --metadata k=v
  # (Metadata key case is checked by the put-object step; here only
  # whether REPLACE replaced.)
  head=$(awsn 0 s3api head-object --bucket "$B" --key copies/replaced.bin --query '[ContentType,Metadata]' --output json | tr -d ' \n' | tr K k)
  expect_eq "$head" '["text/x-replaced",{"k":"v"}]' "head-object after REPLACE"
}

s_cp_s3_to_s3() {
  awsn 2 s3 cp "s3://$B/dir/one.bin" "s3://$B/copies/one.bin"
  awsn 0 s3 cp "s3://$B/copies/one.bin" got-copied-one.bin
  same one.bin got-copied-one.bin
}

s_mv_local_to_s3() {
  cp small.txt mv-src.txt
  awsn 0 s3 mv mv-src.txt "s3://$B/moved/a.txt"
  [ ! -e mv-src.txt ] || fail "local file still there after mv"
  awsn 1 s3 cp "s3://$B/moved/a.txt" got-moved-a.txt
  same small.txt got-moved-a.txt
}

s_mv_s3_to_s3() {
  awsn 1 s3 cp small.txt "s3://$B/moved/b.txt"
  awsn 2 s3 mv "s3://$B/moved/b.txt" "s3://$B/moved/c.txt"
  expect_error "(404)" awsn 0 s3api head-object --bucket "$B" --key moved/b.txt
  awsn 1 s3 cp "s3://$B/moved/c.txt" got-moved-c.txt
  same small.txt got-moved-c.txt
}

s_delete_objects() {
  for i in 1 2 3; do printf 'del %s\n' "$i" | awsn "$i" s3 cp - "s3://$B/del/$i"; done
  deleted=$(awsn 1 s3api delete-objects --bucket "$B" \
    --delete '{"Objects":[{"Key":"del/1"},{"Key":"del/2"},{"Key":"del/never-existed"}]}' \
    --query 'Deleted[].Key' --output text | tr '\t' '\n' | LC_ALL=C sort | tr '\n' ' ')
  expect_eq "$deleted" "del/1 del/2 del/never-existed " "Deleted keys"
  left=$(awsn 2 s3api list-objects-v2 --bucket "$B" --prefix del/ --query 'Contents[].Key' --output text)
  expect_eq "$left" "del/3" "keys left"
  quiet=$(awsn 0 s3api delete-objects --bucket "$B" --delete '{"Objects":[{"Key":"del/3"}],"Quiet":true}')
  expect_eq "$quiet" "" "quiet delete-objects output"
  left=$(awsn 1 s3api list-objects-v2 --bucket "$B" --prefix del/ --no-paginate --query KeyCount --output text)
  expect_eq "$left" 0 "keys left after quiet delete"
}

s_sync() {
  awsn 0 s3 sync tree "s3://$B/tree"
  keys=$(awsn 1 s3api list-objects-v2 --bucket "$B" --prefix tree/ --query 'Contents[].Key' --output text |
    tr '\t' '\n' | LC_ALL=C sort)
  expect_eq "$keys" "$(tree_listing tree | sed 's|^|tree/|')" "synced keys"
  again=$(awsn 2 s3 sync --no-progress tree "s3://$B/tree")
  expect_eq "$again" "" "second sync output (must upload nothing)"
  awsn 1 s3 sync "s3://$B/tree" tree-down
  diff -r tree tree-down
}

s_sync_changes() {
  printf 'changed\n' >>tree/top.txt
  rm tree/docs/readme.md
  out=$(awsn 0 s3 sync --no-progress --delete tree "s3://$B/tree")
  expect_eq "$(printf '%s\n' "$out" | grep -c '^upload:')" 1 "uploads"
  expect_eq "$(printf '%s\n' "$out" | grep -c '^delete:')" 1 "deletes"
  expect_contains "$out" "delete: s3://$B/tree/docs/readme.md"
  awsn 2 s3 sync --delete "s3://$B/tree" tree-down
  diff -r tree tree-down
}

s_presign() {
  # Default settings: AWS CLI v2 presigns with SigV4, v1 with SigV2 query
  # parameters (AWSAccessKeyId, Signature, Expires).
  u=$(awsn 2 s3 presign "s3://$B/small.txt" --expires-in 300)
  echo "URL: $u"
  code=$(curl -sS -o presigned.txt -w '%{http_code}' "$u")
  [ "$code" = 200 ] || fail "presigned GET -> $code: $(cat presigned.txt)"
  same small.txt presigned.txt
}

# awsn_v4 N args...: like awsn, with S3 signature_version = s3v4 configured
# (what AWS CLI v2 does anyway; v1 needs it for SigV4 presigned URLs).
awsn_v4() {
  AWS_CONFIG_FILE=$SB_WORK/aws-config-v4 awsn "$@"
}
printf '[default]\ns3 =\n    signature_version = s3v4\n' >"$SB_WORK/aws-config-v4"

s_presign_v4() {
  # Keys that need escaping in the canonical request.
  u=$(awsn_v4 0 s3 presign "s3://$B/tree/with space/a+b=c&d.txt")
  curl -sS -f -o presigned2.txt "$u"
  same "tree/with space/a+b=c&d.txt" presigned2.txt
  u=$(awsn_v4 1 s3 presign "s3://$B/tree/ünïcødé/ßü.txt")
  curl -sS -f -o presigned3.txt "$u"
  same "tree/ünïcødé/ßü.txt" presigned3.txt
  # Tampered signature: 403 SignatureDoesNotMatch.
  bad=$(printf '%s' "$u" | sed -E 's/(X-Amz-Signature=)[0-9a-f]/\1x/')
  code=$(curl -sS -o tampered.xml -w '%{http_code}' "$bad")
  expect_eq "$code" 403 "tampered presigned URL status"
  expect_contains "$(cat tampered.xml)" SignatureDoesNotMatch
  # Expired: X-Amz-Expires is enforced.
  u=$(awsn_v4 2 s3 presign "s3://$B/small.txt" --expires-in 1)
  deadline=$((SECONDS + 10))
  while code=$(curl -sS -o expired.xml -w '%{http_code}' "$u") && [ "$code" = 200 ] && [ $SECONDS -lt $deadline ]; do
    sleep 0.5
  done
  expect_eq "$code" 403 "expired presigned URL status"
  expect_contains "$(cat expired.xml)" "Request has expired"
}

s_tagging() {
  awsn 0 s3api put-object --bucket "$B" --key tags/t.txt --body small.txt --tagging 'env=dev&team=core' >/dev/null
  tags=$(awsn 1 s3api get-object-tagging --bucket "$B" --key tags/t.txt --query 'TagSet[].[Key,Value]' --output text | LC_ALL=C sort)
  expect_eq "$tags" "$(printf 'env\tdev\nteam\tcore')" "tags from x-amz-tagging"
  awsn 2 s3api put-object-tagging --bucket "$B" --key tags/t.txt --tagging 'TagSet=[{Key=k,Value=v w}]'
  tags=$(awsn 0 s3api get-object-tagging --bucket "$B" --key tags/t.txt --query 'TagSet[].[Key,Value]' --output text)
  expect_eq "$tags" "$(printf 'k\tv w')" "tags after put-object-tagging"
  n=$(awsn 1 s3api get-object --bucket "$B" --key tags/t.txt /dev/null --query TagCount --output text)
  expect_eq "$n" 1 "GetObject TagCount"
  awsn 2 s3api delete-object-tagging --bucket "$B" --key tags/t.txt
  n=$(awsn 0 s3api get-object-tagging --bucket "$B" --key tags/t.txt --query 'length(TagSet)' --output text)
  expect_eq "$n" 0 "tags after delete-object-tagging"
}

s_cors() {
  cat >cors.json <<'JSON'
{"CORSRules": [{"AllowedOrigins": ["http://localhost:3000"], "AllowedMethods": ["GET", "PUT"],
  "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]}
JSON
  awsn 0 s3api put-bucket-cors --bucket "$B" --cors-configuration file://cors.json
  got=$(awsn 1 s3api get-bucket-cors --bucket "$B" --query 'CORSRules[0].[AllowedOrigins[0],MaxAgeSeconds]' --output text)
  expect_eq "$got" "$(printf 'http://localhost:3000\t600')" "get-bucket-cors"
  # Browser preflight, unauthenticated, on another node.
  traced curl -sS -o /dev/null -D preflight.txt -X OPTIONS -H 'Origin: http://localhost:3000' \
    -H 'Access-Control-Request-Method: PUT' -H 'Access-Control-Request-Headers: content-type, x-amz-date' \
    "$(url 2)/$B/uploads/new.txt"
  cat preflight.txt
  expect_contains "$(head -1 preflight.txt)" " 200"
  expect_eq "$(header preflight.txt Access-Control-Allow-Origin)" "http://localhost:3000" "preflight Access-Control-Allow-Origin"
  expect_contains "$(header preflight.txt Access-Control-Allow-Methods)" "PUT" "preflight Access-Control-Allow-Methods"
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X OPTIONS -H 'Origin: http://evil.example' \
    -H 'Access-Control-Request-Method: GET' "$(url 0)/$B/small.txt")
  expect_eq "$code" 403 "preflight from a disallowed origin"
  # An actual (presigned) GET from the allowed origin carries the CORS headers.
  u=$(awsn_v4 1 s3 presign "s3://$B/small.txt")
  traced curl -sS -f -o /dev/null -D actual.txt -H 'Origin: http://localhost:3000' "$u"
  expect_eq "$(header actual.txt Access-Control-Allow-Origin)" "http://localhost:3000" "GET Access-Control-Allow-Origin"
  expect_contains "$(header actual.txt Access-Control-Expose-Headers)" "ETag" "GET Access-Control-Expose-Headers"
  awsn 2 s3api delete-bucket-cors --bucket "$B"
  expect_error NoSuchCORSConfiguration awsn 0 s3api get-bucket-cors --bucket "$B"
}

s_multipart() {
  head -c 20971520 /dev/urandom >big.bin
  # 20 MiB: the CLI uploads it in 8 MiB parts, and copies it with
  # UploadPartCopy.
  awsn 1 s3 cp big.bin "s3://$B/big/big.bin"
  etag=$(awsn 2 s3api head-object --bucket "$B" --key big/big.bin --query ETag --output text)
  expect_contains "$etag" '-3"'
  awsn 0 s3 cp "s3://$B/big/big.bin" got-big.bin
  same big.bin got-big.bin
  awsn 2 s3 cp "s3://$B/big/big.bin" "s3://$B/big/copy.bin"
  awsn 1 s3 cp "s3://$B/big/copy.bin" got-copy.bin
  same big.bin got-copy.bin
  n=$(awsn 0 s3api list-multipart-uploads --bucket "$B" --query 'length(Uploads || `[]`)' --output text)
  expect_eq "$n" 0 "open multipart uploads"
  awsn 1 s3 rm --recursive "s3://$B/big/"
}

s_rm() {
  awsn 0 s3 rm "s3://$B/small.txt"
  expect_error "(404)" awsn 1 s3api head-object --bucket "$B" --key small.txt
  awsn 2 s3 rm --recursive "s3://$B/tree/"
  n=$(awsn 0 s3api list-objects-v2 --bucket "$B" --prefix tree/ --no-paginate --query KeyCount --output text)
  expect_eq "$n" 0 "keys left under tree/"
}

s_rb() {
  expect_error BucketNotEmpty awsn 1 s3 rb "s3://$B"
  awsn 2 s3 rb --force "s3://$B"
  out=$(awsn 0 s3 ls)
  expect_not_contains "$out" " $B" "bucket list after rb"
  awsn 1 s3 mb "s3://$B-2"
  awsn 2 s3 rb "s3://$B-2"
  expect_error "(404)" awsn 0 s3api head-bucket --bucket "$B-2"
}

step "s3 mb, ls, head-bucket" s_mb
step "bucket errors (BucketAlreadyOwnedByYou, NoSuchBucket, InvalidBucketName)" s_bucket_errors
step "s3 cp up and down" s_cp
step "s3 cp from stdin, to stdout" s_cp_stdin_stdout
step "s3api put-object, head-object, get-object" s_put_head_get
step "s3api get-object --range" s_range_get
step "object errors (NoSuchKey, 404, NoSuchBucket)" s_object_errors
step "s3 ls, ls --recursive" s_ls
step "s3api list-objects-v2 (paging, delimiter, prefix)" s_list_objects_v2
step "s3api copy-object (COPY and REPLACE)" s_copy_object
step "s3 cp s3:// to s3://" s_cp_s3_to_s3
step "s3 mv local to s3://" s_mv_local_to_s3
step "s3 mv s3:// to s3://" s_mv_s3_to_s3
step "s3api delete-objects (verbose and quiet)" s_delete_objects
step "s3 sync tree up, again (no-op), down" s_sync
step "s3 sync --delete after changes" s_sync_changes
step "s3 presign (default signature) + curl" s_presign
step "s3 presign with SigV4 + curl (escaped and unicode keys, tampered, expired)" s_presign_v4
step "object tagging (x-amz-tagging, put/get/delete-object-tagging)" s_tagging
step "bucket CORS (put/get/delete-bucket-cors, preflight, actual request)" s_cors
step "multipart: s3 cp of 20 MiB up, down and s3-to-s3 (UploadPartCopy)" s_multipart
step "s3 rm, rm --recursive" s_rm
step "s3 rb (BucketNotEmpty, --force, empty)" s_rb
