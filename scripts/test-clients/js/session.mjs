// AWS SDK for JavaScript v3 session against a Strongbox cluster (run by
// ../run.sh with the machine's node). Default settings apart from the
// endpoint and forcePathStyle: the SDK computes CRC32 checksums on uploads
// and sends stream bodies aws-chunked with trailing checksums. One client
// per node; each step is independent. On a failure the step's wire log (the
// signed request's headers and the raw response status and headers) is
// printed as evidence.
import { Readable } from "node:stream";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";
import {
  S3Client,
  CreateBucketCommand,
  ListBucketsCommand,
  HeadBucketCommand,
  DeleteBucketCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectTaggingCommand,
  GetObjectTaggingCommand,
  DeleteObjectTaggingCommand,
  PutBucketCorsCommand,
  GetBucketCorsCommand,
  DeleteBucketCorsCommand,
  GetObjectAttributesCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  ListPartsCommand,
  paginateListObjectsV2,
  NoSuchKey,
  NoSuchBucket,
  NotFound,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";

const CLIENT = process.env.SB_CLIENT ?? "js";
const ENDPOINTS = (process.env.SB_ENDPOINTS ?? "http://127.0.0.1:9000").split(/\s+/).filter(Boolean);
const RESULTS = process.env.SB_RESULTS;
const LOG_LINES = Number(process.env.SB_LOG_LINES ?? 60);
const DEBUG = process.env.SB_DEBUG === "1";
const BUCKET = `${CLIENT.replace(/[^a-z0-9-]/g, "-")}-bucket`;

let wire = [];
const short = (v) => (typeof v === "string" && v.length > 300 ? v.slice(0, 300) + "..." : v);

function makeClient(endpoint, extra = {}) {
  const c = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "strongbox", secretAccessKey: "strongbox-secret" },
    ...extra,
  });
  // Innermost middleware: sees the request exactly as signed and the raw
  // response before the SDK parses it.
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const rq = args.request;
      const q = rq.query && Object.keys(rq.query).length ? "?" + new URLSearchParams(rq.query).toString() : "";
      const body = rq.body == null ? "none" : typeof rq.body === "string" || rq.body instanceof Uint8Array
        ? `${rq.body.length} bytes` : rq.body.constructor?.name ?? typeof rq.body;
      wire.push(`> ${context.commandName} ${rq.method} ${rq.hostname}:${rq.port}${rq.path}${q} body=${body}`);
      for (const [k, v] of Object.entries(rq.headers)) wire.push(`>   ${k}: ${short(v)}`);
      try {
        const out = await next(args);
        const rs = out.response;
        wire.push(`< ${rs.statusCode}`);
        for (const [k, v] of Object.entries(rs.headers ?? {})) wire.push(`<   ${k}: ${short(v)}`);
        return out;
      } catch (e) {
        wire.push(`< error ${e?.name}: ${e?.message}`);
        throw e;
      }
    },
    { step: "deserialize", name: "strongboxWireLog", priority: "low" },
  );
  return c;
}

const S3 = ENDPOINTS.map((e) => makeClient(e));
const s3 = (i) => S3[i % S3.length];

class Fail extends Error {}
function eq(got, want, what = "value") {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Fail(`${what}: got ${g}, want ${w}`);
}
async function expectError(name, promise, what) {
  try {
    await promise;
  } catch (e) {
    if (e?.name !== name) throw new Fail(`${what}: got error ${e?.name} (${e?.message}), want ${name}`);
    return e;
  }
  throw new Fail(`${what}: succeeded, want error ${name}`);
}
const bytes = async (resp) => Buffer.from(await resp.Body.transformToByteArray());
const md5 = (b) => createHash("md5").update(b).digest("hex");

const PAYLOAD = randomBytes(400_000);
const SMALL = Buffer.from(`hello from ${CLIENT}\n`);
const steps = [];
const step = (name, fn) => steps.push([name, fn]);

