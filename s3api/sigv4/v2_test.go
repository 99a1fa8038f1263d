package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// The worked GET example of the S3 developer guide's SigV2 page ("Signing
// and authenticating REST requests"): documented credentials, request and
// signature.
func TestV2DocumentedExamples(t *testing.T) {
	const ak, sk = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	v := &Verifier{Lookup: func(k string) (string, bool) { return sk, k == ak }}

	// Object GET, header authentication.
	date := "Tue, 27 Mar 2007 19:36:42 +0000"
	v.Now = func() time.Time { t, _ := parseV2Date(date); return t }
	r := httptest.NewRequest(http.MethodGet, "/awsexamplebucket1/photos/puppy.jpg", nil)
	r.Header.Set("Date", date)
	r.Header.Set("Authorization", "AWS "+ak+":qgk2+6Sv9/oM7G3qLEjTH1a1l1g=")
	if sts := v2StringToSign(r, date); sts != "GET\n\n\n"+date+"\n/awsexamplebucket1/photos/puppy.jpg" {
		t.Fatalf("string to sign %q", sts)
	}
	if _, err := v.Verify(r); err != nil {
		t.Fatalf("documented GET example: %v", err)
	}
}

func TestV2PresignedRoundTripAndErrors(t *testing.T) {
	v := &Verifier{Lookup: func(k string) (string, bool) { return testSK, k == testAK }}
	presign := func(method, path string, exp int64, secret string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		mac := hmac.New(sha1.New, []byte(secret))
		mac.Write([]byte(v2StringToSign(r, strconv.FormatInt(exp, 10))))
		q := url.Values{"AWSAccessKeyId": {testAK}, "Expires": {strconv.FormatInt(exp, 10)}, "Signature": {base64.StdEncoding.EncodeToString(mac.Sum(nil))}}
		return httptest.NewRequest(method, path+"?"+q.Encode(), nil)
	}
	future := time.Now().Add(time.Hour).Unix()
	if _, err := v.Verify(presign(http.MethodGet, "/bucket/a%20key", future, testSK)); err != nil {
		t.Fatalf("valid: %v", err)
	}
	if _, err := v.Verify(presign(http.MethodPut, "/bucket/key", future, testSK)); err != nil {
		t.Fatalf("valid PUT: %v", err)
	}
	if _, err := v.Verify(presign(http.MethodGet, "/bucket/key", future, "wrong")); !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := v.Verify(presign(http.MethodGet, "/bucket/key", time.Now().Add(-time.Minute).Unix(), testSK)); !errors.Is(err, ErrExpiredRequest) {
		t.Fatalf("expired: %v", err)
	}
	// A signature for one key does not open another.
	r := presign(http.MethodGet, "/bucket/key", future, testSK)
	r.URL.Path, r.RequestURI = "/bucket/other", "/bucket/other?"+r.URL.RawQuery
	if _, err := v.Verify(r); !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Fatalf("other key: %v", err)
	}
}
