package sigv4

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Fuzz targets for SigV4 header and presigned authentication. Each builds
// a request from the fuzzer's method, path, query and one header, signs it
// with Sign or Presign (which produce what aws-sdk-go-v2 produces), and
// holds Verify to the promise of a signature:
//   - the request as signed verifies (a valid signature is never refused);
//   - a change to anything the signature covers is refused;
//   - a request whose Authorization or query the fuzzer rewrote is either
//     refused with an S3 error or carries the true signature and means
//     what was signed.

// serverRequest is r as the server receives it: RequestURI as net/http's
// client writes it, Host as signed, the same headers.
func serverRequest(r *http.Request) *http.Request {
	s := r.Clone(r.Context())
	s.RequestURI = r.URL.RequestURI()
	s.URL, _ = url.ParseRequestURI(s.RequestURI)
	return s
}

// fuzzRequest builds the request the fuzzer describes, or nil when
// net/http would not send it (an invalid method, target or header).
func fuzzRequest(method, target, name, value string) *http.Request {
	if method == "" || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
		return nil
	}
	for i := 0; i < len(method); i++ {
		if !httpguts.IsTokenRune(rune(method[i])) {
			return nil
		}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || u.RequestURI() == "" {
		return nil
	}
	r, err := http.NewRequest(method, "http://s3.local:9000"+u.RequestURI(), nil)
	if err != nil {
		return nil
	}
	if name != "" {
		if !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
			return nil
		}
		r.Header.Set(name, value)
	}
	return r
}

// wantS3Error fails unless err is one of this package's *Error values.
func wantS3Error(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code == "" || e.Status < 400 {
		t.Fatalf("not an S3 error: %v", err)
	}
}

func signatureOf(authz string) string {
	_, sig, _ := strings.Cut(authz, "Signature=")
	return sig
}

var fuzzVerifyTargets = []string{
	"/", "/bucket", "/bucket/key", "/bucket/some%20key?tagging=&versionId=1", "/b/a%2Fb//c/../d?acl",
	"/b/k?uploads", "/b/%E6%97%A5?x=%2B+&y", "/b/a=b@c,d:e", "/b/k?prefix=a%26b&list-type=2",
}