step("CreateBucket, ListBuckets, HeadBucket (BucketAlreadyOwnedByYou)", async () => {
  await s3(0).send(new CreateBucketCommand({ Bucket: BUCKET }));
  const { Buckets } = await s3(1).send(new ListBucketsCommand({}));
  if (!Buckets.some((b) => b.Name === BUCKET)) throw new Fail(`${BUCKET} not listed`);
  await s3(2).send(new HeadBucketCommand({ Bucket: BUCKET }));
  await expectError("BucketAlreadyOwnedByYou", s3(0).send(new CreateBucketCommand({ Bucket: BUCKET })), "second CreateBucket");
});

step("PutObject (Buffer, default CRC32), GetObject, HeadObject (metadata, ETag)", async () => {
  const put = await s3(0).send(new PutObjectCommand({
    Bucket: BUCKET, Key: "obj/payload.bin", Body: PAYLOAD,
    ContentType: "application/x-test", Metadata: { color: "blue" },
  }));
  eq(put.ETag, `"${md5(PAYLOAD)}"`, "PutObject ETag");
  const got = await s3(1).send(new GetObjectCommand({ Bucket: BUCKET, Key: "obj/payload.bin" }));
  eq(md5(await bytes(got)), md5(PAYLOAD), "GetObject body md5");
  const head = await s3(2).send(new HeadObjectCommand({ Bucket: BUCKET, Key: "obj/payload.bin" }));
  eq([head.ContentLength, head.ContentType, head.ETag], [PAYLOAD.length, "application/x-test", put.ETag], "HeadObject");
  eq(head.Metadata, { color: "blue" }, "HeadObject Metadata");
});

step("PutObject with a stream body (aws-chunked, trailing checksum), ChecksumMode", async () => {
  const put = await s3(1).send(new PutObjectCommand({
    Bucket: BUCKET, Key: "obj/stream.bin", Body: Readable.from([PAYLOAD.subarray(0, 150_000), PAYLOAD.subarray(150_000)]),
    ContentLength: PAYLOAD.length,
  }));
  const got = await s3(2).send(new GetObjectCommand({ Bucket: BUCKET, Key: "obj/stream.bin", ChecksumMode: "ENABLED" }));
  eq(md5(await bytes(got)), md5(PAYLOAD), "body md5");
  if (!put.ChecksumCRC32) throw new Fail(`PutObject response has no ChecksumCRC32: ${JSON.stringify(put)}`);
  eq(got.ChecksumCRC32, put.ChecksumCRC32, "GetObject ChecksumCRC32");
  const head = await s3(0).send(new HeadObjectCommand({ Bucket: BUCKET, Key: "obj/stream.bin", ChecksumMode: "ENABLED" }));
  eq(head.ChecksumCRC32, put.ChecksumCRC32, "HeadObject ChecksumCRC32");
});

step("PutObject with ChecksumAlgorithm CRC32C, SHA1, SHA256, CRC64NVME; GetObject validates", async () => {
  for (const [i, alg] of ["CRC32C", "SHA1", "SHA256", "CRC64NVME"].entries()) {
    const key = `obj/checksum-${alg}.bin`;
    const put = await s3(i).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: PAYLOAD, ChecksumAlgorithm: alg }));
    const field = "Checksum" + alg;
    if (!put[field]) throw new Fail(`${alg}: PutObject response has no ${field}`);
    const got = await s3(i + 1).send(new GetObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: "ENABLED" }));
    eq(md5(await bytes(got)), md5(PAYLOAD), `${alg} body`);
    eq(got[field], put[field], `${alg} GetObject ${field}`);
  }
});

