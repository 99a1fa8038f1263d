package sigv4

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// DefaultMaxSkew is the clock difference S3 tolerates between a signed
// request and the server.
const DefaultMaxSkew = 15 * time.Minute

// Verifier checks SigV4 signatures on incoming requests. Set Lookup; the
// other fields have defaults. A Verifier is safe for concurrent use and must
// not be copied after first use (it holds the signing-key cache).
type Verifier struct {
	// Lookup returns the secret key for an access key, and false if the
	// access key is unknown. It is called once per request and must be
	// safe for concurrent use.
	Lookup func(accessKey string) (secret string, ok bool)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew bounds the difference between a header-signed request's
	// time and Now, and how far in the future a presigned URL's X-Amz-Date
	// may be; zero means DefaultMaxSkew.
	MaxSkew time.Duration
	// HostBucket returns the bucket a virtual-hosted-style request names in
	// its Host, or "" for a path-style request; nil means path style only.
	// SigV4 needs no such help (it signs Host and the path as sent), but
	// SigV2 leaves Host unsigned and signs the bucket in the resource, so
	// without HostBucket a virtual-hosted SigV2 request does not verify.
	HostBucket func(r *http.Request) string

	keys keyCache
}

// Auth is a verified request's identity and the state needed to verify its
// body.
type Auth struct {
	// AccessKey is the caller's access key id.
	AccessKey string
	// Region and Service are the credential scope the client signed with.
	// Any region is accepted; Service is always "s3".
	Region  string
	Service string
	// Time is the signing time (X-Amz-Date, or Date).
	Time time.Time
	// Presigned is true for query-string (presigned URL) authentication.
	Presigned bool
	// SignedHeaders lists the lowercase header names the signature covers.
	SignedHeaders []string
	// SecurityToken is X-Amz-Security-Token if the client sent one. This
	// server issues no temporary credentials; a caller may reject it.
	SecurityToken string
	// PayloadHash is the x-amz-content-sha256 the signature covers: a hex
	// SHA256 or one of the payload keywords (UnsignedPayload for presigned
	// URLs).
	PayloadHash string
	// DecodedContentLength is the length of the body after Body's decoding:
	// x-amz-decoded-content-length for aws-chunked payloads (-1 if the
	// client did not send it), else the request's ContentLength (-1 if
	// unknown). For aws-chunked uploads it, not Content-Length, is the
	// object size.
	DecodedContentLength int64

	key      [sha256.Size]byte
	amzDate  string
	scope    string
	seed     string             // the request signature: first link of the chunk chain
	trailer  checksum.Algorithm // announced by x-amz-trailer; 0 for none
	trailers atomic.Pointer[map[string]string]
}

// Streaming reports whether the body is aws-chunked (one of the STREAMING-*
// payload keywords); Body then decodes it.
func (a *Auth) Streaming() bool { return strings.HasPrefix(a.PayloadHash, "STREAMING-") }

