package s3api

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for the request parts s3api parses itself: Range headers,
// bucket names and object keys here, XML bodies in fuzz_xml_test.go, POST
// forms and policies in fuzz_post_test.go. Each compares the parser with a
// reference written independently from S3's rules (or checks a round trip),
// not just that it does not panic. Seeds beyond the f.Add ones live in
// testdata/fuzz/<target>/; `make fuzz` runs every target.
//
// Targets that go through the handler share one Server and memBackend
// across inputs (building a router per input would be most of the work)
// and reset the backend's state themselves. Its backend has no test to
// fail: a method the target does not expect panics, which ServeHTTP turns
// into a 500 that every target refuses.

// rangeRef is parseRange written from the RFC 9110 grammar S3 applies:
// "bytes=" first "-" [last] or "bytes=-" suffix, digits only, one range.
// A header it cannot read serves the whole object; ok false means
// InvalidRange.
var rangeSpec = regexp.MustCompile(`^([0-9]*)-([0-9]*)$`)

func rangeRef(v string, size int64) (start, end int64, partial, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found {
		return 0, size, false, true
	}
	m := rangeSpec.FindStringSubmatch(strings.TrimSpace(spec))
	if m == nil {
		return 0, size, false, true
	}
	num := func(s string) (int64, bool) {
		n, ok := new(big.Int).SetString(s, 10)
		if !ok || !n.IsInt64() {
			return 0, false
		}
		return n.Int64(), true
	}
	first, last := m[1], m[2]
	switch {
	case first == "" && last == "":
		return 0, size, false, true
	case first == "":
		n, fits := num(last)
		if !fits {
			return 0, size, false, true
		}
		if n == 0 {
			return 0, 0, false, false
		}
		if size == 0 {
			return 0, 0, false, true
		}
		return max(size-n, 0), size, true, true
	}
	a, fits := num(first)
	if !fits {
		return 0, size, false, true
	}
	b := int64(math.MaxInt64)
	if last != "" {
		if b, fits = num(last); !fits || b < a {
			return 0, size, false, true
		}
	}
	if a >= size {
		return 0, 0, false, false
	}
	return a, min(b, size-1) + 1, true, true
}

// parseRange agrees with rangeRef, and whatever it serves lies within the
// object: a 206 names at least one byte, and a Content-Range of it is
// well formed. parseCopySourceRange, stricter, serves only ranges
// parseRange would serve the same way.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"", "bytes=0-9", "bytes=90-", "bytes=-10", "bytes=-0", "bytes=100-", "bytes=10-5",
		"bytes=0-1,5-6", "items=0-5", "bytes= 3-4 ", "bytes=+3-4", "bytes=-+3", "bytes=--3",
		"bytes=0-99999999999999999999", "bytes=9223372036854775807-", "bytes=-9223372036854775808",
	} {
		f.Add(s, int64(100))
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		size &= math.MaxInt64 // object sizes are not negative
		start, end, partial, err := parseRange(v, size)
		rs, re, rp, rok := rangeRef(v, size)
		if (err == nil) != rok {
			t.Fatalf("parseRange(%q, %d): err %v, reference ok %v", v, size, err, rok)
		}
		if err != nil {
			if err != ErrInvalidRange {
				t.Fatalf("parseRange(%q, %d): %v, want InvalidRange", v, size, err)
			}
			return
		}
		if start != rs || end != re || partial != rp {
			t.Fatalf("parseRange(%q, %d) = %d,%d,%v; reference %d,%d,%v", v, size, start, end, partial, rs, re, rp)
		}
		if partial && !(0 <= start && start < end && end <= size) {
			t.Fatalf("parseRange(%q, %d) = 206 for [%d,%d)", v, size, start, end)
		}
		if !partial && (start != 0 || end != size) {
			t.Fatalf("parseRange(%q, %d) = 200 for [%d,%d)", v, size, start, end)
		}

		cs, ce, cerr := parseCopySourceRange(v, size)
		if cerr != nil {
			if e, ok := cerr.(*APIError); !ok || (e.Code != "InvalidArgument") {
				t.Fatalf("parseCopySourceRange(%q, %d): %v", v, size, cerr)
			}
			return
		}
		if !partial || cs != start || ce != end || strings.TrimSpace(v) != v {
			t.Fatalf("parseCopySourceRange(%q, %d) = [%d,%d), Range serves [%d,%d) partial %v", v, size, cs, ce, start, end, partial)
		}
	})
}

