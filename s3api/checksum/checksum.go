package checksum

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"net/textproto"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/minio/crc64nvme"
	"github.com/zeebo/xxh3"
)

// Algorithm is one integrity algorithm. The zero value is not an algorithm;
// Valid reports false for it.
type Algorithm uint8

// The algorithms S3 supports for object integrity. MD5 is also the digest
// of Content-MD5 and of a single-part object's ETag.
//
// The values are not persisted anywhere (records name algorithms by their
// String), but they are kept stable anyway: the five of 2022 come first and
// the April 2026 additions follow MD5.
const (
	CRC32 Algorithm = iota + 1
	CRC32C
	CRC64NVME
	SHA1
	SHA256
	MD5
	SHA512
	XXHASH64
	XXHASH3
	XXHASH128

	numAlgorithms = int(XXHASH128) + 1
)

// Default is the checksum S3 computes and stores for an object, or the
// parts of a multipart upload, that arrives without one (since December
// 2024): a full-object CRC64NVME.
const Default = CRC64NVME

// maxSize is the largest digest, SHA512's.
const maxSize = sha512.Size

// ErrUnknownAlgorithm is returned by ParseAlgorithm for a name that is not one
// of the S3 checksum algorithms. S3 answers such a request with InvalidRequest
// ("Value for x-amz-checksum-algorithm header is invalid.").
var ErrUnknownAlgorithm = errors.New("checksum: unknown algorithm")

var names = [numAlgorithms]string{
	CRC32:     "crc32",
	CRC32C:    "crc32c",
	CRC64NVME: "crc64nvme",
	SHA1:      "sha1",
	SHA256:    "sha256",
	MD5:       "md5",
	SHA512:    "sha512",
	XXHASH64:  "xxhash64",
	XXHASH3:   "xxhash3",
	XXHASH128: "xxhash128",
}

