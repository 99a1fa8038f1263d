package server_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// Helpers shared by the S3 operation tests: raw requests for what the SDK
// cannot send (malformed documents, missing digests, preflights), and a
// fingerprint of a bucket so a refused request can be shown to have
// changed nothing.

// rawResponse is a finished HTTP exchange.
type rawResponse struct {
	Status int
	Header http.Header
	Body   string
}

// raw sends one request to node i. With sign set it is SigV4-signed with
// the test credentials (UNSIGNED-PAYLOAD); header values are added first.
// Like an SDK it retries a 503 (an election under way); every raw request
// in these tests is a read, a refusal or idempotent, so a retry is safe.
func (c *testCluster) raw(t *testing.T, i int, method, path, body string, header http.Header, sign bool) rawResponse {
	t.Helper()
	var resp rawResponse
	for attempt := 0; attempt < 5; attempt++ {
		if resp = c.rawOnce(t, i, method, path, body, header, sign); resp.Status != http.StatusServiceUnavailable {
			break
		}
		time.Sleep(200 * time.Millisecond) // back-off before a retry, as SDKs do
	}
	return resp
}

func (c *testCluster) rawOnce(t *testing.T, i int, method, path, body string, header http.Header, sign bool) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, c.nodes[i].S3URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if sign {
		sigv4.Sign(req, testAccessKey, testSecretKey, "us-east-1", sigv4.UnsignedPayload, time.Now())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// wantS3Error fails unless resp is the S3 error code with that status.
func wantS3Error(t *testing.T, what string, resp rawResponse, status int, code string) {
	t.Helper()
	if resp.Status != status || !strings.Contains(resp.Body, "<Code>"+code+"</Code>") {
		t.Fatalf("%s: %d %s, want %d %s", what, resp.Status, resp.Body, status, code)
	}
}

func md5Header(body string) http.Header {
	sum := md5.Sum([]byte(body))
	return http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}}
}

// bucketState fingerprints every object of a bucket: key, ETag,
// Last-Modified, size, content type, user metadata and tags.
func bucketState(t *testing.T, cl *s3.Client, bucket string) string {
	t.Helper()
	var sb strings.Builder
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctxT(t))
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			head, err := cl.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("head %s/%s: %v", bucket, key, err)
			}
			tags, err := cl.GetObjectTagging(ctxT(t), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("tagging %s/%s: %v", bucket, key, err)
			}
			var tagList []string
			for _, tg := range tags.TagSet {
				tagList = append(tagList, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
			}
			fmt.Fprintf(&sb, "%q etag=%s lm=%s size=%d type=%s meta=%v tags=%v\n", key, aws.ToString(head.ETag),
				head.LastModified.UTC().Format(time.RFC3339), aws.ToInt64(head.ContentLength),
				aws.ToString(head.ContentType), sortedMap(head.Metadata), tagList)
		}
	}
	return sb.String()
}

func sortedMap(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// unchanged runs a refused request and fails if the bucket changed.
func unchanged(t *testing.T, cl *s3.Client, bucket string, refused func()) {
	t.Helper()
	before := bucketState(t, cl, bucket)
	refused()
	if after := bucketState(t, cl, bucket); after != before {
		t.Fatalf("a refused request changed bucket %s:\nbefore:\n%s\nafter:\n%s", bucket, before, after)
	}
}

func readAll(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