func FuzzVerifyHeader(f *testing.F) {
	for i, target := range fuzzVerifyTargets {
		f.Add("PUT", target, "X-Amz-Meta-Color", "blue", "")
		f.Add("GET", target, "Content-Type", " text/plain;  charset=utf-8 ", "AWS4-HMAC-SHA256 Credential=AKIDSTRONGBOXTEST/20250314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
		f.Add("DELETE", target, "x-amz-copy-source", "/secret/payroll.csv", []string{"", "AWS x:y", "AWS4-HMAC-SHA256 ", "AWS4-ECDSA-P256-SHA256 x"}[i%4])
	}
	f.Fuzz(func(t *testing.T, method, target, name, value, authz string) {
		r := fuzzRequest(method, target, name, value)
		if r == nil {
			return
		}
		Sign(r, testAK, testSK, testRegion, UnsignedPayload, verifyTime)
		v := testVerifier(func() time.Time { return verifyTime })
		a, err := v.Verify(serverRequest(r))
		if err != nil {
			t.Fatalf("a request signed by Sign is refused: %v\n%s %s %q", err, r.Method, r.URL.RequestURI(), r.Header)
		}
		real := signatureOf(r.Header.Get("Authorization"))

		// Changes to what the signature covers.
		tampered := []func(s *http.Request){
			func(s *http.Request) { s.Method += "X" },
			func(s *http.Request) {
				s.RequestURI += map[bool]string{true: "&", false: "?"}[strings.Contains(s.RequestURI, "?")] + "x-id=evil"
			},
			func(s *http.Request) { s.Host = "evil.local" },
			func(s *http.Request) { s.Header.Set("X-Amz-Date", "20250314T150927Z") },
		}
		for _, h := range a.SignedHeaders {
			if h != "host" && h != "x-amz-date" && h != "x-amz-content-sha256" {
				tampered = append(tampered, func(s *http.Request) { s.Header.Set(h, s.Header.Get(h)+"x") })
			}
		}
		for i, change := range tampered {
			s := serverRequest(r)
			change(s)
			s.URL, _ = url.ParseRequestURI(s.RequestURI)
			if _, err := v.Verify(s); err == nil {
				t.Fatalf("change %d to a signed request accepted: %s %s %q", i, s.Method, s.RequestURI, s.Header)
			}
		}

		// A rewritten Authorization.
		if authz == "" {
			return
		}
		s := serverRequest(r)
		s.Header.Set("Authorization", authz)
		got, err := v.Verify(s)
		if err != nil {
			wantS3Error(t, err)
			return
		}
		if !strings.Contains(authz, real) || !reflect.DeepEqual(got.SignedHeaders, a.SignedHeaders) {
			t.Fatalf("Authorization %q accepted, signed as %q", authz, r.Header.Get("Authorization"))
		}
	})
}

func FuzzVerifyPresigned(f *testing.F) {
	for i, target := range fuzzVerifyTargets {
		f.Add("GET", target, "", "", uint32(3600), "")
		f.Add("PUT", target, "X-Amz-Meta-Color", "blue", uint32(1), "X-Amz-Expires=604800")
		f.Add("HEAD", target, "Range", "bytes=0-1", uint32(604800), []string{"x-id=1", "X-Amz-Signature=0", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a/b", "response-content-type=text/html"}[i%4])
	}
	f.Fuzz(func(t *testing.T, method, target, name, value string, expires uint32, query string) {
		r := fuzzRequest(method, target, name, value)
		if r == nil {
			return
		}
		secs := 1 + int64(expires)%maxPresignSecs
		u, err := Presign(r, testAK, testSK, testRegion, time.Duration(secs)*time.Second, verifyTime)
		if err != nil {
			t.Fatal(err)
		}
		signed := r.Clone(r.Context())
		signed.URL = u
		signed.Host = u.Host
		last := verifyTime.Add(time.Duration(secs) * time.Second)
		v := testVerifier(func() time.Time { return last })
		a, err := v.Verify(serverRequest(signed))
		if err != nil {
			t.Fatalf("a URL from Presign is refused: %v\n%s %s %q", err, signed.Method, u.RequestURI(), signed.Header)
		}
		if after := testVerifier(func() time.Time { return last.Add(time.Second) }); true {
			if _, err := after.Verify(serverRequest(signed)); !errors.Is(err, ErrExpiredRequest) {
				t.Fatalf("a second after expiry: %v", err)
			}
		}
		// Changes to what the signature covers.
		for i, change := range []func(s *http.Request){
			func(s *http.Request) { s.Method += "X" },
			func(s *http.Request) { s.Host = "evil.local" },
			func(s *http.Request) { s.RequestURI = strings.Replace(s.RequestURI, "?", "x?", 1) },
		} {
			s := serverRequest(signed)
			change(s)
			s.URL, _ = url.ParseRequestURI(s.RequestURI)
			if _, err := v.Verify(s); err == nil {
				t.Fatalf("change %d to a presigned request accepted: %s %s", i, s.Method, s.RequestURI)
			}
		}
		for _, h := range a.SignedHeaders {
			if h != "host" {
				s := serverRequest(signed)
				s.Header.Set(h, s.Header.Get(h)+"x")
				if _, err := v.Verify(s); err == nil {
					t.Fatalf("signed header %s changed, accepted", h)
				}
			}
		}

		// A query the fuzzer added to: accepted only if it means the same.
		if query == "" {
			return
		}
		s := serverRequest(signed)
		s.RequestURI += "&" + query
		if s.URL, err = url.ParseRequestURI(s.RequestURI); err != nil {
			return
		}
		if _, err := v.Verify(s); err != nil {
			wantS3Error(t, err)
			return
		}
		if !reflect.DeepEqual(s.URL.Query(), u.Query()) {
			t.Fatalf("query %q added to a presigned URL, accepted:\n%v\n%v", query, s.URL.Query(), u.Query())
		}
	})
}
