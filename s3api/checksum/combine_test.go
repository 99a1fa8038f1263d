package checksum

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"hash/crc64"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

var crcAlgorithms = []Algorithm{CRC32, CRC32C, CRC64NVME}

// splitCase describes how to cut a buffer into parts. cuts are the part
// boundaries; repeated or extreme cuts make empty parts.
type splitCase struct {
	name string
	size int
	cuts func(rng *rand.Rand, size int) []int
}

var splitCases = []splitCase{
	{"single", 1000, func(*rand.Rand, int) []int { return nil }},
	{"empty object", 0, func(*rand.Rand, int) []int { return nil }},
	{"empty object in parts", 0, func(*rand.Rand, int) []int { return []int{0, 0, 0} }},
	{"leading empty", 777, func(*rand.Rand, int) []int { return []int{0} }},
	{"trailing empty", 777, func(_ *rand.Rand, n int) []int { return []int{n} }},
	{"empty in middle", 777, func(*rand.Rand, int) []int { return []int{300, 300, 300} }},
	{"one byte parts", 64, func(_ *rand.Rand, n int) []int {
		var c []int
		for i := 1; i < n; i++ {
			c = append(c, i)
		}
		return c
	}},
	{"equal parts and a short last", 10*4096 + 5, func(_ *rand.Rand, n int) []int {
		var c []int
		for i := 4096; i < n; i += 4096 {
			c = append(c, i)
		}
		return c
	}},
	{"random", 1 << 16, randomCuts(20)},
	{"random many", 1<<18 + 3, randomCuts(200)},
	{"random small", 37, randomCuts(10)},
}

// randomCuts draws up to max boundaries; duplicates are kept on purpose, as
// they are how random splits produce empty parts.
func randomCuts(max int) func(*rand.Rand, int) []int {
	return func(rng *rand.Rand, n int) []int {
		c := make([]int, rng.IntN(max+1))
		for i := range c {
			c[i] = rng.IntN(n + 1)
		}
		return c
	}
}

// split cuts data at the sorted cuts.
func split(data []byte, cuts []int) [][]byte {
	cuts = slices.Sorted(slices.Values(cuts))
	var parts [][]byte
	prev := 0
	for _, c := range cuts {
		parts = append(parts, data[prev:c])
		prev = c
	}
	return append(parts, data[prev:])
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestCombineFull(t *testing.T) {
	for _, a := range crcAlgorithms {
		for si, sc := range splitCases {
			t.Run(a.String()+"/"+sc.name, func(t *testing.T) {
				for seed := range uint64(5) {
					rng := rand.New(rand.NewPCG(seed, uint64(si)))
					data := randomBytes(rng, sc.size)
					parts := split(data, sc.cuts(rng, sc.size))
					sums := make([]PartSum, len(parts))
					for i, p := range parts {
						sums[i] = PartSum{Sum: a.Of(p), Size: int64(len(p))}
					}
					got, err := CombineFull(a, sums)
					if err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					if want := a.Of(data); got != want {
						t.Errorf("seed %d, %d parts: CombineFull = %s, checksum of whole = %s", seed, len(parts), got, want)
					}
				}
			})
		}
	}
}

// Part sizes far beyond what a test can hash are covered algebraically: the
// shift operator for n+m bytes must be the product of those for n and m, and
// combining must be associative, across the whole range of int64 exponents
// the power table serves.
func TestCombineFullLargeSizes(t *testing.T) {
	const gib = 1 << 30
	sizes := []int64{0, 1, 7, 8, 5 * gib, 5*gib - 1, 5 * gib * 10_000, 1<<62 - 1, 1<<62 + 12345}
	for _, a := range crcAlgorithms {
		c := crcs[a]
		for _, n := range sizes {
			for _, m := range sizes {
				if n > 1<<62 || m > 1<<62 {
					continue
				}
				if got, want := c.xPow8n(n+m), c.mulMod(c.xPow8n(n), c.xPow8n(m)); got != want {
					t.Errorf("%v: x^8(%d+%d) = %x, x^8·%d · x^8·%d = %x", a, n, m, got, n, m, want)
				}
			}
		}

		rng := rand.New(rand.NewPCG(7, uint64(a)))
		p := []PartSum{
			{randomSum(rng, a), 5 * gib},
			{randomSum(rng, a), 5*gib - 3},
			{randomSum(rng, a), 123},
		}
		left, err := CombineFull(a, p[:2])
		if err != nil {
			t.Fatal(err)
		}
		whole, err := CombineFull(a, p)
		if err != nil {
			t.Fatal(err)
		}
		nested, err := CombineFull(a, []PartSum{{left, p[0].Size + p[1].Size}, p[2]})
		if err != nil {
			t.Fatal(err)
		}
		if whole != nested {
			t.Errorf("%v: combining 3 parts = %s, combining the first 2 then the third = %s", a, whole, nested)
		}
	}
}

// Real data at the 5 GiB part ceiling, streamed from a repeated buffer so
// memory stays small. The big part comes second so that the first part's
// CRC is shifted across all 5 GiB, which is the arithmetic that matters.
func TestCombineFullFiveGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 10 GiB per algorithm")
	}
	const bigSize = 5 << 30
	rng := rand.New(rand.NewPCG(3, 4))
	head := randomBytes(rng, 1001)
	chunk := randomBytes(rng, 1<<20)
	for _, a := range crcAlgorithms {
		whole, big := a.New(), a.New()
		whole.Write(head)
		for range bigSize / len(chunk) {
			whole.Write(chunk)
			big.Write(chunk)
		}
		got, err := CombineFull(a, []PartSum{
			{a.Of(head), int64(len(head))},
			{Encode(big.Sum(nil)), bigSize},
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := Encode(whole.Sum(nil)); got != want {
			t.Errorf("%v: CombineFull = %s, direct = %s", a, got, want)
		}
	}
}

var nvmeTable = crc64.MakeTable(0x9a6c9329ac4bc9b5)

func randomSum(rng *rand.Rand, a Algorithm) string {
	return Encode(randomBytes(rng, a.Size()))
}

// reference hashes data without going through Algorithm, so Composite is
// checked against the standard library rather than against itself.
func reference(a Algorithm, data []byte) []byte {
	switch a {
	case CRC32:
		return binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	case CRC32C:
		return binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	case CRC64NVME:
		return binary.BigEndian.AppendUint64(nil, crc64.Checksum(data, nvmeTable))
	case SHA1:
		s := sha1.Sum(data)
		return s[:]
	case SHA256:
		s := sha256.Sum256(data)
		return s[:]
	}
	panic("no reference for " + a.String())
}

func TestComposite(t *testing.T) {
	for _, a := range []Algorithm{CRC32, CRC32C, CRC64NVME, SHA1, SHA256} {
		for si, sc := range splitCases {
			t.Run(a.String()+"/"+sc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(11, uint64(si)))
				data := randomBytes(rng, sc.size)
				parts := split(data, sc.cuts(rng, sc.size))
				var sums []string
				var raw []byte
				for _, p := range parts {
					r := reference(a, p)
					sums = append(sums, base64.StdEncoding.EncodeToString(r))
					raw = append(raw, r...)
				}
				want := base64.StdEncoding.EncodeToString(reference(a, raw)) + "-" + strconv.Itoa(len(parts))
				got, err := Composite(a, sums)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("Composite = %s, want %s", got, want)
				}
			})
		}
	}
}

