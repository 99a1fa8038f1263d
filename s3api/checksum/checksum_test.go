package checksum

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/crc64nvme"
)

// Check values from the CRC catalogue ("123456789") and the usual digests of
// the same input, written in S3's wire form.
func TestKnownValues(t *testing.T) {
	const check = "123456789"
	tests := []struct {
		alg  Algorithm
		want string
	}{
		{CRC32, b64hex("cbf43926")},
		{CRC32C, b64hex("e3069283")},
		{CRC64NVME, b64hex("ae8b14860a799888")},
		{SHA1, b64hex("f7c3bc1d808e04732adf679965ccc34ca7ae3441")},
		{SHA256, b64hex("15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225")},
		{MD5, b64hex("25f9e794323b453885f5181f1b624d0b")},
	}
	for _, tc := range tests {
		t.Run(tc.alg.String(), func(t *testing.T) {
			if got := tc.alg.Of([]byte(check)); got != tc.want {
				t.Errorf("Of(%q) = %s, want %s", check, got, tc.want)
			}
			if !tc.alg.ValidValue(tc.want) {
				t.Errorf("ValidValue(%s) = false", tc.want)
			}
		})
	}
}

// The empty body's checksums, as S3 reports them for a zero-byte object.
func TestEmptyValues(t *testing.T) {
	for alg, want := range map[Algorithm]string{
		CRC32:     "AAAAAA==",
		CRC32C:    "AAAAAA==",
		CRC64NVME: "AAAAAAAAAAA=",
	} {
		if got := alg.Of(nil); got != want {
			t.Errorf("%s of empty = %s, want %s", alg, got, want)
		}
	}
}

// AWS's documented trailing-checksum example: 66560 bytes of 'a' have the
// CRC32C "sOO8/Q==".
func TestAWSDocumentedCRC32C(t *testing.T) {
	if got := CRC32C.Of(bytes.Repeat([]byte{'a'}, 66560)); got != "sOO8/Q==" {
		t.Errorf("CRC32C = %s, want sOO8/Q==", got)
	}
}

