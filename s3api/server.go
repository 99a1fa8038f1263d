package s3api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// Backend is what the S3 front end needs from the store. node.Node
// implements it over Raft; tests may implement it in memory. Every method
// must be safe for concurrent use. Errors are objstore sentinels (mapped to
// S3 codes by the error table); any other error becomes InternalError.
//
// Reads must be linearizable: a read that starts after a write was
// acknowledged (on any node) observes it. Writes return only once committed
// and applied, or ErrUnavailable when the outcome is unknown.
type Backend interface {
	CreateBucket(ctx context.Context, name string) error
	DeleteBucket(ctx context.Context, name string) error
	HeadBucket(ctx context.Context, name string) (objstore.BucketInfo, error)
	ListBuckets(ctx context.Context) ([]objstore.BucketInfo, error)
	PutObject(ctx context.Context, req *objstore.PutRequest) (objstore.ObjectInfo, error)
	// GetObject returns the record and a reader of that version's body.
	GetObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, objstore.Body, error)
	HeadObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, error)
	DeleteObject(ctx context.Context, bucket, key string) error
	ListObjects(ctx context.Context, bucket string, opts objstore.ListOptions) (objstore.ListResult, error)
	// CopyObject reads the source, checks every condition and writes the
	// destination atomically; it returns the destination's record. ctx
	// has no deadline of the HTTP layer's (a large copy takes long): the
	// backend bounds its own waits on the cluster.
	CopyObject(ctx context.Context, req *objstore.CopyRequest) (objstore.ObjectInfo, error)
	// DeleteObjects deletes keys from bucket in one step; missing keys
	// succeed.
	DeleteObjects(ctx context.Context, bucket string, keys []string) error
	// PutObjectTagging replaces an object's tag set; nil removes it.
	PutObjectTagging(ctx context.Context, bucket, key string, tags map[string]string) error
	// PutBucketCors replaces a bucket's CORS rules; nil removes them.
	// HeadBucket returns them in BucketInfo.CORS.
	PutBucketCors(ctx context.Context, bucket string, rules []objstore.CORSRule) error

	// StoreBlob streams r into a new blob held durably by a majority of
	// the nodes, computing its MD5 and the checksums algs, and returns its
	// reference for a PutRequest or UploadPartRequest. It succeeds only
	// after r returned io.EOF (the signature layer verifies the last chunk
	// and the trailers then), and never reads r after returning. More
	// than limit bytes fail with objstore.ErrEntityTooLarge; a read error
	// of r is returned as is. On error nothing is left behind.
	StoreBlob(ctx context.Context, r io.Reader, limit int64, algs ...checksum.Algorithm) (objstore.BlobRef, error)
	// DiscardBlob removes a blob StoreBlob returned that will never be
	// referenced (its checksum did not verify). Best effort.
	DiscardBlob(ctx context.Context, id string) error

	// CreateMultipartUpload starts an upload; the backend assigns
	// UploadID and Initiated and returns the stored upload.
	CreateMultipartUpload(ctx context.Context, u *objstore.Upload) (objstore.Upload, error)
	// UploadPart records a part whose blob StoreBlob stored.
	UploadPart(ctx context.Context, req *objstore.UploadPartRequest) (objstore.PartInfo, error)
	// CompleteMultipartUpload writes the object from the listed parts.
	CompleteMultipartUpload(ctx context.Context, req *objstore.CompleteRequest) (objstore.ObjectInfo, error)
	// AbortMultipartUpload deletes an upload and its parts.
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	// ListParts returns up to maxParts parts numbered above marker.
	ListParts(ctx context.Context, bucket, key, uploadID string, marker, maxParts int) (objstore.ListPartsResult, error)
	// ListMultipartUploads returns one page of a bucket's uploads.
	ListMultipartUploads(ctx context.Context, bucket string, opts objstore.ListUploadsOptions) (objstore.ListUploadsResult, error)
}

