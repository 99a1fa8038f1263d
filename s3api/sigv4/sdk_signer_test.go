package sigv4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAK     = "AKIDSTRONGBOXTEST"
	testSK     = "s3cr3t/+KEY=strongbox"
	testRegion = "us-east-1"
)

func testVerifier(now func() time.Time) *Verifier {
	return &Verifier{
		Lookup: func(ak string) (string, bool) {
			switch ak {
			case testAK:
				return testSK, true
			case "AKIDOTHER":
				return "other-secret", true
			}
			return "", false
		},
		Now: now,
	}
}

// s3Signer is the SDK's signer configured as the S3 client configures it:
// the path is signed as sent, not escaped again.
func s3Signer() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

var sdkCreds = aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK}

// Wire paths and queries as an S3 client may send them. The SDK's S3
// serializer escapes every byte but unreserved ones and '/'; other clients
// leave more alone, and a key may itself contain "%2F", "//" or '+'.
var pathCases = []string{
	"/",
	"/bucket",
	"/bucket/",
	"/bucket/plain.txt",
	"/bucket/with%20space",
	"/bucket/plus+sign",
	"/bucket/plus%2Bencoded",
	"/bucket/equals=sign",
	"/bucket/equals%3Dencoded",
	"/bucket/slash%2Finside",
	"/bucket/double//slash",
	"/bucket/trailing/",
	"/bucket/%E2%82%AC%20euro/caf%C3%A9",
	"/bucket/%F0%9F%98%80",
	"/bucket/~tilde-dash_under.dot",
	"/bucket/sub-delims!$&'()*,;:@",
	"/bucket/percent%25literal",
	"/bucket/a%3Fquestion%23hash",
	"/bucket/..%2F..%2Fetc",
	"/bucket/./dot/../segments",
}

var queryCases = []string{
	"",
	"uploads",
	"acl=",
	"list-type=2&prefix=a%20b&delimiter=%2F",
	"prefix=a+b",
	"prefix=plus%2Bsign",
	"x=1&x=0&a=",
	"empty=&k=v",
	"versionId=abc&uploadId=xyz&partNumber=3",
	"key=caf%C3%A9&marker=%E2%82%AC",
	"response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22",
	"tagging&versionId=null",
	"Z=1&a=1&B=2",
	"encoded%20name=value",
	"tilde=~&star=%2A&bang=%21",
}

type headerSet struct {
	name string
	set  func(h http.Header)
}

var headerCases = []headerSet{
	{"none", func(http.Header) {}},
	{"content-type", func(h http.Header) { h.Set("Content-Type", "text/plain; charset=utf-8") }},
	{"multiple values", func(h http.Header) {
		h.Add("X-Amz-Meta-Multi", "one")
		h.Add("X-Amz-Meta-Multi", "two")
	}},
	{"spaces", func(h http.Header) { h.Set("X-Amz-Meta-Spaced", "a   b    c") }},
	{"many", func(h http.Header) {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Md5", "1B2M2Y8AsgTpgAmY7PhCfg==")
		h.Set("X-Amz-Meta-Author", "someone")
		h.Set("X-Amz-Storage-Class", "STANDARD")
		h.Set("Cache-Control", "no-cache")
		h.Set("If-None-Match", "*")
		h.Set("X-Amz-Tagging", "a=b&c=d")
	}},
	{"unsigned ones", func(h http.Header) {
		h.Set("User-Agent", "test-agent/1.0")
		h.Set("X-Amzn-Trace-Id", "Root=1-abc")
	}},
}

// sdkSign signs a client request with the SDK signer, as the S3 client
// would for a body whose SHA256 is payload.
func sdkSign(t *testing.T, r *http.Request, payload string, at time.Time) {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payload)
	if err := s3Signer().SignHTTP(context.Background(), sdkCreds, r, payload, "s3", testRegion, at); err != nil {
		t.Fatal(err)
	}
}

