package checksum

import (
	"encoding/hex"
	"hash"
)

// Set hashes one stream with MD5 (always: it is the ETag) and any further
// algorithms chosen at construction, in a single pass. It is an io.Writer;
// feed it the body (io.Copy, io.TeeReader or io.MultiWriter) and read the
// digests when the body is done. SHA256 is computed only when asked for: it
// is the costliest of the lot and needed only to verify a hex
// x-amz-content-sha256 or an x-amz-checksum-sha256.
//
// A Set is not safe for concurrent use.
type Set struct {
	hashes [numAlgorithms]hash.Hash
	list   []hash.Hash // the non-nil entries of hashes, in write order
	// asked records the algorithms NewSet was given: MD5 is always
	// computed, for the ETag, but is an S3 checksum of the stream (in
	// Checksums) only when asked for as one.
	asked [numAlgorithms]bool
	n     int64
}

// NewSet returns a Set computing MD5 and every algorithm in algs. Invalid and
// repeated algorithms are ignored.
func NewSet(algs ...Algorithm) *Set {
	s := &Set{list: make([]hash.Hash, 0, 1+len(algs))}
	s.add(MD5)
	for _, a := range algs {
		if a.Valid() {
			s.add(a)
			s.asked[a] = true
		}
	}
	return s
}

func (s *Set) add(a Algorithm) {
	if !a.Valid() || s.hashes[a] != nil {
		return
	}
	h := a.New()
	s.hashes[a] = h
	s.list = append(s.list, h)
}

// Write hashes p with every algorithm of the set. It never fails.
func (s *Set) Write(p []byte) (int, error) {
	for _, h := range s.list {
		h.Write(p)
	}
	s.n += int64(len(p))
	return len(p), nil
}

// Size returns the number of bytes written so far.
func (s *Set) Size() int64 { return s.n }

// Has reports whether the set computes a.
func (s *Set) Has(a Algorithm) bool { return a.Valid() && s.hashes[a] != nil }

// Sum returns a's digest of the bytes written so far, or nil when the set
// does not compute a. The Set stays usable: more writes continue the stream.
func (s *Set) Sum(a Algorithm) []byte {
	if !s.Has(a) {
		return nil
	}
	return s.hashes[a].Sum(nil)
}

// Base64 returns the S3 wire form of a's digest, and false when the set does
// not compute a.
func (s *Set) Base64(a Algorithm) (string, bool) {
	sum := s.Sum(a)
	if sum == nil {
		return "", false
	}
	return Encode(sum), true
}

// MD5 returns the raw MD5 digest (compare it with a decoded Content-MD5).
func (s *Set) MD5() []byte { return s.Sum(MD5) }

// ETag returns the lowercase hex MD5, which is a single-part object's ETag
// (unquoted).
func (s *Set) ETag() string { return hex.EncodeToString(s.Sum(MD5)) }

// SHA256Hex returns the lowercase hex SHA256 (the form of a signed
// x-amz-content-sha256), or "" when the set does not compute SHA256.
func (s *Set) SHA256Hex() string {
	if !s.Has(SHA256) {
		return ""
	}
	return hex.EncodeToString(s.Sum(SHA256))
}

// Checksums returns the wire form of every algorithm given to NewSet,
// keyed by lowercase algorithm name ("crc32c"), or nil when there is none.
// The MD5 every Set computes for the ETag is included only if it was given
// too (an x-amz-checksum-md5 upload).
func (s *Set) Checksums() map[string]string {
	var out map[string]string
	for _, a := range all {
		if !s.asked[a] {
			continue
		}
		if v, ok := s.Base64(a); ok {
			if out == nil {
				out = make(map[string]string, 2)
			}
			out[a.String()] = v
		}
	}
	return out
}

// Verify reports whether a's digest equals the wire value want. It is false
// when the set does not compute a.
func (s *Set) Verify(a Algorithm, want string) bool {
	got, ok := s.Base64(a)
	return ok && got == want
}
