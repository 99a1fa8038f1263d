package server_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// testTagging covers Put/Get/DeleteObjectTagging, x-amz-tagging on
// PutObject, x-amz-tagging-count, and S3's tag limits.
func testTagging(t *testing.T, c *testCluster, bkt string) {
	cl := func(i int) *s3.Client { return c.client(i % 3) }
	tagSet := func(kv ...string) *types.Tagging {
		tg := &types.Tagging{TagSet: []types.Tag{}}
		for i := 0; i+1 < len(kv); i += 2 {
			tg.TagSet = append(tg.TagSet, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		return tg
	}

	t.Run("RoundTrip", func(t *testing.T) {
		put := mustPut(t, cl(0), bkt, "tag/obj", "tagged")
		before := mustHead(t, cl(0), bkt, "tag/obj")
		if got := tagsOf(t, cl(1), bkt, "tag/obj"); got != "" {
			t.Fatalf("new object has tags %s", got)
		}
		if _, err := cl(1).PutObjectTagging(ctxT(t), &s3.PutObjectTaggingInput{Bucket: aws.String(bkt), Key: aws.String("tag/obj"),
			Tagging: tagSet("zone", "eu west", "app", "ü/日本:v1+x@y=z_-.")}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOf(t, cl(2), bkt, "tag/obj"); got != "app=ü/日本:v1+x@y=z_-.,zone=eu west" {
			t.Fatalf("tags %s", got)
		}
		get, err := cl(0).GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bkt), Key: aws.String("tag/obj")})
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, get.Body)
		if aws.ToInt32(get.TagCount) != 2 {
			t.Fatalf("x-amz-tagging-count on GET: %d", aws.ToInt32(get.TagCount))
		}
		if head := c.raw(t, 1, http.MethodHead, "/"+bkt+"/tag/obj", "", nil, true); head.Header.Get("x-amz-tagging-count") != "2" {
			t.Fatalf("x-amz-tagging-count on HEAD: %q", head.Header.Get("x-amz-tagging-count"))
		}
		// Tagging changes neither the ETag nor Last-Modified, as in S3.
		after := mustHead(t, cl(2), bkt, "tag/obj")
		if aws.ToString(after.ETag) != aws.ToString(put.ETag) || !after.LastModified.Equal(*before.LastModified) {
			t.Fatalf("tagging changed etag/last-modified: %s %v -> %s %v", aws.ToString(before.ETag), before.LastModified, aws.ToString(after.ETag), after.LastModified)
		}
		if _, err := cl(0).DeleteObjectTagging(ctxT(t), &s3.DeleteObjectTaggingInput{Bucket: aws.String(bkt), Key: aws.String("tag/obj")}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOf(t, cl(1), bkt, "tag/obj"); got != "" {
			t.Fatalf("tags after delete %s", got)
		}
		get, err = cl(2).GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bkt), Key: aws.String("tag/obj")})
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, get.Body)
		if get.TagCount != nil {
			t.Fatalf("x-amz-tagging-count after delete: %d", aws.ToInt32(get.TagCount))
		}
		if got := mustGet(t, cl(0), bkt, "tag/obj"); got != "tagged" {
			t.Fatalf("body %q", got)
		}
	})

	t.Run("EmptyTagSetRemovesTags", func(t *testing.T) {
		mustPutWith(t, cl(0), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("tag/empty"), Body: stringsReader("e"), Tagging: aws.String("a=1")})
		if _, err := cl(1).PutObjectTagging(ctxT(t), &s3.PutObjectTaggingInput{Bucket: aws.String(bkt), Key: aws.String("tag/empty"), Tagging: tagSet()}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOf(t, cl(2), bkt, "tag/empty"); got != "" {
			t.Fatalf("tags %s", got)
		}
	})

	t.Run("PutObjectTaggingHeader", func(t *testing.T) {
		mustPutWith(t, cl(0), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("tag/header"), Body: stringsReader("h"),
			Tagging: aws.String("team=blue%20sky&empty=&plus+sign=a+b&bare")})
		if got := tagsOf(t, cl(1), bkt, "tag/header"); got != "bare=,empty=,plus sign=a b,team=blue sky" {
			t.Fatalf("tags %s", got)
		}
	})

	t.Run("Limits", func(t *testing.T) {
		mustPutWith(t, cl(0), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("tag/limits"), Body: stringsReader("l"), Tagging: aws.String("keep=me")})
		var ten []string
		for i := range 10 {
			ten = append(ten, fmt.Sprintf("%03d%s", i, strings.Repeat("k", 125)), strings.Repeat("v", 256))
		}
		cases := []struct {
			name string
			tags *types.Tagging
			code string
		}{
			{"eleven tags", tagSet(append(ten, "k11", "v")...), "BadRequest"},
			{"key of 129", tagSet(strings.Repeat("k", 129), "v"), "InvalidTag"},
			{"value of 257", tagSet("k", strings.Repeat("v", 257)), "InvalidTag"},
			{"empty key", tagSet("", "v"), "InvalidTag"},
			{"repeated key", tagSet("k", "1", "k", "2"), "InvalidTag"},
			{"aws: prefix", tagSet("aws:owner", "me"), "InvalidTag"},
			{"forbidden character", tagSet("k", "a<b"), "InvalidTag"},
		}
		for i, tt := range cases {
			unchanged(t, cl(i), bkt, func() {
				_, err := cl(i).PutObjectTagging(ctxT(t), &s3.PutObjectTaggingInput{Bucket: aws.String(bkt), Key: aws.String("tag/limits"), Tagging: tt.tags})
				if apiCode(err) != tt.code || !isHTTPStatus(err, 400) {
					t.Fatalf("%s: %v, want 400 %s", tt.name, err, tt.code)
				}
			})
		}
		if _, err := cl(1).PutObjectTagging(ctxT(t), &s3.PutObjectTaggingInput{Bucket: aws.String(bkt), Key: aws.String("tag/limits"), Tagging: tagSet(ten...)}); err != nil {
			t.Fatalf("ten maximal tags: %v", err)
		}
		// x-amz-tagging on PutObject is held to the same rules; a refused
		// PUT creates nothing.
		for i, hdr := range []string{"a=b=c", "k=%zz", "k=1&k=2", strings.Repeat("x", 129) + "=v", "t1&t2&t3&t4&t5&t6&t7&t8&t9&t10&t11"} {
			unchanged(t, cl(i), bkt, func() {
				_, err := cl(i).PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("tag/refused"), Body: stringsReader("r"), Tagging: aws.String(hdr)})
				if !isHTTPStatus(err, 400) || (apiCode(err) != "InvalidArgument" && apiCode(err) != "InvalidTag" && apiCode(err) != "BadRequest") {
					t.Fatalf("x-amz-tagging %q: %v", hdr, err)
				}
			})
		}
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := cl(0).GetObjectTagging(ctxT(t), &s3.GetObjectTaggingInput{Bucket: aws.String(bkt), Key: aws.String("tag/none")})
		if apiCode(err) != "NoSuchKey" || !isHTTPStatus(err, 404) {
			t.Fatalf("GetObjectTagging missing key: %v", err)
		}
		unchanged(t, cl(1), bkt, func() {
			_, err = cl(1).PutObjectTagging(ctxT(t), &s3.PutObjectTaggingInput{Bucket: aws.String(bkt), Key: aws.String("tag/none"), Tagging: tagSet("a", "1")})
			if apiCode(err) != "NoSuchKey" || !isHTTPStatus(err, 404) {
				t.Fatalf("PutObjectTagging missing key: %v", err)
			}
		})
		_, err = cl(2).DeleteObjectTagging(ctxT(t), &s3.DeleteObjectTaggingInput{Bucket: aws.String("no-such-bkt"), Key: aws.String("k")})
		if apiCode(err) != "NoSuchBucket" || !isHTTPStatus(err, 404) {
			t.Fatalf("DeleteObjectTagging missing bucket: %v", err)
		}
		mustPut(t, cl(0), bkt, "tag/raw", "r")
		doc := "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>"
		unchanged(t, cl(0), bkt, func() {
			wantS3Error(t, "no digest", c.raw(t, 0, http.MethodPut, "/"+bkt+"/tag/raw?tagging", doc, nil, true), 400, "InvalidRequest")
			bad := "<Tagging><Tag><Key>a</Key></Tag></Tagging>"
			wantS3Error(t, "no TagSet", c.raw(t, 1, http.MethodPut, "/"+bkt+"/tag/raw?tagging", bad, md5Header(bad), true), 400, "MalformedXML")
			wantS3Error(t, "version", c.raw(t, 2, http.MethodPut, "/"+bkt+"/tag/raw?tagging&versionId=abc", doc, md5Header(doc), true), 400, "InvalidArgument")
		})
		// Bucket tagging is not implemented and must not touch anything.
		wantS3Error(t, "PutBucketTagging", c.raw(t, 0, http.MethodPut, "/"+bkt+"?tagging", doc, md5Header(doc), true), 501, "NotImplemented")
	})
}