step("GetObject Range, IfNoneMatch (304), ResponseContentType", async () => {
  const r = await s3(2).send(new GetObjectCommand({ Bucket: BUCKET, Key: "obj/payload.bin", Range: "bytes=-100" }));
  eq((await bytes(r)).equals(PAYLOAD.subarray(PAYLOAD.length - 100)), true, "suffix range body");
  eq(r.ContentRange, `bytes ${PAYLOAD.length - 100}-${PAYLOAD.length - 1}/${PAYLOAD.length}`, "ContentRange");
  const etag = `"${md5(PAYLOAD)}"`;
  try {
    await s3(0).send(new GetObjectCommand({ Bucket: BUCKET, Key: "obj/payload.bin", IfNoneMatch: etag }));
    throw new Fail("IfNoneMatch with the current ETag succeeded");
  } catch (e) {
    if (e instanceof Fail) throw e;
    eq(e.$metadata?.httpStatusCode, 304, `IfNoneMatch status (${e.name})`);
  }
  const o = await s3(1).send(new GetObjectCommand({ Bucket: BUCKET, Key: "obj/payload.bin", ResponseContentType: "text/x-override" }));
  await bytes(o);
  eq(o.ContentType, "text/x-override", "ResponseContentType");
});

step("multipart: Create (CRC32), UploadPart x2 through different nodes, ListParts, Complete, GetObject PartNumber; Abort", async () => {
  const Key = "mp/big.bin";
  const big = randomBytes((5 << 20) + 300_000);
  const parts = [big.subarray(0, 5 << 20), big.subarray(5 << 20)];
  const { UploadId } = await s3(0).send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key, ChecksumAlgorithm: "CRC32" }));
  const done = [];
  for (const [i, body] of parts.entries()) {
    const up = await s3(i + 1).send(new UploadPartCommand({ Bucket: BUCKET, Key, UploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: "CRC32" }));
    eq(up.ETag, `"${md5(body)}"`, `part ${i + 1} ETag`);
    done.push({ PartNumber: i + 1, ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32 });
  }
  const listed = await s3(2).send(new ListPartsCommand({ Bucket: BUCKET, Key, UploadId }));
  eq(listed.Parts.map((p) => [p.PartNumber, p.Size]), [[1, 5 << 20], [2, 300_000]], "ListParts");
  const fin = await s3(0).send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key, UploadId, MultipartUpload: { Parts: done } }));
  const want = createHash("md5").update(Buffer.concat(parts.map((p) => createHash("md5").update(p).digest()))).digest("hex") + "-2";
  eq(fin.ETag, `"${want}"`, "multipart ETag");
  const got = await s3(1).send(new GetObjectCommand({ Bucket: BUCKET, Key, ChecksumMode: "ENABLED" }));
  eq(md5(await bytes(got)), md5(big), "GetObject body md5");
  const p2 = await s3(2).send(new GetObjectCommand({ Bucket: BUCKET, Key, PartNumber: 2 }));
  eq([p2.PartsCount, md5(await bytes(p2))], [2, md5(parts[1])], "GetObject PartNumber 2");
  const ab = await s3(1).send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "mp/aborted" }));
  await s3(2).send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: "mp/aborted", UploadId: ab.UploadId }));
  await expectError("NoSuchUpload", s3(0).send(new ListPartsCommand({ Bucket: BUCKET, Key: "mp/aborted", UploadId: ab.UploadId })), "ListParts after abort");
  await s3(0).send(new DeleteObjectCommand({ Bucket: BUCKET, Key }));
});

step("errors: NoSuchKey, NotFound (HEAD), NoSuchBucket, BucketNotEmpty", async () => {
  const e = await expectError("NoSuchKey", s3(0).send(new GetObjectCommand({ Bucket: BUCKET, Key: "no/such/key" })), "GetObject");
  if (!(e instanceof NoSuchKey)) throw new Fail("GetObject error is not an instance of NoSuchKey");
  const h = await expectError("NotFound", s3(1).send(new HeadObjectCommand({ Bucket: BUCKET, Key: "no/such/key" })), "HeadObject");
  if (!(h instanceof NotFound)) throw new Fail("HeadObject error is not an instance of NotFound");
  const b = await expectError("NoSuchBucket", s3(2).send(new ListObjectsV2Command({ Bucket: BUCKET + "-missing" })), "ListObjectsV2");
  if (!(b instanceof NoSuchBucket)) throw new Fail("ListObjectsV2 error is not an instance of NoSuchBucket");
  await expectError("NoSuchBucket", s3(0).send(new PutObjectCommand({ Bucket: BUCKET + "-missing", Key: "k", Body: "x" })), "PutObject");
  await expectError("BucketNotEmpty", s3(1).send(new DeleteBucketCommand({ Bucket: BUCKET })), "DeleteBucket");
});

