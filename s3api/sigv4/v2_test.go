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
	"strings"
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
	v.Now = func() time.Time { t, _ := parseDateHeader(date); return t }
	r := httptest.NewRequest(http.MethodGet, "/awsexamplebucket1/photos/puppy.jpg", nil)
	r.Header.Set("Date", date)
	r.Header.Set("Authorization", "AWS "+ak+":qgk2+6Sv9/oM7G3qLEjTH1a1l1g=")
	if sts := v2StringToSign(r, date, v2RequestPath(r)); sts != "GET\n\n\n"+date+"\n/awsexamplebucket1/photos/puppy.jpg" {
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
		resource, _ := v.v2Resource(r)
		mac := hmac.New(sha1.New, []byte(secret))
		mac.Write([]byte(v2StringToSign(r, strconv.FormatInt(exp, 10), resource)))
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
	// A SigV2 URL lives at most seven days (plus clock skew), like SigV4's.
	week := 7 * 24 * time.Hour
	if _, err := v.Verify(presign(http.MethodGet, "/bucket/key", time.Now().Add(week-time.Minute).Unix(), testSK)); err != nil {
		t.Fatalf("six days and 23 hours: %v", err)
	}
	for _, far := range []time.Duration{week + time.Hour, 50 * 365 * 24 * time.Hour} {
		_, err := v.Verify(presign(http.MethodGet, "/bucket/key", time.Now().Add(far).Unix(), testSK))
		if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "seven days") {
			t.Fatalf("Expires %v away: %v, want AccessDenied", far, err)
		}
	}
	// A signature for one key does not open another.
	r := presign(http.MethodGet, "/bucket/key", future, testSK)
	r.URL.Path, r.RequestURI = "/bucket/other", "/bucket/other?"+r.URL.RawQuery
	if _, err := v.Verify(r); !errors.Is(err, ErrSignatureDoesNotMatch) {
		t.Fatalf("other key: %v", err)
	}
}

// botocore 1.43 requests, signed with AKIDEXAMPLE/secretEXAMPLE at
// botocoreTime against endpoint http://s3.example.com, captured before send
// (signature_version "s3", addressing_style "path" and "virtual"). botocore
// signs the resource of a bucket operation as "/bucket/" in both styles,
// so each signature below is the same for both.
var botocoreTime = time.Date(2026, 11, 24, 19, 56, 27, 0, time.UTC)

const botocoreDate = "Tue, 24 Nov 2026 19:56:27 GMT"

type botocoreV2 struct {
	name, method, path, query string // path and query as sent path-style
	header                    map[string]string
	sig                       string
}

var botocoreV2Requests = []botocoreV2{
	{name: "CreateBucket", method: http.MethodPut, path: "/bucket", sig: "SMJDvtHUiERm7vO7571jJJGnp3M="},
	{name: "HeadBucket", method: http.MethodHead, path: "/bucket", sig: "eQ9eyUQu5cWrCNUDEFr74EMQD4Q="},
	{name: "ListObjects", method: http.MethodGet, path: "/bucket", query: "encoding-type=url", sig: "bpcHMxiyBNnyPtH/vsQ3QopA118="},
	{name: "DeleteBucket", method: http.MethodDelete, path: "/bucket", sig: "c3LhuzA7TlY30f8kmjGGzaAz2vk="},
	{name: "GetObject", method: http.MethodGet, path: "/bucket/a%20key", header: map[string]string{"X-Amz-Checksum-Mode": "ENABLED"}, sig: "glswailAMR/hVePxLiV298hYx/4="},
}

func botocoreVerifier() *Verifier {
	return &Verifier{
		Lookup: func(k string) (string, bool) { return "secretEXAMPLE", k == "AKIDEXAMPLE" },
		Now:    func() time.Time { return botocoreTime },
	}
}

// hostBucket is what s3api does for its domain s3.example.com.
func hostBucket(r *http.Request) string {
	b, _ := strings.CutSuffix(r.Host, ".s3.example.com")
	if b == r.Host {
		return ""
	}
	return b
}