// TrailerChecksums returns the trailing checksums of an aws-chunked body,
// keyed by lowercase algorithm ("crc32"), value in S3's base64 form. They
// are set only once the reader returned by Body reached io.EOF without
// error, which means each was verified against the decoded bytes; before
// that, and for bodies without trailers, it returns nil. The map is a copy.
func (a *Auth) TrailerChecksums() map[string]string {
	p := a.trailers.Load()
	if p == nil {
		return nil
	}
	out := make(map[string]string, len(*p))
	for k, v := range *p {
		out[k] = v
	}
	return out
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

// Verify authenticates r by its Authorization header or its presigned query
// parameters and returns who signed it. It reads no body: wrap r.Body with
// the returned Auth's Body to have the payload verified as it is read.
// Errors are *Error values (see the Err sentinels).
func (v *Verifier) Verify(r *http.Request) (*Auth, error) {
	authz := r.Header.Get("Authorization")
	var query url.Values
	presigned := false
	if raw := r.URL.RawQuery; strings.Contains(raw, "X-Amz-") || strings.Contains(raw, "Signature=") {
		query = r.URL.Query()
		presigned = query.Has("X-Amz-Algorithm") || query.Has("X-Amz-Signature") || query.Has("X-Amz-Credential")
		if !presigned && query.Has("AWSAccessKeyId") && query.Has("Signature") {
			if authz != "" {
				return nil, ErrMultipleAuthMechanisms
			}
			return v.verifyV2(r, query, "")
		}
	}
	switch {
	case authz != "" && presigned:
		return nil, ErrMultipleAuthMechanisms
	case authz != "":
		return v.verifyHeader(r, authz)
	case presigned:
		return v.verifyQuery(r, query)
	}
	return nil, ErrAccessDenied
}

// credential is a parsed "<access key>/<date>/<region>/<service>/aws4_request".
type credential struct {
	accessKey, date, region, service string
}

// parseCredential splits a credential from the right, so an access key
// containing '/' still parses. It returns a message fragment on failure.
func parseCredential(s string) (credential, string) {
	const expecting = "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
	parts := strings.Split(s, "/")
	if len(parts) < 5 {
		return credential{}, expecting
	}
	n := len(parts)
	c := credential{
		accessKey: strings.Join(parts[:n-4], "/"),
		date:      parts[n-4],
		region:    parts[n-3],
		service:   parts[n-2],
	}
	term := parts[n-1]
	if c.accessKey == "" || c.region == "" || len(c.date) != len(dateLayout) {
		return credential{}, expecting
	}
	if _, err := time.Parse(dateLayout, c.date); err != nil {
		return credential{}, expecting
	}
	if c.service != serviceS3 {
		return credential{}, "incorrect service \"" + c.service + "\". This endpoint belongs to \"s3\"."
	}
	if term != terminator {
		return credential{}, "incorrect terminal \"" + term + "\". This endpoint uses \"aws4_request\"."
	}
	return c, ""
}

// parseSignedHeaders splits and checks a SignedHeaders value: lowercase
// names, host among them.
func parseSignedHeaders(s string) ([]string, bool) {
	if s == "" {
		return nil, false
	}
	names := strings.Split(s, ";")
	host := false
	for _, n := range names {
		if n == "" || strings.ToLower(n) != n {
			return nil, false
		}
		if n == "host" {
			host = true
		}
	}
	return names, host
}

// checkAmzHeadersSigned refuses a request that carries an x-amz-* header
// its signature does not cover. S3 requires every x-amz-* header to be
// signed ("Any x-amz-* headers that you plan to add to the request" in
// both the header and the query-string authentication guides) with one
// exemption, x-amz-content-sha256, which it tolerates unsigned (the
// signature covers the payload hash anyway: it ends the canonical
// request). Without this check a presigned PUT URL plus an unsigned
// x-amz-copy-source header copies any object the signer could read.
func checkAmzHeadersSigned(h http.Header, signed []string) error {
	var unsigned []string
	for name := range h {
		if len(name) < len(amzPrefix) || !strings.EqualFold(name[:len(amzPrefix)], amzPrefix) {
			continue
		}
		if strings.EqualFold(name, "X-Amz-Content-Sha256") || isSigned(name, signed) {
			continue
		}
		unsigned = append(unsigned, strings.ToLower(name))
	}
	if unsigned == nil {
		return nil
	}
	slices.Sort(unsigned)
	e := ErrHeadersNotSigned.with(ErrHeadersNotSigned.Message)
	e.HeadersNotSigned = strings.Join(unsigned, ", ")
	return e
}

const amzPrefix = "x-amz-"

func isSigned(name string, signed []string) bool {
	for _, s := range signed {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

func (v *Verifier) verifyHeader(r *http.Request, authz string) (*Auth, error) {
	rest, ok := strings.CutPrefix(authz, algorithm+" ")
	if !ok {
		switch {
		case strings.HasPrefix(authz, "AWS "):
			return v.verifyV2(r, nil, authz)
		case strings.HasPrefix(authz, "AWS4-ECDSA-P256-SHA256"):
			return nil, ErrUnsupportedAuthorization.with("Signature version 4a is not supported. Please use AWS4-HMAC-SHA256.")
		}
		return nil, ErrUnsupportedAuthorization
	}
	var credStr, signedStr, sig string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, found := strings.Cut(part, "=")
		if !found {
			return nil, ErrAuthorizationHeaderMalformed.with("The authorization header is malformed; the authorization component \"" + part + "\" is malformed.")
		}
		var dup bool
		switch k {
		case "Credential":
			dup, haveCred, credStr = haveCred, true, val
		case "SignedHeaders":
			dup, haveSigned, signedStr = haveSigned, true, val
		case "Signature":
			dup, haveSig, sig = haveSig, true, val
		default:
			return nil, ErrAuthorizationHeaderMalformed.with("The authorization header is malformed; the authorization component \"" + part + "\" is malformed.")
		}
		if dup {
			return nil, ErrAuthorizationHeaderMalformed.with("The authorization header is malformed; the authorization component \"" + k + "\" appears more than once.")
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return nil, ErrAuthorizationHeaderMalformed.with("The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	cred, msg := parseCredential(credStr)
	if msg != "" {
		return nil, ErrAuthorizationHeaderMalformed.with("The authorization header is malformed; " + msg)
	}

	amzDate := r.Header.Get("X-Amz-Date")
	var t time.Time
	if amzDate != "" {
		if t, ok = ParseAmzDate(amzDate); !ok {
			return nil, ErrMissingDate
		}
	} else {
		// The string to sign carries the ISO 8601 basic form of the Date
		// header's time, as botocore computes it when it signs with Date.
		if t, ok = parseDateHeader(r.Header.Get("Date")); !ok {
			return nil, ErrMissingDate
		}
		t = t.UTC()
		amzDate = t.Format(amzDateLayout)
	}
	if amzDate[:len(dateLayout)] != cred.date {
		return nil, ErrAuthorizationHeaderMalformed.with("The authorization header is malformed; Invalid credential date \"" + cred.date + "\". This date is not the same as X-Amz-Date: \"" + amzDate[:len(dateLayout)] + "\".")
	}
	signed, hasHost := parseSignedHeaders(signedStr)
	if signed == nil {
		return nil, ErrAuthorizationHeaderMalformed.with("The authorization header is malformed; the SignedHeaders component is not a ';'-separated list of lowercase header names.")
	}
	if !hasHost {
		return nil, ErrAccessDenied.with("Host must be signed.")
	}
	if err := checkAmzHeadersSigned(r.Header, signed); err != nil {
		return nil, err
	}

	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return nil, ErrMissingContentSHA256
	}
	if err := checkPayload(payload, false); err != nil {
		return nil, err
	}

	secret, ok := v.lookup(cred.accessKey)
	if !ok {
		return nil, ErrInvalidAccessKeyID
	}
	if d := v.now().Sub(t); d > v.maxSkew() || d < -v.maxSkew() {
		return nil, ErrRequestTimeTooSkewed
	}

	a := &Auth{
		AccessKey:     cred.accessKey,
		Region:        cred.region,
		Service:       cred.service,
		Time:          t,
		SignedHeaders: signed,
		SecurityToken: r.Header.Get("X-Amz-Security-Token"),
		PayloadHash:   payload,
		amzDate:       amzDate,
		scope:         scopeString(cred.date, cred.region, cred.service),
		seed:          sig,
	}
	a.key = v.keys.get(cred.accessKey, secret, cred.date, cred.region, cred.service)
	if err := a.check(r, r.URL.RawQuery, false, sig); err != nil {
		return nil, err
	}
	if err := a.prepareBody(r); err != nil {
		return nil, err
	}
	return a, nil
}

func (v *Verifier) lookup(accessKey string) (string, bool) {
	if v.Lookup == nil {
		return "", false
	}
	return v.Lookup(accessKey)
}

// checkPayload validates an x-amz-content-sha256 value.
func checkPayload(p string, presigned bool) error {
	switch p {
	case UnsignedPayload:
		return nil
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedPayloadTrailer:
		if presigned {
			return ErrInvalidContentSHA256.with("Streaming payloads (" + p + ") cannot be used with a presigned URL.")
		}
		return nil
	}
	if isHexSHA256(p) {
		return nil
	}
	return ErrInvalidContentSHA256
}

func (v *Verifier) verifyQuery(r *http.Request, q url.Values) (*Auth, error) {
	qerr := ErrAuthorizationQueryParametersError
	for _, k := range [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		if len(q[k]) != 1 || q[k][0] == "" {
			return nil, qerr
		}
	}
	if q.Get("X-Amz-Algorithm") != algorithm {
		return nil, qerr.with("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	cred, msg := parseCredential(q.Get("X-Amz-Credential"))
	if msg != "" {
		return nil, qerr.with("Error parsing the X-Amz-Credential parameter; " + msg)
	}
	amzDate := q.Get("X-Amz-Date")
	t, ok := ParseAmzDate(amzDate)
	if !ok {
		return nil, qerr.with("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if amzDate[:len(dateLayout)] != cred.date {
		return nil, qerr.with("Invalid credential date \"" + cred.date + "\". This date is not the same as X-Amz-Date: \"" + amzDate[:len(dateLayout)] + "\".")
	}
	expires, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	switch {
	case err != nil:
		return nil, qerr.with("X-Amz-Expires should be a number")
	case expires < 1:
		return nil, qerr.with("X-Amz-Expires must be non-negative")
	case expires > maxPresignSecs:
		return nil, qerr.with("X-Amz-Expires must be less than a week (in seconds) that is, the given X-Amz-Expires must be less than 604800 seconds")
	}
	signed, hasHost := parseSignedHeaders(q.Get("X-Amz-SignedHeaders"))
	if signed == nil {
		return nil, qerr.with("X-Amz-SignedHeaders must be a ';'-separated list of lowercase header names.")
	}
	if !hasHost {
		return nil, ErrAccessDenied.with("Host must be signed.")
	}
	if err := checkAmzHeadersSigned(r.Header, signed); err != nil {
		return nil, err
	}
	payload := q.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = r.Header.Get("X-Amz-Content-Sha256")
	}
	if payload == "" {
		payload = UnsignedPayload
	}
	if err := checkPayload(payload, true); err != nil {
		return nil, err
	}

	secret, ok := v.lookup(cred.accessKey)
	if !ok {
		return nil, ErrInvalidAccessKeyID
	}
	now := v.now()
	if t.Sub(now) > v.maxSkew() {
		return nil, ErrRequestNotYetValid
	}
	if now.After(t.Add(time.Duration(expires) * time.Second)) {
		return nil, ErrExpiredRequest
	}

	token := q.Get("X-Amz-Security-Token")
	if token == "" {
		token = r.Header.Get("X-Amz-Security-Token")
	}
	a := &Auth{
		AccessKey:     cred.accessKey,
		Region:        cred.region,
		Service:       cred.service,
		Time:          t,
		Presigned:     true,
		SignedHeaders: signed,
		SecurityToken: token,
		PayloadHash:   payload,
		amzDate:       amzDate,
		scope:         scopeString(cred.date, cred.region, cred.service),
	}
	a.key = v.keys.get(cred.accessKey, secret, cred.date, cred.region, cred.service)
	if err := a.check(r, r.URL.RawQuery, true, q.Get("X-Amz-Signature")); err != nil {
		return nil, err
	}
	if err := a.prepareBody(r); err != nil {
		return nil, err
	}
	return a, nil
}

// check recomputes the request signature and compares it with provided. The
// path is tried as the client sent it on the wire (what SDKs sign for S3,
// which does not double-encode) and, if that fails and differs, as the
// decoded path re-encoded with UriEncode (what a signer that normalises the
// path signs).
func (a *Auth) check(r *http.Request, rawQuery string, presigned bool, provided string) error {
	wire := requestPath(r)
	buf := getBuf()
	defer putBuf(buf)
	var stsBuf [256]byte

	cr := a.appendCanonicalRequest((*buf)[:0], r, wire, rawQuery, presigned)
	*buf = cr
	sts := appendStringToSign(stsBuf[:0], a.amzDate, a.scope, cr)
	sig := sign(&a.key, sts)
	if sigEqual(&sig, provided) {
		return nil
	}
	e := signatureMismatch(string(sts))
	e.CanonicalRequest = string(cr)

	if alt, ok := reencodedPath(wire); ok {
		cr = a.appendCanonicalRequest((*buf)[:0], r, alt, rawQuery, presigned)
		*buf = cr
		sts = appendStringToSign(stsBuf[:0], a.amzDate, a.scope, cr)
		sig = sign(&a.key, sts)
		if sigEqual(&sig, provided) {
			return nil
		}
	}
	return e
}

// appendCanonicalRequest appends the canonical request for r with the given
// canonical URI.
func (a *Auth) appendCanonicalRequest(b []byte, r *http.Request, path, rawQuery string, presigned bool) []byte {
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = append(b, path...)
	b = append(b, '\n')
	b = appendCanonicalQuery(b, rawQuery, presigned)
	b = append(b, '\n')
	for _, h := range a.SignedHeaders {
		b = appendCanonicalHeader(b, r, h)
	}
	b = append(b, '\n')
	for i, h := range a.SignedHeaders {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h...)
	}
	b = append(b, '\n')
	return append(b, a.PayloadHash...)
}

// requestPath returns the escaped path exactly as the client sent it: from
// RequestURI on a server request, else from the URL.
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || p == "*" {
		p = r.URL.EscapedPath()
	} else {
		if p[0] != '/' {
			// absolute-form: scheme://authority/path?query
			if i := strings.Index(p, "://"); i >= 0 {
				p = p[i+3:]
				if j := strings.IndexByte(p, '/'); j >= 0 {
					p = p[j:]
				} else {
					p = ""
				}
			}
		}
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
	}
	if p == "" {
		return "/"
	}
	return p
}

// reencodedPath returns UriEncode(unescape(path)) with '/' kept, and whether
// it differs from path.
func reencodedPath(path string) (string, bool) {
	dec, err := url.PathUnescape(path)
	if err != nil {
		return "", false
	}
	enc := string(appendEscaped(make([]byte, 0, len(dec)+16), dec, true))
	return enc, enc != path
}