// Options configures a Server. Zero values pick the documented defaults.
type Options struct {
	// Credentials returns the secret key of an access key and its rights,
	// false if it is unknown. It is called for the signature check and
	// again for the rights check of every request, so a changed answer
	// (keys reloaded) applies from the next request on. Required; must be
	// safe for concurrent use.
	Credentials func(accessKey string) (secretKey string, rights Rights, ok bool)
	// Admin serves /_strongbox/... after authentication, to keys with
	// RightAdmin; nil disables it.
	Admin http.Handler
	// Health answers GET /_strongbox/health without authentication, for
	// load balancers and scripts waiting for a node to come up.
	Health http.Handler
	// Region is reported by GetBucketLocation and accepted in
	// CreateBucketConfiguration. Default "us-east-1".
	Region string
	// Domains enables virtual-hosted-style addressing: a request for host
	// "<bucket>.<domain>[:port]" addresses that bucket. Default
	// ["localhost"]; path-style requests work regardless.
	Domains []string
	// MaxObjectSize bounds a single PutObject body. Default and maximum
	// 5 GiB (objstore.MaxSinglePut), S3's limit; larger is EntityTooLarge.
	MaxObjectSize int64
	// InlineThreshold is the largest PutObject body kept inline, in the
	// Raft log entry itself; a larger one is streamed into a blob
	// (Backend.StoreBlob) and never held in memory. Default 64 KiB; at
	// most MaxObjectSize. Parts of multipart uploads are always blobs.
	InlineThreshold int64
	// MaxInFlight bounds concurrent authenticated S3 requests on this
	// node. Default 256. See admission.go.
	MaxInFlight int
	// AdmissionQueue bounds how many authenticated requests may wait for
	// a slot, and AdmissionWait how long each may wait, before the node
	// answers 503 SlowDown. Defaults MaxInFlight and 2s; a negative
	// AdmissionQueue sheds at once.
	AdmissionQueue int
	AdmissionWait  time.Duration
	// MaxUnauthenticated bounds concurrent unauthenticated work: CORS
	// preflights and lookups, health checks, POST Object forms before
	// their policy is verified. Shed at once when full. Default 64.
	MaxUnauthenticated int
	// BodyIdleTimeout is the progress deadline of every request body
	// read: a client that sends nothing for this long gets 400
	// RequestTimeout. Default 30s.
	BodyIdleTimeout time.Duration
	// PostFormTimeout bounds, in total, how long an unauthenticated POST
	// Object form may take to deliver the fields before its file (at most
	// 20 KB). Default 30s.
	PostFormTimeout time.Duration
	// RequestTimeout bounds how long one request may wait on the cluster
	// (leader election, quorum) before the client gets 503. Default 10s.
	RequestTimeout time.Duration
	Logger         *slog.Logger
	// Now is the clock; tests inject one. Default time.Now.
	Now func() time.Time
}

// Server is an http.Handler serving the S3 API. Create it with New.
type Server struct {
	backend Backend
	opts    Options
	router  *mux.Router
	auth    *sigv4.Verifier
	signed  *gate // authenticated requests
	anon    *gate // unauthenticated work
	hostID  string
}

// New returns a Server for backend. It never fails: bad options are
// replaced by defaults.
func New(backend Backend, opts Options) *Server {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Domains == nil {
		opts.Domains = []string{"localhost"}
	}
	if opts.MaxObjectSize <= 0 || opts.MaxObjectSize > objstore.MaxSinglePut {
		opts.MaxObjectSize = objstore.MaxSinglePut
	}
	if opts.InlineThreshold <= 0 {
		opts.InlineThreshold = 64 << 10
	}
	opts.InlineThreshold = min(opts.InlineThreshold, opts.MaxObjectSize)
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 256
	}
	if opts.AdmissionQueue == 0 {
		opts.AdmissionQueue = opts.MaxInFlight
	}
	if opts.AdmissionWait <= 0 {
		opts.AdmissionWait = 2 * time.Second
	}
	if opts.MaxUnauthenticated <= 0 {
		opts.MaxUnauthenticated = 64
	}
	if opts.BodyIdleTimeout <= 0 {
		opts.BodyIdleTimeout = 30 * time.Second
	}
	if opts.PostFormTimeout <= 0 {
		opts.PostFormTimeout = 30 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		backend: backend,
		opts:    opts,
		auth:    &sigv4.Verifier{Lookup: secretOnly(opts.Credentials), Now: opts.Now},
		signed:  newGate(opts.MaxInFlight, opts.AdmissionQueue, opts.AdmissionWait),
		anon:    newGate(opts.MaxUnauthenticated, 0, 0),
		hostID:  randomHex(24),
	}
	s.auth.HostBucket = s.hostBucket
	s.router = s.routes()
	return s
}

type ctxKey int

const requestIDKey ctxKey = 0

