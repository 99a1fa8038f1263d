package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// storedHeaders are the standard headers S3 keeps with an object and
// returns on GET and HEAD.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// responseOverrides are the GET query parameters that replace a response
// header (used by presigned download links).
var responseOverrides = map[string]string{
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
	"response-content-language":    "Content-Language",
	"response-content-type":        "Content-Type",
	"response-expires":             "Expires",
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	if err := checkKey(key); err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := s.readPut(r, bucket, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.backend.PutObject(ctx, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("ETag", quoteETag(info.ETag))
	setPutChecksums(h, info)
	w.WriteHeader(http.StatusOK)
}

// setPutChecksums sets the checksum headers answering a single-request
// upload (PutObject, POST Object).
func setPutChecksums(h http.Header, info objstore.ObjectInfo) {
	for alg, v := range info.Checksums {
		h.Set("x-amz-checksum-"+alg, v)
	}
	if len(info.Checksums) > 0 {
		// A single-request upload's checksum always covers the whole body.
		h.Set("x-amz-checksum-type", objstore.ChecksumFullObject)
	}
}

// readPut validates headers, reads and verifies the body and returns the
// request to propose. Every check that can fail happens before the request
// is proposed, so a rejected PUT changes nothing.
//
// A body of at most InlineThreshold bytes is read into memory and travels
// in the Raft log entry. A larger one is streamed into a blob while its MD5
// and checksums are computed in the same pass; at no point is more than
// InlineThreshold bytes of it held in memory.
func (s *Server) readPut(r *http.Request, bucket, key string) (*objstore.PutRequest, error) {
	size, err := payloadSize(r)
	if err != nil {
		return nil, err
	}
	return s.readPutBody(r, putBody{header: r.Header, body: r.Body, size: size, limit: s.opts.MaxObjectSize, auth: authOf(r), trailer: declaredTrailer(r)}, bucket, key)
}

// putBody is the payload of a single-request upload and what describes
// it: a PutObject request, or the file part of a POST Object form.
type putBody struct {
	// header holds the request headers, or the form fields standing for
	// them.
	header http.Header
	body   io.Reader
	// size is the declared length, -1 if unknown; limit the most the body
	// may hold (at most Options.MaxObjectSize).
	size, limit int64
	// auth verified the request. A body without a signature of its own
	// (a POST form's file) may carry a bare &sigv4.Auth{}.
	auth *sigv4.Auth
	// trailer is the checksum the request declared as an aws-chunked
	// trailer (x-amz-trailer), 0 if none: only a request's own signature
	// layer verifies and delivers trailers, so a POST form's file has
	// none.
	trailer checksum.Algorithm
}

// readPutBody is readPut's core, shared with POST Object (post.go): r
// supplies only the context (and, for trailers, the signature layer's
// state); everything about the object comes from p.
func (s *Server) readPutBody(r *http.Request, p putBody, bucket, key string) (*objstore.PutRequest, error) {
	auth, size := p.auth, p.size
	var err error
	if size > p.limit {
		return nil, ErrEntityTooLarge
	}
	if err := checkWriteHeaders(p.header); err != nil {
		return nil, err
	}
	info := objstore.ObjectInfo{Key: key, ContentType: p.header.Get("Content-Type")}
	if info.ContentType == "" {
		info.ContentType = "binary/octet-stream"
	}
	if info.UserMeta, err = userMetadata(p.header); err != nil {
		return nil, err
	}
	if info.Tags, err = taggingHeader(p.header); err != nil {
		return nil, err
	}
	info.Headers = storedHeaderValues(p.header)
	req := &objstore.PutRequest{Bucket: bucket, Key: key, IfMatch: p.header.Get("If-Match"), IfNoneMatch: p.header.Get("If-None-Match")}
	if req.IfNoneMatch != "" && req.IfNoneMatch != "*" {
		return nil, ErrNotImplemented.with("If-None-Match on PUT supports only *")
	}
	sums, err := parseSums(p.header, p.trailer)
	if err != nil {
		return nil, err
	}
	// S3 stores a CRC64NVME checksum with every object uploaded without
	// one (since December 2024), computed in the same pass as the MD5.
	var def checksum.Algorithm
	if !sums.algorithm().Valid() {
		def = checksum.Default
	}

	var head []byte
	if size >= 0 && size <= s.opts.InlineThreshold {
		if head, err = readBody(p.body, size, size); err != nil {
			return nil, err
		}
	} else if size < 0 {
		// Unknown length: read up to the threshold, and keep the body
		// inline if it ends there.
		head = make([]byte, s.opts.InlineThreshold+1)
		n, eof, err := readUpTo(p.body, head)
		if err != nil {
			return nil, bodyReadError(err)
		}
		head = head[:n]
		if eof {
			size = int64(n)
		}
		// The blob path enforces limit while it streams; a body that
		// stays inline is held to it here.
		if int64(n) > p.limit {
			return nil, ErrEntityTooLarge
		}
	}
	if size >= 0 && int64(len(head)) == size {
		if err := sums.verify(head); err != nil {
			return nil, err
		}
		sum := md5.Sum(head)
		info.Checksums = sums.stored(auth)
		if def.Valid() {
			info.Checksums = map[string]string{def.String(): def.Of(head)}
		}
		info.Size = size
		info.ETag = hex.EncodeToString(sum[:])
		req.Body = head
		req.Info = info
		return req, nil
	}

	// A blob. A missing bucket is refused before the client sends the body
	// (net/http answers Expect: 100-continue only when the body is read).
	ctx, cancel := s.opContext(r)
	_, err = s.backend.HeadBucket(ctx, bucket)
	cancel()
	if err != nil {
		return nil, err
	}
	limit := p.limit
	if size >= 0 {
		limit = size
	}
	ref, err := s.storeBlob(r, io.MultiReader(bytes.NewReader(head), p.body), size, limit, sums.algs(def))
	if err != nil {
		return nil, err
	}
	if err := sums.verifyBlob(ref); err != nil {
		s.discardBlob(r, ref)
		return nil, err
	}
	info.Checksums = sums.stored(auth)
	if def.Valid() {
		info.Checksums = keepChecksums(ref.Checksums, []checksum.Algorithm{def})
	}
	info.Size = ref.Size
	info.ETag = ref.MD5
	req.Blob = &ref
	req.Info = info
	return req, nil
}

// payloadSize returns the length of a PutObject or UploadPart payload, -1
// for an aws-chunked upload of a stream without
// x-amz-decoded-content-length (aws-sdk-go-v2 over HTTPS sends those).
// Any other body must declare its length, as S3 requires: plain
// Transfer-Encoding: chunked is NotImplemented there, and an HTTP/1.1
// request with neither header is MissingContentLength (net/http would
// read it as an empty body and store an empty object).
func payloadSize(r *http.Request) (int64, error) {
	auth := authOf(r)
	if auth.Streaming() {
		return auth.DecodedContentLength, nil
	}
	if slices.Contains(r.TransferEncoding, "chunked") {
		return 0, ErrNotImplemented.with("Transfer-Encoding: chunked is not implemented; send Content-Length.")
	}
	if auth.DecodedContentLength < 0 || (r.ProtoMajor == 1 && r.Header.Get("Content-Length") == "") {
		return 0, ErrMissingContentLength
	}
	return auth.DecodedContentLength, nil
}

// storedHeaderValues returns the standard headers S3 keeps with an object,
// nil when there are none.
func storedHeaderValues(h http.Header) map[string]string {
	var out map[string]string
	for _, name := range storedHeaders {
		v := h.Get(name)
		if name == "Content-Encoding" {
			v = stripAWSChunked(v)
		}
		if v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = v
		}
	}
	return out
}

// bodySums are the integrity values a request declares for its body:
// Content-MD5, x-amz-checksum-* headers (verified here, against the bytes
// or the blob), and at most one trailing checksum announced in
// x-amz-trailer (verified by the signature layer when the body ends).
type bodySums struct {
	md5     []byte
	headers map[checksum.Algorithm]string
	trailer checksum.Algorithm // 0 for none
}

// parseBodySums reads a PUT's integrity headers. Like S3 it refuses a
// malformed value, and more than one checksum algorithm, before reading
// the body.
func parseBodySums(r *http.Request) (bodySums, error) {
	return parseSums(r.Header, declaredTrailer(r))
}

// parseSums is parseBodySums for headers h (or form fields standing for
// them) and the trailer the signature layer announced (0 for none).
func parseSums(h http.Header, trailer checksum.Algorithm) (bodySums, error) {
	var b bodySums
	var err error
	if b.md5, err = contentMD5(h); err != nil {
		return b, err
	}
	if b.headers, err = checksumHeaders(h); err != nil {
		return b, err
	}
	b.trailer = trailer
	n := len(b.headers)
	if _, dup := b.headers[b.trailer]; b.trailer.Valid() && !dup {
		n++
	}
	if n > 1 {
		return b, ErrMultipleChecksums
	}
	return b, nil
}

// declaredTrailer returns the checksum algorithm a trailer-carrying
// aws-chunked body announced in x-amz-trailer, or 0. The signature layer
// has already refused anything but a single x-amz-checksum-* name there.
func declaredTrailer(r *http.Request) checksum.Algorithm {
	switch authOf(r).PayloadHash {
	case sigv4.StreamingPayloadTrailer, sigv4.StreamingUnsignedPayloadTrailer:
	default:
		return 0
	}
	alg, _ := checksum.FromHeader(strings.TrimSpace(r.Header.Get("X-Amz-Trailer")))
	return alg
}

// algorithm returns the one checksum algorithm the client supplied, as a
// header or a trailer, or 0.
func (b bodySums) algorithm() checksum.Algorithm {
	for alg := range b.headers {
		return alg
	}
	return b.trailer
}

// algs lists the algorithms a blob of this body must be hashed with.
func (b bodySums) algs(extra ...checksum.Algorithm) []checksum.Algorithm {
	out := make([]checksum.Algorithm, 0, len(b.headers)+1+len(extra))
	for alg := range b.headers {
		out = append(out, alg)
	}
	if b.trailer.Valid() {
		out = append(out, b.trailer)
	}
	for _, alg := range extra {
		if alg.Valid() && !slices.Contains(out, alg) {
			out = append(out, alg)
		}
	}
	return out
}

// verify checks an in-memory body against Content-MD5 and the checksum
// headers.
func (b bodySums) verify(body []byte) error {
	if b.md5 != nil {
		if sum := md5.Sum(body); !bytes.Equal(b.md5, sum[:]) {
			return ErrBadDigest
		}
	}
	for alg, want := range b.headers {
		if alg.Of(body) != want {
			return errBadChecksum(alg)
		}
	}
	return nil
}

// verifyBlob checks a stored blob against Content-MD5 and the checksum
// headers, using the digests StoreBlob computed while writing it.
func (b bodySums) verifyBlob(ref objstore.BlobRef) error {
	if b.md5 != nil && hex.EncodeToString(b.md5) != ref.MD5 {
		return ErrBadDigest
	}
	for alg, want := range b.headers {
		got, ok := ref.Checksums[alg.String()]
		if !ok {
			return fmt.Errorf("s3api: StoreBlob did not compute %s", alg)
		}
		if got != want {
			return errBadChecksum(alg)
		}
	}
	return nil
}

// stored returns the checksums to record with the object, those the
// client supplied (S3 keeps exactly those): the header values, verified
// against the body, and the trailer's, which the signature layer verified
// when the body ended (it was read to its end before this is called).
func (b bodySums) stored(auth *sigv4.Auth) map[string]string {
	var out map[string]string
	for alg, v := range b.headers {
		if out == nil {
			out = map[string]string{}
		}
		out[alg.String()] = v
	}
	for alg, v := range auth.TrailerChecksums() {
		if out == nil {
			out = map[string]string{}
		}
		out[alg] = v
	}
	return out
}

// storeBlob streams body into a blob hashed with algs. size is the
// declared length (-1 if unknown) and limit the most the blob may hold.
// Failures of the body itself (a short body, a bad chunk signature, a
// trailing checksum that did not match) map to the S3 error the signature
// layer or bodyReadError gives them; the store's own failures pass through.
func (s *Server) storeBlob(r *http.Request, body io.Reader, size, limit int64, algs []checksum.Algorithm) (objstore.BlobRef, error) {
	t := &trackedBody{r: body}
	// The request's own context: a 5 GiB upload takes longer than
	// RequestTimeout, and stops anyway when the client goes away.
	ref, err := s.backend.StoreBlob(r.Context(), t, limit, algs...)
	if err != nil {
		if t.err != nil {
			return ref, bodyReadError(t.err)
		}
		return ref, err
	}
	if !t.eof {
		// StoreBlob's contract is to read to io.EOF; a backend that did
		// not must not get unverified bytes accepted, so the end is read
		// here (the check costs nothing when the contract holds).
		var one [1]byte
		n, err := io.ReadFull(t, one[:])
		if n > 0 || err != io.EOF {
			s.discardBlob(r, ref)
			if n > 0 {
				return objstore.BlobRef{}, ErrEntityTooLarge
			}
			return objstore.BlobRef{}, bodyReadError(err)
		}
	}
	if size >= 0 && ref.Size != size {
		s.discardBlob(r, ref)
		return objstore.BlobRef{}, ErrIncompleteBody
	}
	return ref, nil
}

// discardBlob drops a blob that will never be referenced. Best effort: the
// store collects unreferenced blobs anyway, so a failure is only logged.
// It runs even if the client has gone.
func (s *Server) discardBlob(r *http.Request, ref objstore.BlobRef) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.opts.RequestTimeout)
	defer cancel()
	if err := s.backend.DiscardBlob(ctx, ref.ID); err != nil {
		s.opts.Logger.Warn("discard blob", "blob", ref.ID, "err", err)
	}
}

