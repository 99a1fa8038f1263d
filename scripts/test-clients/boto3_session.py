#!/usr/bin/env python3
"""boto3 session against a Strongbox cluster (run by run.sh).

Default client settings (no checksum or addressing overrides), one client
per node, requests spread over the nodes. Each step is independent; on a
failure the step's botocore wire log (request and response headers, error
bodies) is printed, so an incompatibility comes with its evidence.
"""
import hashlib
import io
import logging
import os
import sys
import time
import traceback
import urllib.error
import urllib.request

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

CLIENT = os.environ["SB_CLIENT"]
ENDPOINTS = os.environ["SB_ENDPOINTS"].split()
RESULTS = os.environ["SB_RESULTS"]
WORK = os.environ["SB_WORK"]
LOG_LINES = int(os.environ.get("SB_LOG_LINES", "60"))
DEBUG = os.environ.get("SB_DEBUG") == "1"
BUCKET = CLIENT.replace("_", "-") + "-bucket"

# Wire log of the current step: botocore's request/response debug lines.
wire = io.StringIO()
_h = logging.StreamHandler(wire)
_h.setFormatter(logging.Formatter("%(name)s: %(message)s"))
for name in ("botocore.endpoint", "botocore.parsers", "botocore.awsrequest",
             "botocore.retries", "botocore.retryhandler", "urllib3.connectionpool"):
    lg = logging.getLogger(name)
    lg.setLevel(logging.DEBUG)
    lg.addHandler(_h)
    lg.propagate = False


def client(i, **config):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINTS[i % len(ENDPOINTS)],
        region_name="us-east-1",
        aws_access_key_id="strongbox",
        aws_secret_access_key="strongbox-secret",
        config=Config(**config) if config else None,
    )


S3 = [client(i) for i in range(len(ENDPOINTS))]


def s3(i):
    return S3[i % len(S3)]


class Fail(Exception):
    pass


def eq(got, want, what="value"):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}")


