package server_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/crc64nvme"
	"github.com/minio/minio-go/v7"
)

// End-to-end tests of multipart uploads and blob-backed (large) objects
// through the real SDKs against an in-process 3-node cluster: the upload
// manager of aws-sdk-go-v2, minio-go, and the low-level multipart API with
// S3's error semantics. Crash, restart and garbage collection of blobs are
// in largeobject_test.go.

const mib = 1 << 20

// testData returns n pseudo-random bytes, the same for the same seed, so
// that every part and object differs from every other.
func testData(n int, seed byte) []byte {
	var s [32]byte
	s[0] = seed
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// splitParts cuts b into parts of size bytes, the last one shorter.
func splitParts(b []byte, size int) [][]byte {
	var parts [][]byte
	for len(b) > size {
		parts = append(parts, b[:size])
		b = b[size:]
	}
	return append(parts, b)
}

// md5ETag is a single-part object's ETag, quoted as the SDKs return it.
func md5ETag(b []byte) string { return fmt.Sprintf("%q", fmt.Sprintf("%x", md5.Sum(b))) }

// multipartETag is S3's ETag of a multipart object: the MD5 of the
// concatenated binary part MD5s, "-" and the number of parts, quoted.
func multipartETag(parts ...[]byte) string {
	var cat []byte
	for _, p := range parts {
		s := md5.Sum(p)
		cat = append(cat, s[:]...)
	}
	return fmt.Sprintf("%q", fmt.Sprintf("%x-%d", md5.Sum(cat), len(parts)))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crcBytes(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// crc32B64 and crc32cB64 are S3's base64 full-object checksums.
func crc32B64(b []byte) string {
	return base64.StdEncoding.EncodeToString(crcBytes(crc32.ChecksumIEEE(b)))
}
func crc32cB64(b []byte) string {
	return base64.StdEncoding.EncodeToString(crcBytes(crc32.Checksum(b, castagnoli)))
}

// compositeCRC32 is S3's COMPOSITE CRC32 of a multipart object:
// base64(CRC32(part CRC32s concatenated)) + "-N".
func compositeCRC32(parts ...[]byte) string {
	var cat []byte
	for _, p := range parts {
		cat = append(cat, crcBytes(crc32.ChecksumIEEE(p))...)
	}
	return crc32B64(cat) + "-" + strconv.Itoa(len(parts))
}

// mustCreateUpload starts a multipart upload through cl.
func mustCreateUpload(t *testing.T, cl *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := cl.CreateMultipartUpload(ctxT(t), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("CreateMultipartUpload %s/%s: %v", bucket, key, err)
	}
	if aws.ToString(out.UploadId) == "" {
		t.Fatalf("CreateMultipartUpload %s/%s: no upload ID", bucket, key)
	}
	return aws.ToString(out.UploadId)
}

// uploadPart sends one part with the SDK's default settings (a CRC32 of
// the part included).
func uploadPart(t *testing.T, cl *s3.Client, bucket, key, uploadID string, n int32, body []byte) (*s3.UploadPartOutput, error) {
	t.Helper()
	return cl.UploadPart(ctxT(t), &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		PartNumber: aws.Int32(n), Body: bytes.NewReader(body),
	})
}

// mustUploadPart uploads a part and checks its ETag is the body's MD5.
func mustUploadPart(t *testing.T, cl *s3.Client, bucket, key, uploadID string, n int32, body []byte) types.CompletedPart {
	t.Helper()
	out, err := uploadPart(t, cl, bucket, key, uploadID, n, body)
	if err != nil {
		t.Fatalf("UploadPart %d of %s/%s: %v", n, bucket, key, err)
	}
	if got, want := aws.ToString(out.ETag), md5ETag(body); got != want {
		t.Fatalf("UploadPart %d of %s/%s: ETag %s, want %s", n, bucket, key, got, want)
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag}
}

// completeInput lists parts for CompleteMultipartUpload.
func completeInput(bucket, key, uploadID string, parts ...types.CompletedPart) *s3.CompleteMultipartUploadInput {
	return &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
}

func completedPart(n int32, etag string) types.CompletedPart {
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(etag)}
}

// getBytes reads a whole object (or the part or range in extra) through cl.
func getBytes(t *testing.T, cl *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := cl.GetObject(ctxT(t), in)
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", aws.ToString(in.Bucket), aws.ToString(in.Key), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %s/%s: reading the body: %v", aws.ToString(in.Bucket), aws.ToString(in.Key), err)
	}
	return b, out
}

func getInput(bucket, key string) *s3.GetObjectInput {
	return &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
}

// wantSameBytes fails with a short description instead of dumping MiBs.
func wantSameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	at := 0
	for at < len(got) && at < len(want) && got[at] == want[at] {
		at++
	}
	t.Fatalf("%s: %d bytes (md5 %x), want %d bytes (md5 %x); first difference at byte %d",
		what, len(got), md5.Sum(got), len(want), md5.Sum(want), at)
}

// wantAPIError fails unless err is the S3 error code with that HTTP status.
func wantAPIError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	if err == nil || apiCode(err) != code || !isHTTPStatus(err, status) {
		t.Fatalf("%s: got %v, want %d %s", what, err, status, code)
	}
}

// TestMultipart runs the multipart API and large single-part objects
// through aws-sdk-go-v2 (its upload manager and the low-level calls) and
// minio-go, spreading the calls over the three nodes: uploads go through a
// follower, reads through the other nodes.
func TestMultipart(t *testing.T) {
	c := startCluster(t, 3, nil)
	const bkt = "multipart"
	mustCreateBucket(t, c.client(c.follower()), bkt)

	t.Run("UploadManager", func(t *testing.T) { testUploadManager(t, c, bkt) })
	t.Run("Minio", func(t *testing.T) { testMinioMultipart(t, c, bkt) })
	t.Run("LargeSinglePut", func(t *testing.T) { testLargeSinglePut(t, c, bkt) })
	t.Run("PartNumberLimits", func(t *testing.T) { testPartNumberLimits(t, c, bkt) })
	t.Run("CompleteSemantics", func(t *testing.T) { testCompleteSemantics(t, c, bkt) })
	t.Run("ListParts", func(t *testing.T) { testListParts(t, c, bkt) })
	t.Run("ListMultipartUploads", func(t *testing.T) { testListMultipartUploads(t, c) })
	t.Run("Abort", func(t *testing.T) { testAbort(t, c, bkt) })
	t.Run("ConcurrentCompletes", func(t *testing.T) { testConcurrentCompletes(t, c, bkt) })
	t.Run("UploadPartCopy", func(t *testing.T) { testUploadPartCopy(t, c, bkt) })
	t.Run("CopyLargeObject", func(t *testing.T) { testCopyLargeObject(t, c, bkt) })
	t.Run("DeleteMultipartObject", func(t *testing.T) { testDeleteMultipartObject(t, c, bkt) })
	t.Run("DefaultChecksum", func(t *testing.T) { testDefaultChecksum(t, c, bkt) })
}

