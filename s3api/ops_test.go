package s3api

import (
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strongboxdb/strongbox/objstore"
)

// Unit tests of the request parsing behind CopyObject, tagging and CORS;
// the operations themselves are tested end to end with real clients in
// server/.

func TestParseCopySource(t *testing.T) {
	tests := []struct {
		in          string
		bucket, key string
		err         *APIError
	}{
		{"bkt/key", "bkt", "key", nil},
		{"/bkt/dir/key", "bkt", "dir/key", nil},
		{"bkt/with%20space%2Bplus+raw", "bkt", "with space+plus+raw", nil},
		{"bkt/%C3%BC%2F%25", "bkt", "ü/%", nil},
		{"bkt/a%3Fb?versionId=null", "bkt", "a?b", nil},
		{"bkt/key?versionId=abc", "", "", ErrInvalidVersionID},
		{"bkt", "", "", ErrInvalidCopySource},
		{"bkt/", "", "", ErrInvalidCopySource},
		{"/", "", "", ErrInvalidCopySource},
		{"", "", "", ErrInvalidCopySource},
		{"bkt/%zz", "", "", ErrInvalidCopySourceName},
		{"bkt/" + strings.Repeat("k", 1025), "", "", ErrKeyTooLong},
	}
	for _, tt := range tests {
		b, k, err := parseCopySource(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("parseCopySource(%q) = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || b != tt.bucket || k != tt.key {
			t.Errorf("parseCopySource(%q) = %q, %q, %v; want %q, %q", tt.in, b, k, err, tt.bucket, tt.key)
		}
	}
}

func TestParseTagging(t *testing.T) {
	ok := []struct {
		in   string
		want map[string]string
	}{
		{"", nil},
		{"a=1&b=two%20words", map[string]string{"a": "1", "b": "two words"}},
		{"plus+sign=a+b&bare&empty=", map[string]string{"plus sign": "a b", "bare": "", "empty": ""}},
		{"k%C3%BC=%E6%97%A5&", map[string]string{"kü": "日"}},
	}
	for _, tt := range ok {
		got, err := parseTagging(tt.in)
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("parseTagging(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	refused := []struct {
		in   string
		code string
	}{
		{"a=x=y", "InvalidArgument"},
		{"a=%zz", "InvalidArgument"},
		{"a=1&a=2", "InvalidArgument"},
		{strings.Repeat("k", 129) + "=v", "InvalidTag"},
		{"k=" + strings.Repeat("v", 257), "InvalidTag"},
		{"=v", "InvalidTag"},
		{"aws:x=1", "InvalidTag"},
		{"AWS:x=1", "InvalidTag"},
		{"k=a%3Cb", "InvalidTag"},
		{"k=%FF", "InvalidTag"},
		{"a&b&c&d&e&f&g&h&i&j&k", "BadRequest"},
	}
	for _, tt := range refused {
		if _, err := parseTagging(tt.in); toAPIError(err).Code != tt.code {
			t.Errorf("parseTagging(%q) = %v, want %s", tt.in, err, tt.code)
		}
	}
	// Lengths count UTF-16 code units: 64 characters outside the BMP are
	// 128 units, the maximum.
	if _, err := validateTags([][2]string{{strings.Repeat("𠀀", 64), "v"}}); err != nil {
		t.Errorf("128 UTF-16 units: %v", err)
	}
	if _, err := validateTags([][2]string{{strings.Repeat("𠀀", 64) + "a", "v"}}); err == nil {
		t.Error("129 UTF-16 units accepted")
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "anything", true},
		{"*", "", true},
		{"http://*.example.com", "http://a.example.com", true},
		{"http://*.example.com", "http://a.b.example.com", true},
		{"http://*.example.com", "http://example.com", false},
		{"http://*.example.com", "https://a.example.com", false},
		{"http://*.example.com", "http://a.example.com.evil.org", false},
		{"start*end", "startend", true},
		{"prefix*", "prefix", true},
		{"*suffix", "foo.suffix", true},
		{"*suffix", "foo.suffix.get", false},
		{"exact", "exact", true},
		{"exact", "Exact", false},
		{"ab*ba", "aba", false}, // prefix and suffix may not overlap
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}

func TestMatchCORS(t *testing.T) {
	rules := []objstore.CORSRule{
		{AllowedOrigins: []string{"http://a.example"}, AllowedMethods: []string{"PUT"}, AllowedHeaders: []string{"Content-*", "x-amz-date"}},
		{AllowedOrigins: []string{"http://a.example", "*"}, AllowedMethods: []string{"GET"}},
	}
	tests := []struct {
		origin, method string
		headers        []string
		rule           int // -1: none
		wildcard       bool
	}{
		{"http://a.example", "PUT", []string{"content-type", "x-amz-date"}, 0, false},
		{"http://a.example", "PUT", []string{"authorization"}, -1, false},
		{"http://a.example", "GET", nil, 1, false},
		{"http://b.example", "GET", nil, 1, true},
		{"http://b.example", "GET", []string{"content-type"}, -1, false}, // rule 1 allows no header
		{"http://b.example", "PUT", nil, -1, false},
	}
	for _, tt := range tests {
		rule, wildcard := matchCORS(rules, tt.origin, tt.method, tt.headers)
		got := -1
		for i := range rules {
			if rule == &rules[i] {
				got = i
			}
		}
		if got != tt.rule || wildcard != tt.wildcard {
			t.Errorf("matchCORS(%s %s %v) = rule %d wildcard %v, want %d %v", tt.origin, tt.method, tt.headers, got, wildcard, tt.rule, tt.wildcard)
		}
	}
}

func TestParseCORS(t *testing.T) {
	rule := func(inner string) string {
		return "<CORSConfiguration><CORSRule>" + inner + "</CORSRule></CORSConfiguration>"
	}
	good := `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><ID>r1</ID>` +
		`<AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>` +
		`<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>30</MaxAgeSeconds></CORSRule>` +
		`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod></CORSRule></CORSConfiguration>`
	rules, err := parseCORS([]byte(good))
	if err != nil || len(rules) != 2 || rules[0].ID != "r1" || rules[0].MaxAgeSeconds != 30 || rules[1].MaxAgeSeconds != -1 ||
		strings.Join(rules[0].AllowedMethods, ",") != "GET,PUT" || rules[0].ExposeHeaders[0] != "ETag" {
		t.Fatalf("parseCORS = %+v, %v", rules, err)
	}
	var many strings.Builder
	many.WriteString("<CORSConfiguration>")
	for range 101 {
		many.WriteString("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>")
	}
	many.WriteString("</CORSConfiguration>")
	refused := []struct {
		doc  string
		code string
		msg  string
	}{
		{"<CORSConfiguration></CORSConfiguration>", "MalformedXML", ""},
		{"<CORS/>", "MalformedXML", ""},
		{"not xml", "MalformedXML", ""},
		{many.String(), "MalformedXML", ""},
		{rule("<AllowedMethod>GET</AllowedMethod>"), "MalformedXML", ""},
		{rule("<AllowedOrigin>*</AllowedOrigin>"), "MalformedXML", ""},
		{rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>x</MaxAgeSeconds>"), "MalformedXML", ""},
		{rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>OPTIONS</AllowedMethod>"), "InvalidRequest", "Unsupported method is OPTIONS"},
		{rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>"), "InvalidRequest", "Unsupported method is get"},
		{rule("<AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"), "InvalidRequest", `AllowedOrigin "*.*" can not have more than one wildcard.`},
		{rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader>"), "InvalidRequest", "more than one wildcard"},
		{rule("<ID>" + strings.Repeat("i", 256) + "</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"), "InvalidArgument", ""},
	}
	for _, tt := range refused {
		_, err := parseCORS([]byte(tt.doc))
		e := toAPIError(err)
		if e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
			t.Errorf("parseCORS(%.60q) = %v, want %s %q", tt.doc, err, tt.code, tt.msg)
		}
	}
}

// Subresources implemented at one level only still never reach the store
// at the other: PUT /b/k?cors must not overwrite the object, PUT /b?tagging
// must not create the bucket.
func TestOneLevelSubresourcesAreNotImplemented(t *testing.T) {
	s := New(untouchable{t}, Options{Credentials: func(ak string) (string, Rights, bool) { return "sk", RightsAll, ak == "ak" }})
	for _, c := range []struct{ method, target string }{
		{http.MethodPut, "/bucket/key?cors"},
		{http.MethodPost, "/bucket/key?delete"},
		{http.MethodPut, "/bucket?tagging"},
		{http.MethodDelete, "/bucket?tagging"},
		{http.MethodGet, "/bucket?attributes"},
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, signedRequest(c.method, c.target, ""))
		if w.Code != http.StatusNotImplemented {
			t.Errorf("%s %s: %d %s", c.method, c.target, w.Code, w.Body)
		}
	}
}

// A preflight is answered before authentication; without an Origin it is
// refused without consulting the store.
func TestPreflightWithoutOrigin(t *testing.T) {
	s := New(untouchable{t}, Options{Credentials: func(string) (string, Rights, bool) { return "", 0, false }})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodOptions, "/bucket/key", nil))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Insufficient information. Origin request header needed.") {
		t.Fatalf("OPTIONS without Origin: %d %s", w.Code, w.Body)
	}
}