step("ListObjectsV2 paging with Delimiter (paginator, MaxKeys 2), StartAfter", async () => {
  const keys = [];
  for (const d of ["a", "b"]) for (let i = 0; i < 3; i++) keys.push(`list/${d}/${i}.txt`);
  for (let i = 0; i < 5; i++) keys.push(`list/top${i}.txt`);
  await Promise.all(keys.map((k, n) => s3(n).send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: k }))));
  const got = [], prefixes = [];
  let pages = 0;
  for await (const p of paginateListObjectsV2({ client: s3(1), pageSize: 2 }, { Bucket: BUCKET, Prefix: "list/", Delimiter: "/" })) {
    pages++;
    got.push(...(p.Contents ?? []).map((o) => o.Key));
    prefixes.push(...(p.CommonPrefixes ?? []).map((c) => c.Prefix));
    eq(p.KeyCount, (p.Contents ?? []).length + (p.CommonPrefixes ?? []).length, "KeyCount");
  }
  eq(got, keys.filter((k) => k.startsWith("list/top")), "keys");
  eq(prefixes, ["list/a/", "list/b/"], "CommonPrefixes");
  if (pages < 4) throw new Fail(`expected at least 4 pages, got ${pages}`);
  const sa = await s3(2).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "list/", StartAfter: "list/b/1.txt" }));
  eq(sa.Contents.map((o) => o.Key), [...keys].sort().filter((k) => k > "list/b/1.txt"), "StartAfter");
});

step("CopyObject (COPY and REPLACE)", async () => {
  const c = await s3(0).send(new CopyObjectCommand({ Bucket: BUCKET, Key: "copy/dst.bin", CopySource: `${BUCKET}/obj/payload.bin` }));
  eq(c.CopyObjectResult?.ETag, `"${md5(PAYLOAD)}"`, "CopyObjectResult ETag");
  const got = await s3(1).send(new GetObjectCommand({ Bucket: BUCKET, Key: "copy/dst.bin" }));
  eq(md5(await bytes(got)), md5(PAYLOAD), "copied body");
  eq(got.Metadata, { color: "blue" }, "COPY keeps metadata");
  await s3(2).send(new CopyObjectCommand({
    Bucket: BUCKET, Key: "copy/dst.bin", CopySource: `${BUCKET}/copy/dst.bin`,
    MetadataDirective: "REPLACE", Metadata: { shape: "square" }, ContentType: "text/x-new",
  }));
  const h = await s3(0).send(new HeadObjectCommand({ Bucket: BUCKET, Key: "copy/dst.bin" }));
  eq([h.Metadata, h.ContentType], [{ shape: "square" }, "text/x-new"], "REPLACE onto itself");
});

step("DeleteObject, DeleteObjects (per-key results, Quiet)", async () => {
  await Promise.all([0, 1, 2, 3].map((i) => s3(i).send(new PutObjectCommand({ Bucket: BUCKET, Key: `del/${i}`, Body: "d" }))));
  await s3(1).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "del/0" }));
  const r = await s3(2).send(new DeleteObjectsCommand({
    Bucket: BUCKET, Delete: { Objects: [{ Key: "del/1" }, { Key: "del/2" }, { Key: "del/missing" }] },
  }));
  eq((r.Deleted ?? []).map((d) => d.Key).sort(), ["del/1", "del/2", "del/missing"], "Deleted");
  eq(r.Errors ?? [], [], "Errors");
  const q = await s3(0).send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: "del/3" }], Quiet: true } }));
  eq(q.Deleted ?? [], [], "Quiet Deleted");
  const left = await s3(1).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "del/" }));
  eq(left.KeyCount, 0, "keys left");
});