// testUploadManager uploads 17 MiB with the SDK's upload manager (5 MiB
// parts, 3 at a time, default checksums: CRC32 per part and a COMPOSITE
// object checksum) through a follower and reads it back through the other
// nodes, whole, by part number, by ranges and with the download manager.
func testUploadManager(t *testing.T, c *testCluster, bkt string) {
	const key = "manager/17mib"
	data := testData(17*mib, 1)
	parts := splitParts(data, 5*mib)
	if len(parts) != 4 {
		t.Fatalf("test bug: %d parts", len(parts))
	}
	l := c.waitLeader()
	f := c.follower()
	other := c.follower(f) // the third node, also a follower

	//lint:ignore SA1019 the upload manager is what applications use today; transfermanager is its successor
	up := manager.NewUploader(c.client(f), func(u *manager.Uploader) {
		u.PartSize = 5 * mib
		u.Concurrency = 3
	})
	//lint:ignore SA1019 see NewUploader
	out, err := up.Upload(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("upload manager: %v", err)
	}
	wantETag, wantCRC := multipartETag(parts...), compositeCRC32(parts...)
	if got := aws.ToString(out.ETag); got != wantETag {
		t.Errorf("upload manager: ETag %s, want %s", got, wantETag)
	}
	if len(out.CompletedParts) != 4 {
		t.Errorf("upload manager: %d completed parts, want 4", len(out.CompletedParts))
	}
	if got := aws.ToString(out.ChecksumCRC32); got != wantCRC {
		t.Errorf("CompleteMultipartUpload: x-amz-checksum-crc32 %q, want %q (COMPOSITE of the part CRC32s)", got, wantCRC)
	}
	if out.ChecksumType != "" && out.ChecksumType != types.ChecksumTypeComposite {
		t.Errorf("CompleteMultipartUpload: checksum type %q, want COMPOSITE", out.ChecksumType)
	}

	t.Run("Get", func(t *testing.T) {
		got, res := getBytes(t, c.client(other), getInput(bkt, key))
		wantSameBytes(t, "GET through the other follower", got, data)
		if aws.ToString(res.ETag) != wantETag || aws.ToInt64(res.ContentLength) != int64(len(data)) {
			t.Fatalf("GET: ETag %s length %d, want %s %d", aws.ToString(res.ETag), aws.ToInt64(res.ContentLength), wantETag, len(data))
		}
	})

	t.Run("HeadChecksum", func(t *testing.T) {
		h, err := c.client(l).HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(h.ChecksumCRC32) != wantCRC || h.ChecksumType != types.ChecksumTypeComposite {
			t.Fatalf("HeadObject with checksum mode: crc32 %q type %q, want %q COMPOSITE", aws.ToString(h.ChecksumCRC32), h.ChecksumType, wantCRC)
		}
		if aws.ToString(h.ETag) != wantETag || aws.ToInt64(h.ContentLength) != int64(len(data)) {
			t.Fatalf("HeadObject: ETag %s length %d", aws.ToString(h.ETag), aws.ToInt64(h.ContentLength))
		}
		// A whole GET with checksum mode: the SDK validates what it can
		// (it skips a composite "-N" value) and the body must be intact.
		in := getInput(bkt, key)
		in.ChecksumMode = types.ChecksumModeEnabled
		got, res := getBytes(t, c.client(f), in)
		wantSameBytes(t, "GET with checksum mode", got, data)
		if aws.ToString(res.ChecksumCRC32) != wantCRC {
			t.Fatalf("GET with checksum mode: crc32 %q, want %q", aws.ToString(res.ChecksumCRC32), wantCRC)
		}
	})

	t.Run("PartNumber", func(t *testing.T) {
		for _, n := range []int32{1, 2, 4} {
			in := getInput(bkt, key)
			in.PartNumber = aws.Int32(n)
			got, res := getBytes(t, c.client(other), in)
			want := parts[n-1]
			wantSameBytes(t, fmt.Sprintf("GET partNumber=%d", n), got, want)
			start := int64(n-1) * 5 * mib
			wantRange := fmt.Sprintf("bytes %d-%d/%d", start, start+int64(len(want))-1, len(data))
			if aws.ToInt32(res.PartsCount) != 4 || aws.ToString(res.ContentRange) != wantRange || aws.ToInt64(res.ContentLength) != int64(len(want)) {
				t.Fatalf("GET partNumber=%d: parts count %d, Content-Range %q, length %d; want 4, %q, %d",
					n, aws.ToInt32(res.PartsCount), aws.ToString(res.ContentRange), aws.ToInt64(res.ContentLength), wantRange, len(want))
			}
			if aws.ToString(res.ETag) != wantETag {
				t.Fatalf("GET partNumber=%d: ETag %s, want the object's %s", n, aws.ToString(res.ETag), wantETag)
			}
			// S3 answers a part GET with that part's checksum (the SDK has
			// validated it while reading); a full-object value here would
			// be wrong.
			if v := aws.ToString(res.ChecksumCRC32); v != "" && !strings.Contains(v, "-") && v != crc32B64(want) {
				t.Fatalf("GET partNumber=%d: crc32 %q, want the part's %q", n, v, crc32B64(want))
			}
		}
		h, err := c.client(l).HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), PartNumber: aws.Int32(3)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(h.PartsCount) != 4 || aws.ToInt64(h.ContentLength) != 5*mib {
			t.Fatalf("HEAD partNumber=3: parts count %d length %d", aws.ToInt32(h.PartsCount), aws.ToInt64(h.ContentLength))
		}
		in := getInput(bkt, key)
		in.PartNumber = aws.Int32(5)
		_, err = c.client(f).GetObject(ctxT(t), in)
		if apiCode(err) != "InvalidPartNumber" || !isHTTPStatus(err, 416) {
			t.Fatalf("GET partNumber=5 of 4: %v, want 416 InvalidPartNumber", err)
		}
	})

	t.Run("Ranges", func(t *testing.T) {
		for _, r := range []struct{ from, to int }{
			{5*mib - 1000, 5*mib + 999},  // across the boundary of parts 1 and 2
			{5*mib - 1, 10 * mib},        // the end of part 1, all of part 2, the start of part 3
			{15 * mib, 17*mib - 1},       // exactly the last part
			{17*mib - 100, 17*mib - 100}, // one byte
		} {
			in := getInput(bkt, key)
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", r.from, r.to))
			got, res := getBytes(t, c.client(r.from%3), in)
			wantSameBytes(t, "GET "+aws.ToString(in.Range), got, data[r.from:r.to+1])
			if want := fmt.Sprintf("bytes %d-%d/%d", r.from, r.to, len(data)); aws.ToString(res.ContentRange) != want {
				t.Fatalf("GET %s: Content-Range %q, want %q", aws.ToString(in.Range), aws.ToString(res.ContentRange), want)
			}
		}
		in := getInput(bkt, key)
		in.Range = aws.String("bytes=-100")
		got, _ := getBytes(t, c.client(other), in)
		wantSameBytes(t, "GET bytes=-100", got, data[len(data)-100:])
	})

	t.Run("DownloadManager", func(t *testing.T) {
		// 4 MiB ranges, so that most of them straddle two parts.
		quiet := func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true } // ranges carry no checksum
		//lint:ignore SA1019 see NewUploader
		d := manager.NewDownloader(newClient(c.nodes[other].S3URL(), testAccessKey, testSecretKey, quiet), func(d *manager.Downloader) {
			d.PartSize = 4 * mib
			d.Concurrency = 3
		})
		buf := manager.NewWriteAtBuffer(make([]byte, 0, len(data)))
		//lint:ignore SA1019 see NewUploader
		n, err := d.Download(ctxT(t), buf, getInput(bkt, key))
		if err != nil {
			t.Fatalf("download manager: %v", err)
		}
		if n != int64(len(data)) {
			t.Fatalf("download manager: %d bytes, want %d", n, len(data))
		}
		wantSameBytes(t, "download manager", buf.Bytes(), data)
	})
}

