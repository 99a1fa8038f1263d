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
		if now.Unix() > exp {
			return nil, ErrExpiredRequest
		}
		date = query.Get("Expires")
	} else {
		cred := strings.TrimPrefix(header, "AWS ")
		var ok bool
		if ak, sig, ok = strings.Cut(cred, ":"); !ok {
			return nil, ErrAuthorizationHeaderMalformed
		}
		// With x-amz-date the Date line is empty and x-amz-date is signed
		// among the amz headers.
		dateHeader := r.Header.Get("X-Amz-Date")
		if dateHeader == "" {
			dateHeader = r.Header.Get("Date")
			date = dateHeader
		}
		t, ok := parseV2Date(dateHeader)
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
	sts := v2StringToSign(r, date)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(sts))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		e := ErrSignatureDoesNotMatch.with(ErrSignatureDoesNotMatch.Message)
		e.StringToSign = sts
		return nil, e
	}
	a := &Auth{AccessKey: ak, Service: "s3", Time: now, Presigned: presigned, PayloadHash: UnsignedPayload}
	if err := a.prepareBody(r); err != nil {
		return nil, err
	}
	return a, nil
}

// v2StringToSign builds SigV2's string to sign: verb, Content-MD5,
// Content-Type, date (or Expires), the x-amz-* headers, the resource.
func v2StringToSign(r *http.Request, date string) string {
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
		vals := r.Header.Values(n)
		for i := range vals {
			vals[i] = strings.Join(strings.Fields(vals[i]), " ")
		}
		b.WriteString(n + ":" + strings.Join(vals, ",") + "\n")
	}
	path := r.URL.EscapedPath()
	if r.URL.RawPath == "" && r.RequestURI != "" {
		// The resource is signed as the client sent it.
		if p, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasPrefix(p, "/") {
			path = p
		}
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

// parseV2Date accepts the date forms SigV2 clients send: RFC 1123 with
// "GMT" or a numeric zone, the other HTTP forms, or ISO 8601 basic.
func parseV2Date(s string) (time.Time, bool) {
	if t, err := http.ParseTime(s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC1123Z, s); err == nil {
		return t, true
	}
	return parseAmzDate(s)
}