step("presigned GET and PUT (getSignedUrl) fetched with fetch()", async () => {
  const getUrl = await getSignedUrl(s3(1), new GetObjectCommand({ Bucket: BUCKET, Key: "obj/payload.bin" }), { expiresIn: 300 });
  let res = await fetch(getUrl);
  const body = Buffer.from(await res.arrayBuffer());
  eq(res.status, 200, `presigned GET status (${body.subarray(0, 300)})`);
  eq(md5(body), md5(PAYLOAD), "presigned GET body");
  // With the default settings the SDK signs x-amz-checksum-crc32 of the
  // empty body it saw (AAAAAA==) into the URL; S3 checks it like a header,
  // so uploading data with that URL fails (BadDigest) and stores nothing.
  const defaultUrl = await getSignedUrl(s3(2), new PutObjectCommand({ Bucket: BUCKET, Key: "presigned/put.txt" }), { expiresIn: 300 });
  wire.push(`presigned PUT URL (default settings): ${defaultUrl}`);
  if (!defaultUrl.includes("x-amz-checksum-crc32=AAAAAA")) throw new Fail(`expected the SDK to sign the empty body's CRC32 into the URL: ${defaultUrl}`);
  res = await fetch(defaultUrl, { method: "PUT", body: SMALL });
  let text = await res.text();
  eq(res.status, 400, `presigned PUT with the empty body's CRC32 (${text.slice(0, 400)})`);
  if (!text.includes("<Code>BadDigest</Code>")) throw new Fail(`presigned PUT with the empty body's CRC32: ${text.slice(0, 300)}`);
  // The documented way out: requestChecksumCalculation WHEN_REQUIRED. The
  // x-amz-meta-* header the presigner moves into the query string is
  // stored as metadata.
  const plain = makeClient(ENDPOINTS[2 % ENDPOINTS.length], { requestChecksumCalculation: "WHEN_REQUIRED" });
  const putUrl = await getSignedUrl(plain, new PutObjectCommand({ Bucket: BUCKET, Key: "presigned/put.txt", Metadata: { via: "presigned" } }), { expiresIn: 300 });
  wire.push(`presigned PUT URL (WHEN_REQUIRED): ${putUrl}`);
  res = await fetch(putUrl, { method: "PUT", body: SMALL });
  eq(res.status, 200, `presigned PUT status (${(await res.text()).slice(0, 400)})`);
  const head = await s3(1).send(new HeadObjectCommand({ Bucket: BUCKET, Key: "presigned/put.txt" }));
  eq(head.Metadata?.via, "presigned", "metadata from the presigned URL's query string");
  const got = await s3(0).send(new GetObjectCommand({ Bucket: BUCKET, Key: "presigned/put.txt", ChecksumMode: "ENABLED" }));
  eq((await bytes(got)).toString(), SMALL.toString(), "object written by presigned PUT");
  res = await fetch(getUrl.replace("X-Amz-Signature=", "X-Amz-Signature=0"));
  text = await res.text();
  eq(res.status, 403, "tampered presigned URL status");
  if (!text.includes("SignatureDoesNotMatch")) throw new Fail(`tampered presigned URL body: ${text.slice(0, 300)}`);
});

