package checksum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/minio/crc64nvme"
)

// PartSum is one part's checksum (base64, as S3 sends it) and size.
type PartSum struct {
	Sum  string
	Size int64
}

var (
	errNoParts     = errors.New("checksum: no parts to combine")
	errUnsupported = errors.New("checksum: algorithm does not support this multipart checksum type")
	errBadPartSum  = errors.New("checksum: malformed part checksum")
	errBadPartSize = errors.New("checksum: negative part size")
)

// SupportsFullObject reports whether a's multipart checksum can be
// FULL_OBJECT: only the CRCs (CRC32, CRC32C, CRC64NVME), whose value for
// the whole object follows from the parts' values and sizes.
func (a Algorithm) SupportsFullObject() bool { return crcFor(a) != nil }

// SupportsComposite reports whether a's multipart checksum can be
// COMPOSITE: every algorithm but CRC64NVME, which S3 supports only as
// FULL_OBJECT. COMPOSITE is the only type of the hashes (MD5, the SHAs and
// the xxHashes), and their default.
func (a Algorithm) SupportsComposite() bool { return a.Valid() && a != CRC64NVME }

// Composite returns S3's COMPOSITE multipart checksum: base64 of the
// algorithm's hash over the concatenated binary part checksums, then "-" and
// the number of parts (e.g. "abcd==-3"). Error if a part value is not valid
// base64 of the algorithm's size, or a is invalid, or sums is empty.
//
// Composite computes the value for CRC64NVME too; whether S3 would accept a
// COMPOSITE CRC64NVME upload is a policy question answered by
// [Algorithm.SupportsComposite], which the caller is expected to check.
func Composite(a Algorithm, sums []string) (string, error) {
	if !a.Valid() {
		return "", fmt.Errorf("%w: COMPOSITE with %s", errUnsupported, a)
	}
	if len(sums) == 0 {
		return "", errNoParts
	}
	h := a.New()
	var raw decodeBuf
	for i, v := range sums {
		b, err := decodePartSum(a, &raw, i, v)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return Encode(h.Sum(raw[:0])) + "-" + strconv.Itoa(len(sums)), nil
}

// TrimPartCount returns a checksum value without the "-N" part count
// Composite appends; other values come back as they are. Standard base64
// has no "-", so the cut can only fall on the suffix.
func TrimPartCount(v string) string {
	sum, _, _ := strings.Cut(v, "-")
	return sum
}

// CombineFull returns S3's FULL_OBJECT multipart checksum: the checksum of
// the concatenated parts computed from the part checksums and sizes alone
// (CRC combination, pure arithmetic, O(log size) per part, no data). Only
// CRC32, CRC32C and CRC64NVME support it; others (the hashes, which cannot
// be combined) return an error.
// Result is base64 without any suffix.
//
// It is also an error for parts to be empty, for a part's Sum not to be a
// well-formed value of a (see [Algorithm.ValidValue]) or for a Size to be
// negative. A part of size 0 must carry the empty input's checksum
// ("AAAAAA==" for the CRC32s); it then leaves the result unchanged.
func CombineFull(a Algorithm, parts []PartSum) (string, error) {
	c := crcFor(a)
	if c == nil {
		return "", fmt.Errorf("%w: FULL_OBJECT with %s", errUnsupported, a)
	}
	if len(parts) == 0 {
		return "", errNoParts
	}
	// The CRC of the empty string is 0 for all three (initial value and
	// final XOR are equal), so it is the identity to start from.
	var (
		crc     uint64
		lastLen int64 = -1
		shift   uint64
		raw     decodeBuf
	)
	for i, p := range parts {
		if p.Size < 0 {
			return "", fmt.Errorf("%w: index %d: %d", errBadPartSize, i, p.Size)
		}
		b, err := decodePartSum(a, &raw, i, p.Sum)
		if err != nil {
			return "", err
		}
		// Every part of a multipart upload but the last usually has the
		// same size, so the x^(8·size) operator is reused rather than
		// rebuilt: that makes the common case one multiplication per part.
		if p.Size != lastLen {
			shift, lastLen = c.xPow8n(p.Size), p.Size
		}
		crc = c.mulMod(shift, crc) ^ c.load(b)
	}
	if c.width == 32 {
		binary.BigEndian.PutUint32(raw[:4], uint32(crc))
		return Encode(raw[:4]), nil
	}
	binary.BigEndian.PutUint64(raw[:8], crc)
	return Encode(raw[:8]), nil
}

// decodePartSum decodes sums[i] == v into buf. It accepts exactly what
// [Algorithm.ValidValue] does, decoding once instead of twice; the length
// check is strict because S3 rejects a part checksum of the wrong size
// rather than padding or truncating it.
func decodePartSum(a Algorithm, buf *decodeBuf, i int, v string) ([]byte, error) {
	if b, ok := a.decode(v, buf); ok {
		return b, nil
	}
	return nil, fmt.Errorf("%w: index %d: %q is not the base64 of a %d-byte %s", errBadPartSum, i, v, a.Size(), a)
}

// crcMath is the arithmetic of one reflected CRC modulo its polynomial P.
//
// For a CRC whose initial value equals its final XOR (true of CRC32, CRC32C
// and CRC64NVME: all ones for each), crc(A‖B) = crc(A)·x^(8·len(B)) mod P ⊕
// crc(B): the register contents contributed by A are simply carried through
// B's len(B) bytes, and the init/xorout terms cancel. So combining needs
// only multiplication modulo P, which costs one pass over the word's bits,
// and x^(8n) mod P, which square-and-multiply gets in O(log n) products.
//
// Values are in the CRC's own reflected bit order: the most significant bit
// of the width is the coefficient of x^0 and bit 0 that of x^(width-1), so a
// checksum as the hash emits it is already a polynomial here.
type crcMath struct {
	width uint   // 32 or 64
	poly  uint64 // reflected P, without the x^width term
	// pow[k] is x^(8·2^k) mod P, the operator for a run of 2^k bytes;
	// 63 entries cover every non-negative int64 length.
	pow [63]uint64
}

var crcs = [numAlgorithms]*crcMath{
	CRC32:     newCRCMath(32, crc32.IEEE),
	CRC32C:    newCRCMath(32, crc32.Castagnoli),
	CRC64NVME: newCRCMath(64, crc64nvme.NVME),
}

// crcFor returns a's CRC arithmetic, or nil for a non-CRC or invalid a.
func crcFor(a Algorithm) *crcMath {
	if !a.Valid() {
		return nil
	}
	return crcs[a]
}

func newCRCMath(width uint, poly uint64) *crcMath {
	c := &crcMath{width: width, poly: poly}
	c.pow[0] = c.one() >> 8 // x^8
	for k := 1; k < len(c.pow); k++ {
		c.pow[k] = c.mulMod(c.pow[k-1], c.pow[k-1])
	}
	return c
}

// one is the polynomial 1 (x^0) in reflected order.
func (c *crcMath) one() uint64 { return 1 << (c.width - 1) }

// mulMod returns a·b mod P.
func (c *crcMath) mulMod(a, b uint64) uint64 {
	var p uint64
	for m := c.one(); a != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			a ^= m
		}
		// b *= x: in reflected order that is a right shift, and a bit
		// falling off the bottom was x^(width-1), which becomes x^width ≡ P.
		if b&1 != 0 {
			b = b>>1 ^ c.poly
		} else {
			b >>= 1
		}
	}
	return p
}

// xPow8n returns x^(8n) mod P, the operator that appends n bytes' worth of
// shifting to a CRC. n must not be negative.
func (c *crcMath) xPow8n(n int64) uint64 {
	p := c.one()
	for k := 0; n != 0; k, n = k+1, n>>1 {
		if n&1 != 0 {
			p = c.mulMod(c.pow[k], p)
		}
	}
	return p
}

// load reads a big-endian checksum of c's width, as S3 transmits it.
func (c *crcMath) load(b []byte) uint64 {
	if c.width == 32 {
		return uint64(binary.BigEndian.Uint32(b))
	}
	return binary.BigEndian.Uint64(b)
}
