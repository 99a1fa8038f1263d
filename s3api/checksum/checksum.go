package checksum

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"strings"

	"github.com/minio/crc64nvme"
)

// Algorithm is one integrity algorithm. The zero value is not an algorithm;
// Valid reports false for it.
type Algorithm uint8

// The algorithms S3 supports for object integrity, plus MD5 for Content-MD5
// and the ETag.
const (
	CRC32 Algorithm = iota + 1
	CRC32C
	CRC64NVME
	SHA1
	SHA256
	MD5

	numAlgorithms = int(MD5) + 1
)

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
}

var sizes = [numAlgorithms]int{
	CRC32:     crc32.Size,
	CRC32C:    crc32.Size,
	CRC64NVME: 8,
	SHA1:      sha1.Size,
	SHA256:    sha256.Size,
	MD5:       md5.Size,
}

var headerNames = [numAlgorithms]string{
	CRC32:     "x-amz-checksum-crc32",
	CRC32C:    "x-amz-checksum-crc32c",
	CRC64NVME: "x-amz-checksum-crc64nvme",
	SHA1:      "x-amz-checksum-sha1",
	SHA256:    "x-amz-checksum-sha256",
	MD5:       "Content-MD5",
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// all lists the S3 checksum algorithms (MD5 excluded) in the order S3's
// documentation gives them.
var all = [...]Algorithm{CRC32, CRC32C, CRC64NVME, SHA1, SHA256}

// All returns the algorithms that may appear as x-amz-checksum-* headers or
// trailers: every Algorithm except MD5. The caller owns the returned slice.
func All() []Algorithm {
	out := all
	return out[:]
}

// ParseAlgorithm returns the algorithm named by name, case-insensitively:
// "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" (the values of
// x-amz-checksum-algorithm) or "MD5".
func ParseAlgorithm(name string) (Algorithm, error) {
	for a := CRC32; a <= MD5; a++ {
		if strings.EqualFold(name, names[a]) {
			return a, nil
		}
	}
	return 0, ErrUnknownAlgorithm
}

// FromHeader returns the algorithm whose checksum header or trailer is named
// name ("x-amz-checksum-crc32c", any case). MD5 is not returned: Content-MD5
// is not a checksum header in this sense and may not be a trailer.
func FromHeader(name string) (Algorithm, bool) {
	const prefix = "x-amz-checksum-"
	if len(name) <= len(prefix) || !strings.EqualFold(name[:len(prefix)], prefix) {
		return 0, false
	}
	a, err := ParseAlgorithm(name[len(prefix):])
	if err != nil || a == MD5 {
		return 0, false
	}
	return a, true
}

// Valid reports whether a is one of the defined algorithms.
func (a Algorithm) Valid() bool { return a >= CRC32 && a <= MD5 }

// String returns the lowercase name: "crc32", "crc32c", "crc64nvme", "sha1",
// "sha256" or "md5"; for an invalid value, "unknown".
func (a Algorithm) String() string {
	if !a.Valid() {
		return "unknown"
	}
	return names[a]
}

// HeaderName returns the lowercase header (and trailer) name carrying a's
// checksum, "x-amz-checksum-crc32c"; for MD5 it is "Content-MD5".
func (a Algorithm) HeaderName() string {
	if !a.Valid() {
		return ""
	}
	return headerNames[a]
}

// Size returns the digest length in bytes.
func (a Algorithm) Size() int {
	if !a.Valid() {
		return 0
	}
	return sizes[a]
}

// New returns a fresh hash for a. Its Sum appends the big-endian digest,
// which is what S3 base64-encodes. New panics for an invalid Algorithm.
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
	}
	panic("checksum: New called on invalid Algorithm")
}

// Of returns the wire form (base64) of a's checksum of data.
func (a Algorithm) Of(data []byte) string {
	h := a.New()
	h.Write(data)
	var buf [sha256.Size]byte
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
// must be larger than sha256.Size: 44 characters of base64 without padding
// decode to 33 bytes, which are refused after decoding, not written past
// the end of a 32-byte buffer.
type decodeBuf [(sha256.Size + 2) / 3 * 3]byte

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