// trackedBody remembers how reading a request body ended: StoreBlob
// returns a read error as is, and the handler must tell the client's
// errors from the store's, and know whether io.EOF (the signature layer's
// "verified") was reached.
type trackedBody struct {
	r   io.Reader
	err error
	eof bool
}

func (t *trackedBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	switch {
	case err == io.EOF:
		t.eof = true
	case err != nil && t.err == nil:
		t.err = err
	}
	return n, err
}

// readUpTo reads into buf until it is full or the body ends; eof reports
// the latter (io.EOF itself, which from the signature layer means the body
// was verified).
func readUpTo(body io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := body.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

// readBody reads a whole PUT body. With a known size it allocates exactly
// that; with an unknown size it grows up to limit and fails with
// EntityTooLarge beyond it, so no client-supplied number decides an
// allocation. It always reads to EOF, because the signature layer verifies
// payload hashes and trailing checksums only when it sees the end.
func readBody(body io.Reader, size, limit int64) ([]byte, error) {
	if size < 0 {
		buf, err := io.ReadAll(io.LimitReader(body, limit+1))
		if err != nil {
			return nil, bodyReadError(err)
		}
		if int64(len(buf)) > limit {
			return nil, ErrEntityTooLarge
		}
		return buf, nil
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, bodyReadError(err)
	}
	var extra [1]byte
	for {
		n, err := body.Read(extra[:])
		if n > 0 {
			return nil, ErrIncompleteBody.with("The request body is longer than its declared length.")
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, bodyReadError(err)
		}
	}
}

func stripAWSChunked(v string) string {
	if v == "" {
		return ""
	}
	var keep []string
	for _, part := range strings.Split(v, ",") {
		if p := strings.TrimSpace(part); p != "" && !strings.EqualFold(p, "aws-chunked") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

func userMetadata(h http.Header) (map[string]string, error) {
	var meta map[string]string
	total := 0
	for name, values := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, "x-amz-meta-") {
			continue
		}
		k := lower[len("x-amz-meta-"):]
		v := strings.Join(values, ",")
		total += len(k) + len(v)
		if meta == nil {
			meta = map[string]string{}
		}
		meta[k] = v
	}
	if total > maxUserMetadata {
		return nil, ErrMetadataTooLarge
	}
	return meta, nil
}

func contentMD5(h http.Header) ([]byte, error) {
	v, ok := h["Content-Md5"]
	if !ok {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(v, ""))
	if err != nil || len(b) != md5.Size {
		return nil, ErrInvalidDigest
	}
	return b, nil
}

// checksumHeaders returns the x-amz-checksum-* values sent as headers (not
// as trailers), which must be verified against the body.
func checksumHeaders(h http.Header) (map[checksum.Algorithm]string, error) {
	var out map[checksum.Algorithm]string
	for _, alg := range checksum.All() {
		v := firstValue(h[alg.CanonicalHeader()])
		if v == "" {
			continue
		}
		if !alg.ValidValue(v) {
			return nil, ErrInvalidRequest.with("Value for " + alg.HeaderName() + " header is invalid.")
		}
		if out == nil {
			out = map[checksum.Algorithm]string{}
		}
		out[alg] = v
	}
	return out, nil
}

// firstValue is http.Header.Get for a header already looked up by its
// canonical name.
func firstValue(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func quoteETag(etag string) string { return `"` + etag + `"` }

func (s *Server) headObject(w http.ResponseWriter, r *http.Request) {
	bucket, key, part, err := readTarget(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.backend.HeadObject(ctx, bucket, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkConditions(r, info); err != nil {
		s.writeObjectHeaders(w, r, info, nil)
		s.writeError(w, r, err)
		return
	}
	v, err := selectView(r, info, part)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObjectHeaders(w, r, info, &v)
	w.WriteHeader(v.status())
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request) {
	bucket, key, part, err := readTarget(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, body, err := s.backend.GetObject(ctx, bucket, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkConditions(r, info); err != nil {
		s.writeObjectHeaders(w, r, info, nil)
		s.writeError(w, r, err)
		return
	}
	v, err := selectView(r, info, part)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	commit := func() {
		s.writeObjectHeaders(w, r, info, &v)
		for q, hdr := range responseOverrides {
			if val := r.URL.Query().Get(q); val != "" {
				w.Header().Set(hdr, val)
			}
		}
		w.WriteHeader(v.status())
	}
	n := v.end - v.start
	if n == 0 {
		commit()
		return
	}
	// The body is read with the request's context, not opContext's:
	// sending gigabytes takes longer than RequestTimeout.
	rc, err := body.Open(r.Context(), v.start, n)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer rc.Close()
	s.sendBody(w, r, rc, n, commit)
}

// bodyBuffers are the copy buffers of GET responses. 256 KiB keeps a
// socket busy as well as a larger buffer would, and bounds what
// MaxInFlight concurrent downloads hold (64 MiB at the default 256).
var bodyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 256<<10)
	return &b
}}

// sendBody streams exactly n bytes of rc as the response body. commit
// writes the status line and headers; it is called once the first bytes
// were read, so a body that cannot be read at all still gets a proper
// error response. Once the headers are out, the status cannot change: a
// failed or short read aborts the connection (http.ErrAbortHandler), so
// the client sees a broken transfer and never a truncated 200.
func (s *Server) sendBody(w http.ResponseWriter, r *http.Request, rc io.Reader, n int64, commit func()) {
	bp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bp)
	buf := *bp
	var sent int64
	committed := false
	// A client that stops reading must not hold its slot (and a read hold
	// on the blobs) for ever: each write gets a progress deadline, as
	// each body read does.
	ctl := http.NewResponseController(w)
	var deadlineSet time.Time
	defer func() {
		if !deadlineSet.IsZero() {
			_ = ctl.SetWriteDeadline(time.Time{})
		}
	}()
	for sent < n {
		m, err := rc.Read(buf[:min(int64(len(buf)), n-sent)])
		if m > 0 {
			if !committed {
				commit()
				committed = true
			}
			if now := time.Now(); now.Sub(deadlineSet) >= s.opts.BodyIdleTimeout/refreshDivisor {
				if ctl.SetWriteDeadline(now.Add(s.opts.BodyIdleTimeout)) == nil {
					deadlineSet = now
				}
			}
			if _, werr := w.Write(buf[:m]); werr != nil {
				// The client went away; nothing more to say to it.
				panic(http.ErrAbortHandler)
			}
			sent += int64(m)
		}
		if err == nil || sent == n {
			continue
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if !committed {
			s.writeError(w, r, err)
			return
		}
		if r.Context().Err() == nil { // else the client left: not the store's fault
			s.opts.Logger.Error("object body read failed after the response started", "err", err,
				"path", r.URL.Path, "sent", sent, "want", n)
		}
		panic(http.ErrAbortHandler)
	}
	if !committed {
		commit()
	}
}

// objectView is what one GET or HEAD serves of an object: a byte range,
// how to present it, and the checksums that describe exactly those bytes.
type objectView struct {
	start, end int64 // the half-open byte range served
	size       int64 // the object's size, for Content-Range
	partial    bool  // 206 with Content-Range
	// partsCount is x-amz-mp-parts-count: S3 sends it only for a
	// partNumber request on a multipart object.
	partsCount int
	// checksums are returned under x-amz-checksum-mode: ENABLED; nil for
	// an arbitrary range, which no stored checksum describes.
	checksums    map[string]string
	checksumType string
}

func (v *objectView) status() int {
	if v.partial {
		return http.StatusPartialContent
	}
	return http.StatusOK
}

// readTarget reads what GET and HEAD address: the bucket, the key and the
// part number (0 for none). A version ID other than "null" names nothing in
// an unversioned bucket. A request without a query (most reads) is
// answered without parsing one.
func readTarget(r *http.Request) (bucket, key string, part int, err error) {
	bucket, key = pathVars(r)
	if r.URL.RawQuery == "" {
		return bucket, key, 0, nil
	}
	if part, err = partNumberParam(r); err != nil {
		return "", "", 0, err
	}
	return bucket, key, part, checkVersionID(r)
}

// partNumberParam parses GET and HEAD's partNumber, 0 when absent. S3
// refuses it together with a Range header.
func partNumberParam(r *http.Request) (int, error) {
	vals, ok := r.URL.Query()["partNumber"]
	if !ok {
		return 0, nil
	}
	n, err := parsePartNumber(vals[0])
	if err != nil {
		return 0, err
	}
	if r.Header.Get("Range") != "" {
		return 0, ErrPartNumberWithRange
	}
	return n, nil
}

// parsePartNumber accepts 1..10000.
func parsePartNumber(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > objstore.MaxParts {
		return 0, ErrInvalidPartNumberArg
	}
	return n, nil
}

// selectView decides what a GET or HEAD serves: part number part (0 for
// none), else the Range header, else the whole object.
//
// A part of a multipart object is served as a range (206, Content-Range)
// with x-amz-mp-parts-count and that part's checksums. An object that was
// not uploaded in parts has a single part 1, the whole object, still
// presented as a range as S3 does. Checksums are returned for the whole
// object and for a part, never for an arbitrary range.
func selectView(r *http.Request, info objstore.ObjectInfo, part int) (objectView, error) {
	v := objectView{end: info.Size, size: info.Size, checksumType: info.ChecksumType}
	if v.checksumType == "" {
		v.checksumType = objstore.ChecksumFullObject
	}
	switch {
	case part > 0 && info.PartsCount == 0:
		if part != 1 {
			return v, ErrInvalidPartNumber
		}
		v.partial = info.Size > 0
		v.checksums = info.Checksums
	case part > 0:
		if part > info.PartsCount {
			return v, ErrInvalidPartNumber
		}
		if len(info.Blobs) != info.PartsCount {
			return v, fmt.Errorf("s3api: object %q has %d parts but %d blobs", info.Key, info.PartsCount, len(info.Blobs))
		}
		v.start = 0
		for _, b := range info.Blobs[:part-1] {
			v.start += b.Size
		}
		p := info.Blobs[part-1]
		v.end = v.start + p.Size
		v.partial = p.Size > 0
		v.partsCount = info.PartsCount
		// The part's own values, of the algorithms the object carries.
		for alg := range info.Checksums {
			if sum, ok := p.Checksums[alg]; ok {
				if v.checksums == nil {
					v.checksums = map[string]string{}
				}
				v.checksums[alg] = sum
			}
		}
	default:
		start, end, partial, err := parseRange(r.Header.Get("Range"), info.Size)
		if err != nil {
			return v, err
		}
		v.start, v.end, v.partial = start, end, partial
		if !partial {
			v.checksums = info.Checksums
		}
	}
	return v, nil
}

// writeObjectHeaders sets the metadata headers shared by GET and HEAD, and
// for a successful answer (v not nil) those describing the bytes served.
// Checksums are returned only when the client asked (x-amz-checksum-mode:
// ENABLED), as S3 does.
func (s *Server) writeObjectHeaders(w http.ResponseWriter, r *http.Request, info objstore.ObjectInfo, v *objectView) {
	h := w.Header()
	h.Set("ETag", quoteETag(info.ETag))
	h.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Content-Type", info.ContentType)
	h.Set("Accept-Ranges", "bytes")
	for k, v := range info.Headers {
		h.Set(k, v)
	}
	for k, v := range info.UserMeta {
		// Lowercase on the wire, as S3 sends them: botocore builds its
		// Metadata dict from the header names verbatim.
		h["x-amz-meta-"+k] = []string{v}
	}
	setTagCount(h, info)
	if v == nil {
		return
	}
	h.Set("Content-Length", strconv.FormatInt(v.end-v.start, 10))
	if v.partial {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(v.start, 10)+"-"+strconv.FormatInt(v.end-1, 10)+"/"+strconv.FormatInt(v.size, 10))
	}
	if v.partsCount > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(v.partsCount))
	}
	if len(v.checksums) > 0 && strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		for alg, sum := range v.checksums {
			h.Set("x-amz-checksum-"+alg, sum)
		}
		h.Set("x-amz-checksum-type", v.checksumType)
	}
}

