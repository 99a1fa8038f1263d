package sigv4

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/strongboxdb/strongbox/s3api/checksum"
)

var fuzzPayloads = [...]string{StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedPayloadTrailer}

var fuzzSeed = strings.Repeat("5eed", 16)

// fuzzAuth is the state Verify would leave for a streaming request signed
// at chunkTime with the test secret.
func fuzzAuth(mode uint8, decLen int64, announce uint8) *Auth {
	enc := newEncoder(fuzzPayloads[int(mode)%len(fuzzPayloads)], fuzzSeed)
	a := &Auth{
		PayloadHash:          enc.payload,
		DecodedContentLength: max(decLen, -1),
		key:                  enc.key,
		amzDate:              enc.amzDate,
		scope:                enc.scope,
		seed:                 fuzzSeed,
	}
	if enc.payload != StreamingPayload {
		a.trailer = checksum.Algorithm(int(announce) % (len(checksum.All()) + 1)) // 0 (none) or any algorithm
	}
	return a
}

// The aws-chunked decoder never panics, never returns more bytes than the
// body holds or than fit the buffer, and reports success only for a body
// whose decoded length and trailers check out.
func FuzzChunkedReader(f *testing.F) {
	// Small seeds keep the fuzzer fast; one has two chunks.
	for mode := range uint8(len(fuzzPayloads)) {
		for _, minio := range []bool{false, true} {
			data := testData(100)
			enc := newEncoder(fuzzPayloads[mode], fuzzSeed)
			enc.minioStyle = minio
			body := enc.encode(data, 8192, "x-amz-checksum-crc32c:"+checksum.CRC32C.Of(data))
			f.Add(mode, int64(len(data)), uint8(checksum.CRC32C), []byte(body), uint16(100))
			f.Add(mode, int64(-1), uint8(0), []byte(newEncoder(fuzzPayloads[mode], fuzzSeed).encode(nil, 8192)), uint16(1))
		}
	}
	two := testData(8192 + 10)
	f.Add(uint8(1), int64(len(two)), uint8(checksum.SHA1),
		[]byte(newEncoder(StreamingPayloadTrailer, fuzzSeed).encode(two, 8192, "x-amz-checksum-sha1:"+checksum.SHA1.Of(two))), uint16(4096))
	f.Add(uint8(2), int64(-1), uint8(1), []byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"), uint16(3))
	f.Add(uint8(2), int64(5), uint8(0), []byte("ffffffffffffffff\r\n"), uint16(4095))
	f.Add(uint8(0), int64(0), uint8(0), []byte("0;chunk-signature=\r\n\r\n"), uint16(7))

	f.Fuzz(func(t *testing.T, mode uint8, decLen int64, announce uint8, body []byte, bufSize uint16) {
		a := fuzzAuth(mode, decLen, announce)
		rd := a.Body(io.NopCloser(bytes.NewReader(body)))
		buf := make([]byte, 1+int(bufSize)%8192)
		total := 0
		var err error
		for range len(body) + 16 {
			var n int
			n, err = rd.Read(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("Read returned %d for a %d-byte buffer", n, len(buf))
			}
			total += n
			if err != nil {
				break
			}
		}
		if err == nil {
			t.Fatal("reader did not finish within len(body)+16 reads")
		}
		if total > len(body) {
			t.Fatalf("decoded %d bytes from a %d-byte body", total, len(body))
		}
		if n, again := rd.Read(buf); n != 0 || again != err {
			t.Fatalf("error not sticky: %d, %v after %v", n, again, err)
		}
		if err != io.EOF {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("non-S3 error %v", err)
			}
			if a.TrailerChecksums() != nil {
				t.Fatal("trailer checksums published for a rejected body")
			}
			return
		}
		if a.DecodedContentLength >= 0 && int64(total) != a.DecodedContentLength {
			t.Fatalf("accepted %d bytes, announced %d", total, a.DecodedContentLength)
		}
		if a.trailer.Valid() && a.TrailerChecksums()[a.trailer.String()] == "" {
			t.Fatal("accepted without the announced trailer")
		}
	})
}

// A body encoded as clients encode it (chunk signatures, trailer signature
// and trailing checksum as its payload mode has them), then changed in one
// byte, either decodes to exactly the bytes and trailer values that were
// sent or is refused: a changed chunk whose signature no longer matches is
// never accepted. Bytes released before a refusal never exceed the
// declared length, and the unchanged body always decodes.
func FuzzChunkedTamper(f *testing.F) {
	for mode := range uint8(len(fuzzPayloads)) {
		f.Add(mode, []byte("hello, world"), uint8(0), uint16(0), uint32(0), uint8(0))
		f.Add(mode, []byte("0123456789abcdef"), uint8(200), uint16(100), uint32(3), uint8(1))      // several chunks; a size digit
		f.Add(mode, []byte("0123456789abcdef"), uint8(200), uint16(100), uint32(100), uint8(0x20)) // in the first chunk's data
		f.Add(mode, []byte("x"), uint8(0), uint16(0), uint32(1<<31), uint8(0x80))                  // near the end: trailer or final chunk
	}
	f.Fuzz(func(t *testing.T, mode uint8, unit []byte, reps uint8, chunk uint16, at uint32, flip uint8) {
		mode %= uint8(len(fuzzPayloads))
		data := bytes.Repeat(unit, 1+int(reps))
		crc := checksum.CRC32C.Of(data)
		enc := newEncoder(fuzzPayloads[mode], fuzzSeed)
		enc.minioStyle = chunk&1 == 1
		body := []byte(enc.encode(data, minChunkSize+int(chunk), "x-amz-checksum-crc32c:"+crc))
		if flip != 0 {
			body[int(at%uint32(len(body)))] ^= flip
		}
		a := fuzzAuth(mode, int64(len(data)), uint8(checksum.CRC32C))
		got, err := io.ReadAll(a.Body(io.NopCloser(bytes.NewReader(body))))
		if len(got) > len(data) {
			t.Fatalf("released %d bytes of a body declared %d", len(got), len(data))
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("non-S3 error %v", err)
			}
			if flip == 0 {
				t.Fatalf("the body as encoded is refused: %v", err)
			}
			return
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("byte %d ^= %#x: decoded %q, sent %q", at%uint32(len(body)), flip, got, data)
		}
		if a.trailer.Valid() {
			if sums := a.TrailerChecksums(); len(sums) != 1 || sums["crc32c"] != crc {
				t.Fatalf("byte %d ^= %#x: trailer %v, sent crc32c %s", at%uint32(len(body)), flip, sums, crc)
			}
		}
	})
}
