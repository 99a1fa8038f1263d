package server_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
)

// postForm submits a browser-style upload to node i: the presigned
// fields, then the file as the last part. It goes through c.raw, so a 503
// during an election is retried like any other raw request (a POST that
// answered 503 stored nothing).
func (c *testCluster) postForm(t *testing.T, i int, target string, fields map[string]string, filename string, content []byte) rawResponse {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return c.raw(t, i, http.MethodPost, u.RequestURI(), body.String(), http.Header{"Content-Type": {mw.FormDataContentType()}}, false)
}

// presignPost builds a form with minio-go's PresignedPostPolicy against
// node i, as a web application's backend does for its browsers.
func (c *testCluster) presignPost(t *testing.T, i int, bucket, key string, expires time.Time, tweak func(*minio.PostPolicy)) (string, map[string]string) {
	t.Helper()
	p := minio.NewPostPolicy()
	if err := p.SetBucket(bucket); err != nil {
		t.Fatal(err)
	}
	if err := p.SetKey(key); err != nil {
		t.Fatal(err)
	}
	if err := p.SetExpires(expires); err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(p)
	}
	u, fields, err := c.minioClient(t, i).PresignedPostPolicy(ctxT(t), p)
	if err != nil {
		t.Fatalf("PresignedPostPolicy: %v", err)
	}
	return u.String(), fields
}

// TestPostObject: uploads through a follower with minio-go presigned POST
// forms, read back from another node; refused forms store nothing.
func TestPostObject(t *testing.T) {
	c := startCluster(t, 3, nil)
	const bkt = "post-bkt"
	leader := c.waitLeader()
	mustCreateBucket(t, c.client(leader), bkt)
	f := c.follower()

	t.Run("presigned upload", func(t *testing.T) {
		content := bytes.Repeat([]byte("browser upload "), 10000) // 150 KB: streamed into a blob
		target, fields := c.presignPost(t, f, bkt, "uploads/photo.png", time.Now().Add(time.Hour), func(p *minio.PostPolicy) {
			p.SetContentType("image/png")
			p.SetUserMetadata("owner", "alice")
			p.SetContentLengthRange(1, 1<<20)
		})
		resp := c.postForm(t, f, target, fields, "photo.png", content)
		if resp.Status != http.StatusNoContent {
			t.Fatalf("POST: %d %s", resp.Status, resp.Body)
		}
		if resp.Header.Get("ETag") == "" || !strings.HasSuffix(resp.Header.Get("Location"), "/"+bkt+"/uploads%2Fphoto.png") {
			t.Errorf("answer headers %v", resp.Header)
		}
		got, out := getBytes(t, c.client(leader), getInput(bkt, "uploads/photo.png"))
		if !bytes.Equal(got, content) || aws.ToString(out.ContentType) != "image/png" || out.Metadata["owner"] != "alice" ||
			aws.ToString(out.ETag) != resp.Header.Get("ETag") {
			t.Errorf("read back %d bytes, type %q, meta %v, etag %s", len(got), aws.ToString(out.ContentType), out.Metadata, aws.ToString(out.ETag))
		}
	})

	t.Run("refused stores nothing", func(t *testing.T) {
		target, fields := c.presignPost(t, f, bkt, "refused/big", time.Now().Add(time.Hour), func(p *minio.PostPolicy) {
			p.SetContentLengthRange(1, 4)
		})
		wantS3Error(t, "over content-length-range", c.postForm(t, f, target, fields, "big", []byte("0123456789")), http.StatusBadRequest, "EntityTooLarge")

		target, fields = c.presignPost(t, f, bkt, "refused/late", time.Now().Add(-time.Second), nil)
		resp := c.postForm(t, f, target, fields, "late", []byte("x"))
		wantS3Error(t, "expired policy", resp, http.StatusForbidden, "AccessDenied")
		if !strings.Contains(resp.Body, "Invalid according to Policy: Policy expired.") {
			t.Errorf("expired: %s", resp.Body)
		}

		list, err := c.client(leader).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bkt), Prefix: aws.String("refused/")})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Contents) != 0 {
			t.Errorf("refused POSTs stored %d objects", len(list.Contents))
		}
	})
}
