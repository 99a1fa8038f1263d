// Package s3api serves the S3 REST API over a Backend.
//
// A request flows through one path: ServeHTTP assigns a request ID,
// contains panics, gives the body a progress deadline, serves
// unauthenticated work (preflights, health, POST forms until their policy
// verifies) within its own small budget, authenticates (SigV4 via the
// Authenticator; every x-amz-* header must be signed), admits the signed
// request to one of a bounded number of slots through a short queue
// (admission.go; 503 SlowDown past it), checks the key's rights (access.go: GET and HEAD need RightRead, other S3 requests
// RightWrite, /_strongbox/ RightAdmin; AccessDenied otherwise), and then
// the gorilla/mux routing table in router.go picks an operation. Each
// operation family has its own file (bucket.go, object.go, list.go,
// copy.go, multipart.go, delete_multi.go, tagging.go, cors.go,
// attributes.go, post.go); every failure is rendered by writeError from the single
// table in errors.go, so status, code and XML shape cannot drift between
// handlers.
//
// Bodies stream. A PutObject body up to Options.InlineThreshold is read
// into memory and proposed inline; a larger one, and every multipart part,
// goes through Backend.StoreBlob, which hashes it in the same pass, and is
// verified (Content-MD5, checksums) against the returned reference before
// anything is proposed. A GET copies the requested range from the
// Backend's Body through one pooled buffer; if the read fails after the
// status line was sent, the handler aborts the connection
// (http.ErrAbortHandler) rather than end a 200 short.
//
// A node whose disk is full or read-only (objstore.ErrNoSpace,
// ErrReadOnly) answers 503 ServiceUnavailable with a message saying so
// (errors.go explains why not SlowDown or 507). Such a refusal comes early
// in an upload whose body the client is still sending, and aws-sdk-go-v2
// sends it without waiting for "100 Continue": writeError then sends the
// answer with its length, flushes it and reads on for a moment
// (linger.go), so the client reads the answer instead of a reset.
//
// XML request bodies are bounded twice: by size (64 KiB for tagging, CORS
// and CreateBucket, 2 MiB for DeleteObjects, 8 MiB for
// CompleteMultipartUpload; past it, or without end, MalformedXML) and by
// shape: the two list documents are decoded one child element at a time,
// each at most 64 KiB (xmlbody.go), because encoding/xml keeps every open
// element and attribute and would otherwise turn a few MiB of nesting into
// hundreds. Nothing is expanded but XML's predefined entities. Every
// parser of untrusted input has a fuzz target (make fuzz).
//
// Three things happen before authentication, because browsers send them
// unsigned: an OPTIONS request is a CORS preflight and is answered from the
// bucket's CORS rules (cors.go); a request carrying Origin gets the CORS
// response headers its bucket's rules allow, so the browser can read the
// answer, errors included; and a multipart/form-data POST to a bucket is a
// browser-based upload (POST Object, post.go), authenticated by the signed
// policy in its form rather than by the request; the key that signed the
// policy needs RightWrite.
//
// The package never imports Raft: what it needs from the store is the
// Backend interface, declared here by its consumer. Subpackages sigv4 and
// checksum hold the signature and integrity primitives.
package s3api