// A fixed vector, so a change in the encoding of the result (padding, suffix)
// cannot hide behind a test that builds its expectation the same way.
func TestCompositeKnown(t *testing.T) {
	a := b64hex("e8b7be43") // CRC32 of "a"
	got, err := Composite(CRC32, []string{a, a})
	if err != nil {
		t.Fatal(err)
	}
	// CRC32 of the bytes e8 b7 be 43 e8 b7 be 43.
	if want := b64hex("a91fd251") + "-2"; got != want {
		t.Errorf("Composite = %s, want %s", got, want)
	}
}

func TestMultipartErrors(t *testing.T) {
	crc32Sum := CRC32.Of([]byte("x"))
	crc64Sum := CRC64NVME.Of([]byte("x"))
	composite := []struct {
		name string
		a    Algorithm
		sums []string
		want error
	}{
		{"zero algorithm", 0, []string{crc32Sum}, errUnsupported},
		{"out of range algorithm", Algorithm(200), []string{crc32Sum}, errUnsupported},
		{"nil list", CRC32, nil, errNoParts},
		{"empty list", SHA256, []string{}, errNoParts},
		{"bad base64", CRC32, []string{crc32Sum, "!!!!!!=="}, errBadPartSum},
		{"empty value", CRC32, []string{""}, errBadPartSum},
		{"unpadded", CRC32, []string{crc32Sum[:6]}, errBadPartSum},
		{"crc64 value for crc32", CRC32, []string{crc64Sum}, errBadPartSum},
		{"crc32 value for crc64nvme", CRC64NVME, []string{crc32Sum}, errBadPartSum},
		{"sha256 value for sha1", SHA1, []string{SHA256.Of(nil)}, errBadPartSum},
		{"sha256 value for sha512", SHA512, []string{SHA256.Of(nil)}, errBadPartSum},
		{"xxhash64 value for xxhash128", XXHASH128, []string{XXHASH64.Of(nil)}, errBadPartSum},
		{"bad character in xxhash128", XXHASH128, []string{"!" + XXHASH128.Of(nil)[1:]}, errBadPartSum},
		{"trailing space", CRC32C, []string{crc32Sum + " "}, errBadPartSum},
		{"url alphabet", SHA256, []string{"_-" + SHA256.Of(nil)[2:]}, errBadPartSum},
	}
	for _, tc := range composite {
		t.Run("Composite/"+tc.name, func(t *testing.T) {
			got, err := Composite(tc.a, tc.sums)
			if !errors.Is(err, tc.want) || got != "" {
				t.Errorf("Composite = %q, %v; want error %v", got, err, tc.want)
			}
		})
	}

	full := []struct {
		name  string
		a     Algorithm
		parts []PartSum
		want  error
	}{
		{"sha1", SHA1, []PartSum{{SHA1.Of(nil), 0}}, errUnsupported},
		{"sha256", SHA256, []PartSum{{SHA256.Of(nil), 0}}, errUnsupported},
		{"md5", MD5, []PartSum{{MD5.Of(nil), 0}}, errUnsupported},
		{"sha512", SHA512, []PartSum{{SHA512.Of(nil), 0}}, errUnsupported},
		{"xxhash64", XXHASH64, []PartSum{{XXHASH64.Of(nil), 0}}, errUnsupported},
		{"xxhash3", XXHASH3, []PartSum{{XXHASH3.Of(nil), 0}}, errUnsupported},
		{"xxhash128", XXHASH128, []PartSum{{XXHASH128.Of(nil), 0}}, errUnsupported},
		{"zero algorithm", 0, []PartSum{{crc32Sum, 1}}, errUnsupported},
		{"out of range algorithm", Algorithm(200), []PartSum{{crc32Sum, 1}}, errUnsupported},
		{"nil list", CRC32, nil, errNoParts},
		{"empty list", CRC64NVME, []PartSum{}, errNoParts},
		{"bad base64", CRC32C, []PartSum{{crc32Sum, 1}, {"AAAA*A==", 1}}, errBadPartSum},
		{"crc64 value for crc32", CRC32, []PartSum{{crc64Sum, 1}}, errBadPartSum},
		{"crc32 value for crc64nvme", CRC64NVME, []PartSum{{crc32Sum, 1}}, errBadPartSum},
		{"empty value", CRC64NVME, []PartSum{{"", 0}}, errBadPartSum},
		{"negative size", CRC32, []PartSum{{crc32Sum, -1}}, errBadPartSize},
	}
	for _, tc := range full {
		t.Run("CombineFull/"+tc.name, func(t *testing.T) {
			got, err := CombineFull(tc.a, tc.parts)
			if !errors.Is(err, tc.want) || got != "" {
				t.Errorf("CombineFull = %q, %v; want error %v", got, err, tc.want)
			}
		})
	}
}

