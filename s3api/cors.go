package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/strongboxdb/strongbox/objstore"
)

// Bucket CORS: Put/Get/DeleteBucketCors (?cors on a bucket), the preflight
// OPTIONS request, and the CORS headers of actual requests.
//
// Evaluation follows S3: the first rule whose AllowedOrigin matches the
// Origin header (at most one "*" wildcard, matching any run of characters,
// anchored at both ends; case-sensitive), whose AllowedMethod lists the
// method, and, for a preflight, whose AllowedHeader patterns cover every
// name in Access-Control-Request-Headers (case-insensitive) wins. A
// preflight is answered without authentication, as browsers send it
// without credentials; a preflight no rule allows is 403 AccessForbidden.
// An actual request that no rule allows is served normally, without CORS
// headers. The method an actual request is matched with is its
// Access-Control-Request-Method header when present, else its own.

const (
	maxCORSRules = 100
	// maxCORSBody is S3's documented limit on the configuration document.
	maxCORSBody = 64 << 10
	maxCORSID   = 255

	corsVary = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
)

// corsMethods are the methods a rule may allow.
var corsMethods = []string{http.MethodGet, http.MethodPut, http.MethodHead, http.MethodPost, http.MethodDelete}

type corsConfiguration struct {
	XMLName xml.Name  `xml:"CORSConfiguration"`
	Xmlns   string    `xml:"xmlns,attr,omitempty"`
	Rules   []corsXML `xml:"CORSRule"`
}

type corsXML struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int64   `xml:"MaxAgeSeconds"`
}

func (s *Server) putBucketCors(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	body, err := readXMLBody(r, maxCORSBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rules, err := parseCORS(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.PutBucketCors(ctx, bucket, rules); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// parseCORS decodes and validates a CORSConfiguration document.
func parseCORS(body []byte) ([]objstore.CORSRule, error) {
	var doc corsConfiguration
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, ErrMalformedXML
	}
	if len(doc.Rules) == 0 || len(doc.Rules) > maxCORSRules {
		return nil, ErrMalformedXML
	}
	rules := make([]objstore.CORSRule, 0, len(doc.Rules))
	for _, x := range doc.Rules {
		if len(x.AllowedOrigins) == 0 || len(x.AllowedMethods) == 0 {
			return nil, ErrMalformedXML
		}
		for _, m := range x.AllowedMethods {
			if !isCORSMethod(m) {
				return nil, ErrInvalidRequest.with("Found unsupported HTTP method in CORS config. Unsupported method is " + m)
			}
		}
		for _, o := range x.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				return nil, ErrInvalidRequest.with(`AllowedOrigin "` + o + `" can not have more than one wildcard.`)
			}
		}
		for _, h := range x.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return nil, ErrInvalidRequest.with(`AllowedHeader "` + h + `" can not have more than one wildcard.`)
			}
		}
		if len(x.ID) > maxCORSID {
			return nil, ErrInvalidArgument.with("The ID of a CORS rule cannot be longer than 255 characters.")
		}
		rule := objstore.CORSRule{
			ID:             x.ID,
			AllowedOrigins: x.AllowedOrigins,
			AllowedMethods: x.AllowedMethods,
			AllowedHeaders: x.AllowedHeaders,
			ExposeHeaders:  x.ExposeHeaders,
			MaxAgeSeconds:  -1,
		}
		if x.MaxAgeSeconds != nil {
			if *x.MaxAgeSeconds < 0 {
				return nil, ErrMalformedXML
			}
			rule.MaxAgeSeconds = *x.MaxAgeSeconds
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

func isCORSMethod(m string) bool { return slices.Contains(corsMethods, m) }

func (s *Server) getBucketCors(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.backend.HeadBucket(ctx, bucket)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(info.CORS) == 0 {
		s.writeError(w, r, ErrNoSuchCORSConfig)
		return
	}
	out := corsConfiguration{Xmlns: s3Namespace}
	for _, rule := range info.CORS {
		x := corsXML{
			ID:             rule.ID,
			AllowedHeaders: rule.AllowedHeaders,
			AllowedMethods: rule.AllowedMethods,
			AllowedOrigins: rule.AllowedOrigins,
			ExposeHeaders:  rule.ExposeHeaders,
		}
		if rule.MaxAgeSeconds >= 0 {
			x.MaxAgeSeconds = &rule.MaxAgeSeconds
		}
		out.Rules = append(out.Rules, x)
	}
	s.writeXML(w, http.StatusOK, out)
}

func (s *Server) deleteBucketCors(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.PutBucketCors(ctx, bucket, nil); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// preflight answers an OPTIONS request. It runs before authentication:
// browsers never sign a preflight.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		s.writeError(w, r, ErrCORSMissingOrigin)
		return
	}
	bucket := s.requestBucket(r)
	if !validBucketName(bucket) {
		s.writeError(w, r, ErrCORSBucketNotFound)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.backend.HeadBucket(ctx, bucket)
	if errors.Is(err, objstore.ErrNoSuchBucket) {
		err = ErrCORSBucketNotFound
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(info.CORS) == 0 {
		s.writeError(w, r, ErrCORSNotEnabled)
		return
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if !isCORSMethod(method) {
		if method == "" {
			method = "null"
		}
		s.writeError(w, r, ErrCORSInvalidMethod.with(ErrCORSInvalidMethod.Message+method))
		return
	}
	var requested []string
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				requested = append(requested, name)
			}
		}
	}
	rule, wildcard := matchCORS(info.CORS, origin, method, requested)
	if rule == nil {
		s.writeError(w, r, ErrCORSNotAllowed)
		return
	}
	h := w.Header()
	writeCORSHeaders(h, rule, origin, wildcard)
	if len(requested) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(requested, ", "))
	}
	w.WriteHeader(http.StatusOK)
}