// minioChecksumClient is minio-go with trailing headers enabled, which is
// what makes it send S3 checksums.
func minioChecksumClient(t *testing.T, c *testCluster, i int) *minio.Client {
	return c.minioClient(t, i, func(o *minio.Options) { o.TrailingHeaders = true })
}

func minioGet(t *testing.T, mc *minio.Client, bkt, key string) []byte {
	t.Helper()
	obj, err := mc.GetObject(ctxT(t), bkt, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("minio GetObject %s: %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("minio GetObject %s: %v", key, err)
	}
	return b
}

// testMinioMultipart: minio-go uploads a stream of unknown length in
// 5 MiB parts (always multipart), without checksums and with a
// FULL_OBJECT CRC32C, and reads it back byte for byte.
func testMinioMultipart(t *testing.T, c *testCluster, bkt string) {
	f := c.follower()
	other := c.follower(f)
	data := testData(12*mib, 2)
	parts := splitParts(data, 5*mib)

	t.Run("UnknownSize", func(t *testing.T) {
		// An io.Reader that is not a *bytes.Reader, so minio-go cannot find
		// the size on its own.
		info, err := c.minioClient(t, f).PutObject(ctxT(t), bkt, "minio/stream", io.MultiReader(bytes.NewReader(data)), -1,
			minio.PutObjectOptions{PartSize: 5 * mib, ContentType: "application/x-test"})
		if err != nil {
			t.Fatalf("minio PutObject of unknown size: %v", err)
		}
		if want := strings.Trim(multipartETag(parts...), `"`); info.ETag != want || info.Size != int64(len(data)) {
			t.Fatalf("minio PutObject: ETag %s size %d, want %s %d", info.ETag, info.Size, want, len(data))
		}
		wantSameBytes(t, "minio GET", minioGet(t, c.minioClient(t, other), bkt, "minio/stream"), data)
		st, err := c.minioClient(t, c.waitLeader()).StatObject(ctxT(t), bkt, "minio/stream", minio.StatObjectOptions{})
		if err != nil || st.Size != int64(len(data)) || st.ContentType != "application/x-test" {
			t.Fatalf("minio StatObject: %+v %v", st, err)
		}
	})

	t.Run("FullObjectCRC32C", func(t *testing.T) {
		info, err := minioChecksumClient(t, c, f).PutObject(ctxT(t), bkt, "minio/crc", io.MultiReader(bytes.NewReader(data)), -1,
			minio.PutObjectOptions{PartSize: 5 * mib, Checksum: minio.ChecksumFullObjectCRC32C})
		if err != nil {
			t.Fatalf("minio PutObject with a full-object CRC32C: %v", err)
		}
		if info.ChecksumCRC32C != crc32cB64(data) {
			t.Errorf("minio PutObject: crc32c %q, want %q", info.ChecksumCRC32C, crc32cB64(data))
		}
		wantSameBytes(t, "minio GET", minioGet(t, c.minioClient(t, other), bkt, "minio/crc"), data)
		st, err := c.minioClient(t, other).StatObject(ctxT(t), bkt, "minio/crc", minio.StatObjectOptions{Checksum: true})
		if err != nil {
			t.Fatal(err)
		}
		if st.ChecksumCRC32C != crc32cB64(data) || st.ChecksumMode != "FULL_OBJECT" {
			t.Fatalf("minio StatObject with checksum: crc32c %q mode %q, want %q FULL_OBJECT", st.ChecksumCRC32C, st.ChecksumMode, crc32cB64(data))
		}
	})
}

// testLargeSinglePut writes 3 MiB objects (blob-backed: far above the
// inline threshold) in one PutObject with each SDK, with a checksum, and
// reads them back through other nodes with checksum validation.
func testLargeSinglePut(t *testing.T, c *testCluster, bkt string) {
	f := c.follower()
	other := c.follower(f)
	l := c.waitLeader()

	t.Run("AWS", func(t *testing.T) {
		data := testData(3*mib, 3)
		put, err := c.client(f).PutObject(ctxT(t), &s3.PutObjectInput{
			Bucket: aws.String(bkt), Key: aws.String("single/aws"), Body: bytes.NewReader(data),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		})
		if err != nil {
			t.Fatalf("PutObject 3 MiB: %v", err)
		}
		if aws.ToString(put.ETag) != md5ETag(data) || aws.ToString(put.ChecksumCRC32C) != crc32cB64(data) {
			t.Fatalf("PutObject: ETag %s crc32c %q, want %s %q", aws.ToString(put.ETag), aws.ToString(put.ChecksumCRC32C), md5ETag(data), crc32cB64(data))
		}
		in := getInput(bkt, "single/aws")
		in.ChecksumMode = types.ChecksumModeEnabled
		got, res := getBytes(t, c.client(other), in) // the SDK validates the CRC32C as it reads
		wantSameBytes(t, "GET", got, data)
		if aws.ToString(res.ChecksumCRC32C) != crc32cB64(data) || aws.ToString(res.ETag) != md5ETag(data) {
			t.Fatalf("GET: crc32c %q ETag %s", aws.ToString(res.ChecksumCRC32C), aws.ToString(res.ETag))
		}
		if res.PartsCount != nil {
			t.Fatalf("GET of a single-part object: parts count %d, want none", aws.ToInt32(res.PartsCount))
		}
		if !c.holdsBlob(t, f, data) {
			t.Fatalf("no blob file on node %d holds the 3 MiB body", f+1)
		}
		in = getInput(bkt, "single/aws")
		in.Range = aws.String("bytes=1048000-2097999")
		got, _ = getBytes(t, c.client(l), in)
		wantSameBytes(t, "GET range", got, data[1048000:2098000])
	})

	t.Run("Minio", func(t *testing.T) {
		data := testData(3*mib, 4)
		info, err := minioChecksumClient(t, c, f).PutObject(ctxT(t), bkt, "single/minio", bytes.NewReader(data), int64(len(data)),
			minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C})
		if err != nil {
			t.Fatalf("minio PutObject 3 MiB: %v", err)
		}
		if want := strings.Trim(md5ETag(data), `"`); info.ETag != want {
			t.Fatalf("minio PutObject: ETag %s, want %s", info.ETag, want)
		}
		wantSameBytes(t, "minio GET", minioGet(t, c.minioClient(t, other), bkt, "single/minio"), data)
		if !c.holdsBlob(t, f, data) {
			t.Fatalf("no blob file on node %d holds the 3 MiB body", f+1)
		}
		st, err := c.minioClient(t, l).StatObject(ctxT(t), bkt, "single/minio", minio.StatObjectOptions{Checksum: true})
		if err != nil || st.ChecksumCRC32C != crc32cB64(data) {
			t.Fatalf("minio StatObject with checksum: crc32c %q, want %q (%v)", st.ChecksumCRC32C, crc32cB64(data), err)
		}
		// And the other SDK reads what this one wrote.
		got, _ := getBytes(t, c.client(l), getInput(bkt, "single/minio"))
		wantSameBytes(t, "aws GET of the minio object", got, data)
	})
}

