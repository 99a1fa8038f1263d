package s3api

import (
	"cmp"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/strongboxdb/strongbox/objstore"
)

// maxListBuckets is S3's ceiling for max-buckets, and the page size it
// applies when a request gives prefix, bucket-region or continuation-token
// without max-buckets.
const maxListBuckets = 10000

// listBucketsQuery is a parsed ListBuckets request.
type listBucketsQuery struct {
	limit  int // 0: no limit, the unpaginated answer
	prefix *string
	after  string // list only names greater than this
}

// parseListBuckets reads ListBuckets' parameters in the order S3 checks
// them (max-buckets, bucket-region, continuation-token), so a request with
// several bad ones gets the error S3 gives. Each parameter's first value
// counts, as in S3.
func parseListBuckets(q url.Values, region string) (listBucketsQuery, error) {
	var lq listBucketsQuery
	if q.Has("max-buckets") || q.Has("prefix") || q.Has("bucket-region") || q.Has("continuation-token") {
		lq.limit = maxListBuckets
	}
	if q.Has("max-buckets") {
		n, err := strconv.ParseInt(q.Get("max-buckets"), 10, 32)
		if err != nil {
			return lq, ErrInvalidArgument.with("Provided max-buckets not an integer or within integer range")
		}
		if n < 1 || n > maxListBuckets {
			return lq, ErrInvalidArgument.with("Argument max-buckets must be an integer between 1 and 10000")
		}
		lq.limit = int(n)
	}
	if q.Has("bucket-region") {
		// Every bucket lives in this node's region. S3 answers a
		// bucket-region other than its endpoint's with InvalidArgument,
		// not an empty list; doing the same tells a client that it asked
		// the wrong endpoint instead of that it has no buckets.
		switch v := q.Get("bucket-region"); {
		case v == "":
			return lq, ErrInvalidArgument.with("Argument value  is not a valid AWS Region")
		case !strings.EqualFold(v, region):
			return lq, ErrInvalidArgument.with("Requests with bucket-region specified must be made to the corresponding regional endpoint")
		}
	}
	if tok := q.Get("continuation-token"); tok != "" {
		after, ok := decodeBucketsToken(tok)
		if !ok {
			return lq, ErrInvalidContinuationToken
		}
		lq.after = after
	}
	if q.Has("prefix") {
		p := q.Get("prefix")
		lq.prefix = &p
	}
	return lq, nil
}

// encodeBucketsToken makes the continuation token that resumes a listing
// after bucket name. Resuming by name rather than by position keeps a
// paginated listing exact while buckets are created or deleted between
// pages: nothing listed twice, nothing that existed throughout skipped.
func encodeBucketsToken(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

// decodeBucketsToken reverses encodeBucketsToken. Only a valid bucket name
// is accepted, so a token that was never ours is refused rather than
// quietly resuming somewhere arbitrary.
func decodeBucketsToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !validBucketName(string(b)) {
		return "", false
	}
	return string(b), true
}

func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request) {
	lq, err := parseListBuckets(r.URL.Query(), s.opts.Region)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	buckets, err := s.backend.ListBuckets(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Tokens resume by name, so pages are only exact in name order; the
	// Backend contract does not promise one.
	slices.SortFunc(buckets, func(a, b objstore.BucketInfo) int { return cmp.Compare(a.Name, b.Name) })
	out := listAllMyBucketsResult{Xmlns: s3Namespace, Owner: defaultOwner, Buckets: []bucketEntry{}, Prefix: lq.prefix}
	for _, b := range buckets {
		if b.Name <= lq.after || (lq.prefix != nil && !strings.HasPrefix(b.Name, *lq.prefix)) {
			continue
		}
		// A token only when another bucket follows: the last page ends
		// the listing without an extra, empty request.
		if lq.limit > 0 && len(out.Buckets) == lq.limit {
			out.ContinuationToken = encodeBucketsToken(out.Buckets[len(out.Buckets)-1].Name)
			break
		}
		out.Buckets = append(out.Buckets, bucketEntry{Name: b.Name, CreationDate: xmlTime(b.Created), BucketRegion: s.opts.Region})
	}
	s.writeXML(w, http.StatusOK, out)
}

// maxBucketConfig bounds the CreateBucketConfiguration body we are willing
// to read; the real document is well under 1 KiB.
const maxBucketConfig = 64 << 10

func (s *Server) createBucket(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	if !validBucketName(bucket) {
		s.writeError(w, r, ErrInvalidBucketName)
		return
	}
	// A client asking for object lock relies on retention being enforced;
	// a bucket without it would silently give up that guarantee, so none
	// is created. "false" asks for nothing and is served.
	if strings.EqualFold(strings.TrimSpace(r.Header.Get("x-amz-bucket-object-lock-enabled")), "true") {
		s.writeError(w, r, ErrNotImplemented)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBucketConfig+1))
	if err != nil {
		s.writeError(w, r, bodyReadError(err))
		return
	}
	if len(body) > maxBucketConfig {
		s.writeError(w, r, ErrMalformedXML)
		return
	}
	if err := checkCreateBucketConfiguration(body); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.CreateBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/"+bucket)
	w.WriteHeader(http.StatusOK)
}

// checkCreateBucketConfiguration checks a CreateBucket body: empty, or a
// CreateBucketConfiguration document (MalformedXML otherwise). S3 rejects
// an explicit us-east-1 constraint. Any other region is accepted: a local
// stand-in should not fail a client configured for eu-west-1 (awscli sends
// its region as the constraint). Every bucket lives in this node's Region
// regardless; the README says so.
func checkCreateBucketConfiguration(body []byte) error {
	if len(body) == 0 {
		return nil
	}
	var cfg createBucketConfiguration
	if err := xml.Unmarshal(body, &cfg); err != nil {
		return ErrMalformedXML
	}
	if cfg.LocationConstraint == "us-east-1" {
		return ErrInvalidLocationConstraint
	}
	return nil
}

func (s *Server) headBucket(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	if _, err := s.backend.HeadBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("x-amz-bucket-region", s.opts.Region)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) deleteBucket(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	if err := s.backend.DeleteBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getBucketLocation(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	if _, err := s.backend.HeadBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	// S3 reports us-east-1 as an empty constraint.
	loc := s.opts.Region
	if loc == "us-east-1" {
		loc = ""
	}
	s.writeXML(w, http.StatusOK, locationConstraint{Xmlns: s3Namespace, Value: loc})
}

func (s *Server) getBucketVersioning(w http.ResponseWriter, r *http.Request) {
	bucket, _ := pathVars(r)
	ctx, cancel := s.opContext(r)
	defer cancel()
	if _, err := s.backend.HeadBucket(ctx, bucket); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Versioning was never enabled: S3 returns an empty configuration.
	s.writeXML(w, http.StatusOK, versioningConfiguration{Xmlns: s3Namespace})
}

// bodyReadError keeps an S3-coded verification failure from the signature
// layer (bad chunk signature, checksum mismatch) and reports anything else
// as an incomplete body: the client hung up or sent less than it promised.
func bodyReadError(err error) error {
	if e := toAPIError(err); e != ErrInternal {
		return e
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrIncompleteBody
	}
	return ErrIncompleteBody.with("The request body could not be read: " + err.Error())
}
