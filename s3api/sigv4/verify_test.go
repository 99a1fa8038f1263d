package sigv4

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var verifyTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// signedRequest returns a PUT signed by Sign at verifyTime, with a metadata
// header and a query so tampering has something to change.
func signedRequest(t *testing.T, body string, mutate ...func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPut, "http://s3.local:9000/bucket/some%20key?tagging=&versionId=1", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Meta-Color", "blue")
	for _, m := range mutate {
		m(r)
	}
	Sign(r, testAK, testSK, testRegion, hashHex(body), verifyTime)
	return r
}

func verifyAt(r *http.Request, at time.Time) (*Auth, error) {
	return testVerifier(func() time.Time { return at }).Verify(r)
}

func TestVerifyRejects(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(r *http.Request)
		at     time.Time
		want   *Error
	}{
		{"anonymous", func(r *http.Request) { r.Header.Del("Authorization") }, verifyTime, ErrAccessDenied},
		{"wrong secret", func(r *http.Request) {
			Sign(r, testAK, "not the secret", testRegion, hashHex("hello"), verifyTime)
		}, verifyTime, ErrSignatureDoesNotMatch},
		{"another user's secret", func(r *http.Request) {
			Sign(r, "AKIDOTHER", testSK, testRegion, hashHex("hello"), verifyTime)
		}, verifyTime, ErrSignatureDoesNotMatch},
		{"unknown access key", func(r *http.Request) {
			Sign(r, "AKIDNOBODY", testSK, testRegion, hashHex("hello"), verifyTime)
		}, verifyTime, ErrInvalidAccessKeyID},
		{"signed header changed", func(r *http.Request) { r.Header.Set("X-Amz-Meta-Color", "red") }, verifyTime, ErrSignatureDoesNotMatch},
		{"signed header added a value", func(r *http.Request) { r.Header.Add("X-Amz-Meta-Color", "red") }, verifyTime, ErrSignatureDoesNotMatch},
		{"method changed", func(r *http.Request) { r.Method = http.MethodDelete }, verifyTime, ErrSignatureDoesNotMatch},
		{"path changed", func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/bucket/other", "" }, verifyTime, ErrSignatureDoesNotMatch},
		{"query changed", func(r *http.Request) { r.URL.RawQuery = "tagging=&versionId=2" }, verifyTime, ErrSignatureDoesNotMatch},
		{"query added", func(r *http.Request) { r.URL.RawQuery += "&acl" }, verifyTime, ErrSignatureDoesNotMatch},
		{"host changed", func(r *http.Request) { r.Host = "evil.local:9000" }, verifyTime, ErrSignatureDoesNotMatch},
		{"date changed", func(r *http.Request) { r.Header.Set("X-Amz-Date", "20250314T150927Z") }, verifyTime, ErrSignatureDoesNotMatch},
		{"payload hash changed", func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload) }, verifyTime, ErrSignatureDoesNotMatch},
		{"signature changed", func(r *http.Request) {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:len(h)-1]+string("01"[(h[len(h)-1]&1)]))
		}, verifyTime, ErrSignatureDoesNotMatch},
		{"signature uppercase", func(r *http.Request) {
			h := r.Header.Get("Authorization")
			i := strings.Index(h, "Signature=") + len("Signature=")
			r.Header.Set("Authorization", h[:i]+strings.ToUpper(h[i:]))
		}, verifyTime, ErrSignatureDoesNotMatch},
		{"missing x-amz-content-sha256", func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, verifyTime, ErrMissingContentSHA256},
		{"bad x-amz-content-sha256", func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "abc") }, verifyTime, ErrInvalidContentSHA256},
		{"SigV4a payload", func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
		}, verifyTime, ErrInvalidContentSHA256},
		{"clock 16 minutes ahead", nil, verifyTime.Add(16 * time.Minute), ErrRequestTimeTooSkewed},
		{"clock 16 minutes behind", nil, verifyTime.Add(-16 * time.Minute), ErrRequestTimeTooSkewed},
		{"no date", func(r *http.Request) { r.Header.Del("X-Amz-Date") }, verifyTime, ErrMissingDate},
		{"bad date", func(r *http.Request) { r.Header.Set("X-Amz-Date", "2025-03-14T15:09:26Z") }, verifyTime, ErrMissingDate},
		{"date of another day than the scope", func(r *http.Request) { r.Header.Set("X-Amz-Date", "20250315T000000Z") }, verifyTime, ErrAuthorizationHeaderMalformed},
		{"signature v2, wrong signature", func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAK+":c2lnbmF0dXJl") }, verifyTime, ErrSignatureDoesNotMatch},
		{"sigv4a", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1))
		}, verifyTime, ErrUnsupportedAuthorization},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }, verifyTime, ErrUnsupportedAuthorization},
		{"header and query auth", func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Signature=abc" }, verifyTime, ErrMultipleAuthMechanisms},
		{"signature v2 query, expired", func(r *http.Request) {
			r.Header.Del("Authorization")
			r.URL.RawQuery = "AWSAccessKeyId=" + testAK + "&Signature=abc&Expires=1"
		}, verifyTime, ErrExpiredRequest},
		{"host not signed", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
		}, verifyTime, ErrAccessDenied},
		{"trailer names a non-checksum", func(r *http.Request) {
			Sign(withHeader(r, "X-Amz-Trailer", "x-amz-meta-foo"), testAK, testSK, testRegion, StreamingUnsignedPayloadTrailer, verifyTime)
		}, verifyTime, ErrInvalidTrailerHeader},
		{"trailer names two checksums", func(r *http.Request) {
			Sign(withHeader(r, "X-Amz-Trailer", "x-amz-checksum-crc32,x-amz-checksum-crc32c"), testAK, testSK, testRegion, StreamingUnsignedPayloadTrailer, verifyTime)
		}, verifyTime, ErrInvalidTrailerHeader},
		{"bad decoded length", func(r *http.Request) {
			Sign(withHeader(r, "X-Amz-Decoded-Content-Length", "-5"), testAK, testSK, testRegion, StreamingPayload, verifyTime)
		}, verifyTime, ErrIncompleteBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := signedRequest(t, "hello")
			if tc.tamper != nil {
				tc.tamper(r)
			}
			a, err := verifyAt(r, tc.at)
			if !errors.Is(err, tc.want) || a != nil {
				t.Fatalf("Verify = %v, %v; want %v", a, err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.want.Code || e.Status != tc.want.Status {
				t.Fatalf("err = %#v", err)
			}
			if tc.want == ErrSignatureDoesNotMatch && !strings.HasPrefix(tc.name, "signature v2") && (e.CanonicalRequest == "" || !strings.HasPrefix(e.StringToSign, "AWS4-HMAC-SHA256\n")) {
				t.Errorf("SignatureDoesNotMatch without the canonical request: %#v", e)
			}
		})
	}
}