// testPartNumberLimits: S3 part numbers run from 1 to 10000.
func testPartNumberLimits(t *testing.T, c *testCluster, bkt string) {
	cl := c.client(c.follower())
	id := mustCreateUpload(t, cl, bkt, "limits/obj")
	for _, n := range []int32{0, 10001, -1} {
		_, err := uploadPart(t, cl, bkt, "limits/obj", id, n, []byte("x"))
		wantAPIError(t, fmt.Sprintf("UploadPart number %d", n), err, 400, "InvalidArgument")
	}
	mustUploadPart(t, cl, bkt, "limits/obj", id, 10000, []byte("last"))
	if _, err := cl.AbortMultipartUpload(ctxT(t), &s3.AbortMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String("limits/obj"), UploadId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
}

// testCompleteSemantics: the errors CompleteMultipartUpload answers
// (EntityTooSmall, InvalidPartOrder, InvalidPart, PreconditionFailed) leave
// the upload usable; re-uploading a part number replaces the part.
func testCompleteSemantics(t *testing.T, c *testCluster, bkt string) {
	const key = "complete/obj"
	f := c.follower()
	cl := c.client(f)
	other := c.client(c.follower(f))
	existing := mustPut(t, cl, bkt, key, "the object before the upload")

	id := mustCreateUpload(t, cl, bkt, key)
	small := []byte("a small first part")
	big := testData(5*mib, 5)
	p1small := mustUploadPart(t, cl, bkt, key, id, 1, small)
	p2 := mustUploadPart(t, other, bkt, key, id, 2, big) // parts may arrive through any node

	complete := func(parts ...types.CompletedPart) error {
		_, err := c.client(c.waitLeader()).CompleteMultipartUpload(ctxT(t), completeInput(bkt, key, id, parts...))
		return err
	}
	wantAPIError(t, "Complete with a small first part", complete(p1small, p2), 400, "EntityTooSmall")
	wantAPIError(t, "Complete with parts in descending order", complete(p2, p1small), 400, "InvalidPartOrder")
	wantAPIError(t, "Complete listing a part number twice", complete(p2, p2), 400, "InvalidPartOrder")
	wantAPIError(t, "Complete listing a part never uploaded", complete(completedPart(3, md5ETag([]byte("never")))), 400, "InvalidPart")
	wantAPIError(t, "Complete with a wrong ETag", complete(completedPart(2, md5ETag(small))), 400, "InvalidPart")

	// Replace part 1 with a 5 MiB one: the old ETag no longer completes.
	big1 := testData(5*mib, 6)
	p1 := mustUploadPart(t, other, bkt, key, id, 1, big1)
	wantAPIError(t, "Complete with the replaced part's ETag", complete(p1small, p2), 400, "InvalidPart")

	// Conditional completes against the existing object.
	in := completeInput(bkt, key, id, p1, p2)
	in.IfNoneMatch = aws.String("*")
	_, err := cl.CompleteMultipartUpload(ctxT(t), in)
	wantAPIError(t, "Complete with If-None-Match: * over an existing key", err, 412, "PreconditionFailed")
	in = completeInput(bkt, key, id, p1, p2)
	in.IfMatch = aws.String(md5ETag([]byte("some other content")))
	_, err = cl.CompleteMultipartUpload(ctxT(t), in)
	wantAPIError(t, "Complete with a wrong If-Match", err, 412, "PreconditionFailed")
	if got := mustGet(t, other, bkt, key); got != "the object before the upload" {
		t.Fatalf("refused completes changed the object: %q", got)
	}
	lp, err := other.ListParts(ctxT(t), &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id)})
	if err != nil {
		t.Fatalf("ListParts after refused completes: %v", err)
	}
	if len(lp.Parts) != 2 || aws.ToString(lp.Parts[0].ETag) != md5ETag(big1) || aws.ToInt64(lp.Parts[0].Size) != 5*mib {
		t.Fatalf("ListParts after refused completes: %d parts, first %s", len(lp.Parts), aws.ToString(lp.Parts[0].ETag))
	}

	// The upload is still usable: complete it, conditionally on the
	// current ETag.
	in = completeInput(bkt, key, id, p1, p2)
	in.IfMatch = existing.ETag
	done, err := cl.CompleteMultipartUpload(ctxT(t), in)
	if err != nil {
		t.Fatalf("Complete with the right If-Match: %v", err)
	}
	if want := multipartETag(big1, big); aws.ToString(done.ETag) != want {
		t.Fatalf("Complete: ETag %s, want %s", aws.ToString(done.ETag), want)
	}
	if aws.ToString(done.Key) != key || aws.ToString(done.Bucket) != bkt {
		t.Fatalf("Complete: bucket %q key %q", aws.ToString(done.Bucket), aws.ToString(done.Key))
	}
	got, res := getBytes(t, other, getInput(bkt, key))
	wantSameBytes(t, "completed object", got, append(append([]byte(nil), big1...), big...))
	if aws.ToString(res.ETag) != aws.ToString(done.ETag) {
		t.Fatalf("GET: ETag %s, Complete said %s", aws.ToString(res.ETag), aws.ToString(done.ETag))
	}
	// The same request again, as a client retries a Complete whose answer
	// it lost: S3 answers with the result (its If-Match no longer holds).
	again, err := other.CompleteMultipartUpload(ctxT(t), in, noRetries)
	if err != nil || aws.ToString(again.ETag) != aws.ToString(done.ETag) {
		t.Fatalf("a repeated Complete: ETag %s, %v; want the first answer's %s", aws.ToString(again.ETag), err, aws.ToString(done.ETag))
	}

	// Once completed, the upload is gone.
	_, err = uploadPart(t, cl, bkt, key, id, 3, []byte("late"))
	wantAPIError(t, "UploadPart after Complete", err, 404, "NoSuchUpload")
}