// verifyServer runs Verify and reads the body for every request; the handler
// answers 200 or the error's status with its code in X-Test-Code.
func verifyServer(t *testing.T, v *Verifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := v.Verify(r)
		if err == nil {
			_, err = io.ReadAll(a.Body(r.Body))
		}
		var e *Error
		switch {
		case err == nil:
			w.WriteHeader(http.StatusOK)
		case errors.As(err, &e):
			w.Header().Set("X-Test-Code", e.Code)
			w.Header().Set("X-Test-Message", e.Message)
			w.WriteHeader(e.Status)
			io.WriteString(w, e.CanonicalRequest)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, err.Error())
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Every combination of path, query and headers the SDK signs verifies, both
// as the request object the client built and as the server receives it over
// a real connection.
func TestVerifySDKSignedRequests(t *testing.T) {
	at := time.Now().UTC()
	v := testVerifier(func() time.Time { return at })
	srv := verifyServer(t, v)
	client := srv.Client()
	for pi, path := range pathCases {
		for qi, query := range queryCases {
			hc := headerCases[(pi+qi)%len(headerCases)]
			name := fmt.Sprintf("%s?%s/%s", path, query, hc.name)
			t.Run(name, func(t *testing.T) {
				target := srv.URL + path
				if query != "" {
					target += "?" + query
				}
				body := "payload for " + name
				r, err := http.NewRequest(http.MethodPut, target, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				hc.set(r.Header)
				sdkSign(t, r, hashHex(body), at)

				// The request as built, before it leaves the client.
				a, err := v.Verify(r)
				if err != nil {
					t.Fatalf("Verify(client request): %v", err)
				}
				if a.AccessKey != testAK || a.Region != testRegion || a.Service != "s3" {
					t.Errorf("Auth = %+v", a)
				}

				// The same request received by a server.
				r.Body = io.NopCloser(strings.NewReader(body))
				resp, err := client.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("server: %d %s %s\n%s", resp.StatusCode, resp.Header.Get("X-Test-Code"), resp.Header.Get("X-Test-Message"), msg)
				}
			})
		}
	}
}

// Our Sign produces exactly the SDK's Authorization header for the same
// inputs.
func TestSignMatchesSDK(t *testing.T) {
	at := time.Date(2025, 11, 3, 12, 34, 56, 0, time.UTC)
	for pi, path := range pathCases {
		for qi, query := range queryCases {
			hc := headerCases[(pi+qi)%len(headerCases)]
			for _, payload := range []string{EmptySHA256, UnsignedPayload, hashHex("x")} {
				target := "https://s3.example.com:443" + path
				if query != "" {
					target += "?" + query
				}
				mk := func() *http.Request {
					r, err := http.NewRequest(http.MethodPost, target, strings.NewReader("x"))
					if err != nil {
						t.Fatal(err)
					}
					hc.set(r.Header)
					return r
				}
				theirs := mk()
				sdkSign(t, theirs, payload, at)
				ours := mk()
				Sign(ours, testAK, testSK, testRegion, payload, at)
				if got, want := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); got != want {
					t.Errorf("%s?%s %s %s:\n ours %s\n sdk  %s", path, query, hc.name, payload, got, want)
				}
				if ours.Host != theirs.Host {
					t.Errorf("Host: ours %q, sdk %q", ours.Host, theirs.Host)
				}
				for _, h := range []string{"X-Amz-Date", "X-Amz-Content-Sha256"} {
					if ours.Header.Get(h) != theirs.Header.Get(h) {
						t.Errorf("%s: ours %q, sdk %q", h, ours.Header.Get(h), theirs.Header.Get(h))
					}
				}
			}
		}
	}
}

