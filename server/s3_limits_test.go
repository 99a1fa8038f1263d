package server_test

import (
	"errors"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// testLimits covers the limits S3 enforces and the listing and bucket
// details clients depend on.
func testLimits(t *testing.T, c *testCluster) {
	cl := func(i int) *s3.Client { return c.client(i % 3) }
	const bkt = "limits"
	mustCreateBucket(t, cl(0), bkt)

	t.Run("MetadataTooLarge", func(t *testing.T) {
		unchanged(t, cl(0), bkt, func() {
			_, err := cl(0).PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("meta"), Body: stringsReader("m"),
				Metadata: map[string]string{"a": strings.Repeat("x", 1100), "b": strings.Repeat("y", 1100)}})
			if apiCode(err) != "MetadataTooLarge" || !isHTTPStatus(err, 400) {
				t.Fatalf("got %v, want 400 MetadataTooLarge", err)
			}
		})
		mustPutWith(t, cl(1), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("meta"), Body: stringsReader("m"),
			Metadata: map[string]string{"a": strings.Repeat("x", 1000), "b": strings.Repeat("y", 1000)}})
	})

	t.Run("KeyTooLong", func(t *testing.T) {
		unchanged(t, cl(1), bkt, func() {
			_, err := cl(1).PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String(strings.Repeat("k", 1025)), Body: stringsReader("k")})
			if apiCode(err) != "KeyTooLongError" || !isHTTPStatus(err, 400) {
				t.Fatalf("got %v, want 400 KeyTooLongError", err)
			}
		})
		// 1024 bytes, counted in UTF-8: 512 two-byte characters.
		key := strings.Repeat("é", 512)
		mustPut(t, cl(2), bkt, key, "max")
		if got := mustGet(t, cl(0), bkt, key); got != "max" {
			t.Fatalf("got %q", got)
		}
		if _, err := cl(0).DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bkt), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("MaxKeysBounds", func(t *testing.T) {
		_, err := cl(0).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bkt), MaxKeys: aws.Int32(-1)})
		if apiCode(err) != "InvalidArgument" || !isHTTPStatus(err, 400) {
			t.Fatalf("ListObjectsV2 max-keys -1: %v", err)
		}
		_, err = cl(1).ListObjects(ctxT(t), &s3.ListObjectsInput{Bucket: aws.String(bkt), MaxKeys: aws.Int32(-5)})
		if apiCode(err) != "InvalidArgument" || !isHTTPStatus(err, 400) {
			t.Fatalf("ListObjects max-keys -5: %v", err)
		}
		out, err := cl(2).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bkt), MaxKeys: aws.Int32(0)})
		if err != nil || len(out.Contents) != 0 || aws.ToInt32(out.MaxKeys) != 0 {
			t.Fatalf("max-keys 0: %v %+v", err, out)
		}
		// Above 1000 is capped at 1000, as S3 does.
		out, err = cl(0).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bkt), MaxKeys: aws.Int32(5000)})
		if err != nil || aws.ToInt32(out.MaxKeys) != 1000 {
			t.Fatalf("max-keys 5000: %v %v", err, aws.ToInt32(out.MaxKeys))
		}
	})

	t.Run("ListObjectsV1NextMarker", func(t *testing.T) {
		const b = "v1-marker"
		mustCreateBucket(t, cl(0), b)
		for i, k := range []string{"a/1", "a/2", "b/1", "c"} {
			mustPut(t, cl(i), b, k, k)
		}
		// Delimited: NextMarker names the last entry (here a prefix).
		out, err := cl(1).ListObjects(ctxT(t), &s3.ListObjectsInput{Bucket: aws.String(b), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextMarker) != "b/" || len(out.CommonPrefixes) != 2 {
			t.Fatalf("page 1: truncated %v next %q prefixes %d", aws.ToBool(out.IsTruncated), aws.ToString(out.NextMarker), len(out.CommonPrefixes))
		}
		out, err = cl(2).ListObjects(ctxT(t), &s3.ListObjectsInput{Bucket: aws.String(b), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), Marker: out.NextMarker})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToBool(out.IsTruncated) || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "c" || len(out.CommonPrefixes) != 0 || out.NextMarker != nil {
			t.Fatalf("page 2: %+v", out)
		}
		// Undelimited: no NextMarker; clients continue from the last key.
		out, err = cl(0).ListObjects(ctxT(t), &s3.ListObjectsInput{Bucket: aws.String(b), MaxKeys: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		if !aws.ToBool(out.IsTruncated) || out.NextMarker != nil || len(out.Contents) != 2 {
			t.Fatalf("undelimited page 1: truncated %v next %v", aws.ToBool(out.IsTruncated), out.NextMarker)
		}
		out, err = cl(1).ListObjects(ctxT(t), &s3.ListObjectsInput{Bucket: aws.String(b), MaxKeys: aws.Int32(2), Marker: out.Contents[1].Key})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToBool(out.IsTruncated) || len(out.Contents) != 2 || aws.ToString(out.Contents[0].Key) != "b/1" || aws.ToString(out.Marker) != "a/2" {
			t.Fatalf("undelimited page 2: %+v", out)
		}
	})

	t.Run("EncodingTypeURL", func(t *testing.T) {
		const b = "enc-url"
		mustCreateBucket(t, cl(0), b)
		keys := []string{"dir one/sp ace", "dir one/ü日本", "dir one/ctl\x01char", "dir one/plus+amp&lt<", "dir one/sub/deep"}
		for i, k := range keys {
			mustPut(t, cl(i), b, k, k)
		}
		dec := func(s *string) string {
			v, err := url.QueryUnescape(aws.ToString(s))
			if err != nil {
				t.Fatalf("undecodable %q: %v", aws.ToString(s), err)
			}
			return v
		}
		out, err := cl(1).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String("dir one/"),
			Delimiter: aws.String("/"), EncodingType: types.EncodingTypeUrl})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range out.Contents {
			got = append(got, dec(o.Key))
		}
		want := append([]string(nil), keys[:4]...)
		sort.Strings(want)
		if strings.Join(got, "|") != strings.Join(want, "|") || out.EncodingType != types.EncodingTypeUrl {
			t.Fatalf("keys %q, want %q", got, want)
		}
		if len(out.CommonPrefixes) != 1 || dec(out.CommonPrefixes[0].Prefix) != "dir one/sub/" || dec(out.Prefix) != "dir one/" {
			t.Fatalf("prefixes %+v prefix %q", out.CommonPrefixes, aws.ToString(out.Prefix))
		}
		// Every listed key reads back: the round trip is lossless.
		for _, k := range got {
			if v := mustGet(t, cl(2), b, k); v != k {
				t.Fatalf("GET %q: %q", k, v)
			}
		}
		v1, err := cl(2).ListObjects(ctxT(t), &s3.ListObjectsInput{Bucket: aws.String(b), Prefix: aws.String("dir one/ctl"), EncodingType: types.EncodingTypeUrl})
		if err != nil || len(v1.Contents) != 1 || dec(v1.Contents[0].Key) != "dir one/ctl\x01char" {
			t.Fatalf("v1 with encoding-type=url: %v %+v", err, v1)
		}
		_, err = cl(0).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(b), EncodingType: "base64"})
		if apiCode(err) != "InvalidArgument" || !isHTTPStatus(err, 400) {
			t.Fatalf("encoding-type=base64: %v", err)
		}
	})

	t.Run("GetBucketLocationAndVersioning", func(t *testing.T) {
		loc, err := cl(0).GetBucketLocation(ctxT(t), &s3.GetBucketLocationInput{Bucket: aws.String(bkt)})
		if err != nil || loc.LocationConstraint != "" {
			t.Fatalf("GetBucketLocation: %v %q (us-east-1 is the empty constraint)", err, loc.LocationConstraint)
		}
		ver, err := cl(1).GetBucketVersioning(ctxT(t), &s3.GetBucketVersioningInput{Bucket: aws.String(bkt)})
		if err != nil || ver.Status != "" || ver.MFADelete != "" {
			t.Fatalf("GetBucketVersioning: %v %+v", err, ver)
		}
		_, err = cl(2).GetBucketLocation(ctxT(t), &s3.GetBucketLocationInput{Bucket: aws.String("no-such-bkt")})
		if apiCode(err) != "NoSuchBucket" || !isHTTPStatus(err, 404) {
			t.Fatalf("GetBucketLocation missing bucket: %v", err)
		}
		_, err = cl(0).GetBucketVersioning(ctxT(t), &s3.GetBucketVersioningInput{Bucket: aws.String("no-such-bkt")})
		if apiCode(err) != "NoSuchBucket" || !isHTTPStatus(err, 404) {
			t.Fatalf("GetBucketVersioning missing bucket: %v", err)
		}
	})

	t.Run("NoSuchBucketIsTyped", func(t *testing.T) {
		_, err := cl(1).ListObjects(ctxT(t), &s3.ListObjectsInput{Bucket: aws.String("no-such-bkt")})
		var nsb *types.NoSuchBucket
		if !errors.As(err, &nsb) {
			t.Fatalf("ListObjects: %v, want NoSuchBucket", err)
		}
	})
}