// testObjectAttributes covers GetObjectAttributes.
func testObjectAttributes(t *testing.T, c *testCluster, bkt string) {
	cl := func(i int) *s3.Client { return c.client(i % 3) }
	put := mustPut(t, cl(0), bkt, "attr/obj", "attributes")

	t.Run("All", func(t *testing.T) {
		out, err := cl(1).GetObjectAttributes(ctxT(t), &s3.GetObjectAttributesInput{Bucket: aws.String(bkt), Key: aws.String("attr/obj"),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum,
				types.ObjectAttributesObjectParts, types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.ETag) != strings.Trim(aws.ToString(put.ETag), `"`) || aws.ToInt64(out.ObjectSize) != int64(len("attributes")) ||
			out.StorageClass != types.StorageClassStandard || out.ObjectParts != nil || out.LastModified == nil {
			t.Fatalf("attributes: etag %s size %d class %s parts %v lm %v", aws.ToString(out.ETag), aws.ToInt64(out.ObjectSize), out.StorageClass, out.ObjectParts, out.LastModified)
		}
		if out.Checksum == nil || aws.ToString(out.Checksum.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) || out.Checksum.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("checksum %+v, put %s", out.Checksum, aws.ToString(put.ChecksumCRC32))
		}
	})

	t.Run("OnlyRequested", func(t *testing.T) {
		out, err := cl(2).GetObjectAttributes(ctxT(t), &s3.GetObjectAttributesInput{Bucket: aws.String(bkt), Key: aws.String("attr/obj"),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}})
		if err != nil {
			t.Fatal(err)
		}
		if out.ETag != nil || out.Checksum != nil || out.StorageClass != "" || aws.ToInt64(out.ObjectSize) != 10 {
			t.Fatalf("only ObjectSize asked: %+v", out)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := cl(0).GetObjectAttributes(ctxT(t), &s3.GetObjectAttributesInput{Bucket: aws.String(bkt), Key: aws.String("attr/none"),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag}})
		var nsk *types.NoSuchKey
		if !errors.As(err, &nsk) {
			t.Fatalf("missing key: %v, want NoSuchKey", err)
		}
		_, err = cl(1).GetObjectAttributes(ctxT(t), &s3.GetObjectAttributesInput{Bucket: aws.String(bkt), Key: aws.String("attr/obj"),
			ObjectAttributes: []types.ObjectAttributes{"Etags"}})
		if apiCode(err) != "InvalidArgument" || !isHTTPStatus(err, 400) {
			t.Fatalf("invalid attribute: %v", err)
		}
		wantS3Error(t, "no attributes header", c.raw(t, 2, http.MethodGet, "/"+bkt+"/attr/obj?attributes", "", nil, true), 400, "InvalidRequest")
	})
}
