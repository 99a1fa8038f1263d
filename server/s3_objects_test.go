package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestS3ObjectOperations covers CopyObject, DeleteObjects, object tagging,
// GetObjectAttributes and S3's limits through the real aws-sdk-go-v2 with
// its default settings (request checksums included), against a 3-node
// cluster, spreading the calls over the nodes. Every refused request is
// also shown to have changed nothing.
func TestS3ObjectOperations(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := func(i int) *s3.Client { return c.client(i % 3) }
	const bkt, other = "ops", "ops-other"
	mustCreateBucket(t, cl(0), bkt)
	mustCreateBucket(t, cl(1), other)

	t.Run("DeleteObjects", func(t *testing.T) { testDeleteObjects(t, c, bkt) })
	t.Run("Tagging", func(t *testing.T) { testTagging(t, c, bkt) })
	t.Run("GetObjectAttributes", func(t *testing.T) { testObjectAttributes(t, c, bkt) })
	t.Run("Limits", func(t *testing.T) { testLimits(t, c) })
	t.Run("CORS", func(t *testing.T) { testCORS(t, c) })

	t.Run("CopyObject", func(t *testing.T) {
		put, err := cl(0).PutObject(ctxT(t), &s3.PutObjectInput{
			Bucket:       aws.String(bkt),
			Key:          aws.String("copy/src"),
			Body:         stringsReader("copy me"),
			ContentType:  aws.String("text/x-copy"),
			CacheControl: aws.String("max-age=9"),
			Metadata:     map[string]string{"color": "red"},
			Tagging:      aws.String("team=blue&level=3"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if put.ChecksumCRC32 == nil {
			t.Fatal("the SDK sent no CRC32; the test expects its default checksum")
		}
		out, err := cl(1).CopyObject(ctxT(t), &s3.CopyObjectInput{
			Bucket:     aws.String(other),
			Key:        aws.String("copy/dst"),
			CopySource: aws.String(bkt + "/copy/src"),
		})
		if err != nil {
			t.Fatal(err)
		}
		r := out.CopyObjectResult
		if aws.ToString(r.ETag) != aws.ToString(put.ETag) || r.LastModified == nil || r.LastModified.IsZero() {
			t.Fatalf("CopyObjectResult %+v", r)
		}
		if aws.ToString(r.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) || r.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("copy checksum %q type %q, source %q", aws.ToString(r.ChecksumCRC32), r.ChecksumType, aws.ToString(put.ChecksumCRC32))
		}
		get, err := cl(2).GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(other), Key: aws.String("copy/dst"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, get.Body); body != "copy me" {
			t.Fatalf("copied body %q", body)
		}
		if aws.ToString(get.ContentType) != "text/x-copy" || aws.ToString(get.CacheControl) != "max-age=9" ||
			get.Metadata["color"] != "red" || aws.ToInt32(get.TagCount) != 2 ||
			aws.ToString(get.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) {
			t.Fatalf("metadata not copied: type %s cache %s meta %v tags %d crc %s", aws.ToString(get.ContentType),
				aws.ToString(get.CacheControl), get.Metadata, aws.ToInt32(get.TagCount), aws.ToString(get.ChecksumCRC32))
		}
		if !get.LastModified.Equal(r.LastModified.Truncate(time.Second)) {
			t.Fatalf("Last-Modified %v, CopyObjectResult says %v", get.LastModified, r.LastModified)
		}
	})

	t.Run("CopyObjectReplaceMetadata", func(t *testing.T) {
		mustPutWith(t, cl(0), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("replace/src"), Body: stringsReader("r"),
			ContentType: aws.String("text/old"), Metadata: map[string]string{"old": "1"}, ContentLanguage: aws.String("fr")})
		_, err := cl(1).CopyObject(ctxT(t), &s3.CopyObjectInput{
			Bucket:            aws.String(bkt),
			Key:               aws.String("replace/dst"),
			CopySource:        aws.String(bkt + "/replace/src"),
			MetadataDirective: types.MetadataDirectiveReplace,
			ContentType:       aws.String("text/new"),
			Metadata:          map[string]string{"new": "2"},
		})
		if err != nil {
			t.Fatal(err)
		}
		head := mustHead(t, cl(2), bkt, "replace/dst")
		if aws.ToString(head.ContentType) != "text/new" || head.Metadata["new"] != "2" || head.Metadata["old"] != "" || head.ContentLanguage != nil {
			t.Fatalf("replaced: type %s meta %v lang %v", aws.ToString(head.ContentType), head.Metadata, head.ContentLanguage)
		}
		src := mustHead(t, cl(0), bkt, "replace/src")
		if aws.ToString(src.ContentType) != "text/old" || src.Metadata["old"] != "1" {
			t.Fatalf("source changed: %s %v", aws.ToString(src.ContentType), src.Metadata)
		}
	})

	t.Run("CopyObjectEncodedSource", func(t *testing.T) {
		for _, key := range []string{"with space", "plus+sign", "uni/ü/日本", "pct%2Fliteral", "q?mark", "a//double"} {
			mustPut(t, cl(0), bkt, "enc/"+key, "v:"+key)
			for _, src := range []string{
				bkt + "/" + url.PathEscape("enc/"+key),
				"/" + bkt + "/" + url.PathEscape("enc/"+key) + "?versionId=null",
			} {
				if _, err := cl(1).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(other), Key: aws.String("enc-copy"), CopySource: aws.String(src)}); err != nil {
					t.Fatalf("copy source %q: %v", src, err)
				}
				if got := mustGet(t, cl(2), other, "enc-copy"); got != "v:"+key {
					t.Fatalf("copy source %q gave %q", src, got)
				}
			}
		}
	})

	t.Run("CopyObjectSourceConditions", func(t *testing.T) {
		put := mustPut(t, cl(0), bkt, "cond/src", "conditional")
		head := mustHead(t, cl(0), bkt, "cond/src")
		past, future := head.LastModified.Add(-time.Hour), head.LastModified.Add(time.Hour)
		refused := []struct {
			name string
			in   s3.CopyObjectInput
		}{
			{"if-match other etag", s3.CopyObjectInput{CopySourceIfMatch: aws.String(`"00000000000000000000000000000000"`)}},
			{"if-none-match own etag", s3.CopyObjectInput{CopySourceIfNoneMatch: put.ETag}},
			{"if-none-match star", s3.CopyObjectInput{CopySourceIfNoneMatch: aws.String("*")}},
			{"if-modified-since later", s3.CopyObjectInput{CopySourceIfModifiedSince: &future}},
			{"if-unmodified-since earlier", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: &past}},
			{"if-none-match fails, if-modified-since holds", s3.CopyObjectInput{CopySourceIfNoneMatch: put.ETag, CopySourceIfModifiedSince: &past}},
		}
		for i, tt := range refused {
			in := tt.in
			in.Bucket, in.Key, in.CopySource = aws.String(bkt), aws.String("cond/dst"), aws.String(bkt+"/cond/src")
			unchanged(t, cl(i), bkt, func() {
				_, err := cl(i).CopyObject(ctxT(t), &in)
				if apiCode(err) != "PreconditionFailed" || !isHTTPStatus(err, 412) {
					t.Fatalf("%s: %v, want 412 PreconditionFailed", tt.name, err)
				}
			})
		}
		allowed := []struct {
			name string
			in   s3.CopyObjectInput
		}{
			{"if-match own etag", s3.CopyObjectInput{CopySourceIfMatch: put.ETag}},
			{"if-match star", s3.CopyObjectInput{CopySourceIfMatch: aws.String("*")}},
			{"if-none-match other etag", s3.CopyObjectInput{CopySourceIfNoneMatch: aws.String(`"0000"`)}},
			{"if-modified-since earlier", s3.CopyObjectInput{CopySourceIfModifiedSince: &past}},
			{"if-unmodified-since later", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: &future}},
			// A true If-Match overrides a false If-Unmodified-Since, as in S3.
			{"if-match holds, if-unmodified-since fails", s3.CopyObjectInput{CopySourceIfMatch: put.ETag, CopySourceIfUnmodifiedSince: &past}},
		}
		for i, tt := range allowed {
			in := tt.in
			in.Bucket, in.Key, in.CopySource = aws.String(bkt), aws.String(fmt.Sprint("cond/ok", i)), aws.String(bkt+"/cond/src")
			if _, err := cl(i).CopyObject(ctxT(t), &in); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := mustGet(t, cl(i+1), bkt, aws.ToString(in.Key)); got != "conditional" {
				t.Fatalf("%s: copied %q", tt.name, got)
			}
		}
	})

	t.Run("CopyObjectDestinationConditions", func(t *testing.T) {
		mustPut(t, cl(0), bkt, "dcond/src", "new")
		old := mustPut(t, cl(1), bkt, "dcond/dst", "old")
		unchanged(t, cl(2), bkt, func() {
			_, err := cl(2).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("dcond/dst"),
				CopySource: aws.String(bkt + "/dcond/src"), IfNoneMatch: aws.String("*")})
			if apiCode(err) != "PreconditionFailed" || !isHTTPStatus(err, 412) {
				t.Fatalf("If-None-Match * on existing destination: %v", err)
			}
			_, err = cl(0).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("dcond/dst"),
				CopySource: aws.String(bkt + "/dcond/src"), IfMatch: aws.String(`"0000"`)})
			if apiCode(err) != "PreconditionFailed" || !isHTTPStatus(err, 412) {
				t.Fatalf("stale If-Match: %v", err)
			}
		})
		if _, err := cl(1).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("dcond/dst"),
			CopySource: aws.String(bkt + "/dcond/src"), IfMatch: old.ETag}); err != nil {
			t.Fatalf("current If-Match: %v", err)
		}
		if got := mustGet(t, cl(2), bkt, "dcond/dst"); got != "new" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("CopyObjectConcurrentIfNoneMatchExactlyOneWins", func(t *testing.T) {
		const writers = 12
		for w := range writers {
			mustPut(t, cl(w), bkt, fmt.Sprint("race/src", w), fmt.Sprint("writer-", w))
		}
		var mu sync.Mutex
		var winners, unknown []string
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				once := newClient(c.nodes[w%3].S3URL(), testAccessKey, testSecretKey, noRetries)
				_, err := once.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("race/dst"),
					CopySource: aws.String(fmt.Sprint(bkt, "/race/src", w)), IfNoneMatch: aws.String("*")})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, fmt.Sprint("writer-", w))
				case apiCode(err) == "PreconditionFailed":
				case isHTTPStatus(err, 503):
					unknown = append(unknown, fmt.Sprint("writer-", w))
				default:
					t.Errorf("writer %d: %v", w, err)
				}
			})
		}
		wg.Wait()
		got := mustGet(t, cl(0), bkt, "race/dst")
		if len(winners) > 1 || (len(winners) == 1 && got != winners[0]) || (len(winners) == 0 && !slices.Contains(unknown, got)) {
			t.Fatalf("winners %v unknown %v, stored %q", winners, unknown, got)
		}
	})

	t.Run("CopyObjectOntoItself", func(t *testing.T) {
		put := mustPutWith(t, cl(0), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("self"), Body: stringsReader("me"),
			Metadata: map[string]string{"v": "1"}})
		before := mustHead(t, cl(0), bkt, "self")
		unchanged(t, cl(1), bkt, func() {
			_, err := cl(1).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("self"), CopySource: aws.String(bkt + "/self")})
			if apiCode(err) != "InvalidRequest" || !isHTTPStatus(err, 400) || !strings.Contains(err.Error(), "copy an object to itself without changing") {
				t.Fatalf("self-copy without REPLACE: %v", err)
			}
		})
		time.Sleep(1100 * time.Millisecond) // Last-Modified has one-second resolution on the wire.
		out, err := cl(2).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("self"), CopySource: aws.String(bkt + "/self"),
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"v": "2"}})
		if err != nil {
			t.Fatal(err)
		}
		after := mustHead(t, cl(0), bkt, "self")
		if after.Metadata["v"] != "2" || aws.ToString(after.ETag) != aws.ToString(put.ETag) || !after.LastModified.After(*before.LastModified) ||
			aws.ToString(out.CopyObjectResult.ETag) != aws.ToString(put.ETag) {
			t.Fatalf("self-copy with REPLACE: meta %v etag %s lm %v (was %v)", after.Metadata, aws.ToString(after.ETag), after.LastModified, before.LastModified)
		}
		if got := mustGet(t, cl(1), bkt, "self"); got != "me" {
			t.Fatalf("body %q", got)
		}
	})

	t.Run("CopyObjectTaggingDirective", func(t *testing.T) {
		mustPutWith(t, cl(0), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("tagdir/src"), Body: stringsReader("t"), Tagging: aws.String("a=1")})
		if _, err := cl(1).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("tagdir/copy"),
			CopySource: aws.String(bkt + "/tagdir/src"), Tagging: aws.String("ignored=1")}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOf(t, cl(2), bkt, "tagdir/copy"); got != "a=1" {
			t.Fatalf("COPY directive: tags %s", got)
		}
		if _, err := cl(1).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("tagdir/replace"),
			CopySource: aws.String(bkt + "/tagdir/src"), TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("b=2&c=3")}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOf(t, cl(2), bkt, "tagdir/replace"); got != "b=2,c=3" {
			t.Fatalf("REPLACE directive: tags %s", got)
		}
		// Replacing only the tags is a change: a self-copy is allowed.
		if _, err := cl(0).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("tagdir/src"),
			CopySource: aws.String(bkt + "/tagdir/src"), TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("z=9")}); err != nil {
			t.Fatal(err)
		}
		if got := tagsOf(t, cl(1), bkt, "tagdir/src"); got != "z=9" {
			t.Fatalf("self-copy REPLACE tags: %s", got)
		}
	})

	t.Run("CopyObjectChecksumAlgorithm", func(t *testing.T) {
		mustPut(t, cl(0), bkt, "ck/src", "checksum me")
		out, err := cl(1).CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("ck/dst"),
			CopySource: aws.String(bkt + "/ck/src"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			t.Fatal(err)
		}
		// sha256("checksum me"), base64.
		const want = "gg62K3Zgohb3Eb0N83rIoXa2YqFZlZhw7cIAuFcmLa8="
		if got := aws.ToString(out.CopyObjectResult.ChecksumSHA256); got != want || out.CopyObjectResult.ChecksumCRC32 != nil {
			t.Fatalf("copy with SHA256: %q (crc32 %v), want %q only", got, out.CopyObjectResult.ChecksumCRC32, want)
		}
		get, err := cl(2).GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bkt), Key: aws.String("ck/dst"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, get.Body)
		if aws.ToString(get.ChecksumSHA256) != want {
			t.Fatalf("stored SHA256 %q", aws.ToString(get.ChecksumSHA256))
		}
	})

	t.Run("CopyObjectErrors", func(t *testing.T) {
		mustPut(t, cl(0), bkt, "err/src", "x")
		cases := []struct {
			name   string
			in     s3.CopyObjectInput
			status int
			code   string
		}{
			{"missing source key", s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("err/dst"), CopySource: aws.String(bkt + "/err/none")}, 404, "NoSuchKey"},
			{"missing source bucket", s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("err/dst"), CopySource: aws.String("no-such-bkt/err/src")}, 404, "NoSuchBucket"},
			{"missing destination bucket", s3.CopyObjectInput{Bucket: aws.String("no-such-bkt"), Key: aws.String("err/dst"), CopySource: aws.String(bkt + "/err/src")}, 404, "NoSuchBucket"},
			{"source without key", s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("err/dst"), CopySource: aws.String(bkt)}, 400, "InvalidArgument"},
			{"unknown metadata directive", s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("err/dst"), CopySource: aws.String(bkt + "/err/src"), MetadataDirective: "MERGE"}, 400, "InvalidArgument"},
			{"unknown tagging directive", s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("err/dst"), CopySource: aws.String(bkt + "/err/src"), TaggingDirective: "MERGE"}, 400, "InvalidArgument"},
			{"source version", s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("err/dst"), CopySource: aws.String(bkt + "/err/src?versionId=3HL4kqtJlcpXroDTDmJ"), MetadataDirective: types.MetadataDirectiveReplace}, 400, "InvalidArgument"},
			{"metadata too large", s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("err/dst"), CopySource: aws.String(bkt + "/err/src"), MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"big": strings.Repeat("m", 2100)}}, 400, "MetadataTooLarge"},
			{"bad tagging", s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("err/dst"), CopySource: aws.String(bkt + "/err/src"), TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("k=v=w")}, 400, "InvalidArgument"},
			{"destination key too long", s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String(strings.Repeat("k", 1025)), CopySource: aws.String(bkt + "/err/src")}, 400, "KeyTooLongError"},
		}
		for i, tt := range cases {
			unchanged(t, cl(i), bkt, func() {
				_, err := cl(i).CopyObject(ctxT(t), &tt.in)
				if apiCode(err) != tt.code || !isHTTPStatus(err, tt.status) {
					t.Fatalf("%s: %v, want %d %s", tt.name, err, tt.status, tt.code)
				}
			})
		}
	})
}

