package linearizability

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
)

// body is the content of one crash-test write, regenerated from its seed
// on demand: a header naming the write ("sbcrash <key> w<id> <size>\n",
// cut to the size), then an AES-CTR keystream keyed by the seed. Any byte
// range can be produced without the bytes before it, so the writer streams
// a multipart upload one part at a time, and a corrupt read is compared
// against the original without holding either whole. The header makes a
// misplaced body (another key's bytes) recognisable at a glance.
type body struct {
	size   int64
	header []byte
	block  cipher.Block
}

func newBody(seed uint64, key string, writeID int, size int64) *body {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:8], seed)
	binary.BigEndian.PutUint64(k[8:], ^seed*0x9e3779b97f4a7c15)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // a 16-byte key always makes a cipher
	}
	h := fmt.Sprintf("sbcrash %s w%d %d\n", key, writeID, size)
	if int64(len(h)) > size {
		h = h[:size]
	}
	return &body{size: size, header: []byte(h), block: block}
}

// ReadAt fills p with the body's bytes at off (io.ReaderAt).
func (b *body) ReadAt(p []byte, off int64) (int, error) {
	if off >= b.size {
		return 0, io.EOF
	}
	asked := len(p)
	n := asked
	if rest := b.size - off; int64(n) > rest {
		n = int(rest)
	}
	p = p[:n]
	clear(p)
	// The CTR counter is the block number, so the stream at any offset
	// starts from its own IV.
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/aes.BlockSize))
	ctr := cipher.NewCTR(b.block, iv[:])
	if skip := int(off % aes.BlockSize); skip > 0 {
		var junk [aes.BlockSize]byte
		ctr.XORKeyStream(junk[:skip], junk[:skip])
	}
	ctr.XORKeyStream(p, p)
	if off < int64(len(b.header)) {
		copy(p, b.header[off:])
	}
	if n < asked {
		return n, io.EOF
	}
	return n, nil
}

// digests are what a write is recognised by: the SHA-256 of the whole
// body and the ETag S3 gives it (the MD5, or for a multipart upload the
// MD5 of the parts' MD5s with "-N").
type digests struct {
	SHA256 string
	ETag   string
}

// digest computes the body's digests when uploaded in parts of partSize
// (0: in one piece), generating it chunk by chunk.
func (b *body) digest(partSize int64) digests {
	whole := sha256.New()
	var partMD5s []byte
	each := b.size
	if partSize > 0 {
		each = partSize
	}
	buf := make([]byte, min(each, 1<<20))
	for off := int64(0); ; off += each {
		part := md5.New()
		end := min(off+each, b.size)
		b.copyRange(buf, off, end, whole, part)
		partMD5s = part.Sum(partMD5s)
		if end == b.size {
			break
		}
	}
	d := digests{SHA256: hex.EncodeToString(whole.Sum(nil))}
	if partSize == 0 {
		d.ETag = hex.EncodeToString(partMD5s)
	} else {
		sum := md5.Sum(partMD5s)
		d.ETag = fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), len(partMD5s)/md5.Size)
	}
	return d
}

// copyRange writes bytes [off, end) to each of ws through buf.
func (b *body) copyRange(buf []byte, off, end int64, ws ...hash.Hash) {
	for off < end {
		n := min(int64(len(buf)), end-off)
		_, _ = b.ReadAt(buf[:n], off)
		for _, w := range ws {
			w.Write(buf[:n])
		}
		off += n
	}
}

// partReader is one part of the body, [off, off+n), as an io.ReadSeeker
// the SDK can rewind to sign and send.
func (b *body) part(off, n int64) io.ReadSeeker {
	return io.NewSectionReader(b, off, n)
}

// firstDifference reads r against the body and returns the offset of the
// first byte that differs (or where one of them ends early), and -1 if r
// holds exactly the body.
func (b *body) firstDifference(r io.Reader) int64 {
	got := make([]byte, 1<<16)
	want := make([]byte, 1<<16)
	var off int64
	for {
		n, err := io.ReadFull(r, got)
		if n > 0 {
			m, _ := b.ReadAt(want[:n], off)
			for i := 0; i < n; i++ {
				if i >= m || got[i] != want[i] {
					return off + int64(i)
				}
			}
			off += int64(n)
		}
		if err != nil {
			if off != b.size {
				return off
			}
			return -1
		}
	}
}

// headerOf returns the crash header at the start of data ("sbcrash KEY
// wID SIZE"), or "".
func headerOf(data []byte) string {
	s := string(data[:min(len(data), 1100)])
	if !strings.HasPrefix(s, "sbcrash ") {
		return ""
	}
	line, _, _ := strings.Cut(s, "\n")
	return line
}