// virtualHosted moves the bucket of a path-style target into the host.
func virtualHosted(method, target string) *http.Request {
	rest := strings.TrimPrefix(target, "/bucket")
	if rest == "" || rest[0] == '?' {
		rest = "/" + rest
	}
	r := httptest.NewRequest(method, rest, nil)
	r.Host = "bucket.s3.example.com"
	return r
}

func TestV2BotocoreBucketRequests(t *testing.T) {
	for _, tc := range botocoreV2Requests {
		target := tc.path
		if tc.query != "" {
			target += "?" + tc.query
		}
		for _, style := range []string{"path", "virtual"} {
			t.Run(tc.name+"/"+style, func(t *testing.T) {
				v := botocoreVerifier()
				r := httptest.NewRequest(tc.method, target, nil)
				r.Host = "s3.example.com"
				if style == "virtual" {
					v.HostBucket = hostBucket
					r = virtualHosted(tc.method, target)
				}
				r.Header.Set("Date", botocoreDate)
				for k, val := range tc.header {
					r.Header.Set(k, val)
				}
				r.Header.Set("Authorization", "AWS AKIDEXAMPLE:"+tc.sig)
				if _, err := v.Verify(r); err != nil {
					t.Fatalf("%s %s: %v", tc.method, r.RequestURI, err)
				}
			})
		}
	}

	// The presigned list URL of generate_presigned_url('list_objects',
	// ExpiresIn=3600).
	const presignedQuery = "encoding-type=url&AWSAccessKeyId=AKIDEXAMPLE&Signature=2aE%2Betd3I9s40zhIIqcpSsc7dBE%3D&Expires=1795553787"
	v := botocoreVerifier()
	if _, err := v.Verify(httptest.NewRequest(http.MethodGet, "/bucket?"+presignedQuery, nil)); err != nil {
		t.Fatalf("presigned list, path style: %v", err)
	}
	v.HostBucket = hostBucket
	if _, err := v.Verify(virtualHosted(http.MethodGet, "/bucket?"+presignedQuery)); err != nil {
		t.Fatalf("presigned list, virtual-hosted: %v", err)
	}
}

func TestV2BucketResourceForms(t *testing.T) {
	v := botocoreVerifier()
	signed := func(method, target, resource string) *http.Request {
		r := httptest.NewRequest(method, target, nil)
		r.Header.Set("Date", botocoreDate)
		r.Header.Set("Authorization", "AWS AKIDEXAMPLE:"+v2Sign("secretEXAMPLE", v2StringToSign(r, botocoreDate, resource)))
		return r
	}
	accepted := []struct{ target, resource string }{
		{"/bucket", "/bucket"},   // the documented path-style form
		{"/bucket", "/bucket/"},  // botocore's
		{"/bucket/", "/bucket/"}, // as sent
		{"/bucket?acl", "/bucket/"},
		{"/bucket/key", "/bucket/key"},
	}
	for _, tc := range accepted {
		if _, err := v.Verify(signed(http.MethodGet, tc.target, tc.resource)); err != nil {
			t.Errorf("%s signed as %s: %v", tc.target, tc.resource, err)
		}
	}
	// The other slash form is a bucket's only: it must open no other
	// resource.
	refused := []struct{ target, resource string }{
		{"/bucket/key", "/bucket/key/"},
		{"/bucket/key/", "/bucket/key"},
		{"/bucket", "/bucket/key"},
		{"/bucket", "/other/"},
		{"/bucket", "//"},
		{"/", "//"},
		{"/bucket/", "/bucket"},
	}
	for _, tc := range refused {
		if _, err := v.Verify(signed(http.MethodGet, tc.target, tc.resource)); !errors.Is(err, ErrSignatureDoesNotMatch) {
			t.Errorf("%s signed as %s: %v, want SignatureDoesNotMatch", tc.target, tc.resource, err)
		}
	}

	// Virtual-hosted: the bucket from Host is part of the resource, so a
	// signature for the path alone (another bucket's resource in path
	// style) does not open it.
	v.HostBucket = hostBucket
	vhost := func(target, resource string) *http.Request {
		r := signed(http.MethodGet, target, resource)
		r.Host = "bucket.s3.example.com"
		return r
	}
	for _, tc := range []struct{ target, resource string }{{"/", "/bucket/"}, {"/", "/bucket"}, {"/key", "/bucket/key"}} {
		if _, err := v.Verify(vhost(tc.target, tc.resource)); err != nil {
			t.Errorf("virtual-hosted %s signed as %s: %v", tc.target, tc.resource, err)
		}
	}
	for _, tc := range []struct{ target, resource string }{{"/key", "/key"}, {"/key", "/key/"}, {"/", "/"}, {"/key", "/bucket/key/"}} {
		if _, err := v.Verify(vhost(tc.target, tc.resource)); !errors.Is(err, ErrSignatureDoesNotMatch) {
			t.Errorf("virtual-hosted %s signed as %s: %v, want SignatureDoesNotMatch", tc.target, tc.resource, err)
		}
	}
}