// conditions are the four HTTP preconditions, on a GET or HEAD or (with
// the x-amz-copy-source-if- prefix) on a copy's source.
type conditions struct {
	ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince string
}

// checkConditions evaluates GET/HEAD preconditions.
func checkConditions(r *http.Request, info objstore.ObjectInfo) error {
	h := r.Header
	return conditions{
		ifMatch:           h.Get("If-Match"),
		ifNoneMatch:       h.Get("If-None-Match"),
		ifModifiedSince:   h.Get("If-Modified-Since"),
		ifUnmodifiedSince: h.Get("If-Unmodified-Since"),
	}.eval(info)
}

// eval applies the conditions in S3's order: If-Match and If-None-Match
// take precedence over their date-based partners, and a date that does
// not parse is ignored. It returns ErrPreconditionFailed or
// ErrNotModified (a copy reports both as PreconditionFailed).
func (c conditions) eval(info objstore.ObjectInfo) error {
	lm := info.LastModified.Truncate(time.Second)
	if c.ifMatch != "" {
		if !objstore.ETagMatches(c.ifMatch, info.ETag) {
			return ErrPreconditionFailed
		}
	} else if c.ifUnmodifiedSince != "" {
		if t, err := http.ParseTime(c.ifUnmodifiedSince); err == nil && lm.After(t) {
			return ErrPreconditionFailed
		}
	}
	if c.ifNoneMatch != "" {
		if objstore.ETagMatches(c.ifNoneMatch, info.ETag) {
			return ErrNotModified
		}
	} else if c.ifModifiedSince != "" {
		if t, err := http.ParseTime(c.ifModifiedSince); err == nil && !lm.After(t) {
			return ErrNotModified
		}
	}
	return nil
}

