package sigv4

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clientKeys caches signing keys for Sign and Presign.
var clientKeys keyCache

// Sign signs r in place with header authentication, as aws-sdk-go-v2's
// signer does for S3 (same canonical request, same Authorization header for
// the same inputs). It sets X-Amz-Date and X-Amz-Content-Sha256 (payloadHash:
// a hex SHA256 of the body, EmptySHA256, or UnsignedPayload; "" means
// UnsignedPayload) and Authorization. The signature covers host, a positive
// ContentLength and every header already set on r except Authorization,
// User-Agent, X-Amzn-Trace-Id, Expect and Transfer-Encoding; headers added
// after signing are not covered. A default port (:80 for http, :443 for
// https) is removed from r.Host, as the SDK does, so the Host sent is the one
// signed. The path is signed as r.URL.EscapedPath() (or r.URL.Opaque), which
// is what net/http sends; S3 does not double-encode.
func Sign(r *http.Request, accessKey, secretKey, region, payloadHash string, t time.Time) {
	if payloadHash == "" {
		payloadHash = UnsignedPayload
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	var dateBuf [len(amzDateLayout)]byte
	amzDate := string(t.UTC().AppendFormat(dateBuf[:0], amzDateLayout))
	setHeader(r.Header, "X-Amz-Date", amzDate)
	setHeader(r.Header, "X-Amz-Content-Sha256", payloadHash)
	host := signingHost(r)
	r.Host = host

	buf := getBuf()
	defer putBuf(buf)
	b := append((*buf)[:0], r.Method...)
	b = append(b, '\n')
	b = append(b, clientPath(r.URL)...)
	b = append(b, '\n')
	b = appendCanonicalQuery(b, r.URL.RawQuery, false)
	b = append(b, '\n')
	b, signedStart, signedEnd := appendClientHeaders(b, r, host)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	*buf = b

	date := amzDate[:len(dateLayout)]
	scopeLen := len(date) + 1 + len(region) + 1 + len(serviceS3) + 1 + len(terminator)
	var stsBuf [256]byte
	sts := stsBuf[:0]
	if 16+len(amzDate)+scopeLen+sigHexLen+3 > len(stsBuf) {
		sts = nil // an absurdly long region
	}
	sts = append(sts, algorithm...)
	sts = append(sts, '\n')
	sts = append(sts, amzDate...)
	sts = append(sts, '\n')
	scopeStart := len(sts)
	sts = appendScope(sts, date, region)
	scopeEnd := len(sts)
	sts = append(sts, '\n')
	sts = appendHashHex(sts, b)

	key := clientKeys.get(accessKey, secretKey, date, region, serviceS3)
	sig := sign(&key, sts)

	var ah strings.Builder
	ah.Grow(len(algorithm) + len(" Credential=") + len(accessKey) + 1 + scopeLen +
		len(", SignedHeaders=") + signedEnd - signedStart + len(", Signature=") + sigHexLen)
	ah.WriteString(algorithm)
	ah.WriteString(" Credential=")
	ah.WriteString(accessKey)
	ah.WriteByte('/')
	ah.Write(sts[scopeStart:scopeEnd])
	ah.WriteString(", SignedHeaders=")
	ah.Write(b[signedStart:signedEnd])
	ah.WriteString(", Signature=")
	ah.Write(sig[:])
	setHeader(r.Header, "Authorization", ah.String())
}

// Presign returns a presigned URL for r valid for expires (whole seconds,
// 1s to 7 days) from t, with UNSIGNED-PAYLOAD, as aws-sdk-go-v2's
// PresignHTTP does for S3 with header hoisting disabled. r is not modified.
// The signature covers host, a positive ContentLength and the headers set
// on r (less those Sign skips); whoever uses the URL must send them. Query
// parameters already on r.URL are kept and signed; the result's query is in
// canonical order with X-Amz-Signature last.
func Presign(r *http.Request, accessKey, secretKey, region string, expires time.Duration, t time.Time) (*url.URL, error) {
	secs := int64(expires / time.Second)
	if secs < 1 || secs > maxPresignSecs {
		return nil, errors.New("sigv4: presigned URL expiry must be between 1 second and 7 days")
	}
	amzDate := t.UTC().Format(amzDateLayout)
	date := amzDate[:len(dateLayout)]
	host := signingHost(r)

	q := r.URL.Query()
	for _, k := range [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		q.Del(k)
	}
	var hb []byte
	hb, s, e := appendClientHeaders(nil, r, host)
	q.Set("X-Amz-Algorithm", algorithm)
	q.Set("X-Amz-Credential", accessKey+"/"+scopeString(date, region, serviceS3))
	q.Set("X-Amz-Date", amzDate)
	q.Set("X-Amz-Expires", strconv.FormatInt(secs, 10))
	q.Set("X-Amz-SignedHeaders", string(hb[s:e]))
	query := string(appendCanonicalQuery(nil, q.Encode(), false))

	buf := getBuf()
	defer putBuf(buf)
	b := append((*buf)[:0], r.Method...)
	b = append(b, '\n')
	b = append(b, clientPath(r.URL)...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	b = append(b, hb...)
	b = append(b, '\n')
	b = append(b, UnsignedPayload...)
	*buf = b

	sts := appendStringToSign(nil, amzDate, scopeString(date, region, serviceS3), b)
	key := clientKeys.get(accessKey, secretKey, date, region, serviceS3)
	sig := sign(&key, sts)

	u := *r.URL
	u.Host = host
	u.RawQuery = query + "&X-Amz-Signature=" + string(sig[:])
	return &u, nil
}

// setHeader sets a single-valued header, reusing the value slice.
func setHeader(h http.Header, key, value string) {
	h[key] = append(h[key][:0], value)
}

// signingHost returns the host to sign, without a default port.
func signingHost(r *http.Request) string {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.IndexByte(host[i:], ']') >= 0 {
		return host
	}
	port := host[i+1:]
	scheme := strings.ToLower(r.URL.Scheme)
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") || port == "" {
		h := host[:i]
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		}
		return h
	}
	return host
}

