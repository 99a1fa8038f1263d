package s3api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

func TestParseRange(t *testing.T) {
	const size = 100
	cases := []struct {
		header     string
		start, end int64
		partial    bool
		err        error
	}{
		{"", 0, size, false, nil},
		{"bytes=0-9", 0, 10, true, nil},
		{"bytes=90-", 90, size, true, nil},
		{"bytes=-10", 90, size, true, nil},
		{"bytes=-1000", 0, size, true, nil}, // suffix longer than the object: all of it
		{"bytes=95-1000", 95, size, true, nil},
		{"bytes=99-99", 99, size, true, nil},
		{"bytes=100-", 0, 0, false, ErrInvalidRange},
		{"bytes=100-200", 0, 0, false, ErrInvalidRange},
		{"bytes=-0", 0, 0, false, ErrInvalidRange},
		{"bytes=10-5", 0, size, false, nil},    // invalid syntax: ignored, like S3
		{"bytes=0-1,5-6", 0, size, false, nil}, // multiple ranges: whole object
		{"items=0-5", 0, size, false, nil},     // other unit: ignored
		{"bytes=abc-", 0, size, false, nil},    // garbage: ignored
		{"bytes=0-99999999999999999999", 0, size, false, nil},
		// Found by FuzzParseRange: ParseInt took a sign.
		{"bytes=+3-4", 0, size, false, nil},
		{"bytes=-+3", 0, size, false, nil},
		{"bytes=3-+4", 0, size, false, nil},
	}
	for _, c := range cases {
		start, end, partial, err := parseRange(c.header, size)
		if err != c.err || (err == nil && (start != c.start || end != c.end || partial != c.partial)) {
			t.Errorf("parseRange(%q) = %d,%d,%v,%v; want %d,%d,%v,%v", c.header, start, end, partial, err, c.start, c.end, c.partial, c.err)
		}
	}
	if _, _, _, err := parseRange("bytes=0-", 0); err != ErrInvalidRange {
		t.Errorf("range on an empty object: %v, want InvalidRange", err)
	}
	// Found by FuzzParseRange: a suffix range of an empty object was
	// answered 206 with Content-Range "bytes 0--1/0".
	if start, end, partial, err := parseRange("bytes=-5", 0); err != nil || partial || start != 0 || end != 0 {
		t.Errorf("suffix range on an empty object: %d,%d,%v,%v; want the whole (empty) object", start, end, partial, err)
	}
}

func TestSuffixRangeOfEmptyObject(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{})
	wantCode(t, do(s, http.MethodPut, "/bkt/empty", ""), http.StatusOK, "")
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		w := do(s, method, "/bkt/empty", "", "Range", "bytes=-5")
		if w.Code != http.StatusOK || w.Header().Get("Content-Range") != "" || w.Header().Get("Content-Length") != "0" || w.Body.Len() != 0 {
			t.Errorf("%s bytes=-5 of an empty object: %d %v %q", method, w.Code, w.Header(), w.Body)
		}
	}
	wantCode(t, do(s, http.MethodGet, "/bkt/empty", "", "Range", "bytes=0-"), http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
}