// testListParts pages through an upload's parts.
func testListParts(t *testing.T, c *testCluster, bkt string) {
	const key = "listparts/obj"
	cl := c.client(c.follower())
	id := mustCreateUpload(t, cl, bkt, key)
	var bodies [][]byte
	for n := int32(1); n <= 5; n++ {
		b := testData(1000+int(n), byte(10+n))
		bodies = append(bodies, b)
		mustUploadPart(t, c.client(int(n)%3), bkt, key, id, n, b)
	}
	var seen []int32
	marker := ""
	for page := 0; ; page++ {
		in := &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id), MaxParts: aws.Int32(2)}
		if marker != "" {
			in.PartNumberMarker = aws.String(marker)
		}
		out, err := c.client(page%3).ListParts(ctxT(t), in)
		if err != nil {
			t.Fatalf("ListParts page %d: %v", page, err)
		}
		if aws.ToString(out.UploadId) != id || aws.ToString(out.Key) != key || aws.ToInt32(out.MaxParts) != 2 {
			t.Fatalf("ListParts page %d: upload %q key %q max %d", page, aws.ToString(out.UploadId), aws.ToString(out.Key), aws.ToInt32(out.MaxParts))
		}
		for _, p := range out.Parts {
			n := aws.ToInt32(p.PartNumber)
			seen = append(seen, n)
			if aws.ToString(p.ETag) != md5ETag(bodies[n-1]) || aws.ToInt64(p.Size) != int64(len(bodies[n-1])) || p.LastModified == nil {
				t.Fatalf("ListParts: part %d ETag %s size %d", n, aws.ToString(p.ETag), aws.ToInt64(p.Size))
			}
		}
		wantTrunc := page < 2
		if aws.ToBool(out.IsTruncated) != wantTrunc {
			t.Fatalf("ListParts page %d: truncated %v, want %v", page, aws.ToBool(out.IsTruncated), wantTrunc)
		}
		if !wantTrunc {
			break
		}
		next := aws.ToString(out.NextPartNumberMarker)
		if want := strconv.Itoa(2 * (page + 1)); next != want {
			t.Fatalf("ListParts page %d: NextPartNumberMarker %q, want %q", page, next, want)
		}
		marker = next
	}
	if fmt.Sprint(seen) != "[1 2 3 4 5]" {
		t.Fatalf("ListParts pages listed parts %v", seen)
	}
	// The SDK's paginator walks the same pages.
	var all []int32
	p := s3.NewListPartsPaginator(cl, &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id), MaxParts: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range page.Parts {
			all = append(all, aws.ToInt32(part.PartNumber))
		}
	}
	if fmt.Sprint(all) != "[1 2 3 4 5]" {
		t.Fatalf("ListParts paginator listed %v", all)
	}
	// A marker past the last part: an empty, complete page.
	out, err := cl.ListParts(ctxT(t), &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id), PartNumberMarker: aws.String("5")})
	if err != nil || len(out.Parts) != 0 || aws.ToBool(out.IsTruncated) {
		t.Fatalf("ListParts after the last part: %v parts, truncated %v, %v", len(out.Parts), aws.ToBool(out.IsTruncated), err)
	}
	_, err = cl.ListParts(ctxT(t), &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String("no-such-upload")})
	wantAPIError(t, "ListParts of an unknown upload", err, 404, "NoSuchUpload")
	if _, err := cl.AbortMultipartUpload(ctxT(t), &s3.AbortMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
}