// ServeHTTP is the single entry point: request ID, admission, panic
// containment and authentication happen here, before routing, so no handler
// can forget them. Unauthenticated work and signed requests are admitted
// through separate gates (admission.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := randomHex(8)
	h := w.Header()
	h.Set("x-amz-request-id", reqID)
	h.Set("x-amz-id-2", s.hostID)
	h.Set("Server", "Strongbox")
	if r.ContentLength == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// net/http sends "100 Continue" only when a handler reads a
		// non-empty body. S3 always sends it, and botocore misparses the
		// next response on the connection when it never comes.
		w.WriteHeader(http.StatusContinue)
	}
	ctx := context.WithValue(r.Context(), requestIDKey, reqID)
	r = r.WithContext(ctx)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.opts.Logger.Error("panic serving request", "panic", p, "method", r.Method, "path", r.URL.Path, "stack", string(debug.Stack()))
			s.writeError(w, r, ErrInternal)
		}
	}()
	s.withBodyDeadline(w, r)
	if headerBytes(r.Header) > maxHeaderSection {
		s.shed(w, r, ErrHeaderSectionTooLarge)
		return
	}

	if r.URL.Path == "/_strongbox/health" && s.opts.Health != nil {
		s.anonymous(w, r, s.opts.Health.ServeHTTP)
		return
	}
	// CORS (cors.go): browsers send preflights unsigned, and read an actual
	// response (error or not) only if it carries the CORS headers.
	if r.Method == http.MethodOptions {
		s.anonymous(w, r, s.preflight)
		return
	}
	if r.Header.Get("Origin") != "" && s.anon.enter(ctx) {
		// Under overload the headers are left off: the browser then sees
		// an opaque failure rather than the node queueing anonymous work.
		s.setCORSHeaders(w, r)
		s.anon.leave()
	}
	// A browser-based upload (POST Object, post.go) is authenticated by
	// the policy signature in its form, not by the request; it moves to
	// the signed gate once that is verified.
	if fr, ok := s.formPost(r); ok {
		s.postObject(w, fr)
		return
	}
	auth, err := s.auth.Verify(r)
	if err != nil {
		s.shed(w, r, err)
		return
	}
	if !s.signed.enter(ctx) {
		s.shed(w, r, ErrSlowDown)
		return
	}
	defer s.signed.leave()
	if auth.Presigned {
		hoistQueryHeaders(r)
	}
	// From here on the body reader verifies the payload hash, chunk
	// signatures and trailing checksums as it is read.
	r.Body = auth.Body(r.Body)
	r = r.WithContext(context.WithValue(r.Context(), authKey, auth))
	// Virtual-hosted style becomes path style only now: the signature
	// covers the path the client sent.
	s.hostToPath(r)
	if err := s.authorize(r, auth.AccessKey); err != nil {
		s.shed(w, r, err)
		return
	}
	s.router.ServeHTTP(w, r)
}

// maxHeaderSection is S3's limit on a request's headers ("The PUT request
// header is limited to 8 KB in size"). The HTTP server refuses far larger
// ones before they reach the handler; this gives S3's own answer to the
// rest.
const maxHeaderSection = 8 << 10

// headerBytes is the size of h as sent: "Name: value\r\n" per line.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// anonymous serves unauthenticated work within its own budget, shedding
// at once when it is spent.
func (s *Server) anonymous(w http.ResponseWriter, r *http.Request, serve http.HandlerFunc) {
	if !s.anon.enter(r.Context()) {
		s.shed(w, r, ErrSlowDown)
		return
	}
	defer s.anon.leave()
	serve(w, r)
}

// presignParams are the x-amz-* query parameters of SigV4 presigning
// itself, in lower case: they authenticate the URL and are not headers.
var presignParams = map[string]bool{
	"x-amz-algorithm": true, "x-amz-credential": true, "x-amz-date": true,
	"x-amz-expires": true, "x-amz-signedheaders": true, "x-amz-signature": true,
	"x-amz-security-token": true, "x-amz-content-sha256": true,
}

// hoistQueryHeaders makes the other x-amz-* parameters of a SigV4
// presigned URL the headers they stand for, as S3 does: presigners move
// headers into the query string (the JS SDK v3 moves every x-amz-* header
// but the encryption ones: metadata, tagging, storage class, checksums), so
// they must be honoured and checked like headers, not dropped. A header
// the request also carries wins. SigV4 signs the whole query string, so
// nothing unsigned gets in; SigV2 does not, so its URLs are left alone.
func hoistQueryHeaders(r *http.Request) {
	q := r.URL.Query()
	if !q.Has("X-Amz-Algorithm") {
		return
	}
	for name, vals := range q {
		l := strings.ToLower(name)
		if !strings.HasPrefix(l, "x-amz-") || presignParams[l] || len(vals) == 0 {
			continue
		}
		if _, set := r.Header[http.CanonicalHeaderKey(name)]; !set {
			r.Header.Set(name, vals[0])
		}
	}
}

