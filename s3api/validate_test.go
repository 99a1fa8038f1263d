package s3api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
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
}

func TestValidBucketName(t *testing.T) {
	good := []string{"abc", "my-bucket", "my.bucket.name", "a1b", strings.Repeat("a", 63), "0bucket"}
	bad := []string{"ab", strings.Repeat("a", 64), "My-Bucket", "my_bucket", "-abc", "abc-", ".abc", "abc.", "a..b",
		"a.-b", "a-.b", "192.168.5.4", "xn--abc", "sthree-abc", "abc-s3alias", "abc--ol-s3", "_strongbox", "a b c"}
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
