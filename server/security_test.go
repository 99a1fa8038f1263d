package server_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// TestUnsignedAmzHeadersRefused: whoever holds a presigned PUT URL may
// upload that one key, nothing more. An x-amz-* header the signature does
// not cover would otherwise change what the request does: x-amz-copy-source
// turns the upload into a server-side copy of any object (here a secret in
// another bucket) into the key the URL holder controls.
func TestUnsignedAmzHeadersRefused(t *testing.T) {
	c := startCluster(t, 1, nil)
	cl := c.client(0)
	for _, b := range []string{"secret", "pub"} {
		if _, err := cl.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("secret"), Key: aws.String("payroll.csv"), Body: strings.NewReader("alice,100000\n")}); err != nil {
		t.Fatal(err)
	}
	ps, err := s3.NewPresignClient(cl).PresignPutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String("upload.bin")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	put := func(extra http.Header) rawResponse {
		t.Helper()
		req, err := http.NewRequestWithContext(ctxT(t), http.MethodPut, ps.URL, strings.NewReader("uploaded"))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range ps.SignedHeader {
			req.Header[k] = v
		}
		for k, v := range extra {
			req.Header[http.CanonicalHeaderKey(k)] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	}
	absent := func(what string) {
		t.Helper()
		_, err := cl.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("pub"), Key: aws.String("upload.bin")})
		var nf *types.NotFound
		if !errors.As(err, &nf) {
			t.Fatalf("%s: pub/upload.bin exists or HEAD failed otherwise: %v", what, err)
		}
	}

	for _, tc := range []struct {
		name    string
		extra   http.Header
		headers string
	}{
		{"copy source", http.Header{"x-amz-copy-source": {"/secret/payroll.csv"}}, "x-amz-copy-source"},
		{"metadata and tagging", http.Header{"x-amz-meta-owner": {"mallory"}, "x-amz-tagging": {"k=v"}}, "x-amz-meta-owner, x-amz-tagging"},
		{"conditional", http.Header{"x-amz-copy-source-if-match": {`"x"`}}, "x-amz-copy-source-if-match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := put(tc.extra)
			wantS3Error(t, "presigned PUT with unsigned "+tc.headers, resp, http.StatusForbidden, "AccessDenied")
			if !strings.Contains(resp.Body, "<HeadersNotSigned>"+tc.headers+"</HeadersNotSigned>") ||
				!strings.Contains(resp.Body, "There were headers present in the request which were not signed") {
				t.Fatalf("error body does not name the unsigned headers %q: %s", tc.headers, resp.Body)
			}
			absent(tc.name)
		})
	}

	// x-amz-content-sha256 is the one header S3 tolerates unsigned.
	if resp := put(http.Header{"x-amz-content-sha256": {sigv4.UnsignedPayload}}); resp.Status != http.StatusOK {
		t.Fatalf("presigned PUT with unsigned x-amz-content-sha256: %d %s", resp.Status, resp.Body)
	}
	got, err := cl.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String("pub"), Key: aws.String("upload.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, got.Body); body != "uploaded" || len(got.Metadata) != 0 {
		t.Fatalf("presigned upload stored %q with metadata %v", body, got.Metadata)
	}

	// Header authentication: a header added after signing is refused too.
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPut, c.nodes[0].S3URL()+"/pub/copied", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-amz-meta-signed", "yes")
	sigv4.Sign(req, testAccessKey, testSecretKey, "us-east-1", sigv4.EmptySHA256, time.Now())
	req.Header.Set("x-amz-copy-source", "/secret/payroll.csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "<HeadersNotSigned>x-amz-copy-source</HeadersNotSigned>") {
		t.Fatalf("header-signed PUT with an unsigned x-amz-copy-source: %d %s", resp.StatusCode, body)
	}
	if _, err := cl.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("pub"), Key: aws.String("copied")}); err == nil {
		t.Fatal("the refused copy was stored")
	}
}