func TestSupports(t *testing.T) {
	tests := []struct {
		a               Algorithm
		full, composite bool
	}{
		{CRC32, true, true},
		{CRC32C, true, true},
		{CRC64NVME, true, false},
		{SHA1, false, true},
		{SHA256, false, true},
		{MD5, false, true},
		{SHA512, false, true},
		{XXHASH64, false, true},
		{XXHASH3, false, true},
		{XXHASH128, false, true},
		{0, false, false},
		{Algorithm(200), false, false},
	}
	for _, tc := range tests {
		if got := tc.a.SupportsFullObject(); got != tc.full {
			t.Errorf("%v.SupportsFullObject() = %v", tc.a, got)
		}
		if got := tc.a.SupportsComposite(); got != tc.composite {
			t.Errorf("%v.SupportsComposite() = %v", tc.a, got)
		}
	}
}

// The largest upload S3 allows: 10,000 parts of 5 MiB would be the usual
// shape of a 50 GB object; "distinct" defeats the equal-size shortcut to
// show the cost when every part size differs.
func BenchmarkCombineFull(b *testing.B) {
	const nParts, partSize = 10_000, 5 << 20
	for _, a := range crcAlgorithms {
		rng := rand.New(rand.NewPCG(1, uint64(a)))
		uniform := make([]PartSum, nParts)
		distinct := make([]PartSum, nParts)
		for i := range uniform {
			uniform[i] = PartSum{randomSum(rng, a), partSize}
			distinct[i] = PartSum{uniform[i].Sum, partSize + int64(i)}
		}
		for _, bc := range []struct {
			name  string
			parts []PartSum
		}{{"uniform", uniform}, {"distinct", distinct}} {
			b.Run(a.String()+"/"+bc.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := CombineFull(a, bc.parts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func TestTrimPartCount(t *testing.T) {
	for v, want := range map[string]string{"AAAAAA==-3": "AAAAAA==", "AAAAAA==": "AAAAAA==", "": "", "a+b/==-10000": "a+b/=="} {
		if got := TrimPartCount(v); got != want {
			t.Errorf("TrimPartCount(%q) = %q, want %q", v, got, want)
		}
	}
}