func withHeader(r *http.Request, k, v string) *http.Request {
	r.Header.Set(k, v)
	return r
}

func TestVerifyMalformedAuthorization(t *testing.T) {
	good := signedRequest(t, "").Header.Get("Authorization")
	cred := strings.TrimPrefix(good[:strings.Index(good, ",")], "AWS4-HMAC-SHA256 Credential=")
	rest := good[strings.Index(good, ","):]
	tests := []struct {
		name, authz string
	}{
		{"no components", "AWS4-HMAC-SHA256 "},
		{"missing signature", good[:strings.Index(good, ", Signature=")]},
		{"missing credential", "AWS4-HMAC-SHA256 " + strings.TrimPrefix(rest, ", ")},
		{"unknown component", good + ", Extra=1"},
		{"duplicate component", good + ", Signature=abc"},
		{"component without =", good + ", Signature"},
		{"credential too short", "AWS4-HMAC-SHA256 Credential=" + testAK + "/20250314/us-east-1/s3" + rest},
		{"credential bad date", "AWS4-HMAC-SHA256 Credential=" + strings.Replace(cred, "20250314", "2025031x", 1) + rest},
		{"service not s3", "AWS4-HMAC-SHA256 Credential=" + strings.Replace(cred, "/s3/", "/ec2/", 1) + rest},
		{"bad terminator", "AWS4-HMAC-SHA256 Credential=" + strings.Replace(cred, "aws4_request", "aws4_reqest", 1) + rest},
		{"empty region", "AWS4-HMAC-SHA256 Credential=" + strings.Replace(cred, "/us-east-1/", "//", 1) + rest},
		{"empty access key", "AWS4-HMAC-SHA256 Credential=/" + cred[strings.Index(cred, "/")+1:] + rest},
		{"uppercase signed header", strings.Replace(good, "x-amz-date", "X-Amz-Date", 1)},
		{"empty signed header", strings.Replace(good, "SignedHeaders=host;", "SignedHeaders=host;;", 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := signedRequest(t, "")
			r.Header.Set("Authorization", tc.authz)
			_, err := verifyAt(r, verifyTime)
			if !errors.Is(err, ErrAuthorizationHeaderMalformed) {
				t.Fatalf("err = %v, want AuthorizationHeaderMalformed", err)
			}
		})
	}
}