// testListMultipartUploads lists a bucket's uploads with prefixes,
// delimiters, markers and pages, in a bucket of its own.
func testListMultipartUploads(t *testing.T, c *testCluster) {
	const bkt = "mpu-list"
	f := c.follower()
	cl := c.client(f)
	mustCreateBucket(t, cl, bkt)
	// Created one after another through one node, so creation order and
	// upload-ID order agree for the two uploads of b/1.
	type up struct{ key, id string }
	var ups []up
	for _, k := range []string{"b/1", "a/2", "c", "a/1", "b/1"} {
		ups = append(ups, up{k, mustCreateUpload(t, cl, bkt, k)})
	}
	a1, a2, b1x, b1y, cc := ups[3], ups[1], ups[0], ups[4], ups[2]
	want := []up{a1, a2, b1x, b1y, cc} // by key, then by creation

	list := func(t *testing.T, node int, in *s3.ListMultipartUploadsInput) ([]up, []string, *s3.ListMultipartUploadsOutput) {
		t.Helper()
		in.Bucket = aws.String(bkt)
		out, err := c.client(node).ListMultipartUploads(ctxT(t), in)
		if err != nil {
			t.Fatalf("ListMultipartUploads: %v", err)
		}
		var got []up
		for _, u := range out.Uploads {
			if u.Initiated == nil {
				t.Fatalf("ListMultipartUploads: upload %s of %s has no Initiated time", aws.ToString(u.UploadId), aws.ToString(u.Key))
			}
			got = append(got, up{aws.ToString(u.Key), aws.ToString(u.UploadId)})
		}
		var prefixes []string
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(p.Prefix))
		}
		return got, prefixes, out
	}
	same := func(a, b []up) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

	t.Run("All", func(t *testing.T) {
		got, prefixes, out := list(t, 0, &s3.ListMultipartUploadsInput{})
		if !same(got, want) || len(prefixes) != 0 || aws.ToBool(out.IsTruncated) {
			t.Fatalf("all uploads: %v %v truncated %v, want %v", got, prefixes, aws.ToBool(out.IsTruncated), want)
		}
	})
	t.Run("Prefix", func(t *testing.T) {
		got, _, out := list(t, 1, &s3.ListMultipartUploadsInput{Prefix: aws.String("a/")})
		if !same(got, []up{a1, a2}) || aws.ToString(out.Prefix) != "a/" {
			t.Fatalf("prefix a/: %v (echoed prefix %q)", got, aws.ToString(out.Prefix))
		}
		got, _, _ = list(t, 2, &s3.ListMultipartUploadsInput{Prefix: aws.String("b/1")})
		if !same(got, []up{b1x, b1y}) {
			t.Fatalf("prefix b/1: %v", got)
		}
		got, _, _ = list(t, 0, &s3.ListMultipartUploadsInput{Prefix: aws.String("zzz")})
		if len(got) != 0 {
			t.Fatalf("prefix zzz: %v", got)
		}
	})
	t.Run("Delimiter", func(t *testing.T) {
		got, prefixes, out := list(t, 1, &s3.ListMultipartUploadsInput{Delimiter: aws.String("/")})
		if !same(got, []up{cc}) || fmt.Sprint(prefixes) != "[a/ b/]" || aws.ToString(out.Delimiter) != "/" {
			t.Fatalf("delimiter /: uploads %v prefixes %v", got, prefixes)
		}
		got, prefixes, _ = list(t, 2, &s3.ListMultipartUploadsInput{Prefix: aws.String("a/"), Delimiter: aws.String("/")})
		if !same(got, []up{a1, a2}) || len(prefixes) != 0 {
			t.Fatalf("prefix a/, delimiter /: uploads %v prefixes %v", got, prefixes)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		var all []up
		keyMarker, idMarker := "", ""
		for page := 0; ; page++ {
			in := &s3.ListMultipartUploadsInput{MaxUploads: aws.Int32(2)}
			if keyMarker != "" {
				in.KeyMarker, in.UploadIdMarker = aws.String(keyMarker), aws.String(idMarker)
			}
			got, _, out := list(t, page%3, in)
			all = append(all, got...)
			wantTrunc := page < 2
			if aws.ToBool(out.IsTruncated) != wantTrunc || len(got) != min(2, len(want)-2*page) {
				t.Fatalf("page %d: %v truncated %v", page, got, aws.ToBool(out.IsTruncated))
			}
			if !wantTrunc {
				break
			}
			last := got[len(got)-1]
			if aws.ToString(out.NextKeyMarker) != last.key || aws.ToString(out.NextUploadIdMarker) != last.id {
				t.Fatalf("page %d: next markers %q %q, want %q %q", page, aws.ToString(out.NextKeyMarker), aws.ToString(out.NextUploadIdMarker), last.key, last.id)
			}
			keyMarker, idMarker = last.key, last.id
		}
		if !same(all, want) {
			t.Fatalf("pages listed %v, want %v", all, want)
		}
		// The SDK's paginator gets the same.
		var viaPaginator []up
		p := s3.NewListMultipartUploadsPaginator(cl, &s3.ListMultipartUploadsInput{Bucket: aws.String(bkt), MaxUploads: aws.Int32(2)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range out.Uploads {
				viaPaginator = append(viaPaginator, up{aws.ToString(u.Key), aws.ToString(u.UploadId)})
			}
		}
		if !same(viaPaginator, want) {
			t.Fatalf("paginator listed %v, want %v", viaPaginator, want)
		}
	})
	t.Run("Markers", func(t *testing.T) {
		// With an upload-id-marker: the key-marker's later uploads, then
		// the later keys.
		got, _, _ := list(t, 0, &s3.ListMultipartUploadsInput{KeyMarker: aws.String("b/1"), UploadIdMarker: aws.String(b1x.id)})
		if !same(got, []up{b1y, cc}) {
			t.Fatalf("key-marker b/1, upload-id-marker of its first upload: %v, want %v", got, []up{b1y, cc})
		}
		// Without one, S3 lists only keys after the key-marker.
		got, _, _ = list(t, 1, &s3.ListMultipartUploadsInput{KeyMarker: aws.String("b/1")})
		if !same(got, []up{cc}) {
			t.Fatalf("key-marker b/1 without an upload-id-marker: %v, want only %v (S3 lists keys after the marker)", got, []up{cc})
		}
		got, _, _ = list(t, 2, &s3.ListMultipartUploadsInput{KeyMarker: aws.String("a/10")})
		if !same(got, []up{a2, b1x, b1y, cc}) {
			t.Fatalf("key-marker a/10: %v", got)
		}
	})
	_, err := cl.ListMultipartUploads(ctxT(t), &s3.ListMultipartUploadsInput{Bucket: aws.String("no-such-mpu-bucket")})
	wantAPIError(t, "ListMultipartUploads of a missing bucket", err, 404, "NoSuchBucket")
	for _, u := range ups {
		if _, err := cl.AbortMultipartUpload(ctxT(t), &s3.AbortMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String(u.key), UploadId: aws.String(u.id)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, _, _ := list(t, 0, &s3.ListMultipartUploadsInput{}); len(got) != 0 {
		t.Fatalf("after aborting every upload: %v", got)
	}
}

// testAbort: an aborted upload is gone for every operation.
func testAbort(t *testing.T, c *testCluster, bkt string) {
	const key = "abort/obj"
	f := c.follower()
	cl, other := c.client(f), c.client(c.waitLeader())
	id := mustCreateUpload(t, cl, bkt, key)
	p1 := mustUploadPart(t, cl, bkt, key, id, 1, testData(100<<10, 20))
	abort := &s3.AbortMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id)}
	if _, err := other.AbortMultipartUpload(ctxT(t), abort); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	// The SDK models NoSuchUpload only for AbortMultipartUpload; the
	// other operations get it as an error code.
	_, err := uploadPart(t, cl, bkt, key, id, 2, []byte("after abort"))
	wantAPIError(t, "UploadPart after abort", err, 404, "NoSuchUpload")
	_, err = cl.CompleteMultipartUpload(ctxT(t), completeInput(bkt, key, id, p1))
	wantAPIError(t, "Complete after abort", err, 404, "NoSuchUpload")
	_, err = cl.ListParts(ctxT(t), &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id)})
	wantAPIError(t, "ListParts after abort", err, 404, "NoSuchUpload")
	_, err = cl.AbortMultipartUpload(ctxT(t), abort)
	var nsu *types.NoSuchUpload
	if !errors.As(err, &nsu) || !isHTTPStatus(err, 404) {
		t.Fatalf("a second abort: %v, want the typed 404 NoSuchUpload", err)
	}
	if _, err := cl.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bkt), Key: aws.String(key)}); !isHTTPStatus(err, 404) {
		t.Fatalf("the aborted upload's key exists: %v", err)
	}
	// An upload ID is bound to its key.
	id2 := mustCreateUpload(t, cl, bkt, key)
	_, err = uploadPart(t, cl, bkt, "abort/other-key", id2, 1, []byte("x"))
	wantAPIError(t, "UploadPart to an upload of another key", err, 404, "NoSuchUpload")
	if _, err := cl.AbortMultipartUpload(ctxT(t), &s3.AbortMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id2)}); err != nil {
		t.Fatal(err)
	}
}