// CRC64NVME from minio/crc64nvme (accelerated) agrees with hash/crc64 driven
// by the reflected NVMe polynomial, across lengths that exercise every
// alignment and the SIMD block sizes, and when fed in pieces.
func TestCRC64NVMEMatchesReference(t *testing.T) {
	table := crc64.MakeTable(0x9a6c9329ac4bc9b5)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<16+17)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 1, 7, 8, 15, 16, 63, 64, 127, 128, 255, 256, 511, 512, 1023, 4096, 65536, len(buf)} {
		want := crc64.Checksum(buf[:n], table)
		h := CRC64NVME.New()
		h.Write(buf[:n/3])
		h.Write(buf[n/3 : n])
		got := binary.BigEndian.Uint64(h.Sum(nil))
		if got != want {
			t.Errorf("len %d: crc64nvme %x, hash/crc64 %x", n, got, want)
		}
		if direct := crc64nvme.Checksum(buf[:n]); direct != want {
			t.Errorf("len %d: crc64nvme.Checksum %x, want %x", n, direct, want)
		}
	}
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in   string
		want Algorithm
		err  bool
	}{
		{"CRC32", CRC32, false},
		{"crc32c", CRC32C, false},
		{"Crc64Nvme", CRC64NVME, false},
		{"SHA1", SHA1, false},
		{"sha256", SHA256, false},
		{"MD5", MD5, false},
		{"sha512", SHA512, false},
		{"XXHASH64", XXHASH64, false},
		{"xxHash3", XXHASH3, false},
		{"XXHASH128", XXHASH128, false},
		{"", 0, true},
		{"crc", 0, true},
		{"sha384", 0, true},
		{"xxhash", 0, true},
		{"xxhash32", 0, true},
		{"crc32 ", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseAlgorithm(tc.in)
		if tc.err {
			if !errors.Is(err, ErrUnknownAlgorithm) {
				t.Errorf("ParseAlgorithm(%q) err = %v, want ErrUnknownAlgorithm", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAlgorithm(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestNamesAndHeaders(t *testing.T) {
	if got, want := fmt.Sprint(All()), "[crc32 crc32c crc64nvme md5 sha1 sha256 sha512 xxhash64 xxhash3 xxhash128]"; got != want {
		t.Errorf("All() = %s, want %s", got, want)
	}
	for _, a := range All() {
		if h := a.HeaderName(); h != "x-amz-checksum-"+a.String() {
			t.Errorf("%v.HeaderName() = %q", a, h)
		}
		if got, ok := FromHeader(strings.ToUpper(a.HeaderName())); !ok || got != a {
			t.Errorf("FromHeader(%q) = %v, %v", a.HeaderName(), got, ok)
		}
		if p, err := ParseAlgorithm(strings.ToUpper(a.String())); err != nil || p != a {
			t.Errorf("round trip of %v failed", a)
		}
		if n := a.New().Size(); n != a.Size() {
			t.Errorf("%v: hash size %d, Size() %d", a, n, a.Size())
		}
	}
	// MD5 is an x-amz-checksum-* algorithm like the others; Content-MD5
	// is handled apart and is not a checksum header.
	if MD5.HeaderName() != "x-amz-checksum-md5" {
		t.Errorf("MD5 header = %q", MD5.HeaderName())
	}
	for _, bad := range []string{"x-amz-checksum-", "x-amz-checksum-mode", "content-md5", "Content-MD5", "x-amz-checksum-type", "x-amz-checksum-algorithm", "x-amz-checksum-xxhash32"} {
		if a, ok := FromHeader(bad); ok {
			t.Errorf("FromHeader(%q) = %v, want none", bad, a)
		}
	}
	var zero Algorithm
	if zero.Valid() || zero.String() != "unknown" || zero.HeaderName() != "" || zero.Size() != 0 {
		t.Error("zero Algorithm is not inert")
	}
	// The caller may not corrupt the package's list.
	All()[0] = SHA256
	if All()[0] != CRC32 {
		t.Error("All returned the package's own array")
	}
}

func TestValidValue(t *testing.T) {
	tests := []struct {
		alg  Algorithm
		v    string
		want bool
	}{
		{CRC32, "AAAAAA==", true},
		{CRC32, "AAAAAA=", false},
		{CRC32, "AAAAAAA=", false}, // 5 bytes' worth of characters, wrong length
		{CRC32, "AAAA", false},
		{CRC32, "!!!!!!==", false},
		{CRC64NVME, "AAAAAAAAAAA=", true},
		{CRC64NVME, "AAAAAA==", false},
		{SHA256, SHA256.Of(nil), true},
		{SHA1, SHA256.Of(nil), false},
	}
	// The right length without padding decodes to one byte more than the
	// algorithm's size (33 for SHA256): refused, never a panic.
	for _, a := range All() {
		n := len(a.Of(nil))
		tests = append(tests, struct {
			alg  Algorithm
			v    string
			want bool
		}{a, strings.Repeat("A", n), false})
	}
	for _, tc := range tests {
		if got := tc.alg.ValidValue(tc.v); got != tc.want {
			t.Errorf("%v.ValidValue(%q) = %v, want %v", tc.alg, tc.v, got, tc.want)
		}
	}
}

// Part checksums of the right length but without padding are refused by
// both combinations with an error, not a panic.
func TestCombineRefusesUnpaddedSums(t *testing.T) {
	for _, a := range All() {
		bad := strings.Repeat("A", len(a.Of(nil)))
		if a.SupportsComposite() {
			if _, err := Composite(a, []string{a.Of(nil), bad}); err == nil {
				t.Errorf("Composite(%v) accepted %q", a, bad)
			}
		}
		if a.SupportsFullObject() {
			if _, err := CombineFull(a, []PartSum{{Sum: a.Of(nil)}, {Sum: bad, Size: 1}}); err == nil {
				t.Errorf("CombineFull(%v) accepted %q", a, bad)
			}
		}
	}
}

// A Set computes every requested digest in one pass, exactly as hashing the
// whole input separately would, and never SHA256 unless asked.
func TestSet(t *testing.T) {
	data := bytes.Repeat([]byte("strongbox "), 100_000)

	s := NewSet(CRC32C, SHA256, CRC32C, 0, Algorithm(200))
	if _, err := io.Copy(s, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if s.Size() != int64(len(data)) {
		t.Errorf("Size = %d", s.Size())
	}
	if got, want := s.ETag(), hexOf(MD5, data); got != want {
		t.Errorf("ETag = %s, want %s", got, want)
	}
	if got, want := s.SHA256Hex(), hexOf(SHA256, data); got != want {
		t.Errorf("SHA256Hex = %s, want %s", got, want)
	}
	if got, ok := s.Base64(CRC32C); !ok || got != CRC32C.Of(data) {
		t.Errorf("Base64(CRC32C) = %s, %v", got, ok)
	}
	if !s.Verify(CRC32C, CRC32C.Of(data)) || s.Verify(CRC32C, "AAAAAA==") {
		t.Error("Verify(CRC32C) wrong")
	}
	if s.Has(CRC32) || s.Verify(CRC32, CRC32.Of(data)) {
		t.Error("CRC32 computed without being requested")
	}
	if _, ok := s.Base64(SHA1); ok {
		t.Error("Base64 of an absent algorithm reported ok")
	}
	want := map[string]string{"crc32c": CRC32C.Of(data), "sha256": SHA256.Of(data)}
	got := s.Checksums()
	if len(got) != len(want) || got["crc32c"] != want["crc32c"] || got["sha256"] != want["sha256"] {
		t.Errorf("Checksums = %v, want %v", got, want)
	}

	plain := NewSet()
	plain.Write(data)
	if plain.Has(SHA256) || plain.SHA256Hex() != "" {
		t.Error("SHA256 computed without being requested")
	}
	if !bytes.Equal(plain.MD5(), s.MD5()) {
		t.Error("MD5 differs between sets")
	}
	if plain.Checksums() != nil {
		t.Error("Checksums of an MD5-only set is not nil")
	}
}

func hexOf(a Algorithm, data []byte) string {
	h := a.New()
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func b64hex(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func BenchmarkSet(b *testing.B) {
	data := make([]byte, 1<<20)
	for _, tc := range []struct {
		name string
		algs []Algorithm
	}{
		{"md5", nil},
		{"md5+crc32", []Algorithm{CRC32}},
		{"md5+crc64nvme", []Algorithm{CRC64NVME}},
		{"md5+sha256", []Algorithm{SHA256}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				s := NewSet(tc.algs...)
				s.Write(data)
				s.ETag()
			}
		})
	}
}

func TestCanonicalHeader(t *testing.T) {
	for _, a := range All() {
		if got, want := a.CanonicalHeader(), http.CanonicalHeaderKey(a.HeaderName()); got != want {
			t.Errorf("%v: CanonicalHeader %q, want %q", a, got, want)
		}
	}
	if Algorithm(0).CanonicalHeader() != "" {
		t.Error("invalid algorithm has a header")
	}
}
