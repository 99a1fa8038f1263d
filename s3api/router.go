package s3api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"
)

// unsupportedSubresources are S3 query flags naming features Strongbox does
// not implement. A request carrying one gets 501 NotImplemented instead of
// being mistaken for the plain operation on the same path (PUT /b?policy
// must never create bucket b).
var unsupportedSubresources = []string{
	"accelerate", "acl", "analytics", "encryption",
	"intelligent-tiering", "inventory", "legal-hold", "lifecycle", "logging",
	"metadataTable", "metrics", "notification", "object-lock", "ownershipControls",
	"policy", "policyStatus", "publicAccessBlock", "replication",
	"requestPayment", "restore", "retention", "select", "session", "torrent",
	"versions", "website",
}

// Subresources implemented at one level only: on the other they still get
// NotImplemented, so that PUT /b/k?cors can never overwrite an object and
// PUT /b?tagging (PutBucketTagging) never creates a bucket.
var (
	unsupportedOnBucket = []string{"attributes", "partNumber", "tagging", "uploadId", "uploads"}
	unsupportedOnObject = []string{"cors", "delete"}
)

// requestQueries are the query parameters that name no subresource: those
// of SigV2 presigned URLs and the operation hint aws-sdk-go-v2 adds
// ("x-id=PutObject"). Every "x-amz-" name is one too: SigV4 presigning and
// the headers presigners hoist into the query string.
var requestQueries = []string{"AWSAccessKeyId", "Signature", "Expires", "x-id"}

// otherQuery matches requests carrying a query parameter that is neither
// one of allowed nor in requestQueries. The writing operations whose
// plain form takes no parameters (CreateBucket, DeleteBucket, PutObject,
// CopyObject, DeleteObject) refuse such a request with NotImplemented:
// it names a feature S3 has and Strongbox does not (PUT /b?versioning,
// DELETE /b?metadataConfiguration), which must never create or delete a
// bucket or object. Keeping this list of what is allowed, rather than of
// what is not, covers the subresources S3 adds later too.
func otherQuery(allowed ...string) mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		other := false
		queryNames(r.URL.RawQuery, func(name string, ok bool) bool {
			// A pair that does not parse (r.URL.Query drops it
			// silently) is unknown too: "?versioning;x" must not reach
			// CreateBucket. Names are exact, as S3 and the handlers read
			// them: a "VersionId" the handler does not see must not pass.
			other = !ok || !(len(name) >= 6 && strings.EqualFold(name[:6], "x-amz-") ||
				slices.Contains(allowed, name) || slices.Contains(requestQueries, name))
			return !other
		})
		return other
	}
}

// multipartQueries are the query flags of multipart operations. On an
// object, a request carrying one that no multipart route took (a method
// the operation does not have) is refused rather than served as the plain
// operation: PUT /b/k?uploads must never write the object.
var multipartQueries = []string{"uploads", "uploadId"}

