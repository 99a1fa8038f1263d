package s3api

import (
	"encoding/xml"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/strongboxdb/strongbox/objstore"
)

// Object tagging: PutObjectTagging, GetObjectTagging, DeleteObjectTagging
// (?tagging on an object) and the x-amz-tagging header of PutObject and
// CopyObject. Tags live in the object record; changing them leaves the
// ETag and Last-Modified alone, as in S3.

// Limits S3 enforces on object tags. Lengths count UTF-16 code units, which
// is how S3 says it represents tags internally.
const (
	maxObjectTags  = 10
	maxTagKeyLen   = 128
	maxTagValueLen = 256
	// maxTaggingBody bounds a PutObjectTagging document: ten maximal tags
	// fit in well under 16 KiB even with every character escaped.
	maxTaggingBody = 64 << 10
)

type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  *tagSet  `xml:"TagSet"`
}

type tagSet struct {
	Tags []tagXML `xml:"Tag"`
}

// tags validates the set as S3 does (every Tag has a Key and a Value,
// then validateTags' rules) and returns it as a map.
func (ts *tagSet) tags() (map[string]string, error) {
	pairs := make([][2]string, 0, len(ts.Tags))
	for _, t := range ts.Tags {
		if t.Key == nil || t.Value == nil {
			return nil, ErrMalformedXML
		}
		pairs = append(pairs, [2]string{*t.Key, *t.Value})
	}
	return validateTags(pairs)
}

// parseTaggingDocument decodes a PutObjectTagging body: a Tagging
// document with a TagSet (MalformedXML otherwise) whose tags pass
// tagSet.tags.
func parseTaggingDocument(body []byte) (map[string]string, error) {
	var doc tagging
	if err := xml.Unmarshal(body, &doc); err != nil || doc.TagSet == nil {
		return nil, ErrMalformedXML
	}
	return doc.TagSet.tags()
}

type tagXML struct {
	Key   *string `xml:"Key"`
	Value *string `xml:"Value"`
}

func (s *Server) putObjectTagging(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	if err := checkVersionID(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readXMLBody(r, maxTaggingBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tags, err := parseTaggingDocument(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.PutObjectTagging(ctx, bucket, key, tags); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) getObjectTagging(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	if err := checkVersionID(r); err != nil {
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
	out := tagging{Xmlns: s3Namespace, TagSet: &tagSet{}}
	for _, k := range slices.Sorted(maps.Keys(info.Tags)) {
		out.TagSet.Tags = append(out.TagSet.Tags, tagXML{Key: &k, Value: new(info.Tags[k])})
	}
	s.writeXML(w, http.StatusOK, out)
}

func (s *Server) deleteObjectTagging(w http.ResponseWriter, r *http.Request) {
	bucket, key := pathVars(r)
	if err := checkVersionID(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.PutObjectTagging(ctx, bucket, key, nil); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkVersionID accepts a versionId query parameter only when it names
// the one version an unversioned bucket has ("null").
func checkVersionID(r *http.Request) error {
	if v, ok := r.URL.Query()["versionId"]; ok && v[0] != "null" {
		return ErrInvalidVersionID
	}
	return nil
}

// taggingHeader parses x-amz-tagging ("k1=v1&k2=v2", form-encoded) into a
// validated tag set; nil when the header is absent or empty.
func taggingHeader(h http.Header) (map[string]string, error) {
	v := h.Get("X-Amz-Tagging")
	if v == "" {
		return nil, nil
	}
	return parseTagging(v)
}

// parseTagging decodes a URL-query-encoded tag set. A pair without "="
// is a key with the empty value; a pair with two, an undecodable escape or
// a repeated key is refused with InvalidArgument, as S3 does.
func parseTagging(v string) (map[string]string, error) {
	var pairs [][2]string
	seen := map[string]bool{}
	for part := range strings.SplitSeq(v, "&") {
		if part == "" {
			continue
		}
		if strings.Count(part, "=") > 1 {
			return nil, ErrInvalidTaggingHeader
		}
		rawKey, rawValue, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(rawKey)
		val, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil || seen[k] {
			return nil, ErrInvalidTaggingHeader
		}
		seen[k] = true
		pairs = append(pairs, [2]string{k, val})
	}
	return validateTags(pairs)
}

// validateTags applies S3's object tag rules to key/value pairs in request
// order and returns them as a map (nil for none): at most 10 tags
// (BadRequest, as S3 answers), keys of 1 to 128 and values of up to 256
// UTF-16 code units drawn from letters, digits, white space and
// "_ . : / = + @ -", no "aws:" prefix, no repeated key (InvalidTag).
func validateTags(pairs [][2]string) (map[string]string, error) {
	if len(pairs) > maxObjectTags {
		return nil, ErrTooManyTags
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	tags := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v := p[0], p[1]
		if n := utf16Len(k); n == 0 || n > maxTagKeyLen || !validTagText(k) {
			return nil, ErrInvalidTag
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, ErrInvalidTag.with("Your TagKey cannot be prefixed with aws:")
		}
		if utf16Len(v) > maxTagValueLen || !validTagText(v) {
			return nil, ErrInvalidTag.with("The TagValue you have provided is invalid")
		}
		if _, dup := tags[k]; dup {
			return nil, ErrInvalidTag.with("Cannot provide multiple Tags with the same key")
		}
		tags[k] = v
	}
	return tags, nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// validTagText reports whether s uses only the characters S3 allows in
// tags: Unicode letters, numbers and separators, and _ . : / = + @ -.
func validTagText(s string) bool {
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.L, unicode.N, unicode.Z):
		case strings.ContainsRune("_.:/=+@-", r):
		default:
			return false
		}
	}
	return true
}

// setTagCount adds x-amz-tagging-count to a GET or HEAD response of a
// tagged object.
func setTagCount(h http.Header, info objstore.ObjectInfo) {
	if len(info.Tags) > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(len(info.Tags)))
	}
}