// Our Presign produces the SDK's presigned URL (header hoisting off, as our
// Presign never moves headers into the query).
func TestPresignMatchesSDK(t *testing.T) {
	at := time.Date(2025, 11, 3, 12, 34, 56, 0, time.UTC)
	for pi, path := range pathCases {
		for qi, query := range queryCases {
			hc := headerCases[(pi+qi)%len(headerCases)]
			target := "http://127.0.0.1:9000" + path
			if query != "" {
				target += "?" + query
			}
			r, err := http.NewRequest(http.MethodGet, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			hc.set(r.Header)
			ours, err := Presign(r, testAK, testSK, testRegion, 3600*time.Second, at)
			if err != nil {
				t.Fatal(err)
			}

			sr := r.Clone(context.Background())
			q := sr.URL.Query()
			q.Set("X-Amz-Expires", "3600")
			sr.URL.RawQuery = q.Encode()
			theirs, _, err := s3Signer().PresignHTTP(context.Background(), sdkCreds, sr, UnsignedPayload, "s3", testRegion, at,
				func(o *v4.SignerOptions) { o.DisableHeaderHoisting = true })
			if err != nil {
				t.Fatal(err)
			}
			if ours.String() != theirs {
				t.Errorf("%s?%s %s:\n ours %s\n sdk  %s", path, query, hc.name, ours, theirs)
			}
			if r.URL.RawQuery != query {
				t.Errorf("Presign modified the request's query: %q", r.URL.RawQuery)
			}
		}
	}
}

// SDK presigned URLs (with the SDK's default header hoisting) verify over a
// real connection, and stop verifying once expired.
func TestVerifySDKPresigned(t *testing.T) {
	at := time.Now().UTC().Truncate(time.Second)
	var now atomic.Int64
	now.Store(at.UnixNano())
	v := testVerifier(func() time.Time { return time.Unix(0, now.Load()) })
	srv := verifyServer(t, v)
	for i, path := range pathCases {
		query := queryCases[i%len(queryCases)]
		t.Run(path+"?"+query, func(t *testing.T) {
			target := srv.URL + path
			if query != "" {
				target += "?" + query
			}
			r, err := http.NewRequest(http.MethodGet, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("X-Amz-Meta-Hoisted", "yes") // the SDK moves this into the query
			r.Header.Set("Content-Type", "text/plain")
			q := r.URL.Query()
			q.Set("X-Amz-Expires", "60")
			r.URL.RawQuery = q.Encode()
			signedURL, signed, err := s3Signer().PresignHTTP(context.Background(), sdkCreds, r, UnsignedPayload, "s3", testRegion, at)
			if err != nil {
				t.Fatal(err)
			}
			do := func() (int, string) {
				req, err := http.NewRequest(http.MethodGet, signedURL, nil)
				if err != nil {
					t.Fatal(err)
				}
				for k, vs := range signed {
					if k != "Host" {
						req.Header[k] = vs
					}
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, resp.Header.Get("X-Test-Code") + " " + resp.Header.Get("X-Test-Message") + "\n" + string(body)
			}
			now.Store(at.UnixNano())
			if code, msg := do(); code != http.StatusOK {
				t.Fatalf("fresh URL: %d %s", code, msg)
			}
			now.Store(at.Add(61 * time.Second).UnixNano())
			if code, msg := do(); code != http.StatusForbidden || !strings.Contains(msg, "Request has expired") {
				t.Fatalf("expired URL: %d %s", code, msg)
			}
		})
	}
}

// Presign and Sign round trip through Verify, for every path and query.
func TestOwnSignerRoundTrip(t *testing.T) {
	at := time.Now().UTC()
	v := testVerifier(func() time.Time { return at })
	srv := verifyServer(t, v)
	for i, path := range pathCases {
		query := queryCases[i%len(queryCases)]
		hc := headerCases[i%len(headerCases)]
		target := srv.URL + path
		if query != "" {
			target += "?" + query
		}
		t.Run("sign "+path+"?"+query, func(t *testing.T) {
			body := strings.Repeat("z", i*100)
			r, _ := http.NewRequest(http.MethodPut, target, strings.NewReader(body))
			hc.set(r.Header)
			Sign(r, testAK, testSK, testRegion, hashHex(body), at)
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("X-Test-Code"), resp.Header.Get("X-Test-Message"))
			}
		})
		t.Run("presign "+path+"?"+query, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, target, nil)
			u, err := Presign(r, testAK, testSK, testRegion, time.Hour, at)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("X-Test-Code"), resp.Header.Get("X-Test-Message"))
			}
		})
	}
}

func TestPresignRejectsExpiry(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "http://h/b/k", nil)
	for _, d := range []time.Duration{0, 999 * time.Millisecond, -time.Second, 7*24*time.Hour + time.Second} {
		if _, err := Presign(r, testAK, testSK, testRegion, d, time.Now()); err == nil {
			t.Errorf("Presign(expires=%v) succeeded", d)
		}
	}
	if _, err := Presign(r, testAK, testSK, testRegion, 7*24*time.Hour, time.Now()); err != nil {
		t.Errorf("Presign(7 days): %v", err)
	}
}

func hashHex(s string) string { return string(appendHashHex(nil, []byte(s))) }
