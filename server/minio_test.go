package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/cors"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/tags"
)

// minioClient returns a minio-go client for node i with its default
// settings (path-style addressing, since the endpoint is an IP address),
// then opts applied.
func (c *testCluster) minioClient(t *testing.T, i int, opts ...func(*minio.Options)) *minio.Client {
	t.Helper()
	u, err := url.Parse(c.nodes[i%len(c.nodes)].S3URL())
	if err != nil {
		t.Fatal(err)
	}
	o := &minio.Options{
		Creds:        credentials.NewStaticV4(testAccessKey, testSecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	}
	for _, opt := range opts {
		opt(o)
	}
	mc, err := minio.New(u.Host, o)
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

func minioCode(err error) string { return minio.ToErrorResponse(err).Code }

// TestMinioClient runs the object operations through minio-go v7, the
// other mainstream Go client, against a 3-node cluster.
func TestMinioClient(t *testing.T) {
	c := startCluster(t, 3, nil)
	mc := func(i int) *minio.Client { return c.minioClient(t, i) }
	const bkt = "minio-bkt"
	if err := mc(0).MakeBucket(ctxT(t), bkt, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	put := func(t *testing.T, i int, key, body string, opts minio.PutObjectOptions) minio.UploadInfo {
		t.Helper()
		info, err := mc(i).PutObject(ctxT(t), bkt, key, strings.NewReader(body), int64(len(body)), opts)
		if err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
		return info
	}
	get := func(t *testing.T, i int, key string) string {
		t.Helper()
		obj, err := mc(i).GetObject(ctxT(t), bkt, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		b, err := io.ReadAll(obj)
		if err != nil {
			t.Fatalf("GetObject %s: %v", key, err)
		}
		return string(b)
	}

	t.Run("BucketExists", func(t *testing.T) {
		ok, err := mc(1).BucketExists(ctxT(t), bkt)
		if err != nil || !ok {
			t.Fatalf("BucketExists: %v %v", ok, err)
		}
		ok, err = mc(2).BucketExists(ctxT(t), "no-such-bkt")
		if err != nil || ok {
			t.Fatalf("BucketExists(missing): %v %v", ok, err)
		}
	})

	t.Run("PutGetStat", func(t *testing.T) {
		body := strings.Repeat("minio ", 2000)
		info := put(t, 0, "dir/obj", body, minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"Color": "green"},
			UserTags: map[string]string{"team": "storage"}})
		if got := get(t, 1, "dir/obj"); got != body {
			t.Fatalf("body of %d bytes, want %d", len(got), len(body))
		}
		st, err := mc(2).StatObject(ctxT(t), bkt, "dir/obj", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.ETag != info.ETag || st.Size != int64(len(body)) || st.ContentType != "text/plain" || st.UserMetadata["Color"] != "green" || st.UserTagCount != 1 {
			t.Fatalf("StatObject: etag %s/%s size %d type %s meta %v tags %d", st.ETag, info.ETag, st.Size, st.ContentType, st.UserMetadata, st.UserTagCount)
		}
		_, err = mc(0).StatObject(ctxT(t), bkt, "dir/missing", minio.StatObjectOptions{})
		if minioCode(err) != "NoSuchKey" {
			t.Fatalf("StatObject missing: %v", err)
		}
		_, err = mc(1).GetObjectAttributes(ctxT(t), bkt, "dir/obj", minio.ObjectAttributesOptions{})
		if err != nil {
			t.Fatalf("GetObjectAttributes: %v", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		for i, k := range []string{"list/a", "list/b/1", "list/b/2", "list/c"} {
			put(t, i, k, k, minio.PutObjectOptions{})
		}
		var flat, delimited []string
		for o := range mc(1).ListObjects(ctxT(t), bkt, minio.ListObjectsOptions{Prefix: "list/", Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			flat = append(flat, o.Key)
		}
		for o := range mc(2).ListObjects(ctxT(t), bkt, minio.ListObjectsOptions{Prefix: "list/", MaxKeys: 1}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			delimited = append(delimited, o.Key)
		}
		if strings.Join(flat, ",") != "list/a,list/b/1,list/b/2,list/c" || strings.Join(delimited, ",") != "list/a,list/b/,list/c" {
			t.Fatalf("recursive %v, delimited %v", flat, delimited)
		}
		var v1 []string
		for o := range mc(0).ListObjects(ctxT(t), bkt, minio.ListObjectsOptions{Prefix: "list/", Recursive: true, UseV1: true, MaxKeys: 2}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			v1 = append(v1, o.Key)
		}
		if !slices.Equal(v1, flat) {
			t.Fatalf("v1 listing %v", v1)
		}
	})

	t.Run("Copy", func(t *testing.T) {
		src := put(t, 0, "copy/src", "copied", minio.PutObjectOptions{UserMetadata: map[string]string{"A": "1"}})
		info, err := mc(1).CopyObject(ctxT(t), minio.CopyDestOptions{Bucket: bkt, Object: "copy/dst"}, minio.CopySrcOptions{Bucket: bkt, Object: "copy/src", MatchETag: src.ETag})
		if err != nil {
			t.Fatal(err)
		}
		if info.ETag != src.ETag || get(t, 2, "copy/dst") != "copied" {
			t.Fatalf("copy: %+v", info)
		}
		_, err = mc(2).CopyObject(ctxT(t), minio.CopyDestOptions{Bucket: bkt, Object: "copy/meta", ReplaceMetadata: true, UserMetadata: map[string]string{"B": "2"}},
			minio.CopySrcOptions{Bucket: bkt, Object: "copy/src"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := mc(0).StatObject(ctxT(t), bkt, "copy/meta", minio.StatObjectOptions{})
		if err != nil || st.UserMetadata["B"] != "2" || st.UserMetadata["A"] != "" {
			t.Fatalf("copy with REPLACE: %v %v", err, st.UserMetadata)
		}
		_, err = mc(1).CopyObject(ctxT(t), minio.CopyDestOptions{Bucket: bkt, Object: "copy/none"}, minio.CopySrcOptions{Bucket: bkt, Object: "copy/src", MatchETag: "0000"})
		if minioCode(err) != "PreconditionFailed" {
			t.Fatalf("copy with a stale ETag: %v", err)
		}
		_, err = mc(2).CopyObject(ctxT(t), minio.CopyDestOptions{Bucket: bkt, Object: "copy/none"}, minio.CopySrcOptions{Bucket: bkt, Object: "copy/missing"})
		if minioCode(err) != "NoSuchKey" {
			t.Fatalf("copy of a missing key: %v", err)
		}
		if _, err := mc(0).StatObject(ctxT(t), bkt, "copy/none", minio.StatObjectOptions{}); minioCode(err) != "NoSuchKey" {
			t.Fatalf("refused copies created the destination: %v", err)
		}
	})

	t.Run("RemoveAndRemoveObjects", func(t *testing.T) {
		put(t, 0, "rm/one", "1", minio.PutObjectOptions{})
		if err := mc(1).RemoveObject(ctxT(t), bkt, "rm/one", minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for i := range 25 {
			k := "rm/batch/" + strings.Repeat("x", i)
			put(t, i, k, "b", minio.PutObjectOptions{})
			keys = append(keys, k)
		}
		ch := make(chan minio.ObjectInfo, len(keys)+1)
		for _, k := range keys {
			ch <- minio.ObjectInfo{Key: k}
		}
		ch <- minio.ObjectInfo{Key: "rm/batch/never-existed"}
		close(ch)
		for e := range mc(2).RemoveObjects(ctxT(t), bkt, ch, minio.RemoveObjectsOptions{}) {
			t.Errorf("RemoveObjects %s: %v", e.ObjectName, e.Err)
		}
		for o := range mc(0).ListObjects(ctxT(t), bkt, minio.ListObjectsOptions{Prefix: "rm/", Recursive: true}) {
			t.Errorf("left after removal: %s %v", o.Key, o.Err)
		}
	})

	t.Run("Tagging", func(t *testing.T) {
		put(t, 0, "tags/obj", "t", minio.PutObjectOptions{})
		tg, err := tags.MapToObjectTags(map[string]string{"env": "dev", "owner": "ana"})
		if err != nil {
			t.Fatal(err)
		}
		if err := mc(1).PutObjectTagging(ctxT(t), bkt, "tags/obj", tg, minio.PutObjectTaggingOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := mc(2).GetObjectTagging(ctxT(t), bkt, "tags/obj", minio.GetObjectTaggingOptions{})
		if err != nil || got.ToMap()["env"] != "dev" || got.ToMap()["owner"] != "ana" || len(got.ToMap()) != 2 {
			t.Fatalf("GetObjectTagging: %v %v", got, err)
		}
		if err := mc(0).RemoveObjectTagging(ctxT(t), bkt, "tags/obj", minio.RemoveObjectTaggingOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err = mc(1).GetObjectTagging(ctxT(t), bkt, "tags/obj", minio.GetObjectTaggingOptions{})
		if err != nil || len(got.ToMap()) != 0 {
			t.Fatalf("after RemoveObjectTagging: %v %v", got, err)
		}
		err = mc(2).PutObjectTagging(ctxT(t), bkt, "tags/missing", tg, minio.PutObjectTaggingOptions{})
		if minioCode(err) != "NoSuchKey" {
			t.Fatalf("PutObjectTagging on a missing key: %v", err)
		}
	})

	t.Run("Presigned", func(t *testing.T) {
		putURL, err := mc(0).PresignedPutObject(ctxT(t), bkt, "presigned/obj", 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPut, putURL.String(), bytes.NewReader([]byte("uploaded by URL")))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("presigned PUT: %d", resp.StatusCode)
		}
		getURL, err := mc(1).PresignedGetObject(ctxT(t), bkt, "presigned/obj", 5*time.Minute, url.Values{"response-content-type": {"text/x-presigned"}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err = http.Get(getURL.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "uploaded by URL" || resp.Header.Get("Content-Type") != "text/x-presigned" {
			t.Fatalf("presigned GET: %d %q %s", resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
		// Tampering with the signed URL is refused.
		bad := *getURL
		q := bad.Query()
		q.Set("response-content-type", "text/evil")
		bad.RawQuery = q.Encode()
		resp, err = http.Get(bad.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("tampered presigned GET: %d", resp.StatusCode)
		}
	})

	t.Run("BucketCors", func(t *testing.T) {
		cfg := cors.NewConfig([]cors.Rule{{AllowedOrigin: []string{"http://localhost:3000"}, AllowedMethod: []string{"GET", "PUT"}, AllowedHeader: []string{"*"}, MaxAgeSeconds: 60}})
		if err := mc(0).SetBucketCors(ctxT(t), bkt, cfg); err != nil {
			t.Fatal(err)
		}
		got, err := mc(1).GetBucketCors(ctxT(t), bkt)
		if err != nil || len(got.CORSRules) != 1 || got.CORSRules[0].AllowedOrigin[0] != "http://localhost:3000" || got.CORSRules[0].MaxAgeSeconds != 60 {
			t.Fatalf("GetBucketCors: %+v %v", got, err)
		}
		if err := mc(2).SetBucketCors(ctxT(t), bkt, nil); err != nil {
			t.Fatalf("removing CORS: %v", err)
		}
		if got, err := mc(0).GetBucketCors(ctxT(t), bkt); err != nil || got != nil {
			t.Fatalf("GetBucketCors after removal: %+v %v", got, err)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := mc(0).PutObject(ctxT(t), "no-such-bkt", "k", strings.NewReader("x"), 1, minio.PutObjectOptions{})
		if minioCode(err) != "NoSuchBucket" {
			t.Fatalf("PutObject into a missing bucket: %v", err)
		}
		obj, err := mc(1).GetObject(ctxT(t), bkt, "missing", minio.GetObjectOptions{})
		if err == nil {
			_, err = io.ReadAll(obj)
		}
		if minioCode(err) != "NoSuchKey" {
			t.Fatalf("GetObject missing: %v", err)
		}
		_, err = mc(2).PutObject(ctxT(t), bkt, "bad-tags", strings.NewReader("x"), 1, minio.PutObjectOptions{UserTags: map[string]string{"aws:reserved": "x"}})
		if minioCode(err) != "InvalidTag" {
			t.Fatalf("PutObject with a reserved tag key: %v", err)
		}
	})
}
