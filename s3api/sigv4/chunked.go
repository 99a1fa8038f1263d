package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strings"

	"github.com/strongboxdb/strongbox/s3api/checksum"
)

const (
	// maxLine bounds a chunk header or trailer line, CRLF included. A
	// signed chunk header is about 90 bytes; anything near this is abuse.
	maxLine = 4096
	// maxChunkSize bounds one chunk's declared size: 5 GiB, the largest
	// body S3 accepts in one PUT. The SDK sends a body of known length as
	// a single chunk, so smaller limits would refuse real clients.
	maxChunkSize = 5 << 30
	// minChunkSize is S3's minimum for every data chunk but the last.
	minChunkSize = 8 << 10
	// maxTrailerLines bounds the lines read after the final chunk,
	// blank ones included.
	maxTrailerLines = 16
	// emptyHash is the SHA256 of nothing, bound into every chunk signature.
	emptyHash = EmptySHA256
)

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//	[trailer-name:value\r\n ...] [x-amz-trailer-signature:sig\r\n] \r\n
//
// It streams: data goes straight from the connection into the caller's
// buffer, never buffered whole and never including the framing. Lines are
// read through a bufio.Reader of maxLine bytes, so an overlong line fails
// without being stored.
type chunkedReader struct {
	src  *bufio.Reader
	body io.Closer
	auth *Auth

	signed  bool // chunk signatures present and checked
	trailer bool // a trailer section may follow the final chunk

	// signature chain (signed only)
	mac      hash.Hash // HMAC-SHA256 with the signing key
	sha      hash.Hash // SHA256 of the current chunk's data
	prevSig  [sigHexLen]byte
	chunkSig [sigHexLen]byte

	sum hash.Hash // the announced trailing checksum, or nil

	remaining int64 // data bytes left in the current chunk
	decoded   int64 // data bytes returned so far
	want      int64 // x-amz-decoded-content-length, or -1
	lastSize  int64 // size of the previous data chunk
	chunks    int
	err       error // sticky; io.EOF once the body verified
}

func newChunkedReader(body io.ReadCloser, a *Auth) *chunkedReader {
	c := &chunkedReader{
		src:     bufio.NewReaderSize(body, maxLine),
		body:    body,
		auth:    a,
		signed:  a.PayloadHash == StreamingPayload || a.PayloadHash == StreamingPayloadTrailer,
		trailer: a.PayloadHash != StreamingPayload,
		want:    a.DecodedContentLength,
	}
	if c.signed {
		c.mac = hmac.New(sha256.New, a.key[:])
		c.sha = sha256.New()
		if len(a.seed) == sigHexLen {
			copy(c.prevSig[:], a.seed)
		}
	}
	if a.trailer.Valid() {
		c.sum = a.trailer.New()
	}
	return c
}