func TestV2HeaderErrors(t *testing.T) {
	v := botocoreVerifier()
	getObject := func() *http.Request {
		tc := botocoreV2Requests[4]
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Header.Set("Date", botocoreDate)
		r.Header.Set("X-Amz-Checksum-Mode", "ENABLED")
		r.Header.Set("Authorization", "AWS AKIDEXAMPLE:"+tc.sig)
		return r
	}
	if _, err := v.Verify(getObject()); err != nil {
		t.Fatalf("valid: %v", err)
	}

	r := getObject()
	r.Header.Set("Authorization", "AWS HAHAHA")
	_, err := v.Verify(r)
	var e *Error
	if !errors.Is(err, ErrInvalidV2Authorization) || !errors.As(err, &e) || e.Code != "InvalidArgument" || e.Status != http.StatusBadRequest {
		t.Errorf("no colon: %v", err)
	}

	// S3 does not fall back to Date when x-amz-date is sent empty, even
	// when the signature is right for that fallback.
	emptyAmzDate := func() *http.Request {
		r := getObject()
		r.Header["X-Amz-Date"] = []string{""}
		r.Header.Set("Authorization", "AWS AKIDEXAMPLE:"+v2Sign("secretEXAMPLE", v2StringToSign(r, botocoreDate, botocoreV2Requests[4].path)))
		return r
	}
	r = emptyAmzDate()
	if _, err := v.Verify(r); !errors.Is(err, ErrMissingDate) {
		t.Errorf("empty x-amz-date: %v", err)
	}
	// The same on the wire: net/http keeps an empty header.
	var got error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, got = v.Verify(r)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+botocoreV2Requests[4].path, nil)
	req.Header = emptyAmzDate().Header
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !errors.Is(got, ErrMissingDate) {
		t.Fatalf("empty x-amz-date over HTTP: %v", got)
	}
}

func TestV2PresignedExpiresBoundary(t *testing.T) {
	exp := botocoreTime.Unix()
	v := botocoreVerifier()
	r := httptest.NewRequest(http.MethodGet, "/bucket/key", nil)
	sig := v2Sign("secretEXAMPLE", v2StringToSign(r, strconv.FormatInt(exp, 10), "/bucket/key"))
	target := "/bucket/key?" + url.Values{"AWSAccessKeyId": {"AKIDEXAMPLE"}, "Expires": {strconv.FormatInt(exp, 10)}, "Signature": {sig}}.Encode()

	// ExpiresIn=0: Expires is the current second.
	for _, now := range []time.Time{botocoreTime, botocoreTime.Add(500 * time.Millisecond)} {
		v.Now = func() time.Time { return now }
		if _, err := v.Verify(httptest.NewRequest(http.MethodGet, target, nil)); !errors.Is(err, ErrExpiredRequest) {
			t.Fatalf("at %v: %v, want expired", now, err)
		}
	}
	v.Now = func() time.Time { return botocoreTime.Add(-time.Millisecond) }
	if _, err := v.Verify(httptest.NewRequest(http.MethodGet, target, nil)); err != nil {
		t.Fatalf("a millisecond before Expires: %v", err)
	}
}