// Accepted variations: any region, spacing in the header, the skew limit,
// a Date header instead of X-Amz-Date, an access key containing '/'.
func TestVerifyAccepts(t *testing.T) {
	t.Run("any region", func(t *testing.T) {
		for _, region := range []string{"us-east-1", "eu-west-3", "auto", "strongbox-local"} {
			r, _ := http.NewRequest(http.MethodGet, "http://h/b/k", nil)
			Sign(r, testAK, testSK, region, EmptySHA256, verifyTime)
			a, err := verifyAt(r, verifyTime)
			if err != nil || a.Region != region {
				t.Errorf("region %s: %v, %v", region, a, err)
			}
		}
	})
	t.Run("no spaces after commas", func(t *testing.T) {
		r := signedRequest(t, "x")
		r.Header.Set("Authorization", strings.ReplaceAll(r.Header.Get("Authorization"), ", ", ","))
		if _, err := verifyAt(r, verifyTime); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("within skew", func(t *testing.T) {
		for _, d := range []time.Duration{14 * time.Minute, -14 * time.Minute, 15 * time.Minute} {
			if _, err := verifyAt(signedRequest(t, "x"), verifyTime.Add(d)); err != nil {
				t.Errorf("skew %v: %v", d, err)
			}
		}
		v := testVerifier(func() time.Time { return verifyTime.Add(time.Hour) })
		v.MaxSkew = 2 * time.Hour
		if _, err := v.Verify(signedRequest(t, "x")); err != nil {
			t.Errorf("MaxSkew 2h: %v", err)
		}
	})
	t.Run("Date header", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, "http://h/b/k", nil)
		r.Header.Set("Date", verifyTime.Format(http.TimeFormat))
		r.Header.Set("X-Amz-Content-Sha256", EmptySHA256)
		a := &Auth{SignedHeaders: []string{"date", "host", "x-amz-content-sha256"}, PayloadHash: EmptySHA256}
		cr := a.appendCanonicalRequest(nil, r, "/b/k", "", false)
		key := deriveKey(testSK, "20250314", testRegion, "s3")
		sig := sign(&key, appendStringToSign(nil, verifyTime.Format(amzDateLayout), scopeString("20250314", testRegion, "s3"), cr))
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20250314/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256, Signature="+string(sig[:]))
		got, err := verifyAt(r, verifyTime)
		if err != nil || !got.Time.Equal(verifyTime) {
			t.Fatalf("%v, %v", got, err)
		}
	})
	t.Run("access key with slash", func(t *testing.T) {
		v := &Verifier{
			Lookup: func(ak string) (string, bool) { return "sk", ak == "team/alice" },
			Now:    func() time.Time { return verifyTime },
		}
		r, _ := http.NewRequest(http.MethodGet, "http://h/b/k", nil)
		Sign(r, "team/alice", "sk", testRegion, EmptySHA256, verifyTime)
		a, err := v.Verify(r)
		if err != nil || a.AccessKey != "team/alice" {
			t.Fatalf("%v, %v", a, err)
		}
	})
	t.Run("security token passed through", func(t *testing.T) {
		r := signedRequest(t, "x", func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "tok") })
		a, err := verifyAt(r, verifyTime)
		if err != nil || a.SecurityToken != "tok" {
			t.Fatalf("%v, %v", a, err)
		}
	})
}

// A client that signs the UriEncoded path but sends some reserved
// characters raw (both are common) still verifies.
func TestVerifyPathSignedEncodedSentRaw(t *testing.T) {
	signedAs, _ := http.NewRequest(http.MethodGet, "http://h/bucket/a%3Db%40c%2Cd%3Ae", nil)
	Sign(signedAs, testAK, testSK, testRegion, EmptySHA256, verifyTime)
	sent, _ := http.NewRequest(http.MethodGet, "http://h/bucket/a=b@c,d:e", nil)
	sent.Header = signedAs.Header
	sent.Host = signedAs.Host
	if _, err := verifyAt(sent, verifyTime); err != nil {
		t.Fatalf("re-encoded path: %v", err)
	}
	// The wire form is still required to be one of the two.
	other, _ := http.NewRequest(http.MethodGet, "http://h/bucket/a=b@c,d:f", nil)
	other.Header = signedAs.Header
	if _, err := verifyAt(other, verifyTime); !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Fatalf("different path: %v", err)
	}
}