func TestValidBucketName(t *testing.T) {
	good := []string{"abc", "my-bucket", "my.bucket.name", "a1b", strings.Repeat("a", 63), "0bucket"}
	bad := []string{"ab", strings.Repeat("a", 64), "My-Bucket", "my_bucket", "-abc", "abc-", ".abc", "abc.", "a..b",
		"a.-b", "a-.b", "192.168.5.4", "256.1.1.1", "01.2.3.4", "xn--abc", "sthree-abc", "abc-s3alias", "abc--ol-s3", "_strongbox", "a b c"}
	for _, n := range good {
		if !validBucketName(n) {
			t.Errorf("%q rejected", n)
		}
	}
	for _, n := range bad {
		if validBucketName(n) {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestCheckConditions(t *testing.T) {
	lm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	info := objstore.ObjectInfo{ETag: "abc", LastModified: lm}
	before, after := lm.Add(-time.Hour).Format(http.TimeFormat), lm.Add(time.Hour).Format(http.TimeFormat)
	cases := []struct {
		headers map[string]string
		want    error
	}{
		{nil, nil},
		{map[string]string{"If-Match": `"abc"`}, nil},
		{map[string]string{"If-Match": `"xyz", "abc"`}, nil},
		{map[string]string{"If-Match": `*`}, nil},
		{map[string]string{"If-Match": `"xyz"`}, ErrPreconditionFailed},
		{map[string]string{"If-None-Match": `"abc"`}, ErrNotModified},
		{map[string]string{"If-None-Match": `"xyz"`}, nil},
		{map[string]string{"If-Modified-Since": after}, ErrNotModified},
		{map[string]string{"If-Modified-Since": before}, nil},
		{map[string]string{"If-Unmodified-Since": before}, ErrPreconditionFailed},
		{map[string]string{"If-Unmodified-Since": after}, nil},
		// S3: If-Match true wins over If-Unmodified-Since false ...
		{map[string]string{"If-Match": `"abc"`, "If-Unmodified-Since": before}, nil},
		// ... and If-None-Match false wins over If-Modified-Since true.
		{map[string]string{"If-None-Match": `"abc"`, "If-Modified-Since": before}, ErrNotModified},
		{map[string]string{"If-Modified-Since": "not a date"}, nil},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/b/k", nil)
		for k, v := range c.headers {
			r.Header.Set(k, v)
		}
		if got := checkConditions(r, info); got != c.want {
			t.Errorf("%v: got %v, want %v", c.headers, got, c.want)
		}
	}
}

func TestStripAWSChunked(t *testing.T) {
	for in, want := range map[string]string{"aws-chunked": "", "aws-chunked,gzip": "gzip", "gzip, aws-chunked": "gzip", "": "", "br": "br"} {
		if got := stripAWSChunked(in); got != want {
			t.Errorf("stripAWSChunked(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckWriteHeaders(t *testing.T) {
	for _, tt := range []struct {
		header, value string
		want          *APIError // nil: accepted
	}{
		{"X-Amz-Server-Side-Encryption", "AES256", nil},
		{"X-Amz-Server-Side-Encryption", "aws:kms", ErrNotImplemented},
		{"X-Amz-Server-Side-Encryption", "BOGUS", ErrInvalidEncryption},
		{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", "key", ErrNotImplemented},
		{"X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256", ErrNotImplemented},
		{"X-Amz-Server-Side-Encryption-Customer-Key", "a2V5", ErrNotImplemented},
		{"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key", "a2V5", ErrNotImplemented},
		{"X-Amz-Storage-Class", "STANDARD", nil},
		{"X-Amz-Storage-Class", "GLACIER", nil},
		{"X-Amz-Storage-Class", "FOO", ErrInvalidStorageClass},
		{"X-Amz-Storage-Class", "standard", ErrInvalidStorageClass},
		{"X-Amz-Object-Lock-Mode", "GOVERNANCE", ErrNoObjectLockConfig},
		{"X-Amz-Object-Lock-Legal-Hold", "ON", ErrNoObjectLockConfig},
		{"X-Amz-Acl", "private", nil},
	} {
		h := http.Header{}
		h.Set(tt.header, tt.value)
		err := checkWriteHeaders(h)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %s: %v, want accepted", tt.header, tt.value, err)
			}
			continue
		}
		if got := toAPIError(err); got.Code != tt.want.Code || got.Status != tt.want.Status {
			t.Errorf("%s: %s: %v, want %s", tt.header, tt.value, err, tt.want.Code)
		}
	}
}

// A PutObject carrying an SSE-C key is refused before the store sees it:
// a 200 would tell the client its data is encrypted with its key.
func TestSSECIsRefusedBeforeTheStore(t *testing.T) {
	s := New(untouchable{t}, Options{Credentials: func(ak string) (string, Rights, bool) { return "sk", RightsAll, ak == "ak" }})
	for _, target := range []string{"/bucket/key", "/bucket/key?uploads", "/bucket/key?partNumber=1&uploadId=x"} {
		method := http.MethodPut
		if strings.HasSuffix(target, "?uploads") {
			method = http.MethodPost
		}
		w := do(s, method, target, "data", "X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256")
		if w.Code != http.StatusNotImplemented {
			t.Errorf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
	}
}

// A PutObject or UploadPart body must declare its length: plain chunked
// transfer encoding is NotImplemented and no length at all is
// MissingContentLength (S3's answers), never an empty object.
func TestPayloadWithoutLengthIsRefused(t *testing.T) {
	s := New(untouchable{t}, Options{Credentials: func(ak string) (string, Rights, bool) { return "sk", RightsAll, ak == "ak" }})
	for _, target := range []string{"/bucket/key", "/bucket/key?partNumber=1&uploadId=x"} {
		for _, tt := range []struct {
			name   string
			modify func(*http.Request)
			status int
		}{
			{"chunked", func(r *http.Request) { r.TransferEncoding, r.ContentLength = []string{"chunked"}, -1 }, http.StatusNotImplemented},
			{"no length", func(r *http.Request) { r.Header.Del("Content-Length") }, http.StatusLengthRequired},
		} {
			r := newRequest(http.MethodPut, target, "data")
			tt.modify(r)
			sigv4.Sign(r, "ak", "sk", "us-east-1", sigv4.UnsignedPayload, time.Now())
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("%s %s: %d %s, want %d", target, tt.name, w.Code, w.Body, tt.status)
			}
		}
	}
}