// testConcurrentCompletes: uploads to one key completed at once through
// different nodes, each with If-None-Match: *, create the object once.
func testConcurrentCompletes(t *testing.T, c *testCluster, bkt string) {
	const key, n = "race/obj", 6
	type upload struct {
		node int
		id   string
		part types.CompletedPart
		body []byte
	}
	ups := make([]upload, n)
	for i := range ups {
		u := &ups[i]
		u.node = i % 3
		u.body = testData(70<<10+i, byte(30+i))
		cl := c.client(u.node)
		u.id = mustCreateUpload(t, cl, bkt, key)
		u.part = mustUploadPart(t, cl, bkt, key, u.id, 1, u.body)
	}
	errs := make([]error, n)
	etags := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ups {
		wg.Go(func() {
			<-start
			in := completeInput(bkt, key, ups[i].id, ups[i].part)
			in.IfNoneMatch = aws.String("*")
			// The SDK's retries are safe here: a retried Complete that
			// was applied answers with its result, one that lost the
			// race answers 412 again.
			out, err := c.client(ups[i].node).CompleteMultipartUpload(ctxT(t), in)
			errs[i] = err
			if err == nil {
				etags[i] = aws.ToString(out.ETag)
			}
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("uploads %d and %d both completed with If-None-Match: *", winner, i)
			}
			winner = i
		case isHTTPStatus(err, 412) && apiCode(err) == "PreconditionFailed",
			isHTTPStatus(err, 409) && apiCode(err) == "ConditionalRequestConflict":
		default:
			t.Fatalf("Complete %d: %v, want success, 412 PreconditionFailed or 409 ConditionalRequestConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Complete succeeded")
	}
	got, res := getBytes(t, c.client((winner+1)%3), getInput(bkt, key))
	wantSameBytes(t, "the winner's object", got, ups[winner].body)
	if aws.ToString(res.ETag) != etags[winner] || etags[winner] != multipartETag(ups[winner].body) {
		t.Fatalf("GET: ETag %s, the winner's Complete said %s, want %s", aws.ToString(res.ETag), etags[winner], multipartETag(ups[winner].body))
	}
	// The losers' uploads are still there and can be aborted.
	for i, u := range ups {
		if i == winner {
			continue
		}
		if _, err := c.client(i%3).AbortMultipartUpload(ctxT(t), &s3.AbortMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(u.id)}); err != nil {
			t.Fatalf("aborting the losing upload %d: %v", i, err)
		}
	}
}

// testUploadPartCopy builds an object from a blob-backed object: a byte
// range of it, all of it, and its last bytes, each copied into a part.
func testUploadPartCopy(t *testing.T, c *testCluster, bkt string) {
	f := c.follower()
	cl, other := c.client(f), c.client(c.follower(f))
	src := testData(6*mib, 40)
	mustPutWith(t, cl, &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("partcopy/src"), Body: bytes.NewReader(src)})

	const key = "partcopy/dst"
	id := mustCreateUpload(t, cl, bkt, key)
	copyPart := func(t *testing.T, via *s3.Client, n int32, rng string, want []byte) types.CompletedPart {
		t.Helper()
		in := &s3.UploadPartCopyInput{
			Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(n),
			CopySource: aws.String(bkt + "/partcopy/src"),
		}
		if rng != "" {
			in.CopySourceRange = aws.String(rng)
		}
		out, err := via.UploadPartCopy(ctxT(t), in)
		if err != nil {
			t.Fatalf("UploadPartCopy part %d range %q: %v", n, rng, err)
		}
		if out.CopyPartResult == nil || aws.ToString(out.CopyPartResult.ETag) != md5ETag(want) {
			t.Fatalf("UploadPartCopy part %d range %q: result %+v, want ETag %s", n, rng, out.CopyPartResult, md5ETag(want))
		}
		return completedPart(n, aws.ToString(out.CopyPartResult.ETag))
	}
	r1, r3 := src[100:100+5*mib], src[6*mib-777:]
	p1 := copyPart(t, other, 1, fmt.Sprintf("bytes=100-%d", 100+5*mib-1), r1)
	p2 := copyPart(t, cl, 2, "", src)
	p3 := copyPart(t, other, 3, fmt.Sprintf("bytes=%d-%d", 6*mib-777, 6*mib-1), r3)
	// A range past the source's end is refused.
	_, err := cl.UploadPartCopy(ctxT(t), &s3.UploadPartCopyInput{
		Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(4),
		CopySource: aws.String(bkt + "/partcopy/src"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", 6*mib-10, 6*mib+10)),
	})
	if err == nil || !(isHTTPStatus(err, 416) || isHTTPStatus(err, 400)) {
		t.Fatalf("UploadPartCopy with a range past the end: %v, want 400 or 416", err)
	}

	done, err := cl.CompleteMultipartUpload(ctxT(t), completeInput(bkt, key, id, p1, p2, p3))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if want := multipartETag(r1, src, r3); aws.ToString(done.ETag) != want {
		t.Fatalf("Complete: ETag %s, want %s", aws.ToString(done.ETag), want)
	}
	got, _ := getBytes(t, c.client(c.waitLeader()), getInput(bkt, key))
	wantSameBytes(t, "object made by UploadPartCopy", got, bytes.Join([][]byte{r1, src, r3}, nil))
}