// bucketNameRef is S3's general-purpose bucket naming rules as the S3 user
// guide lists them ("Bucket naming rules"), as regular expressions.
var (
	bucketNameShape = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	bucketNameIP    = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`)
	bucketNameBad   = regexp.MustCompile(`\.\.|\.-|-\.|^xn--|^sthree-|^amzn-s3-demo-|-s3alias$|--ol-s3$|--x-s3$|\.mrap$|--table-s3$`)
)

func bucketNameRef(name string) bool {
	return bucketNameShape.MatchString(name) && !bucketNameIP.MatchString(name) && !bucketNameBad.MatchString(name)
}

// validBucketName agrees with the reference, and every name it accepts
// routes: a path-style request for it reaches the bucket handler with the
// same name.
func FuzzBucketName(f *testing.F) {
	for _, s := range []string{
		"abc", "my-bucket", "my.bucket.name", "ab", "My-Bucket", "a..b", "a.-b", "192.168.5.4", "256.1.1.1",
		"01.2.3.4", "1.2.3", "xn--abc", "abc-s3alias", "abc--ol-s3", "abc.mrap", "_strongbox", "a\x00c", "äbc",
	} {
		f.Add(s)
	}
	m := newMemBackend(nil)
	s := testServer(m, Options{})
	f.Fuzz(func(t *testing.T, name string) {
		got := validBucketName(name)
		if want := bucketNameRef(name); got != want {
			t.Fatalf("validBucketName(%q) = %v, reference %v", name, got, want)
		}
		if !got {
			return
		}
		// The backend knows only this bucket: a 200 means it was named.
		m.buckets = map[string]bool{name: true}
		if w := do(s, http.MethodGet, "/"+name+"?location", ""); w.Code != http.StatusOK {
			t.Fatalf("GetBucketLocation %q: %d %s", name, w.Code, w.Body)
		}
	})
}

// checkKey accepts exactly S3's keys (non-empty UTF-8 of at most 1024
// bytes); a key it accepts, sent escaped as SDKs escape it, is stored
// under exactly that key, and one it refuses stores nothing.
func FuzzObjectKey(f *testing.F) {
	for _, s := range []string{
		"k", "dir/file.txt", "a//b", "..", "../x", "./", "%2F", "a%20b", "a+b", "sp ace", "?x=1", "#frag",
		"tab\tnl\n", "\x00", "\xff", "日本", strings.Repeat("k", 1024), strings.Repeat("k", 1025), "/", "//", "",
	} {
		f.Add(s)
	}
	m := newMemBackend(nil, "bkt")
	s := testServer(m, Options{})
	f.Fuzz(func(t *testing.T, key string) {
		err := checkKey(key)
		want := key != "" && len(key) <= maxKeyLength && utf8.ValidString(key)
		if (err == nil) != want {
			t.Fatalf("checkKey(%q) = %v, want ok %v", key, err, want)
		}
		if key == "" {
			return // the bucket's URL
		}
		if err != nil && !errors.Is(err, ErrKeyTooLong) && toAPIError(err).Code != "InvalidArgument" {
			t.Fatalf("checkKey(%q) = %v", key, err)
		}
		clear(m.objects)
		w := do(s, http.MethodPut, "/bkt/"+escapeKey(key), "x")
		_, stored := m.objects["bkt/"+key]
		switch {
		case err == nil && (w.Code != http.StatusOK || !stored || len(m.objects) != 1):
			t.Fatalf("PUT %q: %d %s; stored %v", key, w.Code, w.Body, m.objects)
		case err != nil && (w.Code != toAPIError(err).Status || len(m.objects) != 0):
			t.Fatalf("PUT %q: %d %s; stored %v", key, w.Code, w.Body, m.objects)
		}
	})
}

// escapeKey escapes a key for a path as the AWS SDKs do: every byte but
// unreserved characters and "/" percent-encoded.
func escapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