func TestVerifyBodySHA256(t *testing.T) {
	tests := []struct {
		name, sent string
		want       error
	}{
		{"intact", "hello world", nil},
		{"tampered", "hello World", ErrContentSHA256Mismatch},
		{"shorter", "hello", ErrContentSHA256Mismatch},
		{"longer", "hello world!", ErrContentSHA256Mismatch},
		{"empty", "", ErrContentSHA256Mismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := signedRequest(t, "hello world")
			a, err := verifyAt(r, verifyTime)
			if err != nil {
				t.Fatal(err)
			}
			if a.DecodedContentLength != int64(len("hello world")) || a.Streaming() {
				t.Errorf("Auth = %+v", a)
			}
			got, err := io.ReadAll(a.Body(io.NopCloser(strings.NewReader(tc.sent))))
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if string(got) != tc.sent {
				t.Errorf("read %q", got)
			}
		})
	}
	t.Run("unsigned payload passes through", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPut, "http://h/b/k", strings.NewReader("anything"))
		Sign(r, testAK, testSK, testRegion, UnsignedPayload, verifyTime)
		a, err := verifyAt(r, verifyTime)
		if err != nil {
			t.Fatal(err)
		}
		body := io.NopCloser(strings.NewReader("anything else"))
		if a.Body(body) != body {
			t.Error("UNSIGNED-PAYLOAD body was wrapped")
		}
	})
	t.Run("nil body", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, "http://h/b/k", nil)
		Sign(r, testAK, testSK, testRegion, EmptySHA256, verifyTime)
		a, err := verifyAt(r, verifyTime)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(a.Body(nil)); err != nil || len(b) != 0 {
			t.Fatalf("%q, %v", b, err)
		}
	})
}

