package checksum

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/minio/minio-go/v7"
)

// Published digests of the April 2026 algorithms, in S3's wire form. The
// xxHash values are the canonical (big-endian) representations: the empty
// input's from the xxHash reference implementation, "Hello world"'s from
// the AWS CRT's own tests (awslabs/aws-checksums tests/xxhash_test.c), which
// write the digest bytes S3 clients send. SHA512 and MD5 of "abc" are the
// FIPS 180-2 and RFC 1321 test vectors.
func TestKnownValuesApril2026(t *testing.T) {
	tests := []struct {
		alg        Algorithm
		in, digest string // digest in hex
	}{
		{XXHASH64, "", "ef46db3751d8e999"},
		{XXHASH3, "", "2d06800538d394c2"},
		{XXHASH128, "", "99aa06d3014798d86001c324468d497f"},
		{XXHASH64, "Hello world", "c500b0c912b376d8"},
		{XXHASH3, "Hello world", "b6acb9d84a38ff74"},
		{XXHASH128, "Hello world", "7351f89812f97382b91d05b31e04dd7f"},
		{MD5, "abc", "900150983cd24fb0d6963f7d28e17f72"},
		{SHA512, "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
			"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
	}
	for _, tc := range tests {
		t.Run(tc.alg.String()+"/"+strconv.Quote(tc.in), func(t *testing.T) {
			want := b64hex(tc.digest)
			if got := tc.alg.Of([]byte(tc.in)); got != want {
				t.Errorf("Of(%q) = %s, want %s", tc.in, got, want)
			}
			if !tc.alg.ValidValue(want) {
				t.Errorf("ValidValue(%s) = false", want)
			}
			// Streamed in pieces, through a Set, the value is the same.
			s := NewSet(tc.alg)
			for i := range len(tc.in) {
				s.Write([]byte{tc.in[i]})
			}
			if got := s.Checksums()[tc.alg.String()]; got != want {
				t.Errorf("Set: %s, want %s", got, want)
			}
		})
	}
}

// minio-go was written to interoperate with S3 and sends all ten
// algorithms; its values must be ours, byte for byte, for lengths around
// the xxHash block and stripe sizes.
func TestMatchesMinioGo(t *testing.T) {
	theirs := map[Algorithm]minio.ChecksumType{
		CRC32: minio.ChecksumCRC32, CRC32C: minio.ChecksumCRC32C, CRC64NVME: minio.ChecksumCRC64NVME,
		MD5: minio.ChecksumMD5, SHA1: minio.ChecksumSHA1, SHA256: minio.ChecksumSHA256,
		SHA512: minio.ChecksumSHA512, XXHASH64: minio.ChecksumXXHash64,
		XXHASH3: minio.ChecksumXXHash3, XXHASH128: minio.ChecksumXXHash128,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 4<<10+3)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for _, a := range All() {
		m, ok := theirs[a]
		if !ok {
			t.Fatalf("no minio-go type for %v", a)
		}
		if got := strconv.Quote(m.String()); got != strconv.Quote(upper(a.String())) {
			t.Errorf("%v: minio-go names it %s", a, got)
		}
		if m.RawByteLen() != a.Size() {
			t.Errorf("%v: minio-go size %d, ours %d", a, m.RawByteLen(), a.Size())
		}
		for _, n := range []int{0, 1, 3, 16, 17, 128, 129, 240, 241, 1024, len(buf)} {
			if got, want := a.Of(buf[:n]), m.EncodeToString(buf[:n]); got != want {
				t.Errorf("%v of %d bytes = %s, minio-go %s", a, n, got, want)
			}
		}
	}
}

// COMPOSITE for the hashes is the hash of the concatenated binary part
// digests, then "-N"; minio-go computes the same value for the object it
// uploads.
func TestCompositeApril2026(t *testing.T) {
	parts := [][]byte{bytes.Repeat([]byte("a"), 5<<10), []byte("b"), nil}
	for _, a := range []Algorithm{MD5, SHA512, XXHASH64, XXHASH3, XXHASH128} {
		t.Run(a.String(), func(t *testing.T) {
			var sums []string
			var concat []byte
			for _, p := range parts {
				h := a.New()
				h.Write(p)
				d := h.Sum(nil)
				concat = append(concat, d...)
				sums = append(sums, base64.StdEncoding.EncodeToString(d))
			}
			got, err := Composite(a, sums)
			if err != nil {
				t.Fatal(err)
			}
			if want := a.Of(concat) + "-3"; got != want {
				t.Errorf("Composite = %s, want %s", got, want)
			}
			var mparts []minio.ObjectPart
			for i, s := range sums {
				p := minio.ObjectPart{PartNumber: i + 1}
				switch a {
				case MD5:
					p.ChecksumMD5 = s
				case SHA512:
					p.ChecksumSHA512 = s
				case XXHASH64:
					p.ChecksumXXHash64 = s
				case XXHASH3:
					p.ChecksumXXHash3 = s
				case XXHASH128:
					p.ChecksumXXHash128 = s
				}
				mparts = append(mparts, p)
			}
			c, err := minioType(a).CompositeChecksum(mparts)
			if err != nil {
				t.Fatal(err)
			}
			if theirs := c.Encoded() + "-3"; theirs != got {
				t.Errorf("minio-go composite %s, ours %s", theirs, got)
			}
			// A part value of another algorithm's size is refused.
			if _, err := Composite(a, []string{sums[0], CRC32.Of(nil)}); err == nil {
				t.Error("Composite accepted a CRC32 value")
			}
		})
	}
}

// Set.Checksums reports MD5 only when it was asked for: every Set computes
// it for the ETag, but an upload without x-amz-checksum-md5 has no MD5
// checksum.
func TestSetMD5Checksum(t *testing.T) {
	data := []byte("strongbox")
	if got := NewSet(SHA512).Checksums(); len(got) != 1 || got["sha512"] == "" {
		t.Errorf("Checksums without MD5 asked = %v", got)
	}
	s := NewSet(MD5)
	s.Write(data)
	if got := s.Checksums(); len(got) != 1 || got["md5"] != MD5.Of(data) {
		t.Errorf("Checksums with MD5 asked = %v", got)
	}
	if s.ETag() != hexOf(MD5, data) {
		t.Errorf("ETag = %s", s.ETag())
	}
}

func minioType(a Algorithm) minio.ChecksumType {
	switch a {
	case MD5:
		return minio.ChecksumMD5
	case SHA512:
		return minio.ChecksumSHA512
	case XXHASH64:
		return minio.ChecksumXXHash64
	case XXHASH3:
		return minio.ChecksumXXHash3
	case XXHASH128:
		return minio.ChecksumXXHash128
	}
	panic("no minio-go type for " + a.String())
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