func (c *chunkedReader) Close() error { return c.body.Close() }

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for c.remaining == 0 {
		if err := c.nextChunk(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	var n int
	var err error
	for tries := 0; n == 0 && err == nil; tries++ {
		if tries == 100 {
			err = io.ErrNoProgress
			break
		}
		n, err = c.src.Read(p)
	}
	if n > 0 {
		data := p[:n]
		if c.signed {
			c.sha.Write(data)
		}
		if c.sum != nil {
			c.sum.Write(data)
		}
		c.remaining -= int64(n)
		c.decoded += int64(n)
	}
	if err != nil {
		c.err = bodyError(err)
		return n, c.err
	}
	if c.remaining == 0 {
		if err := c.endChunk(); err != nil {
			c.err = err
			return n, err
		}
	}
	return n, nil
}

// readLine returns the next line without its "\n" or "\r\n". The slice is
// valid until the next read. A clean end of input before any byte of the
// line is io.EOF.
func (c *chunkedReader) readLine() ([]byte, error) {
	line, err := c.src.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, ErrInvalidChunk.with("An aws-chunked line is longer than 4096 bytes.")
	case err == io.EOF && len(line) == 0:
		return nil, io.EOF
	default:
		return nil, bodyError(err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// nextChunk reads a chunk header. For the final, zero-size chunk it also
// reads and checks the trailer section and returns io.EOF.
func (c *chunkedReader) nextChunk() error {
	line, err := c.readLine()
	if err == io.EOF {
		return ErrIncompleteBody
	}
	if err != nil {
		return err
	}
	size, err := c.parseHeader(line)
	if err != nil {
		return err
	}
	if size > 0 && c.chunks > 0 && c.lastSize < minChunkSize {
		return ErrInvalidChunkSize
	}
	if c.want >= 0 && c.decoded+size > c.want {
		return ErrIncompleteBody.with("The aws-chunked body is longer than x-amz-decoded-content-length.")
	}
	c.chunks++
	if size == 0 {
		return c.finish()
	}
	c.lastSize = size
	c.remaining = size
	return nil
}

// parseHeader parses "hex-size[;ext]*". In signed mode the chunk-signature
// extension is required and remembered; otherwise extensions are ignored.
func (c *chunkedReader) parseHeader(line []byte) (int64, error) {
	sizePart, ext, _ := bytes.Cut(line, []byte{';'})
	if len(sizePart) == 0 || len(sizePart) > 16 {
		return 0, ErrInvalidChunk.with("An aws-chunked chunk size is not a hexadecimal number.")
	}
	var size int64
	for _, ch := range sizePart {
		var d byte
		switch {
		case '0' <= ch && ch <= '9':
			d = ch - '0'
		case 'a' <= ch && ch <= 'f':
			d = ch - 'a' + 10
		case 'A' <= ch && ch <= 'F':
			d = ch - 'A' + 10
		default:
			return 0, ErrInvalidChunk.with("An aws-chunked chunk size is not a hexadecimal number.")
		}
		size = size<<4 | int64(d)
		if size > maxChunkSize {
			return 0, ErrInvalidChunk.with("An aws-chunked chunk is larger than 5 GiB.")
		}
	}
	if !c.signed {
		return size, nil
	}
	found := false
	for len(ext) > 0 {
		var e []byte
		e, ext, _ = bytes.Cut(ext, []byte{';'})
		k, v, _ := bytes.Cut(e, []byte{'='})
		if string(bytes.TrimSpace(k)) != "chunk-signature" {
			continue
		}
		v = bytes.TrimSpace(v)
		if found || len(v) != sigHexLen {
			return 0, ErrSignatureDoesNotMatch.with("The chunk signature is malformed.")
		}
		copy(c.chunkSig[:], v)
		found = true
	}
	if !found {
		return 0, ErrSignatureDoesNotMatch.with("A chunk of a signed aws-chunked body has no chunk-signature.")
	}
	c.sha.Reset()
	return size, nil
}

// endChunk consumes the CRLF after a chunk's data and checks its signature.
func (c *chunkedReader) endChunk() error {
	line, err := c.readLine()
	if err == io.EOF {
		return ErrIncompleteBody
	}
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return ErrInvalidChunk.with("An aws-chunked chunk is longer than its declared size.")
	}
	return c.checkChunkSig()
}

// checkChunkSig verifies the current chunk's signature, which chains from
// the previous one:
//
//	AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<prev-sig>\n<sha256("")>\n<sha256(data)>
func (c *chunkedReader) checkChunkSig() error {
	if !c.signed {
		return nil
	}
	var sts [512]byte
	b := append(sts[:0], chunkAlgorithm...)
	b = c.appendChainPrefix(b)
	b = append(b, emptyHash...)
	b = append(b, '\n')
	var sum [sha256.Size]byte
	b = hex.AppendEncode(b, c.sha.Sum(sum[:0]))
	return c.checkSig(b, "The chunk signature does not match.")
}

// appendChainPrefix appends "\n<date>\n<scope>\n<prev-sig>\n".
func (c *chunkedReader) appendChainPrefix(b []byte) []byte {
	b = append(b, '\n')
	b = append(b, c.auth.amzDate...)
	b = append(b, '\n')
	b = append(b, c.auth.scope...)
	b = append(b, '\n')
	b = append(b, c.prevSig[:]...)
	return append(b, '\n')
}

// checkSig compares HMAC(key, sts) with c.chunkSig and advances the chain.
func (c *chunkedReader) checkSig(sts []byte, msg string) error {
	c.mac.Reset()
	c.mac.Write(sts)
	var mac [sha256.Size]byte
	var got [sigHexLen]byte
	hex.Encode(got[:], c.mac.Sum(mac[:0]))
	if !hmac.Equal(got[:], c.chunkSig[:]) {
		return ErrSignatureDoesNotMatch.with(msg)
	}
	c.prevSig = c.chunkSig
	return nil
}

// finish handles the final chunk: its signature, the decoded length, and the
// trailer section. It returns io.EOF when everything checks out.
func (c *chunkedReader) finish() error {
	if c.signed {
		c.sha.Reset()
		if err := c.checkChunkSig(); err != nil {
			return err
		}
	}
	if c.want >= 0 && c.decoded != c.want {
		return ErrIncompleteBody.with("The aws-chunked body is shorter than x-amz-decoded-content-length.")
	}
	trailers, err := c.readTrailers()
	if err != nil {
		return err
	}
	if err := c.checkTrailers(trailers); err != nil {
		return err
	}
	return io.EOF
}

type trailerLine struct{ name, value string }

// readTrailers reads the lines after the final chunk. Clients differ in the
// blank lines they put there (the SDKs send "0\r\n" then the trailers then
// "\r\n"; minio-go ends each trailer with "\n" and adds "\r\n" before the
// trailer signature), so blank lines are skipped until the section has
// content, and in signed mode until the trailer signature. The end of input
// after that is accepted in place of the final blank line.
func (c *chunkedReader) readTrailers() ([]trailerLine, error) {
	var out []trailerLine
	sawSig := false
	for range maxTrailerLines {
		line, err := c.readLine()
		if err == io.EOF {
			if c.signed && c.trailer && !sawSig && len(out) > 0 {
				return nil, ErrMalformedTrailer.with("The trailer section has no x-amz-trailer-signature.")
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			switch {
			case !c.trailer:
				return out, nil
			case c.signed && !sawSig:
				continue
			case !c.signed && len(out) == 0:
				continue
			}
			return out, nil
		}
		if !c.trailer {
			return nil, ErrMalformedTrailer.with("A " + StreamingPayload + " body may not carry trailers.")
		}
		if sawSig {
			return nil, ErrMalformedTrailer.with("Trailers follow x-amz-trailer-signature.")
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return nil, ErrMalformedTrailer
		}
		n := strings.ToLower(string(bytes.TrimSpace(name)))
		v := string(bytes.TrimSpace(value))
		if n == "x-amz-trailer-signature" {
			if !c.signed {
				continue // an unsigned trailer's signature means nothing
			}
			if len(v) != sigHexLen {
				return nil, ErrSignatureDoesNotMatch.with("The trailer signature is malformed.")
			}
			copy(c.chunkSig[:], v)
			if err := c.checkTrailerSig(out); err != nil {
				return nil, err
			}
			sawSig = true
			continue
		}
		out = append(out, trailerLine{n, v})
	}
	return nil, ErrMalformedTrailer.with("The trailer section is too long.")
}

// checkTrailerSig verifies the trailer signature:
//
//	AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<prev-sig>\n<sha256(trailers)>
//
// where the trailers are hashed as "name:value\n" each, in the order sent.
func (c *chunkedReader) checkTrailerSig(trailers []trailerLine) error {
	h := sha256.New()
	for _, t := range trailers {
		io.WriteString(h, t.name)
		io.WriteString(h, ":")
		io.WriteString(h, t.value)
		io.WriteString(h, "\n")
	}
	var sts [512]byte
	b := append(sts[:0], trailerAlgo...)
	b = c.appendChainPrefix(b)
	var sum [sha256.Size]byte
	b = hex.AppendEncode(b, h.Sum(sum[:0]))
	return c.checkSig(b, "The trailer signature does not match.")
}

// checkTrailers compares the announced checksum with the one computed and
// publishes the verified values.
func (c *chunkedReader) checkTrailers(trailers []trailerLine) error {
	want := c.auth.trailer
	var got map[string]string
	for _, t := range trailers {
		alg, ok := checksum.FromHeader(t.name)
		if !ok || alg != want {
			return ErrMalformedTrailer.with("The trailer " + t.name + " was not announced in x-amz-trailer.")
		}
		if got != nil {
			return ErrMalformedTrailer.with("The trailer " + t.name + " appears more than once.")
		}
		if !alg.ValidValue(t.value) {
			return ErrInvalidChecksumValue.with("Value for " + t.name + " trailing header is invalid.")
		}
		var buf [sha512.Size]byte // the largest digest a trailer carries
		if checksum.Encode(c.sum.Sum(buf[:0])) != t.value {
			return ErrBadDigest.with("The " + strings.ToUpper(alg.String()) + " you specified did not match the calculated checksum.")
		}
		got = map[string]string{alg.String(): t.value}
	}
	if want.Valid() && got == nil {
		return ErrMalformedTrailer.with("The trailer " + want.HeaderName() + " announced in x-amz-trailer is missing.")
	}
	if got != nil {
		c.auth.trailers.Store(&got)
	}
	return nil
}