// testDeleteObjects covers DeleteObjects: per-key results, Quiet mode,
// per-key errors, and the refusals that must delete nothing.
func testDeleteObjects(t *testing.T, c *testCluster, bkt string) {
	cl := func(i int) *s3.Client { return c.client(i % 3) }
	ids := func(keys ...string) []types.ObjectIdentifier {
		var out []types.ObjectIdentifier
		for _, k := range keys {
			out = append(out, types.ObjectIdentifier{Key: aws.String(k)})
		}
		return out
	}

	t.Run("DeleteObjects", func(t *testing.T) {
		for i, k := range []string{"del/a", "del/b", "del/c", "del/keep1", "del/keep2"} {
			mustPut(t, cl(i), bkt, k, k)
		}
		out, err := cl(1).DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String(bkt), Delete: &types.Delete{
			Objects: ids("del/a", "del/b", "del/c", "del/missing"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		var deleted []string
		for _, d := range out.Deleted {
			deleted = append(deleted, aws.ToString(d.Key))
		}
		if strings.Join(deleted, ",") != "del/a,del/b,del/c,del/missing" || len(out.Errors) != 0 {
			t.Fatalf("Deleted %v Errors %+v", deleted, out.Errors)
		}
		list, err := cl(2).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bkt), Prefix: aws.String("del/")})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Contents) != 2 || aws.ToString(list.Contents[0].Key) != "del/keep1" {
			t.Fatalf("left %+v", list.Contents)
		}
	})

	t.Run("DeleteObjectsQuiet", func(t *testing.T) {
		mustPut(t, cl(0), bkt, "quiet/a", "a")
		out, err := cl(1).DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String(bkt), Delete: &types.Delete{
			Objects: ids("quiet/a", "quiet/missing"), Quiet: aws.Bool(true),
		}})
		if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
			t.Fatalf("quiet: %v %+v %+v", err, out.Deleted, out.Errors)
		}
		if _, err := cl(2).HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bkt), Key: aws.String("quiet/a")}); !isHTTPStatus(err, 404) {
			t.Fatalf("quiet/a after delete: %v", err)
		}
	})

	t.Run("DeleteObjectsPerKeyErrors", func(t *testing.T) {
		mustPut(t, cl(0), bkt, "perkey/a", "a")
		mustPut(t, cl(0), bkt, "perkey/b", "b")
		long := strings.Repeat("k", 1025)
		out, err := cl(1).DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String(bkt), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{
				{Key: aws.String("perkey/a")},
				{Key: aws.String(long)},
				{Key: aws.String("perkey/b"), VersionId: aws.String("3HL4kqtJlcpXroDTDmJ")},
				{Key: aws.String("perkey/b"), VersionId: aws.String("null")},
			},
			Quiet: aws.Bool(true),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Deleted) != 0 || len(out.Errors) != 2 {
			t.Fatalf("quiet with errors: Deleted %+v Errors %+v", out.Deleted, out.Errors)
		}
		if e := out.Errors[0]; aws.ToString(e.Key) != long || aws.ToString(e.Code) != "KeyTooLongError" {
			t.Fatalf("error 0: %s %s", aws.ToString(e.Code), aws.ToString(e.Message))
		}
		if e := out.Errors[1]; aws.ToString(e.Key) != "perkey/b" || aws.ToString(e.Code) != "NoSuchVersion" || aws.ToString(e.VersionId) != "3HL4kqtJlcpXroDTDmJ" {
			t.Fatalf("error 1: %+v", e)
		}
		list, err := cl(2).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bkt), Prefix: aws.String("perkey/")})
		if err != nil || len(list.Contents) != 0 {
			t.Fatalf("valid keys of the batch not deleted: %v %+v", err, list.Contents)
		}
	})

	t.Run("DeleteObjectsNoSuchBucket", func(t *testing.T) {
		_, err := cl(0).DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String("no-such-bkt"), Delete: &types.Delete{Objects: ids("k")}})
		if apiCode(err) != "NoSuchBucket" || !isHTTPStatus(err, 404) {
			t.Fatalf("got %v, want 404 NoSuchBucket", err)
		}
	})

	t.Run("DeleteObjectsTooManyKeys", func(t *testing.T) {
		mustPut(t, cl(0), bkt, "many/0", "x")
		keys := []string{"many/0"}
		for i := 1; i <= 1000; i++ {
			keys = append(keys, fmt.Sprintf("many/%d", i))
		}
		unchanged(t, cl(1), bkt, func() {
			_, err := cl(1).DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String(bkt), Delete: &types.Delete{Objects: ids(keys...)}})
			if apiCode(err) != "MalformedXML" || !isHTTPStatus(err, 400) {
				t.Fatalf("1001 keys: %v, want 400 MalformedXML", err)
			}
		})
		// Exactly 1000 is allowed.
		if _, err := cl(2).DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String(bkt), Delete: &types.Delete{Objects: ids(keys[:1000]...)}}); err != nil {
			t.Fatalf("1000 keys: %v", err)
		}
	})

	t.Run("DeleteObjectsRefusedDocuments", func(t *testing.T) {
		mustPut(t, cl(0), bkt, "doc/a", "a")
		good := `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>doc/a</Key></Object></Delete>`
		cases := []struct {
			name   string
			body   string
			header http.Header
			status int
			code   string
		}{
			{"not XML", "<Delete><Object><Key>doc/a", md5Header("<Delete><Object><Key>doc/a"), 400, "MalformedXML"},
			{"wrong root", "<Remove><Object><Key>doc/a</Key></Object></Remove>", md5Header("<Remove><Object><Key>doc/a</Key></Object></Remove>"), 400, "MalformedXML"},
			{"no objects", "<Delete></Delete>", md5Header("<Delete></Delete>"), 400, "MalformedXML"},
			{"object without key", "<Delete><Object></Object></Delete>", md5Header("<Delete><Object></Object></Delete>"), 400, "MalformedXML"},
			{"no digest", good, nil, 400, "InvalidRequest"},
			{"wrong Content-MD5", good, md5Header("something else"), 400, "BadDigest"},
			{"wrong CRC32", good, http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}}, 400, "BadDigest"},
		}
		for i, tt := range cases {
			unchanged(t, cl(i), bkt, func() {
				resp := c.raw(t, i%3, http.MethodPost, "/"+bkt+"?delete", tt.body, tt.header, true)
				wantS3Error(t, tt.name, resp, tt.status, tt.code)
				if tt.name == "no digest" && !strings.Contains(resp.Body, "Missing required header for this request: Content-MD5") {
					t.Fatalf("no digest: %s", resp.Body)
				}
			})
		}
		// The same document with a correct Content-MD5 is accepted.
		resp := c.raw(t, 1, http.MethodPost, "/"+bkt+"?delete", good, md5Header(good), true)
		if resp.Status != 200 || !strings.Contains(resp.Body, "<Deleted><Key>doc/a</Key></Deleted>") {
			t.Fatalf("with Content-MD5: %d %s", resp.Status, resp.Body)
		}
	})
}

func mustPutWith(t *testing.T, cl *s3.Client, in *s3.PutObjectInput) *s3.PutObjectOutput {
	t.Helper()
	out, err := cl.PutObject(ctxT(t), in)
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", aws.ToString(in.Bucket), aws.ToString(in.Key), err)
	}
	return out
}

func mustHead(t *testing.T, cl *s3.Client, bucket, key string) *s3.HeadObjectOutput {
	t.Helper()
	out, err := cl.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("HeadObject %s/%s: %v", bucket, key, err)
	}
	return out
}

// tagsOf renders an object's tag set as "k=v,k=v" in the order S3 returns.
func tagsOf(t *testing.T, cl *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := cl.GetObjectTagging(ctxT(t), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObjectTagging %s/%s: %v", bucket, key, err)
	}
	var parts []string
	for _, tg := range out.TagSet {
		parts = append(parts, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	return strings.Join(parts, ",")
}