func TestVerifyPresignedRejects(t *testing.T) {
	base := func() url.Values {
		r, _ := http.NewRequest(http.MethodGet, "http://s3.local/bucket/key", nil)
		u, err := Presign(r, testAK, testSK, testRegion, time.Hour, verifyTime)
		if err != nil {
			t.Fatal(err)
		}
		return u.Query()
	}
	tests := []struct {
		name   string
		modify func(q url.Values)
		at     time.Time
		want   *Error
	}{
		{"expired", nil, verifyTime.Add(time.Hour + time.Second), ErrExpiredRequest},
		{"not yet valid", nil, verifyTime.Add(-16 * time.Minute), ErrRequestNotYetValid},
		{"expires over a week", func(q url.Values) { q.Set("X-Amz-Expires", "604801") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"expires zero", func(q url.Values) { q.Set("X-Amz-Expires", "0") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"expires negative", func(q url.Values) { q.Set("X-Amz-Expires", "-1") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"expires not a number", func(q url.Values) { q.Set("X-Amz-Expires", "soon") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"expires twice", func(q url.Values) { q.Add("X-Amz-Expires", "60") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"no algorithm", func(q url.Values) { q.Del("X-Amz-Algorithm") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"wrong algorithm", func(q url.Values) { q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA512") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"no credential", func(q url.Values) { q.Del("X-Amz-Credential") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"bad credential", func(q url.Values) { q.Set("X-Amz-Credential", testAK+"/20250314/us-east-1/s3") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"no date", func(q url.Values) { q.Del("X-Amz-Date") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"bad date", func(q url.Values) { q.Set("X-Amz-Date", "yesterday") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"date not the scope's", func(q url.Values) { q.Set("X-Amz-Date", "20250315T150926Z") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"no signed headers", func(q url.Values) { q.Del("X-Amz-SignedHeaders") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"no signature", func(q url.Values) { q.Del("X-Amz-Signature") }, verifyTime, ErrAuthorizationQueryParametersError},
		{"signature wrong", func(q url.Values) { q.Set("X-Amz-Signature", strings.Repeat("0", 64)) }, verifyTime, ErrSignatureDoesNotMatch},
		{"parameter added", func(q url.Values) { q.Set("response-content-type", "text/html") }, verifyTime, ErrSignatureDoesNotMatch},
		{"expiry extended", func(q url.Values) { q.Set("X-Amz-Expires", "7200") }, verifyTime, ErrSignatureDoesNotMatch},
		{"unknown key", func(q url.Values) {
			q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), testAK, "AKIDNOBODY", 1))
		}, verifyTime, ErrInvalidAccessKeyID},
		{"streaming payload", func(q url.Values) { q.Set("X-Amz-Content-Sha256", StreamingPayload) }, verifyTime, ErrInvalidContentSHA256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := base()
			if tc.modify != nil {
				tc.modify(q)
			}
			r, _ := http.NewRequest(http.MethodGet, "http://s3.local/bucket/key?"+q.Encode(), nil)
			_, err := verifyAt(r, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("limits", func(t *testing.T) {
		for _, at := range []time.Time{verifyTime, verifyTime.Add(time.Hour), verifyTime.Add(-15 * time.Minute)} {
			r, _ := http.NewRequest(http.MethodGet, "http://s3.local/bucket/key?"+base().Encode(), nil)
			if _, err := verifyAt(r, at); err != nil {
				t.Errorf("at %v: %v", at.Sub(verifyTime), err)
			}
		}
	})
}

// A presigned PUT whose body hash was signed into the query has its body
// checked.
func TestVerifyPresignedPayloadInQuery(t *testing.T) {
	r, _ := http.NewRequest(http.MethodPut, "http://s3.local/b/k?X-Amz-Content-Sha256="+hashHex("exact"), nil)
	u, err := Presign(r, testAK, testSK, testRegion, time.Minute, verifyTime)
	if err != nil {
		t.Fatal(err)
	}
	// Presign signs UNSIGNED-PAYLOAD as the payload line; rebuild the
	// signature as a client that signed the hash would.
	q := u.Query()
	q.Del("X-Amz-Signature")
	a := &Auth{SignedHeaders: []string{"host"}, PayloadHash: hashHex("exact")}
	req, _ := http.NewRequest(http.MethodPut, "http://s3.local/b/k?"+q.Encode(), nil)
	cr := a.appendCanonicalRequest(nil, req, "/b/k", req.URL.RawQuery, true)
	key := deriveKey(testSK, "20250314", testRegion, "s3")
	sig := sign(&key, appendStringToSign(nil, q.Get("X-Amz-Date"), scopeString("20250314", testRegion, "s3"), cr))
	q.Set("X-Amz-Signature", string(sig[:]))
	for _, tc := range []struct {
		body string
		want error
	}{{"exact", nil}, {"other", ErrContentSHA256Mismatch}} {
		req, _ := http.NewRequest(http.MethodPut, "http://s3.local/b/k?"+q.Encode(), nil)
		got, err := verifyAt(req, verifyTime)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(got.Body(io.NopCloser(strings.NewReader(tc.body))))
		if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("body %q: %v, want %v", tc.body, err, tc.want)
		}
	}
}

// A rotated secret takes effect immediately despite the key cache, and the
// cache stays bounded.
func TestKeyCache(t *testing.T) {
	var mu sync.Mutex
	secret := testSK
	v := &Verifier{
		Lookup: func(string) (string, bool) { mu.Lock(); defer mu.Unlock(); return secret, true },
		Now:    func() time.Time { return verifyTime },
	}
	if _, err := v.Verify(signedRequest(t, "x")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = "rotated"
	mu.Unlock()
	if _, err := v.Verify(signedRequest(t, "x")); !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Fatalf("old secret after rotation: %v", err)
	}
	for i := range keyCacheMax + 10 {
		v.keys.get(fmt.Sprint("ak", i), "s", "20250314", "r", "s3")
	}
	if n := len(v.keys.m); n > keyCacheMax {
		t.Errorf("cache holds %d keys", n)
	}
	if got, want := v.keys.get("x", "s", "20250314", "r", "s3"), deriveKey("s", "20250314", "r", "s3"); got != want {
		t.Error("cached key differs from derived")
	}
}

// Verify is safe for concurrent use (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	v := testVerifier(func() time.Time { return verifyTime })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				body := fmt.Sprint(g, i)
				r := signedRequest(t, body)
				a, err := v.Verify(r)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := io.ReadAll(a.Body(r.Body)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestErrorSemantics(t *testing.T) {
	d := ErrBadDigest.with("The CRC32 you specified did not match the calculated checksum.")
	if !errors.Is(d, ErrBadDigest) || errors.Is(d, ErrIncompleteBody) {
		t.Error("derived error does not match its sentinel only")
	}
	dd := d.with("again")
	if !errors.Is(dd, ErrBadDigest) {
		t.Error("twice-derived error lost its sentinel")
	}
	if errors.Is(ErrExpiredRequest, ErrAccessDenied) || errors.Is(ErrAccessDenied, ErrExpiredRequest) {
		t.Error("sentinels sharing a code match each other")
	}
	wrapped := fmt.Errorf("put: %w", d)
	var coded interface {
		S3Code() string
		S3Message() string
		S3Status() int
	}
	if !errors.As(wrapped, &coded) || coded.S3Code() != "BadDigest" || coded.S3Status() != 400 || coded.S3Message() != d.Message {
		t.Errorf("S3 accessors: %v", coded)
	}
	if !strings.Contains(d.Error(), "BadDigest") {
		t.Errorf("Error() = %q", d.Error())
	}
}

// botocore signs SigV4 with the Date header instead of X-Amz-Date when the
// request already carries one (s3-tests sets it): it rewrites Date with
// email.utils.formatdate, which writes a numeric zone ("-0000"), signs the
// date header, and puts the X-Amz-Date form of the same time in the string
// to sign. Captured from botocore 1.43 (ListObjects, path style,
// http://127.0.0.1:9000, AKIDEXAMPLE/secretEXAMPLE).
func TestVerifyBotocoreDateHeader(t *testing.T) {
	at := time.Date(2026, 11, 24, 19, 56, 27, 0, time.UTC)
	v := &Verifier{
		Lookup: func(k string) (string, bool) { return "secretEXAMPLE", k == "AKIDEXAMPLE" },
		Now:    func() time.Time { return at },
	}
	request := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/bucket?encoding-type=url", nil)
		r.Host = "127.0.0.1:9000"
		r.Header.Set("Date", "Tue, 24 Nov 2026 19:56:27 -0000")
		r.Header.Set("X-Amz-Content-Sha256", hashHex(""))
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256, Signature=276c7652d329ddbc3ddda4862d45cf36d95e95b4233b1033ff3ffd24c1ab048c")
		return r
	}
	a, err := v.Verify(request())
	if err != nil {
		t.Fatalf("botocore request signed with Date: %v", err)
	}
	if !a.Time.Equal(at) {
		t.Errorf("Time = %v, want %v", a.Time, at)
	}
	// The date is signed: the same instant written another way is another
	// request.
	r := request()
	r.Header.Set("Date", "Tue, 24 Nov 2026 19:56:27 GMT")
	_, err = v.Verify(r)
	if !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Fatalf("Date rewritten: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || !strings.HasPrefix(e.StringToSign, "AWS4-HMAC-SHA256\n20261124T195627Z\n") {
		t.Fatalf("string to sign: %#v", err)
	}
}

func TestParseDateHeaderForms(t *testing.T) {
	want := time.Date(2026, 11, 24, 19, 56, 27, 0, time.UTC)
	for _, s := range []string{
		"Tue, 24 Nov 2026 19:56:27 GMT",   // http.TimeFormat
		"Tue, 24 Nov 2026 19:56:27 -0000", // email.utils.formatdate
		"Tue, 24 Nov 2026 19:56:27 +0000",
		"Tue, 24 Nov 2026 20:56:27 +0100",
		"Tue, 24 Nov 2026 19:56:27 UTC",
		"Tuesday, 24-Nov-26 19:56:27 GMT",
		"Tue Nov 24 19:56:27 2026",
		"20261124T195627Z",
	} {
		got, ok := parseDateHeader(s)
		if !ok || !got.Equal(want) {
			t.Errorf("parseDateHeader(%q) = %v, %v", s, got, ok)
		}
	}
	// A zone name other than GMT or UTC would be read through the server's
	// own time zone.
	for _, s := range []string{"", "yesterday", "2026-11-24T19:56:27Z", "Tue, 24 Nov 2026 19:56:27 EST"} {
		if _, ok := parseDateHeader(s); ok {
			t.Errorf("parseDateHeader(%q) accepted", s)
		}
	}
}
