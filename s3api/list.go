package s3api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/strongboxdb/strongbox/objstore"
)

// listParams are the parts of ListObjects v1 and v2 requests they share.
type listParams struct {
	opts      objstore.ListOptions
	encodeURL bool
}

func parseListParams(q url.Values) (listParams, error) {
	p := listParams{opts: objstore.ListOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: maxListKeys}}
	if v, ok := q["max-keys"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return p, ErrInvalidMaxKeys
		}
		// S3 silently caps pages at 1000 keys.
		p.opts.MaxKeys = min(n, maxListKeys)
	}
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		p.encodeURL = true
	default:
		return p, ErrInvalidEncodingType
	}
	return p, nil
}

// encode applies encoding-type=url the way S3 does (form encoding, "/"
// kept), so keys with control characters survive XML.
func (p listParams) encode(s string) string {
	if !p.encodeURL {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func (p listParams) entries(res objstore.ListResult, withOwner bool) ([]listObjectEntry, []commonPrefix) {
	contents := make([]listObjectEntry, 0, len(res.Objects))
	for _, o := range res.Objects {
		e := listObjectEntry{
			Key:          p.encode(o.Key),
			LastModified: xmlTime(o.LastModified),
			ETag:         quoteETag(o.ETag),
			Size:         o.Size,
			StorageClass: "STANDARD",
		}
		if withOwner {
			e.Owner = &defaultOwner
		}
		for alg := range o.Checksums {
			e.Checksum = append(e.Checksum, strings.ToUpper(alg))
		}
		contents = append(contents, e)
	}
	prefixes := make([]commonPrefix, 0, len(res.CommonPrefixes))
	for _, cp := range res.CommonPrefixes {
		prefixes = append(prefixes, commonPrefix{Prefix: p.encode(cp)})
	}
	return contents, prefixes
}

func (s *Server) listObjectsV2(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	q := r.URL.Query()
	p, err := parseListParams(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	token, hasToken := q["continuation-token"]
	if hasToken {
		raw, err := base64.RawURLEncoding.DecodeString(token[0])
		if err != nil || token[0] == "" {
			s.writeError(w, r, ErrInvalidContinuationToken)
			return
		}
		p.opts.StartAfter = string(raw)
	} else {
		p.opts.StartAfter = q.Get("start-after")
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	res, err := s.backend.ListObjects(ctx, bucket, p.opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	contents, prefixes := p.entries(res, q.Get("fetch-owner") == "true")
	out := listBucketResultV2{
		Xmlns:          s3Namespace,
		Name:           bucket,
		Prefix:         p.encode(p.opts.Prefix),
		Delimiter:      p.encode(p.opts.Delimiter),
		MaxKeys:        p.opts.MaxKeys,
		KeyCount:       len(contents) + len(prefixes),
		IsTruncated:    res.IsTruncated,
		StartAfter:     p.encode(q.Get("start-after")),
		Contents:       contents,
		CommonPrefixes: prefixes,
	}
	if p.encodeURL {
		out.EncodingType = "url"
	}
	if hasToken {
		out.ContinuationToken = token[0]
	}
	if res.IsTruncated {
		out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.NextStartAfter))
	}
	s.writeXML(w, http.StatusOK, out)
}

func (s *Server) listObjectsV1(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	q := r.URL.Query()
	p, err := parseListParams(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p.opts.StartAfter = q.Get("marker")
	ctx, cancel := s.opContext(r)
	defer cancel()
	res, err := s.backend.ListObjects(ctx, bucket, p.opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	contents, prefixes := p.entries(res, true)
	out := listBucketResultV1{
		Xmlns:          s3Namespace,
		Name:           bucket,
		Prefix:         p.encode(p.opts.Prefix),
		Marker:         p.encode(p.opts.StartAfter),
		MaxKeys:        p.opts.MaxKeys,
		Delimiter:      p.encode(p.opts.Delimiter),
		IsTruncated:    res.IsTruncated,
		Contents:       contents,
		CommonPrefixes: prefixes,
	}
	if p.encodeURL {
		out.EncodingType = "url"
	}
	// S3 returns NextMarker only for delimited listings; without a
	// delimiter clients continue from the last key they saw.
	if res.IsTruncated && p.opts.Delimiter != "" {
		out.NextMarker = p.encode(res.NextStartAfter)
	}
	s.writeXML(w, http.StatusOK, out)
}
