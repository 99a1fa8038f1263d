package server_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/cespare/xxhash/v2"
	"github.com/minio/minio-go/v7"
	"github.com/zeebo/xxh3"
)

// The checksum algorithms S3 added in April 2026, as the SDK names them.
var april2026 = []types.ChecksumAlgorithm{
	types.ChecksumAlgorithmMd5, types.ChecksumAlgorithmSha512,
	types.ChecksumAlgorithmXxhash64, types.ChecksumAlgorithmXxhash3, types.ChecksumAlgorithmXxhash128,
}

// wireSum computes alg's S3 wire value of data with the reference
// libraries directly (not Strongbox's checksum package): base64 of the
// big-endian digest.
func wireSum(alg types.ChecksumAlgorithm, data []byte) string {
	var d []byte
	switch alg {
	case types.ChecksumAlgorithmMd5:
		s := md5.Sum(data)
		d = s[:]
	case types.ChecksumAlgorithmSha512:
		s := sha512.Sum512(data)
		d = s[:]
	case types.ChecksumAlgorithmXxhash64:
		d = binary.BigEndian.AppendUint64(nil, xxhash.Sum64(data))
	case types.ChecksumAlgorithmXxhash3:
		d = binary.BigEndian.AppendUint64(nil, xxh3.Hash(data))
	case types.ChecksumAlgorithmXxhash128:
		s := xxh3.Hash128(data).Bytes()
		d = s[:]
	default:
		panic("wireSum: " + string(alg))
	}
	return base64.StdEncoding.EncodeToString(d)
}

// compositeSum is S3's COMPOSITE multipart checksum: the hash of the
// concatenated binary part digests, "-" and the number of parts.
func compositeSum(alg types.ChecksumAlgorithm, parts ...[]byte) string {
	var cat []byte
	for _, p := range parts {
		raw, _ := base64.StdEncoding.DecodeString(wireSum(alg, p))
		cat = append(cat, raw...)
	}
	return wireSum(alg, cat) + "-" + strconv.Itoa(len(parts))
}

// checksumSet is the value of each new algorithm in one of the SDK's
// checksum-carrying outputs; "" where absent.
type checksumSet map[types.ChecksumAlgorithm]string

func newSums(md5, sha512, x64, x3, x128 *string) checksumSet {
	return checksumSet{
		types.ChecksumAlgorithmMd5: aws.ToString(md5), types.ChecksumAlgorithmSha512: aws.ToString(sha512),
		types.ChecksumAlgorithmXxhash64: aws.ToString(x64), types.ChecksumAlgorithmXxhash3: aws.ToString(x3),
		types.ChecksumAlgorithmXxhash128: aws.ToString(x128),
	}
}

// only reports whether s holds exactly alg's value want.
func (s checksumSet) only(alg types.ChecksumAlgorithm, want string) bool {
	for a, v := range s {
		if (a == alg) != (v != "") || (a == alg && v != want) {
			return false
		}
	}
	return true
}

// putWith sets the PutObject input field carrying alg's value.
func putWith(in *s3.PutObjectInput, alg types.ChecksumAlgorithm, v string) {
	switch alg {
	case types.ChecksumAlgorithmMd5:
		in.ChecksumMD5 = aws.String(v)
	case types.ChecksumAlgorithmSha512:
		in.ChecksumSHA512 = aws.String(v)
	case types.ChecksumAlgorithmXxhash64:
		in.ChecksumXXHASH64 = aws.String(v)
	case types.ChecksumAlgorithmXxhash3:
		in.ChecksumXXHASH3 = aws.String(v)
	case types.ChecksumAlgorithmXxhash128:
		in.ChecksumXXHASH128 = aws.String(v)
	}
}

