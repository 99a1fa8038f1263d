// Package sigv4 verifies AWS Signature Version 4 on incoming S3 requests and
// decodes and verifies their bodies; it also signs requests for our own
// tools. It depends on nothing else in s3api but the checksum package, so it
// can sit in front of any handler as middleware.
//
// # Verifying
//
// A Verifier looks up secrets through its Lookup function. Verify accepts
// header authentication (Authorization: AWS4-HMAC-SHA256 ...) and presigned
// URLs (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature), for any region the client signed
// with; the scope's service must be s3 and its date that of X-Amz-Date.
// The canonical request is built as AWS specifies for S3:
//
//   - the path exactly as the client sent it (r.RequestURI), because S3
//     clients sign the escaped path they send and S3 does not escape it
//     again; if that fails, the decoded path re-encoded with UriEncode is
//     tried, for signers that normalise the path (a literal "=" sent, "%3D"
//     signed);
//   - the query decoded, re-encoded with UriEncode, sorted by name and value
//     (X-Amz-Signature left out of presigned ones);
//   - the signed headers lowercased, trimmed, inner runs of spaces collapsed,
//     repeated headers joined with ",", host from r.Host;
//   - the payload line from x-amz-content-sha256, which header auth must
//     send (UNSIGNED-PAYLOAD for presigned URLs unless the query carries
//     X-Amz-Content-Sha256).
//
// Header authentication may carry its time in Date instead of X-Amz-Date
// (botocore does when the request has a Date, writing a numeric zone); the
// string to sign then carries that time in the X-Amz-Date form.
//
// Signature Version 2 (Authorization: AWS AK:SIG, or AWSAccessKeyId,
// Expires and Signature in the query) is accepted too. Its canonical
// resource includes the bucket even when Host carries it, so a server with
// virtual-hosted-style buckets sets Verifier.HostBucket. A bucket's
// resource is accepted both as "/bucket" and as "/bucket/" (botocore signs
// the latter for path-style requests), as S3 does.
//
// Signatures are compared in constant time. Derived signing keys are cached
// per access key, day, region and service (deriving costs four HMACs); a
// cache entry is used only while Lookup still returns the secret it was
// derived from.
//
// Failures are *Error values carrying the S3 code, message and HTTP status
// (see the Err sentinels); s3api maps them by Code, or through the S3Code,
// S3Message and S3Status methods.
//
// # Bodies
//
// Verify reads no body. Auth.Body wraps r.Body according to
// x-amz-content-sha256: a hex SHA256 is checked at EOF, UNSIGNED-PAYLOAD
// passes through, and the STREAMING-* forms are aws-chunked and decoded,
// chunk signatures and trailer signatures checked, the trailing checksum
// computed and compared, and the decoded length held to
// x-amz-decoded-content-length. Bytes are released before the chunk or body
// they belong to is verified, so a caller stages the body and commits it only
// after a clean io.EOF; a verified trailing checksum is then available from
// Auth.TrailerChecksums. For aws-chunked bodies the object size is
// Auth.DecodedContentLength, not Content-Length.
//
// The decoder streams: it keeps no chunk in memory, reads framing through a
// 4 KiB line buffer (a longer line is an error, never an allocation), bounds
// a chunk at 5 GiB and the trailer section at 16 lines, and, as S3 does,
// refuses a chunk smaller than 8 KiB that is not the last
// (InvalidChunkSizeError). It accepts the framing variations of real
// clients: trailers directly after "0\r\n" (the SDKs), trailer lines ending
// in a bare "\n" with a blank line before x-amz-trailer-signature (minio-go),
// a missing final CRLF.
//
// # Fuzzing
//
// Native fuzz targets (make fuzz) hold the verifier to its promise rather
// than to not panicking: FuzzVerifyHeader and FuzzVerifyPresigned sign the
// fuzzer's request with Sign or Presign and require that it verifies, that
// any change to what it signs is refused, and that a rewritten
// Authorization or query is refused unless it carries the true signature
// and means the same; FuzzChunkedReader feeds the decoder arbitrary
// bodies, and FuzzChunkedTamper changes one byte of a correctly signed (or
// checksummed) body and requires the original bytes or a refusal.
//
// # What clients send (measured by the tests in this package)
//
// aws-sdk-go-v2 (service/s3 v1.114), PutObject with RequestChecksumCalculation
// when_supported, the 2025+ default that config.LoadDefaultConfig resolves
// when nothing overrides it:
//
//   - over HTTP, seekable body: x-amz-content-sha256 is the hex SHA256 of the
//     body, plus an x-amz-checksum-crc32 header (or the requested
//     algorithm's). An unseekable body is refused by the client ("unseekable
//     stream is not supported without TLS and trailing checksum") unless it
//     is empty and its length given.
//   - over HTTPS: STREAMING-UNSIGNED-PAYLOAD-TRAILER, Content-Encoding:
//     aws-chunked, x-amz-trailer: x-amz-checksum-crc32 (or the requested
//     algorithm), trailer "x-amz-checksum-crc32:<b64>" after "0\r\n". A body
//     of known length goes as a single chunk (so a chunk can be as large as
//     the object); of unknown length, as 64 KiB chunks under HTTP chunked
//     transfer encoding. An empty body of known length goes as
//     UNSIGNED-PAYLOAD with an x-amz-checksum-crc32 header.
//   - when_required, or a client from s3.New whose Options leave the
//     setting unset, with no algorithm named: hex SHA256 over HTTP (an
//     unseekable body is refused), UNSIGNED-PAYLOAD over HTTPS, no checksum.
//     Naming an algorithm brings back the header (HTTP) or trailer (HTTPS).
//   - the presign client signs UNSIGNED-PAYLOAD in the query.
//
// minio-go v7.4 PutObject of objects below its multipart threshold (one
// PUT; multipart uploads were not measured):
//
//   - over HTTP, defaults: STREAMING-AWS4-HMAC-SHA256-PAYLOAD (signed
//     64 KiB chunks), also for empty bodies; SendContentMd5 adds Content-MD5.
//   - over HTTPS, defaults: UNSIGNED-PAYLOAD and no checksum at all;
//     SendContentMd5 adds Content-MD5.
//   - DisableContentSha256: UNSIGNED-PAYLOAD over both.
//   - Options.TrailingHeaders with PutObjectOptions.Checksum set: over HTTP
//     STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (signed chunks and signed
//     trailer), over HTTPS STREAMING-UNSIGNED-PAYLOAD-TRAILER; empty bodies
//     fall back to the untrailed forms. Checksum without TrailingHeaders is
//     refused by the client; AutoChecksum does not apply to a single PUT.
//
// # Signing
//
// Sign and Presign are the client side, for our CLI, load tool and tests.
// They produce what aws-sdk-go-v2's signer produces for S3 (the tests compare
// them byte for byte) and allocate little (Sign: about ten allocations).
package sigv4