// testCopyLargeObject copies blob-backed objects, single-part and
// multipart, with CopyObject.
func testCopyLargeObject(t *testing.T, c *testCluster, bkt string) {
	f := c.follower()
	cl, other := c.client(f), c.client(c.follower(f))
	src := testData(4*mib, 50)
	put := mustPutWith(t, cl, &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("copy/src"), Body: bytes.NewReader(src),
		ContentType: aws.String("application/x-large"), Metadata: map[string]string{"origin": "copy-test"}})

	out, err := other.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("copy/dst"), CopySource: aws.String(bkt + "/copy/src")})
	if err != nil {
		t.Fatalf("CopyObject of a 4 MiB object: %v", err)
	}
	if out.CopyObjectResult == nil || aws.ToString(out.CopyObjectResult.ETag) != aws.ToString(put.ETag) {
		t.Fatalf("CopyObject: result %+v, want ETag %s", out.CopyObjectResult, aws.ToString(put.ETag))
	}
	got, res := getBytes(t, c.client(c.waitLeader()), getInput(bkt, "copy/dst"))
	wantSameBytes(t, "copy", got, src)
	if aws.ToString(res.ContentType) != "application/x-large" || res.Metadata["origin"] != "copy-test" {
		t.Fatalf("copy: type %q metadata %v", aws.ToString(res.ContentType), res.Metadata)
	}
	// Overwriting the source leaves the copy alone: copies share no blob.
	mustPutWith(t, cl, &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("copy/src"), Body: bytes.NewReader(testData(2*mib, 51))})
	got, _ = getBytes(t, other, getInput(bkt, "copy/dst"))
	wantSameBytes(t, "copy after its source was overwritten", got, src)

	// A multipart object copies too (its ETag is S3's to choose).
	id := mustCreateUpload(t, cl, bkt, "copy/mp")
	a, b := testData(5*mib, 52), testData(300<<10, 53)
	pa := mustUploadPart(t, cl, bkt, "copy/mp", id, 1, a)
	pb := mustUploadPart(t, cl, bkt, "copy/mp", id, 2, b)
	if _, err := cl.CompleteMultipartUpload(ctxT(t), completeInput(bkt, "copy/mp", id, pa, pb)); err != nil {
		t.Fatal(err)
	}
	if _, err := other.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("copy/mp-dst"), CopySource: aws.String(bkt + "/copy/mp")}); err != nil {
		t.Fatalf("CopyObject of a multipart object: %v", err)
	}
	got, _ = getBytes(t, cl, getInput(bkt, "copy/mp-dst"))
	wantSameBytes(t, "copy of a multipart object", got, append(append([]byte(nil), a...), b...))
}

// testDeleteMultipartObject: a deleted multipart object is gone.
func testDeleteMultipartObject(t *testing.T, c *testCluster, bkt string) {
	const key = "delete/mp"
	cl := c.client(c.follower())
	id := mustCreateUpload(t, cl, bkt, key)
	p1 := mustUploadPart(t, cl, bkt, key, id, 1, testData(5*mib, 60))
	p2 := mustUploadPart(t, cl, bkt, key, id, 2, testData(10, 61))
	if _, err := cl.CompleteMultipartUpload(ctxT(t), completeInput(bkt, key, id, p1, p2)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client(c.waitLeader()).DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bkt), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	for i := range c.nodes {
		_, err := c.client(i).GetObject(ctxT(t), getInput(bkt, key))
		var nsk *types.NoSuchKey
		if !errors.As(err, &nsk) {
			t.Fatalf("GET through node %d after delete: %v, want NoSuchKey", i+1, err)
		}
	}
	in := getInput(bkt, key)
	in.PartNumber = aws.Int32(1)
	if _, err := cl.GetObject(ctxT(t), in); apiCode(err) != "NoSuchKey" {
		t.Fatalf("GET partNumber=1 after delete: %v, want NoSuchKey", err)
	}
}

func crc64nvmeB64(b []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, crc64nvme.Checksum(b)))
}

// testDefaultChecksum uploads with a client that sends no checksum (the
// SDK's "when required" setting, as older SDKs and plain HTTP clients do):
// like S3 since December 2024, the server stores a full-object CRC64NVME
// anyway, for an inline body, a blob body and a multipart upload created
// without an algorithm, and returns it on PUT, Complete and (checksum mode)
// HEAD and GET, where the SDK validates it.
func testDefaultChecksum(t *testing.T, c *testCluster, bkt string) {
	bare := func(i int) *s3.Client {
		return newClient(c.nodes[i%3].S3URL(), testAccessKey, testSecretKey, func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
	}
	check := func(t *testing.T, key string, body []byte, gotPut *string, typ types.ChecksumType) {
		t.Helper()
		want := crc64nvmeB64(body)
		if aws.ToString(gotPut) != want || typ != types.ChecksumTypeFullObject {
			t.Fatalf("%s: write answered crc64nvme %q type %q, want %q FULL_OBJECT", key, aws.ToString(gotPut), typ, want)
		}
		head, err := c.client(1).HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(head.ChecksumCRC64NVME) != want || head.ChecksumCRC32 != nil || head.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("%s: HEAD crc64nvme %q crc32 %v type %q, want %q FULL_OBJECT only", key,
				aws.ToString(head.ChecksumCRC64NVME), head.ChecksumCRC32, head.ChecksumType, want)
		}
		in := getInput(bkt, key)
		in.ChecksumMode = types.ChecksumModeEnabled
		got, out := getBytes(t, c.client(2), in)
		wantSameBytes(t, key, got, body)
		if aws.ToString(out.ChecksumCRC64NVME) != want {
			t.Fatalf("%s: GET crc64nvme %q, want %q", key, aws.ToString(out.ChecksumCRC64NVME), want)
		}
	}

	for _, tt := range []struct {
		name string
		size int
	}{{"inline", 1000}, {"blob", 300 << 10}} {
		t.Run(tt.name, func(t *testing.T) {
			key := "default-checksum/" + tt.name
			body := testData(tt.size, 41)
			out, err := bare(0).PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), Body: bytes.NewReader(body)})
			if err != nil {
				t.Fatal(err)
			}
			check(t, key, body, out.ChecksumCRC64NVME, out.ChecksumType)
		})
	}

	t.Run("multipart", func(t *testing.T) {
		key := "default-checksum/multipart"
		p1, p2 := testData(5*mib, 42), testData(4321, 43)
		id := mustCreateUpload(t, bare(1), bkt, key)
		parts := []types.CompletedPart{
			mustUploadPart(t, bare(2), bkt, key, id, 1, p1),
			mustUploadPart(t, bare(0), bkt, key, id, 2, p2),
		}
		out, err := bare(1).CompleteMultipartUpload(ctxT(t), completeInput(bkt, key, id, parts...))
		if err != nil {
			t.Fatal(err)
		}
		check(t, key, append(bytes.Clone(p1), p2...), out.ChecksumCRC64NVME, out.ChecksumType)
	})
}