// hostToPath rewrites a virtual-hosted-style request
// (bucket.localhost:9000/key) into its path-style form (/bucket/key).
func (s *Server) hostToPath(r *http.Request) {
	bucket := s.hostBucket(r)
	if bucket == "" {
		return
	}
	r.URL.Path = "/" + bucket + r.URL.Path
	if r.URL.RawPath != "" {
		r.URL.RawPath = "/" + bucket + r.URL.RawPath
	}
}

// hostBucket returns the bucket a virtual-hosted-style Host names, or "".
func (s *Server) hostBucket(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, d := range s.opts.Domains {
		if bucket, ok := strings.CutSuffix(host, "."+d); ok && bucket != "" {
			return bucket
		}
	}
	return ""
}

// requestBucket names the bucket a request addresses, in either style,
// before routing (CORS runs ahead of authentication and the rewrite).
func (s *Server) requestBucket(r *http.Request) string {
	if b := s.hostBucket(r); b != "" {
		return b
	}
	bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return bucket
}

const authKey ctxKey = 1

// authOf returns the verified identity of a routed request. ServeHTTP
// routes only authenticated requests, so it is never nil in a handler.
func authOf(r *http.Request) *sigv4.Auth {
	a, _ := r.Context().Value(authKey).(*sigv4.Auth)
	return a
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// opContext bounds the time a request may wait on the cluster, so a client
// gets a 503 rather than a hung connection while the cluster has no quorum.
func (s *Server) opContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.opts.RequestTimeout)
}

// writeError renders err as an S3 XML error. HEAD responses carry no body.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if e == ErrInternal {
		s.opts.Logger.Error("internal error", "err", err, "method", r.Method, "path", r.URL.Path)
	}
	h := w.Header()
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	// An upload refused because a disk is full is refused early, with
	// most of its body unsent: make sure the client reads why.
	linger := (e == ErrStorageFull || e == ErrStorageReadOnly) && hasUnreadBody(r)
	if linger {
		h.Set("Connection", "close")
		// Reading the body after the answer needs full duplex: by
		// default net/http ends the body when the response starts.
		_ = http.NewResponseController(w).EnableFullDuplex()
		defer lingerOnBody(w, r)
	}
	if e.Status == http.StatusNotModified || r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	bucket, key := pathVars(r)
	body := errorBody{
		Code:       e.Code,
		Message:    e.Message,
		BucketName: bucket,
		Key:        key,
		Resource:   r.URL.Path,
		RequestID:  requestID(r),
		HostID:     s.hostID,
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		body.HeadersNotSigned = se.HeadersNotSigned
	}
	var d *detailedError
	if errors.As(err, &d) {
		body.Condition = d.condition
		if d.argName != "" {
			body.ArgName, body.ArgValue = d.argName, &d.argValue
		}
	}
	out, _ := xml.Marshal(body) // strings only; cannot fail
	// encoding/xml escapes quotes even in text, where XML does not need
	// it; S3 writes them as they are ("Policy Condition failed: ["eq",
	// ...]", "a field named 'key'"), and clients and test suites match
	// messages as raw text. The error element has no attributes, so a
	// literal quote is well-formed wherever it came from (a key the
	// client sent included).
	out = bytes.ReplaceAll(out, []byte("&#34;"), []byte(`"`))
	out = bytes.ReplaceAll(out, []byte("&#39;"), []byte(`'`))
	h.Set("Content-Type", "application/xml")
	if linger {
		// Flushed before the handler ends, the answer must carry its
		// length: chunked, its end would wait for the linger to finish.
		h.Set("Content-Length", fmt.Sprint(len(xml.Header)+len(out)))
	}
	w.WriteHeader(e.Status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(out)
}

// writeXML renders a successful XML response.
func (s *Server) writeXML(w http.ResponseWriter, status int, v any) {
	out, err := xml.Marshal(v)
	if err != nil {
		// Our own response types always marshal; reaching here is a bug.
		panic(fmt.Sprintf("s3api: marshal %T: %v", v, err))
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", fmt.Sprint(len(xml.Header)+len(out)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(out)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