// routes builds the declarative routing table. Order matters: specific
// subresource routes come before the catch-all NotImplemented matcher, and
// that comes before the plain operation.
func (s *Server) routes() *mux.Router {
	r := mux.NewRouter().SkipClean(true).UseEncodedPath()
	r.NotFoundHandler = http.HandlerFunc(s.notImplemented)
	r.MethodNotAllowedHandler = http.HandlerFunc(s.methodNotAllowed)

	r.PathPrefix("/_strongbox/").HandlerFunc(s.admin)

	r.Path("/").Methods(http.MethodGet).HandlerFunc(s.listBuckets)
	r.Path("/").HandlerFunc(s.methodNotAllowed)

	for _, p := range []string{"/{bucket}", "/{bucket}/"} {
		b := r.Path(p).Subrouter()
		b.Methods(http.MethodGet).MatcherFunc(hasQuery("location")).HandlerFunc(s.getBucketLocation)
		b.Methods(http.MethodGet).MatcherFunc(hasQuery("versioning")).HandlerFunc(s.getBucketVersioning)
		b.Methods(http.MethodPut).MatcherFunc(hasQuery("cors")).HandlerFunc(s.putBucketCors)
		b.Methods(http.MethodGet).MatcherFunc(hasQuery("cors")).HandlerFunc(s.getBucketCors)
		b.Methods(http.MethodDelete).MatcherFunc(hasQuery("cors")).HandlerFunc(s.deleteBucketCors)
		b.Methods(http.MethodPost).MatcherFunc(hasQuery("delete")).HandlerFunc(s.deleteObjects)
		b.Methods(http.MethodGet).MatcherFunc(hasQuery("uploads")).HandlerFunc(s.listMultipartUploads)
		b.MatcherFunc(hasQuery(unsupportedOnBucket...)).HandlerFunc(s.notImplemented)
		b.MatcherFunc(hasUnsupported).HandlerFunc(s.notImplemented)
		b.Methods(http.MethodGet).Queries("list-type", "2").HandlerFunc(s.listObjectsV2)
		b.Methods(http.MethodGet).HandlerFunc(s.listObjectsV1)
		b.Methods(http.MethodHead).HandlerFunc(s.headBucket)
		b.Methods(http.MethodPut, http.MethodDelete).MatcherFunc(otherQuery()).HandlerFunc(s.notImplemented)
		b.Methods(http.MethodPut).HandlerFunc(s.createBucket)
		b.Methods(http.MethodDelete).HandlerFunc(s.deleteBucket)
		// POST Object signed by a header rather than by its form (an
		// unsigned form never gets here: ServeHTTP hands it over first).
		b.Methods(http.MethodPost).MatcherFunc(noQuery).HandlerFunc(s.postObject)
		b.NewRoute().HandlerFunc(s.methodNotAllowed)
	}

	o := r.Path("/{bucket}/{key:.+}").Subrouter()
	o.MatcherFunc(hasUnsupported).HandlerFunc(s.notImplemented)
	o.MatcherFunc(hasQuery(unsupportedOnObject...)).HandlerFunc(s.notImplemented)
	o.Methods(http.MethodPost).MatcherFunc(hasQuery("uploads")).HandlerFunc(s.createMultipartUpload)
	o.Methods(http.MethodPost).MatcherFunc(hasQuery("uploadId")).HandlerFunc(s.completeMultipartUpload)
	o.Methods(http.MethodPut).MatcherFunc(hasQuery("uploadId")).HeadersRegexp("X-Amz-Copy-Source", ".+").HandlerFunc(s.uploadPartCopy)
	o.Methods(http.MethodPut).MatcherFunc(hasQuery("uploadId")).HandlerFunc(s.uploadPart)
	o.Methods(http.MethodDelete).MatcherFunc(hasQuery("uploadId")).HandlerFunc(s.abortMultipartUpload)
	o.Methods(http.MethodGet).MatcherFunc(hasQuery("uploadId")).HandlerFunc(s.listParts)
	o.Methods(http.MethodGet).MatcherFunc(hasQuery("uploads")).HandlerFunc(s.uploadsWithKey)
	o.MatcherFunc(hasQuery(multipartQueries...)).HandlerFunc(s.methodNotAllowed)
	// partNumber without uploadId: GET and HEAD read one part (object.go);
	// a PUT is an UploadPart missing its upload; nothing else takes it.
	o.Methods(http.MethodPut).MatcherFunc(hasQuery("partNumber")).HandlerFunc(s.partNumberWithoutUploadID)
	o.Methods(http.MethodPost, http.MethodDelete).MatcherFunc(hasQuery("partNumber")).HandlerFunc(s.methodNotAllowed)
	o.Methods(http.MethodPut).MatcherFunc(hasQuery("tagging")).HandlerFunc(s.putObjectTagging)
	o.Methods(http.MethodGet).MatcherFunc(hasQuery("tagging")).HandlerFunc(s.getObjectTagging)
	o.Methods(http.MethodDelete).MatcherFunc(hasQuery("tagging")).HandlerFunc(s.deleteObjectTagging)
	o.Methods(http.MethodGet).MatcherFunc(hasQuery("attributes")).HandlerFunc(s.getObjectAttributes)
	o.Methods(http.MethodPut).MatcherFunc(otherQuery()).HandlerFunc(s.notImplemented)
	o.Methods(http.MethodDelete).MatcherFunc(otherQuery("versionId")).HandlerFunc(s.notImplemented)
	o.Methods(http.MethodPut).HeadersRegexp("X-Amz-Copy-Source", ".+").HandlerFunc(s.copyObject)
	o.Methods(http.MethodGet).HandlerFunc(s.getObject)
	o.Methods(http.MethodHead).HandlerFunc(s.headObject)
	o.Methods(http.MethodPut).HandlerFunc(s.putObject)
	o.Methods(http.MethodDelete).HandlerFunc(s.deleteObject)
	o.NewRoute().HandlerFunc(s.methodNotAllowed)
	return r
}

func noQuery(r *http.Request, _ *mux.RouteMatch) bool { return r.URL.RawQuery == "" }

var hasUnsupported = hasQuery(unsupportedSubresources...)

// hasQuery matches requests carrying any of the named query parameters,
// with any value. It stands in for mux's Queries(name, ""), which runs a
// regular expression over the query string for every route it guards:
// every request walks several of those routes, so it reads the raw query
// in place (queryNames) rather than parsing it into a map each time.
func hasQuery(names ...string) mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		found := false
		queryNames(r.URL.RawQuery, func(name string, ok bool) bool {
			found = ok && slices.Contains(names, name)
			return !found
		})
		return found
	}
}

// queryNames calls fn with the name of each pair of the raw query string
// as url.ParseQuery decodes it, until fn returns false. ok is false for a
// pair ParseQuery refuses (one with a semicolon or a bad escape), which
// r.URL.Query() drops; name is then meaningless. Only names that contain
// escapes are decoded (values are only checked), so the usual query costs
// no allocation.
func queryNames(raw string, fn func(name string, ok bool) bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		ok := !strings.Contains(pair, ";")
		if ok && strings.ContainsAny(name, "%+") {
			var err error
			name, err = url.QueryUnescape(name)
			ok = err == nil
		}
		ok = ok && validEscapes(value)
		if !fn(name, ok) {
			return
		}
	}
}

// validEscapes reports whether every % in s starts an escape that
// url.QueryUnescape accepts: two hexadecimal digits.
func validEscapes(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0; i = strings.IndexByte(s, '%') {
		if len(s) < i+3 || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2]) {
			return false
		}
		s = s[i+3:]
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// pathVars returns the decoded bucket and key of a routed request. The
// router matches the escaped path so that keys containing "%2F", "//" or
// ".." reach us untouched; decoding happens exactly once, here.
func pathVars(r *http.Request) (bucket, key string) {
	v := mux.Vars(r)
	bucket, _ = url.PathUnescape(v["bucket"])
	key, _ = url.PathUnescape(v["key"])
	return bucket, key
}

func (s *Server) notImplemented(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, ErrNotImplemented)
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, ErrMethodNotAllowed)
}

// admin serves /_strongbox/, which ServeHTTP (authorize) lets through
// for keys with RightAdmin only. Bucket names cannot start with "_", so
// this prefix never shadows a bucket.
func (s *Server) admin(w http.ResponseWriter, r *http.Request) {
	if s.opts.Admin == nil {
		s.writeError(w, r, ErrNotImplemented)
		return
	}
	s.opts.Admin.ServeHTTP(w, r)
}
