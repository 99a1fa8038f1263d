package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
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
	for alg, v := range info.Checksums {
		h.Set("x-amz-checksum-"+alg, v)
	}
	w.WriteHeader(http.StatusOK)
}

// readPut validates headers, reads and verifies the body and returns the
// request to propose. Every check that can fail happens before the body is
// accepted, so a rejected PUT changes nothing.
func (s *Server) readPut(r *http.Request, bucket, key string) (*objstore.PutRequest, error) {
	// -1 when unknown: an aws-chunked upload of a stream without
	// x-amz-decoded-content-length (aws-sdk-go-v2 over HTTPS sends those).
	auth := authOf(r)
	size := auth.DecodedContentLength
	if size < 0 && !auth.Streaming() {
		return nil, ErrMissingContentLength
	}
	if size > s.opts.MaxObjectSize {
		return nil, ErrEntityTooLarge
	}
	info := objstore.ObjectInfo{Key: key, ContentType: r.Header.Get("Content-Type")}
	if info.ContentType == "" {
		info.ContentType = "binary/octet-stream"
	}
	var err error
	if info.UserMeta, err = userMetadata(r.Header); err != nil {
		return nil, err
	}
	if info.Tags, err = taggingHeader(r.Header); err != nil {
		return nil, err
	}
	for _, name := range storedHeaders {
		v := r.Header.Get(name)
		if name == "Content-Encoding" {
			v = stripAWSChunked(v)
		}
		if v != "" {
			if info.Headers == nil {
				info.Headers = map[string]string{}
			}
			info.Headers[name] = v
		}
	}
	req := &objstore.PutRequest{Bucket: bucket, Key: key, IfMatch: r.Header.Get("If-Match"), IfNoneMatch: r.Header.Get("If-None-Match")}
	if req.IfNoneMatch != "" && req.IfNoneMatch != "*" {
		return nil, ErrNotImplemented.with("If-None-Match on PUT supports only *")
	}
	wantMD5, err := contentMD5(r.Header)
	if err != nil {
		return nil, err
	}
	headerSums, err := checksumHeaders(r.Header)
	if err != nil {
		return nil, err
	}

	body, err := readBody(r.Body, size, s.opts.MaxObjectSize)
	if err != nil {
		return nil, err
	}

	sum := md5.Sum(body)
	if wantMD5 != nil && !bytes.Equal(wantMD5, sum[:]) {
		return nil, ErrBadDigest
	}
	sums := map[string]string{}
	for alg, want := range headerSums {
		got := alg.Of(body)
		if got != want {
			return nil, ErrBadDigest.with("The " + strings.ToUpper(alg.String()) + " you specified did not match the calculated checksum.")
		}
		sums[alg.String()] = got
	}
	for alg, v := range auth.TrailerChecksums() {
		sums[alg] = v
	}
	if len(sums) > 0 {
		info.Checksums = sums
	}
	info.Size = int64(len(body))
	info.ETag = hex.EncodeToString(sum[:])
	req.Body = body
	req.Info = info
	return req, nil
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
		v := h.Get(alg.HeaderName())
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

func quoteETag(etag string) string { return `"` + etag + `"` }

func (s *Server) headObject(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.backend.HeadObject(ctx, bucket, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkConditions(r, info); err != nil {
		s.writeObjectHeaders(w, r, info, true)
		s.writeError(w, r, err)
		return
	}
	s.writeObjectHeaders(w, r, info, true)
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.WriteHeader(http.StatusOK)
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, body, err := s.backend.GetObject(ctx, bucket, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkConditions(r, info); err != nil {
		s.writeObjectHeaders(w, r, info, false)
		s.writeError(w, r, err)
		return
	}
	start, end, partial, err := parseRange(r.Header.Get("Range"), info.Size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	s.writeObjectHeaders(w, r, info, !partial)
	for q, hdr := range responseOverrides {
		if v := r.URL.Query().Get(q); v != "" {
			h.Set(hdr, v)
		}
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end-1, 10)+"/"+strconv.FormatInt(info.Size, 10))
	}
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	w.WriteHeader(status)
	_, _ = w.Write(body[start:end])
}

// writeObjectHeaders sets the metadata headers shared by GET and HEAD.
// Checksums are returned only for whole-object responses and only when the
// client asked (x-amz-checksum-mode: ENABLED), as S3 does.
func (s *Server) writeObjectHeaders(w http.ResponseWriter, r *http.Request, info objstore.ObjectInfo, whole bool) {
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
	if whole && strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		for alg, v := range info.Checksums {
			h.Set("x-amz-checksum-"+alg, v)
		}
		if len(info.Checksums) > 0 {
			h.Set("x-amz-checksum-type", "FULL_OBJECT")
		}
	}
}

// checkConditions evaluates GET/HEAD preconditions in S3's order: If-Match
// and If-None-Match take precedence over their date-based partners.
func checkConditions(r *http.Request, info objstore.ObjectInfo) error {
	h := r.Header
	lm := info.LastModified.Truncate(time.Second)
	ifMatch, ifNoneMatch := h.Get("If-Match"), h.Get("If-None-Match")
	if ifMatch != "" {
		if !objstore.ETagMatches(ifMatch, info.ETag) {
			return ErrPreconditionFailed
		}
	} else if v := h.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && lm.After(t) {
			return ErrPreconditionFailed
		}
	}
	if ifNoneMatch != "" {
		if objstore.ETagMatches(ifNoneMatch, info.ETag) {
			return ErrNotModified
		}
	} else if v := h.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !lm.After(t) {
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
	if first == "" {
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n < 0 {
			return 0, size, false, nil
		}
		if n == 0 {
			return 0, 0, false, ErrInvalidRange
		}
		if n > size {
			n = size
		}
		return size - n, size, true, nil
	}
	a, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || a < 0 {
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
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.DeleteObject(ctx, bucket, key); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