// parseRange interprets a single-range "bytes=" header against size and
// returns the half-open interval to serve. Like S3, a header it cannot
// parse (or a multi-range request) is ignored and the whole object served;
// a syntactically valid but unsatisfiable range is 416 InvalidRange.
func parseRange(v string, size int64) (start, end int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, nil
	}
	// Digits only: ParseInt would also take a sign ("bytes=+3-4").
	if first != "" && !isDigits(first) || last != "" && !isDigits(last) {
		return 0, size, false, nil
	}
	if first == "" {
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil {
			return 0, size, false, nil
		}
		if n == 0 {
			return 0, 0, false, ErrInvalidRange
		}
		if size == 0 {
			// No byte to name: the (empty) object is served whole, 200,
			// as S3 does for a tail read of an empty object. 206 would
			// need the impossible Content-Range "bytes 0--1/0".
			return 0, 0, false, nil
		}
		if n > size {
			n = size
		}
		return size - n, size, true, nil
	}
	a, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil {
		return 0, size, false, nil
	}
	b := size - 1
	if last != "" {
		if b, perr = strconv.ParseInt(last, 10, 64); perr != nil || b < a {
			return 0, size, false, nil
		}
	}
	if a >= size {
		return 0, 0, false, ErrInvalidRange
	}
	if b >= size {
		b = size - 1
	}
	return a, b + 1, true, nil
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	// Buckets are unversioned: every object is version "null". Any other
	// version ID names nothing, and must not delete the current object.
	if err := checkVersionID(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.DeleteObject(ctx, bucket, key); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