step("createPresignedPost: browser-form upload with fetch() and FormData, ${filename}, content-length-range", async () => {
  const { url, fields } = await createPresignedPost(s3(1), {
    Bucket: BUCKET,
    Key: "form/${filename}",
    Conditions: [["starts-with", "$key", "form/"], ["content-length-range", 1, 1000], ["eq", "$Content-Type", "text/plain"]],
    Fields: { "Content-Type": "text/plain" },
    Expires: 300,
  });
  wire.push(`presigned POST ${url} fields ${JSON.stringify(fields)}`);
  const post = async (name, content) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append("file", new Blob([content]), name);
    const res = await fetch(url, { method: "POST", body: form });
    return [res.status, await res.text()];
  };
  let [status, text] = await post("note.txt", SMALL);
  eq(status, 204, `POST status (${text.slice(0, 300)})`);
  const got = await s3(2).send(new GetObjectCommand({ Bucket: BUCKET, Key: "form/note.txt" }));
  eq([(await bytes(got)).toString(), got.ContentType], [SMALL.toString(), "text/plain"], "object written by the form");
  [status, text] = await post("big.txt", Buffer.alloc(1001, 120));
  eq(status, 400, "oversized POST status");
  if (!text.includes("<Code>EntityTooLarge</Code>")) throw new Fail(`oversized POST: ${text.slice(0, 300)}`);
  await expectError("NotFound", s3(0).send(new HeadObjectCommand({ Bucket: BUCKET, Key: "form/big.txt" })), "HEAD of the refused upload");
});

step("object tagging: Tagging on PutObject, Put/Get/DeleteObjectTagging, TagCount", async () => {
  await s3(0).send(new PutObjectCommand({ Bucket: BUCKET, Key: "tags/t.txt", Body: SMALL, Tagging: "env=dev&team=core" }));
  let t = await s3(1).send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: "tags/t.txt" }));
  eq(t.TagSet.map((x) => [x.Key, x.Value]).sort(), [["env", "dev"], ["team", "core"]], "tags from Tagging");
  await s3(2).send(new PutObjectTaggingCommand({ Bucket: BUCKET, Key: "tags/t.txt", Tagging: { TagSet: [{ Key: "k", Value: "v w" }] } }));
  t = await s3(0).send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: "tags/t.txt" }));
  eq(t.TagSet, [{ Key: "k", Value: "v w" }], "tags after PutObjectTagging");
  const g = await s3(1).send(new GetObjectCommand({ Bucket: BUCKET, Key: "tags/t.txt" }));
  await bytes(g);
  eq(g.TagCount, 1, "GetObject TagCount");
  await s3(2).send(new DeleteObjectTaggingCommand({ Bucket: BUCKET, Key: "tags/t.txt" }));
  t = await s3(0).send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: "tags/t.txt" }));
  eq(t.TagSet ?? [], [], "tags after DeleteObjectTagging");
});

step("bucket CORS: Put/Get/DeleteBucketCors, preflight and actual request with fetch()", async () => {
  const rule = { AllowedOrigins: ["http://localhost:3000"], AllowedMethods: ["GET", "PUT"], AllowedHeaders: ["*"], ExposeHeaders: ["ETag"], MaxAgeSeconds: 600 };
  await s3(0).send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: [rule] } }));
  const got = await s3(1).send(new GetBucketCorsCommand({ Bucket: BUCKET }));
  eq(Object.fromEntries(Object.keys(rule).map((k) => [k, got.CORSRules?.[0]?.[k]])), rule, "GetBucketCors");
  let res = await fetch(`${ENDPOINTS[2 % ENDPOINTS.length]}/${BUCKET}/uploads/new.txt`, {
    method: "OPTIONS",
    headers: { Origin: "http://localhost:3000", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,x-amz-date" },
  });
  eq(res.status, 200, `preflight status (${(await res.text()).slice(0, 200)})`);
  eq(res.headers.get("access-control-allow-origin"), "http://localhost:3000", "Access-Control-Allow-Origin");
  if (!(res.headers.get("access-control-allow-methods") ?? "").includes("PUT")) {
    throw new Fail(`Access-Control-Allow-Methods: ${res.headers.get("access-control-allow-methods")}`);
  }
  res = await fetch(`${ENDPOINTS[0]}/${BUCKET}/x`, { method: "OPTIONS", headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "GET" } });
  await res.text();
  eq(res.status, 403, "preflight from a disallowed origin");
  await s3(0).send(new PutObjectCommand({ Bucket: BUCKET, Key: "cors/x.txt", Body: SMALL }));
  const url = await getSignedUrl(s3(1), new GetObjectCommand({ Bucket: BUCKET, Key: "cors/x.txt" }));
  res = await fetch(url, { headers: { Origin: "http://localhost:3000" } });
  await res.arrayBuffer();
  eq([res.status, res.headers.get("access-control-allow-origin")], [200, "http://localhost:3000"], "actual GET with Origin");
  await s3(2).send(new DeleteBucketCorsCommand({ Bucket: BUCKET }));
  await expectError("NoSuchCORSConfiguration", s3(0).send(new GetBucketCorsCommand({ Bucket: BUCKET })), "GetBucketCors after delete");
});