// clientPath returns the canonical URI of an outgoing request: the path
// net/http will send.
func clientPath(u *url.URL) string {
	if u.Opaque != "" {
		p := u.Opaque
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimPrefix(p, "//")
		if i := strings.IndexByte(p, '/'); i >= 0 {
			return p[i:]
		}
		return "/"
	}
	if p := u.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// skipHeader reports whether a client header is left out of the signature.
func skipHeader(k string) bool {
	switch len(k) {
	case 4:
		return strings.EqualFold(k, "Host") // signed from r.Host
	case 6:
		return strings.EqualFold(k, "Expect")
	case 10:
		return strings.EqualFold(k, "User-Agent")
	case 13:
		return strings.EqualFold(k, "Authorization")
	case 15:
		return strings.EqualFold(k, "X-Amzn-Trace-Id")
	case 17:
		return strings.EqualFold(k, "Transfer-Encoding")
	}
	return false
}

// appendClientHeaders appends the canonical headers of an outgoing request
// ("name:value\n" each, sorted) and then the signed-header list, returning
// the list's bounds in b.
func appendClientHeaders(b []byte, r *http.Request, host string) ([]byte, int, int) {
	var stack [24]string
	keys := stack[:0]
	keys = append(keys, "host")
	contentLength := r.ContentLength > 0
	if contentLength {
		keys = append(keys, "content-length")
	}
	for k := range r.Header {
		if skipHeader(k) || (contentLength && strings.EqualFold(k, "Content-Length")) {
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareFold)

	for i := 0; i < len(keys); i++ {
		k := keys[i]
		b = appendLower(b, k)
		b = append(b, ':')
		switch {
		case k == "host":
			b = appendHeaderValue(b, host)
		case k == "content-length" && contentLength:
			b = strconv.AppendInt(b, r.ContentLength, 10)
		default:
			first := true
			// Keys differing only in case (set directly in the map) are
			// one header, as the SDK treats them.
			for ; i < len(keys) && strings.EqualFold(keys[i], k); i++ {
				for _, v := range r.Header[keys[i]] {
					if !first {
						b = append(b, ',')
					}
					first = false
					b = appendHeaderValue(b, v)
				}
			}
			i--
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	start := len(b)
	for i, k := range keys {
		if i > 0 {
			if strings.EqualFold(keys[i-1], k) {
				continue
			}
			b = append(b, ';')
		}
		b = appendLower(b, k)
	}
	return b, start, len(b)
}

// compareFold orders header names as their lowercase forms sort.
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := lower(a[i]), lower(b[i])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = append(b, lower(s[i]))
	}
	return b
}

func appendScope(b []byte, date, region string) []byte {
	b = append(b, date...)
	b = append(b, '/')
	b = append(b, region...)
	b = append(b, '/')
	b = append(b, serviceS3...)
	b = append(b, '/')
	return append(b, terminator...)
}