// TestChecksumAlgorithmsApril2026 runs MD5, SHA512, XXHASH64, XXHASH3 and
// XXHASH128 through a three-node cluster with aws-sdk-go-v2 and minio-go:
// written through one node, verified, stored, and read back through the
// others.
func TestChecksumAlgorithmsApril2026(t *testing.T) {
	c := startCluster(t, 3, nil)
	const bkt = "checksums"
	f := c.follower()
	other := c.follower(f)
	l := c.waitLeader()
	mustCreateBucket(t, c.client(f), bkt)
	// The SDK validates the response checksums it knows (SHA512 among
	// them) and logs the others as skipped: quiet that.
	quiet := func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }
	reader := func(i int) *s3.Client {
		return newClient(c.nodes[i].S3URL(), testAccessKey, testSecretKey, quiet)
	}

	// readBack checks GET and HEAD with checksum mode through two other
	// nodes than the writer, and the body.
	readBack := func(t *testing.T, key string, data []byte, alg types.ChecksumAlgorithm, want string) {
		t.Helper()
		h, err := reader(other).HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("HeadObject %s: %v", key, err)
		}
		if s := newSums(h.ChecksumMD5, h.ChecksumSHA512, h.ChecksumXXHASH64, h.ChecksumXXHASH3, h.ChecksumXXHASH128); !s.only(alg, want) ||
			h.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("HeadObject %s: %v type %q, want only %s %s", key, s, h.ChecksumType, alg, want)
		}
		in := getInput(bkt, key)
		in.ChecksumMode = types.ChecksumModeEnabled
		g, err := reader(l).GetObject(ctxT(t), in)
		if err != nil {
			t.Fatalf("GetObject %s: %v", key, err)
		}
		body, err := io.ReadAll(g.Body)
		g.Body.Close()
		if err != nil {
			t.Fatalf("GetObject %s: %v", key, err) // includes the SDK's SHA512 validation
		}
		wantSameBytes(t, "GetObject "+key, body, data)
		if s := newSums(g.ChecksumMD5, g.ChecksumSHA512, g.ChecksumXXHASH64, g.ChecksumXXHASH3, g.ChecksumXXHASH128); !s.only(alg, want) {
			t.Fatalf("GetObject %s: %v, want only %s %s", key, s, alg, want)
		}
	}

	t.Run("SDKComputesSHA512", func(t *testing.T) {
		for _, data := range [][]byte{[]byte("inline sha512"), testData(mib+1, 40)} {
			key := "sdk/sha512/" + strconv.Itoa(len(data))
			want := wireSum(types.ChecksumAlgorithmSha512, data)
			out, err := c.client(f).PutObject(ctxT(t), &s3.PutObjectInput{
				Bucket: aws.String(bkt), Key: aws.String(key), Body: bytes.NewReader(data),
				ChecksumAlgorithm: types.ChecksumAlgorithmSha512,
			})
			if err != nil {
				t.Fatalf("PutObject SHA512: %v", err)
			}
			if aws.ToString(out.ChecksumSHA512) != want || out.ChecksumType != types.ChecksumTypeFullObject {
				t.Fatalf("PutObject: sha512 %q type %q, want %q FULL_OBJECT", aws.ToString(out.ChecksumSHA512), out.ChecksumType, want)
			}
			readBack(t, key, data, types.ChecksumAlgorithmSha512, want)
		}
	})

	t.Run("PrecomputedValues", func(t *testing.T) {
		for i, alg := range april2026 {
			t.Run(string(alg), func(t *testing.T) {
				data := testData(1000+i, byte(50+i))
				want := wireSum(alg, data)
				key := "pre/" + string(alg)
				in := &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), Body: bytes.NewReader(data)}
				putWith(in, alg, want)
				out, err := c.client(f).PutObject(ctxT(t), in)
				if err != nil {
					t.Fatalf("PutObject %s: %v", alg, err)
				}
				if s := newSums(out.ChecksumMD5, out.ChecksumSHA512, out.ChecksumXXHASH64, out.ChecksumXXHASH3, out.ChecksumXXHASH128); !s.only(alg, want) {
					t.Fatalf("PutObject %s: %v", alg, s)
				}
				readBack(t, key, data, alg, want)

				// A wrong value: BadDigest, and nothing is stored.
				bad := &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("bad/" + string(alg)), Body: bytes.NewReader(data)}
				putWith(bad, alg, wireSum(alg, []byte("something else")))
				_, err = c.client(f).PutObject(ctxT(t), bad, noRetries)
				wantAPIError(t, "PutObject with a wrong "+string(alg), err, 400, "BadDigest")
				_, err = c.client(l).HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bkt), Key: aws.String("bad/" + string(alg))})
				var nf *types.NotFound
				if !errors.As(err, &nf) {
					t.Fatalf("HeadObject after a refused PUT: %v, want NotFound", err)
				}
			})
		}
	})

	t.Run("Copy", func(t *testing.T) {
		data := testData(2*mib, 60)
		mustPutWith(t, c.client(f), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("copy/src"), Body: bytes.NewReader(data)})
		out, err := c.client(other).CopyObject(ctxT(t), &s3.CopyObjectInput{
			Bucket: aws.String(bkt), Key: aws.String("copy/dst"), CopySource: aws.String(bkt + "/copy/src"),
			ChecksumAlgorithm: types.ChecksumAlgorithmXxhash64,
		})
		if err != nil {
			t.Fatalf("CopyObject with XXHASH64: %v", err)
		}
		want := wireSum(types.ChecksumAlgorithmXxhash64, data)
		r := out.CopyObjectResult
		if s := newSums(r.ChecksumMD5, r.ChecksumSHA512, r.ChecksumXXHASH64, r.ChecksumXXHASH3, r.ChecksumXXHASH128); !s.only(types.ChecksumAlgorithmXxhash64, want) {
			t.Fatalf("CopyObjectResult: %v, want xxhash64 %s", s, want)
		}
		readBack(t, "copy/dst", data, types.ChecksumAlgorithmXxhash64, want)
	})

	t.Run("MultipartXXHASH128", func(t *testing.T) {
		alg := types.ChecksumAlgorithmXxhash128
		cl := c.client(f)
		key := "mp/xxhash128"
		_, err := cl.CreateMultipartUpload(ctxT(t), &s3.CreateMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String(key),
			ChecksumAlgorithm: alg, ChecksumType: types.ChecksumTypeFullObject}, noRetries)
		wantAPIError(t, "CreateMultipartUpload XXHASH128 FULL_OBJECT", err, 400, "InvalidRequest")

		cr, err := cl.CreateMultipartUpload(ctxT(t), &s3.CreateMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String(key), ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatalf("CreateMultipartUpload XXHASH128: %v", err)
		}
		if cr.ChecksumAlgorithm != alg || cr.ChecksumType != types.ChecksumTypeComposite {
			t.Fatalf("CreateMultipartUpload: %q %q, want XXHASH128 COMPOSITE", cr.ChecksumAlgorithm, cr.ChecksumType)
		}
		id := cr.UploadId
		data := testData(5*mib+300, 70)
		parts := splitParts(data, 5*mib)
		var done []types.CompletedPart
		for i, p := range parts {
			n := aws.Int32(int32(i + 1))
			// The first part is copied from an object, the second uploaded.
			if i == 0 {
				mustPutWith(t, cl, &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("mp/src"), Body: bytes.NewReader(p)})
				pc, err := c.client(other).UploadPartCopy(ctxT(t), &s3.UploadPartCopyInput{Bucket: aws.String(bkt), Key: aws.String(key),
					UploadId: id, PartNumber: n, CopySource: aws.String(bkt + "/mp/src")})
				if err != nil {
					t.Fatalf("UploadPartCopy: %v", err)
				}
				if got := aws.ToString(pc.CopyPartResult.ChecksumXXHASH128); got != wireSum(alg, p) {
					t.Fatalf("CopyPartResult xxhash128 %q, want %q", got, wireSum(alg, p))
				}
				done = append(done, types.CompletedPart{PartNumber: n, ETag: pc.CopyPartResult.ETag, ChecksumXXHASH128: pc.CopyPartResult.ChecksumXXHASH128})
				continue
			}
			_, err := cl.UploadPart(ctxT(t), &s3.UploadPartInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: id, PartNumber: n,
				Body: bytes.NewReader(p), ChecksumXXHASH128: aws.String(wireSum(alg, parts[0]))}, noRetries)
			wantAPIError(t, "UploadPart with a wrong XXHASH128", err, 400, "BadDigest")
			up, err := cl.UploadPart(ctxT(t), &s3.UploadPartInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: id, PartNumber: n,
				Body: bytes.NewReader(p), ChecksumXXHASH128: aws.String(wireSum(alg, p))})
			if err != nil {
				t.Fatalf("UploadPart %d: %v", i+1, err)
			}
			if aws.ToString(up.ChecksumXXHASH128) != wireSum(alg, p) {
				t.Fatalf("UploadPart %d: xxhash128 %q", i+1, aws.ToString(up.ChecksumXXHASH128))
			}
			done = append(done, types.CompletedPart{PartNumber: n, ETag: up.ETag, ChecksumXXHASH128: up.ChecksumXXHASH128})
		}

		lp, err := c.client(l).ListParts(ctxT(t), &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: id})
		if err != nil || len(lp.Parts) != 2 || lp.ChecksumAlgorithm != alg {
			t.Fatalf("ListParts: %+v %v", lp, err)
		}
		for i, p := range lp.Parts {
			if aws.ToString(p.ChecksumXXHASH128) != wireSum(alg, parts[i]) {
				t.Fatalf("ListParts part %d: xxhash128 %q", i+1, aws.ToString(p.ChecksumXXHASH128))
			}
		}

		want := compositeSum(alg, parts...)
		out, err := c.client(other).CompleteMultipartUpload(ctxT(t), &s3.CompleteMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done}, ChecksumXXHASH128: aws.String(want)})
		if err != nil {
			t.Fatalf("CompleteMultipartUpload: %v", err)
		}
		if aws.ToString(out.ChecksumXXHASH128) != want || out.ChecksumType != types.ChecksumTypeComposite {
			t.Fatalf("CompleteMultipartUpload: xxhash128 %q type %q, want %q COMPOSITE", aws.ToString(out.ChecksumXXHASH128), out.ChecksumType, want)
		}

		attrs, err := c.client(l).GetObjectAttributes(ctxT(t), &s3.GetObjectAttributesInput{Bucket: aws.String(bkt), Key: aws.String(key),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts}})
		if err != nil {
			t.Fatalf("GetObjectAttributes: %v", err)
		}
		// GetObjectAttributes drops the -N part count, as S3 does.
		if attrs.Checksum == nil || aws.ToString(attrs.Checksum.ChecksumXXHASH128) != strings.TrimSuffix(want, "-2") || attrs.Checksum.ChecksumType != types.ChecksumTypeComposite {
			t.Fatalf("GetObjectAttributes Checksum: %+v", attrs.Checksum)
		}
		if attrs.ObjectParts == nil || len(attrs.ObjectParts.Parts) != 2 ||
			aws.ToString(attrs.ObjectParts.Parts[1].ChecksumXXHASH128) != wireSum(alg, parts[1]) {
			t.Fatalf("GetObjectAttributes ObjectParts: %+v", attrs.ObjectParts)
		}
		g, err := reader(other).GetObject(ctxT(t), getInput(bkt, key))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(g.Body)
		g.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantSameBytes(t, "GetObject "+key, body, data)
	})

	t.Run("Minio", func(t *testing.T) {
		mcs := map[types.ChecksumAlgorithm]minio.ChecksumType{
			types.ChecksumAlgorithmMd5: minio.ChecksumMD5, types.ChecksumAlgorithmSha512: minio.ChecksumSHA512,
			types.ChecksumAlgorithmXxhash64: minio.ChecksumXXHash64, types.ChecksumAlgorithmXxhash3: minio.ChecksumXXHash3,
			types.ChecksumAlgorithmXxhash128: minio.ChecksumXXHash128,
		}
		for i, alg := range april2026 {
			t.Run(string(alg), func(t *testing.T) {
				// A single PUT: minio-go sends the checksum as an
				// aws-chunked trailer.
				data := testData(3000+i, byte(80+i))
				key := "minio/" + string(alg)
				info, err := minioChecksumClient(t, c, f).PutObject(ctxT(t), bkt, key, bytes.NewReader(data), int64(len(data)),
					minio.PutObjectOptions{Checksum: mcs[alg]})
				if err != nil {
					t.Fatalf("minio PutObject %s: %v", alg, err)
				}
				want := wireSum(alg, data)
				if got := minioSum(alg, info.ChecksumMD5, info.ChecksumSHA512, info.ChecksumXXHash64, info.ChecksumXXHash3, info.ChecksumXXHash128); got != want {
					t.Errorf("minio PutObject %s: %q, want %q", alg, got, want)
				}
				st, err := c.minioClient(t, other).StatObject(ctxT(t), bkt, key, minio.StatObjectOptions{Checksum: true})
				if err != nil {
					t.Fatal(err)
				}
				if got := minioSum(alg, st.ChecksumMD5, st.ChecksumSHA512, st.ChecksumXXHash64, st.ChecksumXXHash3, st.ChecksumXXHash128); got != want {
					t.Fatalf("minio StatObject %s: %q, want %q", alg, got, want)
				}
				wantSameBytes(t, "minio GET", minioGet(t, c.minioClient(t, l), bkt, key), data)
			})
		}
		// Multipart: minio-go creates the upload with the algorithm, sends
		// each part's value and completes with the composite one.
		t.Run("MultipartXXHASH3", func(t *testing.T) {
			alg := types.ChecksumAlgorithmXxhash3
			data := testData(11*mib, 90)
			parts := splitParts(data, 5*mib)
			_, err := minioChecksumClient(t, c, f).PutObject(ctxT(t), bkt, "minio/mp", io.MultiReader(bytes.NewReader(data)), -1,
				minio.PutObjectOptions{PartSize: 5 * mib, Checksum: minio.ChecksumXXHash3})
			if err != nil {
				t.Fatalf("minio multipart PutObject XXHASH3: %v", err)
			}
			st, err := c.minioClient(t, other).StatObject(ctxT(t), bkt, "minio/mp", minio.StatObjectOptions{Checksum: true})
			if err != nil {
				t.Fatal(err)
			}
			if want := compositeSum(alg, parts...); st.ChecksumXXHash3 != want || st.ChecksumMode != "COMPOSITE" {
				t.Fatalf("minio StatObject: xxhash3 %q mode %q, want %q COMPOSITE", st.ChecksumXXHash3, st.ChecksumMode, want)
			}
			wantSameBytes(t, "minio GET", minioGet(t, c.minioClient(t, l), bkt, "minio/mp"), data)
		})
	})
}

// minioSum picks alg's value among minio-go's fields.
func minioSum(alg types.ChecksumAlgorithm, md5, sha512, x64, x3, x128 string) string {
	return map[types.ChecksumAlgorithm]string{
		types.ChecksumAlgorithmMd5: md5, types.ChecksumAlgorithmSha512: sha512,
		types.ChecksumAlgorithmXxhash64: x64, types.ChecksumAlgorithmXxhash3: x3, types.ChecksumAlgorithmXxhash128: x128,
	}[alg]
}