step("GetObjectAttributes (ETag, ObjectSize, Checksum)", async () => {
  await s3(0).send(new PutObjectCommand({ Bucket: BUCKET, Key: "attrs/a.bin", Body: PAYLOAD, ChecksumAlgorithm: "SHA256" }));
  const a = await s3(1).send(new GetObjectAttributesCommand({ Bucket: BUCKET, Key: "attrs/a.bin", ObjectAttributes: ["ETag", "ObjectSize", "Checksum"] }));
  eq(a.ObjectSize, PAYLOAD.length, "ObjectSize");
  eq(a.ETag, md5(PAYLOAD), "ETag (unquoted in GetObjectAttributes)");
  eq(a.Checksum?.ChecksumSHA256, createHash("sha256").update(PAYLOAD).digest("base64"), "ChecksumSHA256");
});

step("delete everything, DeleteBucket, bucket gone", async () => {
  const keys = [];
  for await (const p of paginateListObjectsV2({ client: s3(0) }, { Bucket: BUCKET })) keys.push(...(p.Contents ?? []).map((o) => o.Key));
  await Promise.all(keys.map((k, n) => s3(n).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: k }))));
  await s3(1).send(new DeleteBucketCommand({ Bucket: BUCKET }));
  await expectError("NotFound", s3(2).send(new HeadBucketCommand({ Bucket: BUCKET })), "HeadBucket after delete");
});

const sdkVersion = JSON.parse(readFileSync(new URL("./node_modules/@aws-sdk/client-s3/package.json", import.meta.url))).version;
console.log(`  (${CLIENT}: @aws-sdk/client-s3 ${sdkVersion}, node ${process.version})`);
for (const [name, fn] of steps) {
  wire = [];
  const t0 = performance.now();
  let status = "PASS", tag = "", detail = [];
  try {
    await fn();
  } catch (e) {
    status = "FAIL";
    if (e?.name === "NotImplemented" || e?.$metadata?.httpStatusCode === 501) tag = "NotImplemented";
    detail = [`${e?.name}: ${e?.message}`];
    if (!(e instanceof Fail)) detail.push(...String(e?.stack ?? "").split("\n").slice(1, 4));
    if (!tag) detail.push("wire log (last lines):", ...wire.slice(-LOG_LINES));
  }
  const dt = `${((performance.now() - t0) / 1000).toFixed(1)}s`;
  if (status === "PASS") {
    console.log(`  ok    ${CLIENT.padEnd(8)} ${name} (${dt})`);
    if (DEBUG) for (const l of wire) console.log(`        | ${l}`);
  } else {
    console.log(`  FAIL  ${CLIENT.padEnd(8)} ${name}${tag ? " [501 NotImplemented]" : ""} (${dt})`);
    for (const l of detail) console.log(`        | ${l}`);
  }
  if (RESULTS) appendFileSync(RESULTS, `${status}\t${CLIENT}\t${name}\t${tag}\n`);
}
