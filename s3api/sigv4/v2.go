package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Signature Version 2 is deprecated but still what boto3's
// generate_presigned_url, the AWS CLI v1's "s3 presign" and s3cmd's
// signurl produce by default, and S3 still accepts it. Only the signature
// differs: the payload is never signed (as with UNSIGNED-PAYLOAD).

// v2Subresources are the query parameters SigV2's canonical resource
// includes, per the S3 developer guide ("Signing and authenticating REST
// requests"); they must be sorted.
var v2Subresources = []string{
	"acl", "cors", "delete", "lifecycle", "location", "logging", "notification",
	"partNumber", "policy", "requestPayment",
	"response-cache-control", "response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type", "response-expires",
	"restore", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
	"versions", "website",
}

// verifyV2 checks "Authorization: AWS AK:SIG" (header) or
// AWSAccessKeyId/Expires/Signature (query) authentication.
func (v *Verifier) verifyV2(r *http.Request, query url.Values, header string) (*Auth, error) {
	var ak, sig, date string
	presigned := header == ""
	now := v.now()
	if presigned {
		ak, sig = query.Get("AWSAccessKeyId"), query.Get("Signature")
		exp, err := strconv.ParseInt(query.Get("Expires"), 10, 64)
		if err != nil {
			return nil, ErrAccessDenied.with("Invalid date (should be seconds since epoch): " + query.Get("Expires"))
		}
		// Expires is the first second the URL is no longer valid: S3
		// refuses a URL generated with ExpiresIn=0 at once.
		if !now.Before(time.Unix(exp, 0)) {
			return nil, ErrExpiredRequest
		}
		// A SigV2 URL names only its end, not when it was signed, so a
		// leaked URL with an Expires decades away would work for decades.
		// Bound what is left of it by SigV4's maximum lifetime (seven
		// days), allowing the usual clock skew.
		if time.Unix(exp, 0).Sub(now) > maxPresignSecs*time.Second+v.maxSkew() {
			return nil, ErrAccessDenied.with("Expires must be at most 604800 seconds (seven days) in the future: " + query.Get("Expires"))
		}
		date = query.Get("Expires")
	} else {
		cred := strings.TrimPrefix(header, "AWS ")
		var ok bool
		if ak, sig, ok = strings.Cut(cred, ":"); !ok {
			return nil, ErrInvalidV2Authorization
		}
		// With x-amz-date the Date line is empty and x-amz-date is signed
		// among the amz headers. S3 refuses a present but empty x-amz-date
		// rather than falling back to Date.
		dateHeader := r.Header.Get("X-Amz-Date")
		if len(r.Header.Values("X-Amz-Date")) == 0 {
			dateHeader = r.Header.Get("Date")
			date = dateHeader
		}
		t, ok := parseDateHeader(dateHeader)
		if !ok {
			return nil, ErrMissingDate
		}
		if d := now.Sub(t); d > v.maxSkew() || d < -v.maxSkew() {
			return nil, ErrRequestTimeTooSkewed
		}
	}
	secret, ok := v.Lookup(ak)
	if !ok {
		return nil, ErrInvalidAccessKeyID
	}
	path, alt := v.v2Resource(r)
	sts := v2StringToSign(r, date, path)
	match := hmac.Equal([]byte(v2Sign(secret, sts)), []byte(sig))
	if alt != "" {
		// Both forms are computed and compared whatever the first gave, so
		// the time taken does not depend on which one matched.
		altMatch := hmac.Equal([]byte(v2Sign(secret, v2StringToSign(r, date, alt))), []byte(sig))
		match = match || altMatch
	}
	if !match {
		return nil, signatureMismatch(sts)
	}
	a := &Auth{AccessKey: ak, Service: "s3", Time: now, Presigned: presigned, PayloadHash: UnsignedPayload}
	if err := a.prepareBody(r); err != nil {
		return nil, err
	}
	return a, nil
}

func v2Sign(secret, sts string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// v2Resource returns the path part of SigV2's canonical resource, and for a
// request that addresses a bucket only, alt, the same resource with the
// other trailing-slash form ("" otherwise).
//
// SigV2 leaves Host unsigned, so the bucket of a virtual-hosted-style request
// must come from the resource: clients sign "/bucket" + path. Without
// HostBucket every request is taken as path style.
//
// Both "/bucket" and "/bucket/" name the bucket and S3 accepts either:
// botocore (signature_version "s3") signs "/bucket/" for bucket operations
// in both styles, while a path-style request carries "/bucket"; the
// documented rule gives "/bucket" for path style and "/bucket/" for a
// virtual-hosted root.
func (v *Verifier) v2Resource(r *http.Request) (path, alt string) {
	path = v2RequestPath(r)
	if v.HostBucket != nil {
		if b := v.HostBucket(r); b != "" {
			if path == "/" {
				return "/" + b + "/", "/" + b
			}
			return "/" + b + path, ""
		}
	}
	if len(path) > 1 && strings.IndexByte(path[1:], '/') < 0 {
		return path, path + "/"
	}
	return path, ""
}

// v2RequestPath returns the escaped request path as the client sent it.
func v2RequestPath(r *http.Request) string {
	path := r.URL.EscapedPath()
	if r.URL.RawPath == "" && r.RequestURI != "" {
		// The resource is signed as the client sent it.
		if p, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasPrefix(p, "/") {
			path = p
		}
	}
	return path
}

// v2StringToSign builds SigV2's string to sign: verb, Content-MD5,
// Content-Type, date (or Expires), the x-amz-* headers, the resource (path,
// then the subresources).
func v2StringToSign(r *http.Request, date, path string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(r.Header.Get("Content-Md5") + "\n")
	b.WriteString(r.Header.Get("Content-Type") + "\n")
	b.WriteString(date + "\n")
	var names []string
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			names = append(names, lk)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		// A copy: Values returns the header's own slice, and folding its
		// whitespace in place would change the metadata that is stored.
		vals := slices.Clone(r.Header.Values(n))
		for i := range vals {
			vals[i] = strings.Join(strings.Fields(vals[i]), " ")
		}
		b.WriteString(n + ":" + strings.Join(vals, ",") + "\n")
	}
	b.WriteString(path)
	q := r.URL.Query()
	sep := "?"
	for _, name := range v2Subresources {
		vals, ok := q[name]
		if !ok {
			continue
		}
		b.WriteString(sep + name)
		if len(vals) > 0 && vals[0] != "" {
			b.WriteString("=" + vals[0])
		}
		sep = "&"
	}
	return b.String()
}

// parseDateHeader accepts the Date (or SigV2 x-amz-date) forms clients
// send: RFC 1123 with "GMT", "UTC" or a numeric zone (Python's
// email.utils.formatdate, which botocore uses, writes "-0000"), the other
// HTTP forms, or ISO 8601 basic. Other zone names are refused: Go resolves
// them through the server's local time zone, so nodes in different zones
// would read the same header as different times.
func parseDateHeader(s string) (time.Time, bool) {
	if t, err := http.ParseTime(s); err == nil {
		return t, true
	}
	for _, layout := range [...]string{time.RFC1123Z, "Mon, 02 Jan 2006 15:04:05 UTC"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return ParseAmzDate(s)
}