var sizes = [numAlgorithms]int{
	CRC32:     crc32.Size,
	CRC32C:    crc32.Size,
	CRC64NVME: 8,
	SHA1:      sha1.Size,
	SHA256:    sha256.Size,
	MD5:       md5.Size,
	SHA512:    sha512.Size,
	XXHASH64:  8,
	XXHASH3:   8,
	XXHASH128: 16,
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// all lists the S3 checksum algorithms in the order of S3's
// ChecksumAlgorithm enumeration (API reference, April 2026).
var all = [...]Algorithm{CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH64, XXHASH3, XXHASH128}

// All returns every Algorithm, each of which may appear as an
// x-amz-checksum-* header or trailer, in S3's order. The caller owns the
// returned slice.
func All() []Algorithm {
	out := all
	return out[:]
}

// ParseAlgorithm returns the algorithm named by name, case-insensitively:
// the values of x-amz-checksum-algorithm and x-amz-sdk-checksum-algorithm
// ("CRC32", "CRC32C", "CRC64NVME", "MD5", "SHA1", "SHA256", "SHA512",
// "XXHASH64", "XXHASH3", "XXHASH128").
func ParseAlgorithm(name string) (Algorithm, error) {
	for _, a := range all {
		if strings.EqualFold(name, names[a]) {
			return a, nil
		}
	}
	return 0, ErrUnknownAlgorithm
}

// FromHeader returns the algorithm whose checksum header or trailer is named
// name ("x-amz-checksum-crc32c", any case). Content-MD5 is not such a
// header: it carries an MD5 too, but it is never a trailer and S3 treats it
// apart from the x-amz-checksum-* headers, so it is not recognised here.
func FromHeader(name string) (Algorithm, bool) {
	const prefix = "x-amz-checksum-"
	if len(name) <= len(prefix) || !strings.EqualFold(name[:len(prefix)], prefix) {
		return 0, false
	}
	a, err := ParseAlgorithm(name[len(prefix):])
	if err != nil {
		return 0, false
	}
	return a, true
}

// Valid reports whether a is one of the defined algorithms.
func (a Algorithm) Valid() bool { return a >= CRC32 && a <= XXHASH128 }

// String returns the lowercase name ("crc32c", "md5", "xxhash128"), the key
// of checksums in records; for an invalid value, "unknown".
func (a Algorithm) String() string {
	if !a.Valid() {
		return "unknown"
	}
	return names[a]
}

// HeaderName returns the lowercase header (and trailer) name carrying a's
// checksum, "x-amz-checksum-crc32c"; "" for an invalid value. For MD5 it is
// "x-amz-checksum-md5", not Content-MD5.
func (a Algorithm) HeaderName() string {
	if !a.Valid() {
		return ""
	}
	return headerNames[a]
}

// CanonicalHeader returns HeaderName in net/http's canonical form
// ("X-Amz-Checksum-Crc32c"), "" for an invalid value: an http.Header
// indexed with it directly costs no allocation, where Get with the
// lowercase name builds the canonical key on every call, and every
// PutObject and UploadPart looks up all ten algorithms.
func (a Algorithm) CanonicalHeader() string {
	if !a.Valid() {
		return ""
	}
	return canonicalHeaders[a]
}

// headerNames and canonicalHeaders are built once from names, so that no
// request pays for the concatenation.
var headerNames, canonicalHeaders = func() (h, c [numAlgorithms]string) {
	for _, a := range all {
		h[a] = "x-amz-checksum-" + names[a]
		c[a] = textproto.CanonicalMIMEHeaderKey(h[a])
	}
	return h, c
}()

// Size returns the digest length in bytes.
func (a Algorithm) Size() int {
	if !a.Valid() {
		return 0
	}
	return sizes[a]
}

// New returns a fresh hash for a. Its Sum appends the big-endian digest,
// which is what S3 base64-encodes; for the xxHashes that is the canonical
// representation of the xxHash specification (XXH128: high 64 bits first).
// New panics for an invalid Algorithm.
func (a Algorithm) New() hash.Hash {
	switch a {
	case CRC32:
		return crc32.NewIEEE()
	case CRC32C:
		return crc32.New(castagnoli)
	case CRC64NVME:
		return crc64nvme.New()
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case MD5:
		return md5.New()
	case SHA512:
		return sha512.New()
	case XXHASH64:
		return xxhash.New()
	case XXHASH3:
		return xxh3.New()
	case XXHASH128:
		return xxh3.New128()
	}
	panic("checksum: New called on invalid Algorithm")
}

// Of returns the wire form (base64) of a's checksum of data.
func (a Algorithm) Of(data []byte) string {
	h := a.New()
	h.Write(data)
	var buf [maxSize]byte
	return Encode(h.Sum(buf[:0]))
}

// ValidValue reports whether v is a well-formed wire value for a: standard
// base64 (padded) of exactly Size bytes. S3 rejects a malformed value with
// InvalidRequest before comparing it.
func (a Algorithm) ValidValue(v string) bool {
	var buf decodeBuf
	_, ok := a.decode(v, &buf)
	return ok
}

// decodeBuf holds the decoding of any value of a valid encoded length. It
// must be larger than the largest digest: 88 characters of base64 without
// padding decode to 66 bytes, which are refused after decoding, not written
// past the end of a 64-byte buffer.
type decodeBuf [(maxSize + 2) / 3 * 3]byte

// decode decodes v, which must be standard padded base64 of exactly
// a.Size() bytes, into buf.
func (a Algorithm) decode(v string, buf *decodeBuf) ([]byte, bool) {
	if !a.Valid() || len(v) != base64.StdEncoding.EncodedLen(a.Size()) {
		return nil, false
	}
	n, err := base64.StdEncoding.Decode(buf[:], []byte(v))
	if err != nil || n != a.Size() {
		return nil, false
	}
	return buf[:n], true
}

// Encode returns the S3 wire form of a digest: standard, padded base64.
func Encode(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }
