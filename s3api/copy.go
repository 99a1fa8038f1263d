package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// CopyObject: PUT /bucket/key with x-amz-copy-source. The handler only
// parses and validates; reading the source, evaluating the conditions and
// writing the destination is one state-machine command, so the copy is
// atomic and linearizable.

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	Xmlns        string   `xml:"xmlns,attr"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
	ChecksumType string   `xml:"ChecksumType,omitempty"`
	checksumFields
}

func (s *Server) copyObject(w http.ResponseWriter, r *http.Request) {
	req, err := s.parseCopy(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The request's context, not opContext's deadline: copying a
	// blob-backed source moves up to 5 GiB, and the backend bounds its
	// own waits on the cluster.
	info, err := s.backend.CopyObject(r.Context(), req)
	if errors.Is(err, objstore.ErrEntityTooLarge) {
		// The source is over the 5 GiB a single copy may take.
		err = ErrCopySourceTooLarge
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := copyObjectResult{
		Xmlns:          s3Namespace,
		ETag:           quoteETag(info.ETag),
		LastModified:   xmlTime(info.LastModified),
		checksumFields: checksumXML(info.Checksums),
	}
	if len(info.Checksums) > 0 {
		out.ChecksumType = info.ChecksumType
		if out.ChecksumType == "" {
			out.ChecksumType = objstore.ChecksumFullObject
		}
	}
	s.writeXML(w, http.StatusOK, out)
}

// parseCopy turns a CopyObject request into the command's request. Every
// check that does not need the stored objects happens here.
func (s *Server) parseCopy(r *http.Request) (*objstore.CopyRequest, error) {
	bucket, key := pathVars(r)
	if err := checkKey(key); err != nil {
		return nil, err
	}
	h := r.Header
	if err := checkWriteHeaders(h); err != nil {
		return nil, err
	}
	srcBucket, srcKey, err := parseCopySource(h.Get("X-Amz-Copy-Source"))
	if err != nil {
		return nil, err
	}
	req := &objstore.CopyRequest{
		SrcBucket:      srcBucket,
		SrcKey:         srcKey,
		Bucket:         bucket,
		Key:            key,
		SrcIfMatch:     h.Get("X-Amz-Copy-Source-If-Match"),
		SrcIfNoneMatch: h.Get("X-Amz-Copy-Source-If-None-Match"),
		IfMatch:        h.Get("If-Match"),
		IfNoneMatch:    h.Get("If-None-Match"),
	}
	if req.IfNoneMatch != "" && req.IfNoneMatch != "*" {
		return nil, ErrNotImplemented.with("If-None-Match on PUT supports only *")
	}
	// S3 ignores a date it cannot parse, like any HTTP date precondition.
	if t, err := http.ParseTime(h.Get("X-Amz-Copy-Source-If-Modified-Since")); err == nil {
		req.SrcIfModifiedSince = t.UTC()
	}
	if t, err := http.ParseTime(h.Get("X-Amz-Copy-Source-If-Unmodified-Since")); err == nil {
		req.SrcIfUnmodifiedSince = t.UTC()
	}

	switch d := h.Get("X-Amz-Metadata-Directive"); d {
	case "", "COPY":
	case "REPLACE":
		req.ReplaceMetadata = true
		req.ContentType = h.Get("Content-Type")
		if req.ContentType == "" {
			req.ContentType = "binary/octet-stream"
		}
		if req.UserMeta, err = userMetadata(h); err != nil {
			return nil, err
		}
		for _, name := range storedHeaders {
			if v := h.Get(name); v != "" {
				if req.Headers == nil {
					req.Headers = map[string]string{}
				}
				req.Headers[name] = v
			}
		}
	default:
		return nil, ErrUnknownDirective
	}
	switch d := h.Get("X-Amz-Tagging-Directive"); d {
	case "", "COPY":
	case "REPLACE":
		req.ReplaceTags = true
		if req.Tags, err = taggingHeader(h); err != nil {
			return nil, err
		}
	default:
		return nil, ErrUnknownTagDirective
	}
	if v := h.Get("X-Amz-Checksum-Algorithm"); v != "" {
		alg, err := checksum.ParseAlgorithm(v)
		if err != nil {
			return nil, ErrInvalidChecksumAlgo
		}
		req.ChecksumAlgorithm = alg.String()
	}
	// Copying an object onto itself must change something S3 keeps about
	// it. Storage class is accepted as such a change (every object here is
	// STANDARD, so it changes nothing but is not an error).
	if srcBucket == bucket && srcKey == key && !req.ReplaceMetadata && !req.ReplaceTags &&
		h.Get("X-Amz-Storage-Class") == "" {
		return nil, ErrCopyToItself
	}
	return req, nil
}

// parseCopySource splits x-amz-copy-source ("bucket/key", URL-encoded,
// optionally with a leading "/" and a "?versionId=" suffix) into the
// decoded bucket and key. The only version an unversioned bucket has is
// "null".
func parseCopySource(v string) (bucket, key string, err error) {
	src, query, hasQuery := strings.Cut(v, "?")
	if hasQuery {
		q, err := url.ParseQuery(query)
		if err != nil {
			return "", "", ErrInvalidCopySource
		}
		if vid, ok := q["versionId"]; ok && vid[0] != "null" {
			return "", "", ErrInvalidVersionID
		}
	}
	decoded, err := url.PathUnescape(src)
	if err != nil {
		return "", "", ErrInvalidCopySourceName
	}
	decoded = strings.TrimPrefix(decoded, "/")
	bucket, key, ok := strings.Cut(decoded, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", ErrInvalidCopySource
	}
	if err := checkKey(key); err != nil {
		return "", "", err
	}
	return bucket, key, nil
}
