package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Payload hash keywords: the values of x-amz-content-sha256 other than a hex
// SHA256.
const (
	// UnsignedPayload: the body is not covered by the signature.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// StreamingPayload: aws-chunked body, every chunk signed.
	StreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingPayloadTrailer: aws-chunked body, every chunk and the
	// trailer signed.
	StreamingPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// StreamingUnsignedPayloadTrailer: aws-chunked body, unsigned, with a
	// trailing checksum.
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	// EmptySHA256 is the hex SHA256 of an empty body.
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

const (
	algorithm      = "AWS4-HMAC-SHA256"
	amzDateLayout  = "20060102T150405Z"
	dateLayout     = "20060102"
	terminator     = "aws4_request"
	serviceS3      = "s3"
	chunkAlgorithm = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerAlgo    = "AWS4-HMAC-SHA256-TRAILER"
	maxPresignSecs = 7 * 24 * 60 * 60
	sigHexLen      = 2 * sha256.Size
)

// bufPool holds scratch buffers for canonical requests, so signing and
// verifying allocate little beyond their results.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// shouldEscape reports whether c is outside RFC 3986's unreserved set, which
// is what SigV4's UriEncode leaves alone.
func shouldEscape(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return false
	case c == '-', c == '_', c == '.', c == '~':
		return false
	}
	return true
}

// appendEscaped appends SigV4's UriEncode of s: every byte outside the
// unreserved set as %XX with uppercase hex; '/' too unless keepSlash.
func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	const upperhex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !shouldEscape(c) || (keepSlash && c == '/') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upperhex[c>>4], upperhex[c&15])
	}
	return b
}

// queryPair is one decoded-then-encoded query parameter.
type queryPair struct{ k, v string }

// appendCanonicalQuery appends the canonical query string of rawQuery: each
// name and value decoded (as net/url does, '+' meaning space), re-encoded
// with UriEncode, sorted by name and then value, joined with '&'. A name
// without '=' has an empty value. With skipSignature, X-Amz-Signature is
// left out (presigned URLs sign everything else).
func appendCanonicalQuery(b []byte, rawQuery string, skipSignature bool) []byte {
	if rawQuery == "" {
		return b
	}
	var stack [8]queryPair
	pairs := stack[:0]
	for rest := rawQuery; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		if skipSignature && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, queryPair{escapeComponent(k), escapeComponent(v)})
	}
	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = append(b, p.v...)
	}
	return b
}

// unescapeQuery decodes a query component; a malformed escape is kept
// verbatim (it then cannot match what a client signed, which is the point).
func unescapeQuery(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// escapeComponent returns UriEncode(s), without allocating when s needs no
// escaping.
func escapeComponent(s string) string {
	for i := 0; i < len(s); i++ {
		if shouldEscape(s[i]) {
			return string(appendEscaped(make([]byte, 0, len(s)+16), s, false))
		}
	}
	return s
}

// appendHeaderValue appends v trimmed of surrounding whitespace, with runs
// of spaces inside collapsed to one, as SigV4 canonical headers require.
func appendHeaderValue(b []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}

// appendCanonicalHeader appends "name:value\n" for one signed header of a
// server-side request; name is lowercase. Headers net/http lifts out of the
// map (Host, and Content-Length and Transfer-Encoding when absent from it)
// are taken from the request fields.
func appendCanonicalHeader(b []byte, r *http.Request, name string) []byte {
	b = append(b, name...)
	b = append(b, ':')
	switch name {
	case "host":
		host := r.Host
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		return append(appendHeaderValue(b, host), '\n')
	case "content-length":
		if _, ok := r.Header["Content-Length"]; !ok && r.ContentLength >= 0 {
			return append(strconv.AppendInt(b, r.ContentLength, 10), '\n')
		}
	case "transfer-encoding":
		if _, ok := r.Header["Transfer-Encoding"]; !ok {
			return append(appendHeaderValue(b, strings.Join(r.TransferEncoding, ",")), '\n')
		}
	}
	values := r.Header[http.CanonicalHeaderKey(name)]
	if values == nil {
		values = r.Header[name] // a non-canonical key set directly in the map
	}
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHeaderValue(b, v)
	}
	return append(b, '\n')
}

// appendStringToSign appends the SigV4 string to sign for a canonical
// request.
func appendStringToSign(b []byte, amzDate, scope string, canonicalRequest []byte) []byte {
	b = append(b, algorithm...)
	b = append(b, '\n')
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	return appendHashHex(b, canonicalRequest)
}

// appendHashHex appends the lowercase hex SHA256 of data.
func appendHashHex(b, data []byte) []byte {
	sum := sha256.Sum256(data)
	return hex.AppendEncode(b, sum[:])
}

// scopeString returns "<date>/<region>/<service>/aws4_request".
func scopeString(date, region, service string) string {
	return date + "/" + region + "/" + service + "/" + terminator
}

// hmacSHA256 returns HMAC-SHA256(key, data) into out.
func hmacSHA256(out *[sha256.Size]byte, key []byte, data []byte) {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	m.Sum(out[:0])
}

// deriveKey computes the SigV4 signing key: four chained HMACs from the
// secret through date, region, service and "aws4_request".
func deriveKey(secret, date, region, service string) [sha256.Size]byte {
	var k [sha256.Size]byte
	hmacSHA256(&k, []byte("AWS4"+secret), []byte(date))
	hmacSHA256(&k, k[:], []byte(region))
	hmacSHA256(&k, k[:], []byte(service))
	hmacSHA256(&k, k[:], []byte(terminator))
	return k
}

// sign returns the lowercase hex signature of stringToSign.
func sign(key *[sha256.Size]byte, stringToSign []byte) [sigHexLen]byte {
	var mac [sha256.Size]byte
	hmacSHA256(&mac, key[:], stringToSign)
	var out [sigHexLen]byte
	hex.Encode(out[:], mac[:])
	return out
}

// sigEqual compares a computed hex signature with a provided one in constant
// time (for equal lengths).
func sigEqual(computed *[sigHexLen]byte, provided string) bool {
	return len(provided) == sigHexLen && subtle.ConstantTimeCompare(computed[:], []byte(provided)) == 1
}

// keyCache remembers derived signing keys, which are valid for a day per
// (access key, region, service). An entry is used only if the secret it was
// derived from is still the one Lookup returns, so a rotated secret takes
// effect at once. The cache is bounded: when full it starts over.
type keyCache struct {
	mu sync.RWMutex
	m  map[keyID]keyEntry
}

type keyID struct{ accessKey, date, region, service string }

type keyEntry struct {
	secret string
	key    [sha256.Size]byte
}

const keyCacheMax = 4096

func (c *keyCache) get(accessKey, secret, date, region, service string) [sha256.Size]byte {
	id := keyID{accessKey, date, region, service}
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if ok && subtle.ConstantTimeCompare([]byte(e.secret), []byte(secret)) == 1 {
		return e.key
	}
	key := deriveKey(secret, date, region, service)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= keyCacheMax {
		c.m = make(map[keyID]keyEntry)
	}
	c.m[id] = keyEntry{secret: secret, key: key}
	c.mu.Unlock()
	return key
}

// ParseAmzDate parses an ISO 8601 basic timestamp, "20130524T000000Z", the
// form of X-Amz-Date; false for any other string.
func ParseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(amzDateLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(amzDateLayout, s)
	return t, err == nil
}

// isHexSHA256 reports whether s is 64 hex digits.
func isHexSHA256(s string) bool {
	if len(s) != sigHexLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