def error_code(code, fn, *args, **kwargs):
    """fn must raise ClientError with this S3 error code; returns it."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        eq(e.response["Error"]["Code"], code, f"error code of {fn.__name__}")
        return e
    raise Fail(f"{fn.__name__} succeeded, expected ClientError {code}")


def lower_keys(d):
    return {k.lower(): v for k, v in d.items()}


def body_of(resp):
    return resp["Body"].read()


def http(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


STEPS = []


def step(name):
    def deco(fn):
        STEPS.append((name, fn))
        return fn
    return deco


PAYLOAD = os.urandom(300_000)
SMALL = b"hello from " + CLIENT.encode() + b"\n"


@step("create_bucket, list_buckets, head_bucket, get_bucket_location")
def _():
    s3(0).create_bucket(Bucket=BUCKET)
    names = [b["Name"] for b in s3(1).list_buckets()["Buckets"]]
    if BUCKET not in names:
        raise Fail(f"{BUCKET} not in list_buckets: {names}")
    s3(2).head_bucket(Bucket=BUCKET)
    eq(s3(0).get_bucket_location(Bucket=BUCKET).get("LocationConstraint"), None, "LocationConstraint for us-east-1")


@step("bucket errors: BucketAlreadyOwnedByYou, NoSuchBucket, InvalidBucketName, BucketNotEmpty")
def _():
    error_code("BucketAlreadyOwnedByYou", s3(1).create_bucket, Bucket=BUCKET)
    error_code("NoSuchBucket", s3(2).list_objects_v2, Bucket=BUCKET + "-missing")
    error_code("NoSuchBucket", s3(0).delete_bucket, Bucket=BUCKET + "-missing")
    error_code("InvalidBucketName", s3(1).create_bucket, Bucket="ab")
    s3(2).put_object(Bucket=BUCKET, Key="keep", Body=b"x")
    error_code("BucketNotEmpty", s3(0).delete_bucket, Bucket=BUCKET)
    s3(1).delete_object(Bucket=BUCKET, Key="keep")


@step("put_object, get_object, head_object (metadata, content type, ETag)")
def _():
    r = s3(0).put_object(Bucket=BUCKET, Key="obj/payload.bin", Body=PAYLOAD,
                         ContentType="application/x-test", Metadata={"color": "blue"},
                         CacheControl="max-age=60", ContentDisposition='attachment; filename="p.bin"')
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    eq(r["ETag"], f'"{md5}"', "put ETag")
    g = s3(1).get_object(Bucket=BUCKET, Key="obj/payload.bin")
    eq(hashlib.sha256(body_of(g)).hexdigest(), hashlib.sha256(PAYLOAD).hexdigest(), "body sha256")
    h = s3(2).head_object(Bucket=BUCKET, Key="obj/payload.bin")
    eq(h["ContentLength"], len(PAYLOAD), "ContentLength")
    eq(h["ContentType"], "application/x-test", "ContentType")
    eq(h["ETag"], f'"{md5}"', "head ETag")
    eq(h.get("CacheControl"), "max-age=60", "CacheControl")
    eq(h.get("ContentDisposition"), 'attachment; filename="p.bin"', "ContentDisposition")
    eq(h["Metadata"], {"color": "blue"}, "Metadata")


@step("get_object Range, IfNoneMatch (304), ResponseContentType")
def _():
    g = s3(2).get_object(Bucket=BUCKET, Key="obj/payload.bin", Range="bytes=100-199")
    eq(body_of(g), PAYLOAD[100:200], "range body")
    eq(g["ContentRange"], f"bytes 100-199/{len(PAYLOAD)}", "ContentRange")
    etag = s3(0).head_object(Bucket=BUCKET, Key="obj/payload.bin")["ETag"]
    e = error_code("304", s3(1).get_object, Bucket=BUCKET, Key="obj/payload.bin", IfNoneMatch=etag)
    eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 304, "status")
    g = s3(2).get_object(Bucket=BUCKET, Key="obj/payload.bin", ResponseContentType="text/x-override")
    eq(g["ContentType"], "text/x-override", "overridden ContentType")
    error_code("InvalidRange", s3(0).get_object, Bucket=BUCKET, Key="obj/payload.bin",
               Range=f"bytes={len(PAYLOAD) + 10}-")


@step("put_object with ChecksumAlgorithm SHA256 and CRC32; get/head with ChecksumMode")
def _():
    for alg in ("SHA256", "CRC32"):
        key = f"obj/checksum-{alg}.bin"
        s3(1).put_object(Bucket=BUCKET, Key=key, Body=PAYLOAD, ChecksumAlgorithm=alg)
        g = s3(2).get_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        eq(body_of(g), PAYLOAD, f"{alg} body")  # botocore validates the checksum while reading
        if not g.get("Checksum" + alg):
            raise Fail(f"GET with ChecksumMode returned no Checksum{alg}: {sorted(g)}")
        h = s3(0).head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        eq(h.get("Checksum" + alg), g.get("Checksum" + alg), f"HEAD Checksum{alg}")


@step("upload_fileobj / download_fileobj (s3transfer)")
def _():
    s3(0).upload_fileobj(io.BytesIO(PAYLOAD), BUCKET, "transfer/up.bin")
    out = io.BytesIO()
    s3(1).download_fileobj(BUCKET, "transfer/up.bin", out)
    eq(out.getvalue(), PAYLOAD, "downloaded bytes")
    path = os.path.join(WORK, "up-file.bin")
    with open(path, "wb") as f:
        f.write(SMALL)
    s3(2).upload_file(path, BUCKET, "transfer/file.txt")
    s3(0).download_file(BUCKET, "transfer/file.txt", path + ".down")
    with open(path + ".down", "rb") as f:
        eq(f.read(), SMALL, "download_file content")


@step("zero-byte put_object, then put_object on the same connection (Expect: 100-continue)")
def _():
    # botocore reuses a pooled connection; if the server answers the empty
    # PUT's Expect: 100-continue with a final status and no 100 Continue,
    # botocore parses the next response on that connection with a stale
    # status line and stalls until its read timeout (60 s by default), then
    # retries. A short read timeout and no retries make that visible.
    c = client(1, read_timeout=5, retries={"total_max_attempts": 1})
    c.put_object(Bucket=BUCKET, Key="empty/zero", Body=b"")
    c.put_object(Bucket=BUCKET, Key="empty/after", Body=SMALL)
    c.put_object(Bucket=BUCKET, Key="empty/after2", Body=SMALL)
    eq(body_of(s3(2).get_object(Bucket=BUCKET, Key="empty/zero")), b"", "zero-byte body")
    eq(s3(0).head_object(Bucket=BUCKET, Key="empty/zero")["ContentLength"], 0, "zero-byte length")
    eq(body_of(s3(1).get_object(Bucket=BUCKET, Key="empty/after")), SMALL, "body after the empty PUT")


@step("multipart: upload_fileobj of 20 MiB (s3transfer, 8 MiB parts), managed copy, list/abort uploads")
def _():
    big = os.urandom(20 << 20)
    s3(1).upload_fileobj(io.BytesIO(big), BUCKET, "mp/big.bin")
    head = s3(2).head_object(Bucket=BUCKET, Key="mp/big.bin")
    if not head["ETag"].endswith('-3"'):
        raise Fail(f"multipart ETag {head['ETag']}")
    out = io.BytesIO()
    s3(0).download_fileobj(BUCKET, "mp/big.bin", out)
    eq(out.getvalue(), big, "downloaded multipart object")
    s3(2).copy({"Bucket": BUCKET, "Key": "mp/big.bin"}, BUCKET, "mp/copy.bin")
    got = s3(1).get_object(Bucket=BUCKET, Key="mp/copy.bin")["Body"].read()
    eq(got, big, "multipart copy")
    up = s3(0).create_multipart_upload(Bucket=BUCKET, Key="mp/aborted.bin")["UploadId"]
    s3(1).upload_part(Bucket=BUCKET, Key="mp/aborted.bin", UploadId=up, PartNumber=1, Body=b"x" * 1024)
    ids = [u["UploadId"] for u in s3(2).list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]
    eq(ids, [up], "open uploads")
    s3(0).abort_multipart_upload(Bucket=BUCKET, Key="mp/aborted.bin", UploadId=up)
    error_code("NoSuchUpload", s3(1).list_parts, Bucket=BUCKET, Key="mp/aborted.bin", UploadId=up)
    for k in ("mp/big.bin", "mp/copy.bin"):
        s3(2).delete_object(Bucket=BUCKET, Key=k)


@step("object errors: NoSuchKey, 404 on HEAD, NoSuchBucket")
def _():
    e = error_code("NoSuchKey", s3(0).get_object, Bucket=BUCKET, Key="does/not/exist")
    eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 404, "status")
    if not isinstance(e, s3(0).exceptions.NoSuchKey):
        raise Fail(f"not modeled as S3.Client.exceptions.NoSuchKey: {type(e)}")
    error_code("404", s3(1).head_object, Bucket=BUCKET, Key="does/not/exist")
    e = error_code("NoSuchBucket", s3(2).get_object, Bucket=BUCKET + "-missing", Key="k")
    if not isinstance(e, s3(2).exceptions.NoSuchBucket):
        raise Fail(f"not modeled as S3.Client.exceptions.NoSuchBucket: {type(e)}")
    error_code("NoSuchBucket", s3(0).put_object, Bucket=BUCKET + "-missing", Key="k", Body=b"x")


@step("list_objects_v2 paging with delimiter (paginator, MaxKeys=2)")
def _():
    keys = [f"list/{d}/{i:02d}.txt" for d in ("a", "b") for i in range(3)] + \
           [f"list/top{i}.txt" for i in range(5)] + ["list/c/deep/x.txt"]
    for n, k in enumerate(keys):
        s3(n).put_object(Bucket=BUCKET, Key=k, Body=k.encode())
    pages = list(s3(1).get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix="list/", Delimiter="/", PaginationConfig={"PageSize": 2}))
    got_keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    got_prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    eq(got_keys, [f"list/top{i}.txt" for i in range(5)], "keys")
    eq(got_prefixes, ["list/a/", "list/b/", "list/c/"], "common prefixes")
    if len(pages) < 4:
        raise Fail(f"expected at least 4 pages of 2, got {len(pages)}")
    for p in pages:
        if p["KeyCount"] != len(p.get("Contents", [])) + len(p.get("CommonPrefixes", [])):
            raise Fail(f"KeyCount {p['KeyCount']} does not match the page")
    # Flat listing with StartAfter, and v1 with Marker.
    flat = s3(2).list_objects_v2(Bucket=BUCKET, Prefix="list/", StartAfter="list/b/02.txt")
    eq([o["Key"] for o in flat["Contents"]], sorted(k for k in keys if k > "list/b/02.txt"), "StartAfter")
    v1 = list(s3(0).get_paginator("list_objects").paginate(Bucket=BUCKET, Prefix="list/",
                                                           PaginationConfig={"PageSize": 3}))
    eq([o["Key"] for p in v1 for o in p.get("Contents", [])], sorted(keys), "list_objects (v1) keys")


@step("copy_object (COPY, REPLACE, onto itself) and copy (managed)")
def _():
    r = s3(0).copy_object(Bucket=BUCKET, Key="copy/dst.bin",
                          CopySource={"Bucket": BUCKET, "Key": "obj/payload.bin"})
    eq(r["CopyObjectResult"]["ETag"], f'"{hashlib.md5(PAYLOAD).hexdigest()}"', "copy ETag")
    eq(body_of(s3(1).get_object(Bucket=BUCKET, Key="copy/dst.bin")), PAYLOAD, "copied body")
    # Metadata keys compared case-insensitively here: their case is the
    # put/head step's business.
    h = s3(2).head_object(Bucket=BUCKET, Key="copy/dst.bin")
    eq(lower_keys(h["Metadata"]), {"color": "blue"}, "COPY keeps metadata")
    s3(0).copy_object(Bucket=BUCKET, Key="copy/dst.bin", CopySource=f"{BUCKET}/copy/dst.bin",
                      MetadataDirective="REPLACE", Metadata={"shape": "square"}, ContentType="text/x-new")
    h = s3(1).head_object(Bucket=BUCKET, Key="copy/dst.bin")
    eq((lower_keys(h["Metadata"]), h["ContentType"]), ({"shape": "square"}, "text/x-new"), "REPLACE onto itself")
    error_code("NoSuchKey", s3(2).copy_object, Bucket=BUCKET, Key="copy/x",
               CopySource={"Bucket": BUCKET, "Key": "no/such/source"})
    s3(0).copy({"Bucket": BUCKET, "Key": "obj/payload.bin"}, BUCKET, "copy/managed.bin")
    eq(body_of(s3(1).get_object(Bucket=BUCKET, Key="copy/managed.bin")), PAYLOAD, "managed copy")


@step("delete_object, delete_objects (per-key results, Quiet)")
def _():
    for i in range(5):
        s3(i).put_object(Bucket=BUCKET, Key=f"del/{i}", Body=b"d")
    s3(1).delete_object(Bucket=BUCKET, Key="del/0")
    s3(1).delete_object(Bucket=BUCKET, Key="del/never-existed")  # 204 as in S3
    error_code("404", s3(2).head_object, Bucket=BUCKET, Key="del/0")
    r = s3(2).delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "del/1"}, {"Key": "del/2"},
                                                                {"Key": "del/missing"}]})
    eq(sorted(d["Key"] for d in r.get("Deleted", [])), ["del/1", "del/2", "del/missing"], "Deleted")
    eq(r.get("Errors", []), [], "Errors")
    r = s3(0).delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "del/3"}], "Quiet": True})
    eq(r.get("Deleted", []), [], "Quiet mode lists nothing")
    left = s3(1).list_objects_v2(Bucket=BUCKET, Prefix="del/")
    eq([o["Key"] for o in left.get("Contents", [])], ["del/4"], "keys left")


@step("generate_presigned_url with the default config (GET, PUT), fetched with urllib")
def _():
    # boto3's default S3 presigner still signs query strings with SigV2
    # (AWSAccessKeyId, Signature, Expires), which S3 accepts.
    url = s3(1).generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "obj/payload.bin"},
                                       ExpiresIn=300)
    status, body, _ = http("GET", url)
    eq(status, 200, f"presigned GET status of {url} ({body[:300]!r})")
    eq(body, PAYLOAD, "presigned GET body")
    url = s3(2).generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "presigned/default.txt"},
                                       ExpiresIn=300)
    # SigV2 signs Content-Type, and urllib would add a form content type
    # the presigner did not sign (real S3 rejects that too).
    status, body, _ = http("PUT", url, data=SMALL, headers={"Content-Type": ""})
    eq(status, 200, f"presigned PUT status of {url} ({body[:300]!r})")
    eq(body_of(s3(0).get_object(Bucket=BUCKET, Key="presigned/default.txt")), SMALL, "object written by presigned PUT")


@step("generate_presigned_url with signature_version=s3v4 (GET, PUT, escaped key, overrides, tampered)")
def _():
    v4 = [client(i, signature_version="s3v4") for i in range(3)]
    url = v4[1].generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "obj/payload.bin"},
                                       ExpiresIn=300)
    status, body, _ = http("GET", url)
    eq(status, 200, f"presigned GET status ({body[:300]!r})")
    eq(body, PAYLOAD, "presigned GET body")
    url = v4[2].generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "presigned/put.txt"},
                                       ExpiresIn=300)
    status, body, _ = http("PUT", url, data=SMALL)
    eq(status, 200, f"presigned PUT status ({body[:300]!r})")
    eq(body_of(s3(0).get_object(Bucket=BUCKET, Key="presigned/put.txt")), SMALL, "object written by presigned PUT")
    # response-* overrides in a presigned GET, and a key that needs escaping.
    s3(0).put_object(Bucket=BUCKET, Key="presigned/a b+c&d=é.txt", Body=SMALL)
    url = v4[0].generate_presigned_url("get_object", Params={
        "Bucket": BUCKET, "Key": "presigned/a b+c&d=é.txt",
        "ResponseContentDisposition": "attachment; filename=x.txt"})
    status, body, headers = http("GET", url)
    eq((status, body), (200, SMALL), "presigned GET of an escaped key")
    eq(headers.get("Content-Disposition"), "attachment; filename=x.txt", "response-content-disposition")
    status, body, _ = http("GET", url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    eq(status, 403, "tampered presigned URL status")
    if b"SignatureDoesNotMatch" not in body:
        raise Fail(f"tampered presigned URL body: {body[:300]!r}")


def post_form(url, fields, filename, content):
    """POSTs fields and then the file as multipart/form-data, the way a
    browser submits an upload form."""
    boundary = "----strongbox" + os.urandom(8).hex()
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f'Content-Type: application/octet-stream\r\n\r\n'.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return http("POST", url, data=b"".join(parts),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


@step("generate_presigned_post (default config and s3v4): browser-form upload, ${filename}, content-length-range")
def _():
    for i, cl in enumerate([s3(1), client(2, signature_version="s3v4")]):
        post = cl.generate_presigned_post(
            BUCKET, "form/%d/${filename}" % i,
            Fields={"Content-Type": "text/plain", "success_action_status": "201"},
            Conditions=[["starts-with", "$key", "form/%d/" % i], {"Content-Type": "text/plain"},
                        {"success_action_status": "201"}, ["content-length-range", 1, 1000]],
            ExpiresIn=300)
        status, body, _ = post_form(post["url"], post["fields"], "note.txt", SMALL)
        eq(status, 201, f"POST status ({body[:300]!r})")
        if b"<Key>form/%d/note.txt</Key>" % i not in body:
            raise Fail(f"PostResponse: {body[:300]!r}")
        got = s3(0).get_object(Bucket=BUCKET, Key="form/%d/note.txt" % i)
        eq((body_of(got), got["ContentType"]), (SMALL, "text/plain"), "object written by the form")
        status, body, _ = post_form(post["url"], post["fields"], "big.txt", b"x" * 1001)
        eq(status, 400, f"oversized POST status ({body[:300]!r})")
        if b"EntityTooLarge" not in body:
            raise Fail(f"oversized POST body: {body[:300]!r}")
        error_code("404", s3(1).head_object, Bucket=BUCKET, Key="form/%d/big.txt" % i)


@step("object tagging: Tagging on put_object, put/get/delete_object_tagging, TagCount")
def _():
    s3(0).put_object(Bucket=BUCKET, Key="tags/t.txt", Body=SMALL, Tagging="env=dev&team=core")
    tags = s3(1).get_object_tagging(Bucket=BUCKET, Key="tags/t.txt")["TagSet"]
    eq(sorted((t["Key"], t["Value"]) for t in tags), [("env", "dev"), ("team", "core")], "tags from Tagging")
    s3(2).put_object_tagging(Bucket=BUCKET, Key="tags/t.txt",
                             Tagging={"TagSet": [{"Key": "k", "Value": "v w"}]})
    eq(s3(0).get_object_tagging(Bucket=BUCKET, Key="tags/t.txt")["TagSet"], [{"Key": "k", "Value": "v w"}],
       "tags after put_object_tagging")
    g = s3(1).get_object(Bucket=BUCKET, Key="tags/t.txt")
    body_of(g)
    eq(g.get("TagCount"), 1, "GetObject TagCount")
    s3(2).delete_object_tagging(Bucket=BUCKET, Key="tags/t.txt")
    eq(s3(0).get_object_tagging(Bucket=BUCKET, Key="tags/t.txt")["TagSet"], [], "tags after delete")
    error_code("NoSuchKey", s3(1).get_object_tagging, Bucket=BUCKET, Key="tags/missing")


@step("bucket CORS: put/get/delete_bucket_cors, preflight and actual request with urllib")
def _():
    rules = [{"AllowedOrigins": ["http://localhost:3000"], "AllowedMethods": ["GET", "PUT"],
              "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]
    s3(0).put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": rules})
    got = s3(1).get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    eq([{k: r[k] for k in rules[0]} for r in got], rules, "get_bucket_cors")
    status, body, headers = http("OPTIONS", f"{ENDPOINTS[2 % len(ENDPOINTS)]}/{BUCKET}/uploads/new.txt", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type,x-amz-date"})
    eq(status, 200, f"preflight status ({body[:200]!r})")
    eq(headers.get("Access-Control-Allow-Origin"), "http://localhost:3000", "Access-Control-Allow-Origin")
    if "PUT" not in headers.get("Access-Control-Allow-Methods", ""):
        raise Fail(f"Access-Control-Allow-Methods: {headers.get('Access-Control-Allow-Methods')!r}")
    status, _, _ = http("OPTIONS", f"{ENDPOINTS[0]}/{BUCKET}/x", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
    eq(status, 403, "preflight from a disallowed origin")
    s3(0).put_object(Bucket=BUCKET, Key="cors/x.txt", Body=SMALL)
    url = client(1, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "cors/x.txt"})
    status, _, headers = http("GET", url, headers={"Origin": "http://localhost:3000"})
    eq(status, 200, "actual GET status")
    eq(headers.get("Access-Control-Allow-Origin"), "http://localhost:3000", "actual GET Access-Control-Allow-Origin")
    s3(2).delete_bucket_cors(Bucket=BUCKET)
    error_code("NoSuchCORSConfiguration", s3(0).get_bucket_cors, Bucket=BUCKET)


@step("get_object_attributes (ETag, ObjectSize, Checksum)")
def _():
    s3(0).put_object(Bucket=BUCKET, Key="attrs/a.bin", Body=PAYLOAD, ChecksumAlgorithm="SHA256")
    a = s3(1).get_object_attributes(Bucket=BUCKET, Key="attrs/a.bin",
                                    ObjectAttributes=["ETag", "ObjectSize", "Checksum"])
    eq(a.get("ObjectSize"), len(PAYLOAD), "ObjectSize")
    eq(a.get("ETag"), hashlib.md5(PAYLOAD).hexdigest(), "ETag (unquoted in GetObjectAttributes)")
    want = __import__("base64").b64encode(hashlib.sha256(PAYLOAD).digest()).decode()
    eq(a.get("Checksum", {}).get("ChecksumSHA256"), want, "ChecksumSHA256")


@step("delete everything, delete_bucket, bucket gone")
def _():
    keys = []
    for page in s3(0).get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys += [o["Key"] for o in page.get("Contents", [])]
    for n, k in enumerate(keys):
        s3(n).delete_object(Bucket=BUCKET, Key=k)
    eq(s3(1).list_objects_v2(Bucket=BUCKET)["KeyCount"], 0, "KeyCount after deletes")
    s3(2).delete_bucket(Bucket=BUCKET)
    error_code("404", s3(0).head_bucket, Bucket=BUCKET)
    names = [b["Name"] for b in s3(1).list_buckets()["Buckets"]]
    if BUCKET in names:
        raise Fail(f"{BUCKET} still listed")


def main():
    print(f"  ({CLIENT}: boto3 {boto3.__version__}, botocore {botocore.__version__}, "
          f"python {sys.version.split()[0]})")
    with open(RESULTS, "a") as results:
        for name, fn in STEPS:
            wire.seek(0)
            wire.truncate()
            t0 = time.monotonic()
            try:
                fn()
                status, tag = "PASS", ""
            except Exception as e:  # noqa: BLE001 - every failure is reported
                status = "FAIL"
                code = e.response.get("Error", {}).get("Code", "") if isinstance(e, ClientError) else ""
                tag = "NotImplemented" if code == "NotImplemented" else ""
                err = "".join(traceback.format_exception_only(type(e), e)).strip()
                where = traceback.extract_tb(e.__traceback__)[-1]
                detail = f"{err}\n  at line {where.lineno}: {where.line}"
            dt = f"{time.monotonic() - t0:.1f}s"
            if status == "PASS":
                print(f"  ok    {CLIENT:<8} {name} ({dt})")
                if DEBUG:
                    for ln in wire.getvalue().splitlines():
                        print("        | " + ln[:3000])
            else:
                print(f"  FAIL  {CLIENT:<8} {name}{' [501 NotImplemented]' if tag else ''} ({dt})")
                lines = detail.splitlines()
                if not tag:
                    lines += ["wire log (last lines):"] + [
                        ln[:1500] for ln in wire.getvalue().splitlines()[-LOG_LINES:]]
                for ln in lines:
                    print("        | " + ln)
            results.write(f"{status}\t{CLIENT}\t{name}\t{tag}\n")
            results.flush()
            sys.stdout.flush()


if __name__ == "__main__":
    main()