// setCORSHeaders adds the CORS response headers to an actual request that
// carries an Origin allowed by its bucket's rules. It is called before
// authentication, so a browser can also read the error of a refused
// request; it changes nothing when no rule matches or the bucket cannot be
// read.
func (s *Server) setCORSHeaders(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	bucket := s.requestBucket(r)
	if !validBucketName(bucket) {
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	info, err := s.backend.HeadBucket(ctx, bucket)
	if err != nil || len(info.CORS) == 0 {
		return
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if method == "" {
		method = r.Method
	}
	if rule, wildcard := matchCORS(info.CORS, origin, method, nil); rule != nil {
		writeCORSHeaders(w.Header(), rule, origin, wildcard)
	}
}

// matchCORS returns the first rule allowing origin, method and every
// requested header (lowercase), and whether it matched through the bare
// "*" origin.
func matchCORS(rules []objstore.CORSRule, origin, method string, headers []string) (*objstore.CORSRule, bool) {
	for i := range rules {
		rule := &rules[i]
		wildcard, ok := false, false
		for _, o := range rule.AllowedOrigins {
			if wildcardMatch(o, origin) {
				ok, wildcard = true, o == "*"
				break
			}
		}
		if !ok || !slices.Contains(rule.AllowedMethods, method) {
			continue
		}
		if allHeadersAllowed(rule.AllowedHeaders, headers) {
			return rule, wildcard
		}
	}
	return nil, false
}

func allHeadersAllowed(patterns, headers []string) bool {
	for _, h := range headers {
		ok := false
		for _, p := range patterns {
			if wildcardMatch(strings.ToLower(p), h) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// wildcardMatch matches s against a pattern with at most one "*", which
// stands for any run of characters, the empty one included.
func wildcardMatch(pattern, s string) bool {
	prefix, suffix, found := strings.Cut(pattern, "*")
	if !found {
		return pattern == s
	}
	return len(s) >= len(prefix)+len(suffix) && strings.HasPrefix(s, prefix) && strings.HasSuffix(s, suffix)
}

// writeCORSHeaders sets the headers S3 sends for a matched rule. A rule
// matched through the "*" origin answers "*" and no credentials header;
// any other echoes the origin and allows credentials.
func writeCORSHeaders(h http.Header, rule *objstore.CORSRule, origin string, wildcard bool) {
	if wildcard {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(rule.AllowedMethods, ", "))
	if len(rule.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(rule.ExposeHeaders, ", "))
	}
	if rule.MaxAgeSeconds >= 0 {
		h.Set("Access-Control-Max-Age", strconv.FormatInt(rule.MaxAgeSeconds, 10))
	}
	h.Set("Vary", corsVary)
}
