package sigv4

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// chunkTime is the signing time of the chunked test requests.
var chunkTime = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

// encoder writes aws-chunked bodies the way clients do, signing chunks and
// trailers with the test credentials.
type encoder struct {
	payload string // one of the STREAMING-* keywords
	key     [32]byte
	amzDate string
	scope   string
	prev    string
	// minioStyle ends trailer lines with "\n" and puts "\r\n" before the
	// trailer signature, as minio-go does.
	minioStyle bool
}

func newEncoder(payload, seed string) *encoder {
	amzDate := chunkTime.Format(amzDateLayout)
	return &encoder{
		payload: payload,
		key:     deriveKey(testSK, amzDate[:8], testRegion, "s3"),
		amzDate: amzDate,
		scope:   scopeString(amzDate[:8], testRegion, "s3"),
		prev:    seed,
	}
}

func (e *encoder) signed() bool {
	return e.payload == StreamingPayload || e.payload == StreamingPayloadTrailer
}

func (e *encoder) chunkSig(data []byte) string {
	sts := chunkAlgorithm + "\n" + e.amzDate + "\n" + e.scope + "\n" + e.prev + "\n" + EmptySHA256 + "\n" + hashHex(string(data))
	sig := sign(&e.key, []byte(sts))
	e.prev = string(sig[:])
	return e.prev
}

func (e *encoder) header(data []byte) string {
	h := strconv.FormatInt(int64(len(data)), 16)
	if e.signed() {
		h += ";chunk-signature=" + e.chunkSig(data)
	}
	return h + "\r\n"
}

// encode frames data in chunks of chunkSize, then the final chunk and, for
// trailer payloads, the trailers given as "name:value" lines.
func (e *encoder) encode(data []byte, chunkSize int, trailers ...string) string {
	var b strings.Builder
	for len(data) > 0 {
		n := min(chunkSize, len(data))
		b.WriteString(e.header(data[:n]))
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	b.WriteString(e.header(nil))
	if e.payload == StreamingPayload {
		b.WriteString("\r\n")
		return b.String()
	}
	var canon string
	for _, t := range trailers {
		canon += t + "\n"
		if e.minioStyle {
			b.WriteString(t + "\n")
		} else {
			b.WriteString(t + "\r\n")
		}
	}
	if e.signed() {
		sts := trailerAlgo + "\n" + e.amzDate + "\n" + e.scope + "\n" + e.prev + "\n" + hashHex(canon)
		sig := sign(&e.key, []byte(sts))
		if e.minioStyle {
			b.WriteString("\r\n")
		}
		b.WriteString("x-amz-trailer-signature:" + string(sig[:]) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// chunkedRequest builds a signed streaming request for body and returns it
// with the encoder whose chain starts at its seed signature. decodedLen < 0
// leaves out x-amz-decoded-content-length; trailer "" leaves out
// x-amz-trailer.
func chunkedRequest(t *testing.T, payload string, decodedLen int64, trailer string) (*http.Request, *encoder) {
	t.Helper()
	r, err := http.NewRequest(http.MethodPut, "http://s3.local/bucket/key", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Encoding", "aws-chunked")
	if decodedLen >= 0 {
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(decodedLen, 10))
	}
	if trailer != "" {
		r.Header.Set("X-Amz-Trailer", trailer)
	}
	Sign(r, testAK, testSK, testRegion, payload, chunkTime)
	a, err := testVerifier(func() time.Time { return chunkTime }).Verify(r)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return r, newEncoder(payload, a.seed)
}

// decode verifies r and reads body through Auth.Body.
func decode(t *testing.T, r *http.Request, body string) ([]byte, *Auth, error) {
	t.Helper()
	a, err := testVerifier(func() time.Time { return chunkTime }).Verify(r)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	got, err := io.ReadAll(a.Body(io.NopCloser(strings.NewReader(body))))
	return got, a, err
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestChunkedRoundTrip(t *testing.T) {
	payloads := []string{StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedPayloadTrailer}
	sizes := []int{0, 1, 8191, 8192, 8193, 65536, 100_000}
	chunkSizes := []int{8192, 65536, 1 << 20}
	for _, payload := range payloads {
		for _, size := range sizes {
			for _, cs := range chunkSizes {
				for _, minio := range []bool{false, true} {
					name := fmt.Sprintf("%s/%d/%d/minio=%v", payload, size, cs, minio)
					t.Run(name, func(t *testing.T) {
						data := testData(size)
						trailerName := ""
						var trailers []string
						if payload != StreamingPayload {
							trailerName = "x-amz-checksum-crc64nvme"
							trailers = []string{trailerName + ":" + checksum.CRC64NVME.Of(data)}
						}
						r, enc := chunkedRequest(t, payload, int64(size), trailerName)
						enc.minioStyle = minio
						body := enc.encode(data, cs, trailers...)

						got, a, err := decode(t, r, body)
						if err != nil {
							t.Fatalf("read: %v", err)
						}
						if !bytes.Equal(got, data) {
							t.Fatalf("decoded %d bytes, want %d", len(got), len(data))
						}
						if trailerName != "" {
							if s := a.TrailerChecksums(); s["crc64nvme"] != checksum.CRC64NVME.Of(data) || len(s) != 1 {
								t.Errorf("TrailerChecksums = %v", s)
							}
						}

						// One byte at a time from the network, and read back
						// through iotest's checks, give the same result.
						a2, err := testVerifier(func() time.Time { return chunkTime }).Verify(r)
						if err != nil {
							t.Fatal(err)
						}
						rd := a2.Body(io.NopCloser(iotest.OneByteReader(strings.NewReader(body))))
						if err := iotest.TestReader(rd, data); err != nil && size < 10_000 {
							t.Errorf("iotest: %v", err)
						}
					})
				}
			}
		}
	}
}

// Every way of altering a signed body breaks the chain; every way of
// cutting one short is IncompleteBody; a wrong checksum is BadDigest.
func TestChunkedRejects(t *testing.T) {
	data := testData(20_000)
	crc := "x-amz-checksum-crc32:" + checksum.CRC32.Of(data)
	type tc struct {
		name    string
		payload string
		trailer string // x-amz-trailer
		decLen  int64
		body    func(e *encoder) string
		want    *Error
	}
	signedBody := func(e *encoder) string { return e.encode(data, 8192) }
	trailerBody := func(e *encoder) string { return e.encode(data, 8192, crc) }
	tests := []tc{
		{"chunk data changed", StreamingPayload, "", 20_000, func(e *encoder) string {
			b := []byte(signedBody(e))
			b[200] ^= 1
			return string(b)
		}, ErrSignatureDoesNotMatch},
		{"last chunk data changed", StreamingPayload, "", 20_000, func(e *encoder) string {
			s := signedBody(e)
			i := strings.LastIndex(s, "0;chunk-signature") - 5
			return s[:i] + string(s[i]^1) + s[i+1:]
		}, ErrSignatureDoesNotMatch},
		{"chunk signature changed", StreamingPayload, "", 20_000, func(e *encoder) string {
			s := signedBody(e)
			i := strings.Index(s, "chunk-signature=") + len("chunk-signature=")
			return s[:i] + strings.Repeat("0", 64) + s[i+64:]
		}, ErrSignatureDoesNotMatch},
		{"chunk signature missing", StreamingPayload, "", 20_000, func(e *encoder) string {
			s := signedBody(e)
			i := strings.Index(s, ";chunk-signature=")
			return s[:i] + s[i+17+64:]
		}, ErrSignatureDoesNotMatch},
		{"chunk signature short", StreamingPayload, "", 20_000, func(e *encoder) string {
			s := signedBody(e)
			i := strings.Index(s, "chunk-signature=") + len("chunk-signature=")
			return s[:i] + s[i+1:]
		}, ErrSignatureDoesNotMatch},
		{"final chunk signature wrong", StreamingPayload, "", 20_000, func(e *encoder) string {
			s := signedBody(e)
			i := strings.LastIndex(s, "chunk-signature=") + len("chunk-signature=")
			return s[:i] + strings.Repeat("a", 64) + s[i+64:]
		}, ErrSignatureDoesNotMatch},
		{"chunks reordered", StreamingPayload, "", -1, func(e *encoder) string {
			c1 := e.header(data[:8192]) + string(data[:8192]) + "\r\n"
			c2 := e.header(data[8192:16384]) + string(data[8192:16384]) + "\r\n"
			return c2 + c1 + e.header(nil) + "\r\n"
		}, ErrSignatureDoesNotMatch},
		{"signed with another seed", StreamingPayload, "", 20_000, func(e *encoder) string {
			e.prev = strings.Repeat("1", 64)
			return signedBody(e)
		}, ErrSignatureDoesNotMatch},
		{"final chunk dropped", StreamingPayload, "", -1, func(e *encoder) string {
			s := signedBody(e)
			return s[:strings.LastIndex(s, "0;chunk-signature")]
		}, ErrIncompleteBody},
		{"cut in the data", StreamingPayload, "", 20_000, func(e *encoder) string { return signedBody(e)[:5000] }, ErrIncompleteBody},
		{"cut in a header", StreamingPayload, "", 20_000, func(e *encoder) string {
			s := signedBody(e)
			return s[:strings.Index(s, "\r\n")]
		}, ErrIncompleteBody},
		{"cut before CRLF", StreamingPayload, "", 20_000, func(e *encoder) string {
			s := signedBody(e)
			return s[:strings.Index(s, "\r\n")+2+8192]
		}, ErrIncompleteBody},
		{"empty body", StreamingPayload, "", 0, func(e *encoder) string { return "" }, ErrIncompleteBody},
		{"decoded length larger", StreamingPayload, "", 20_001, signedBody, ErrIncompleteBody},
		{"decoded length smaller", StreamingPayload, "", 19_999, signedBody, ErrIncompleteBody},
		{"chunk longer than declared", StreamingUnsignedPayloadTrailer, "", -1, func(e *encoder) string {
			return "2000\r\n" + string(data[:8193]) + "\r\n0\r\n\r\n"
		}, ErrInvalidChunk},
		{"small chunk before the last", StreamingPayload, "", 20_000, func(e *encoder) string { return e.encode(data, 4096) }, ErrInvalidChunkSize},
		{"trailer on a non-trailer body", StreamingPayload, "", 20_000, func(e *encoder) string {
			return strings.TrimSuffix(signedBody(e), "\r\n") + crc + "\r\n\r\n"
		}, ErrMalformedTrailer},

		{"wrong trailing checksum", StreamingUnsignedPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			return e.encode(data, 8192, "x-amz-checksum-crc32:AAAAAA==")
		}, ErrBadDigest},
		{"wrong signed trailing checksum", StreamingPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			return e.encode(data, 8192, "x-amz-checksum-crc32:AAAAAA==")
		}, ErrBadDigest},
		{"malformed trailing checksum", StreamingUnsignedPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			return e.encode(data, 8192, "x-amz-checksum-crc32:not base64")
		}, ErrInvalidChecksumValue},
		{"announced trailer missing", StreamingUnsignedPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			return e.encode(data, 8192)
		}, ErrMalformedTrailer},
		{"unannounced trailer", StreamingUnsignedPayloadTrailer, "", 20_000, trailerBody, ErrMalformedTrailer},
		{"other algorithm than announced", StreamingUnsignedPayloadTrailer, "x-amz-checksum-crc32c", 20_000, trailerBody, ErrMalformedTrailer},
		{"trailer twice", StreamingUnsignedPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			return e.encode(data, 8192, crc, crc)
		}, ErrMalformedTrailer},
		{"trailer without colon", StreamingUnsignedPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			return e.encode(data, 8192, "x-amz-checksum-crc32")
		}, ErrMalformedTrailer},
		{"trailer value changed after signing", StreamingPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			s := trailerBody(e)
			return strings.Replace(s, crc, "x-amz-checksum-crc32:"+checksum.CRC32.Of(nil), 1)
		}, ErrSignatureDoesNotMatch},
		{"trailer signature wrong", StreamingPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			s := trailerBody(e)
			i := strings.Index(s, "x-amz-trailer-signature:") + len("x-amz-trailer-signature:")
			return s[:i] + strings.Repeat("b", 64) + s[i+64:]
		}, ErrSignatureDoesNotMatch},
		{"trailer signature missing", StreamingPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			s := trailerBody(e)
			return s[:strings.Index(s, "x-amz-trailer-signature:")]
		}, ErrMalformedTrailer},
		{"trailer after its signature", StreamingPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			return strings.TrimSuffix(trailerBody(e), "\r\n") + "x-amz-meta-x:1\r\n\r\n"
		}, ErrMalformedTrailer},
		{"endless trailer section", StreamingUnsignedPayloadTrailer, "x-amz-checksum-crc32", 20_000, func(e *encoder) string {
			return strings.TrimSuffix(e.encode(data, 8192), "\r\n") + strings.Repeat("x-amz-meta-a:b\r\n", 100)
		}, ErrMalformedTrailer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, enc := chunkedRequest(t, tc.payload, tc.decLen, tc.trailer)
			_, a, err := decode(t, r, tc.body(enc))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.want.Code || e.Status != tc.want.Status {
				t.Errorf("err = %#v, want code %s status %d", err, tc.want.Code, tc.want.Status)
			}
			if a.TrailerChecksums() != nil {
				t.Error("trailer checksums published for a rejected body")
			}
		})
	}
}

// BadDigest names the algorithm as S3 does.
func TestBadDigestMessage(t *testing.T) {
	data := testData(10)
	r, enc := chunkedRequest(t, StreamingUnsignedPayloadTrailer, 10, "x-amz-checksum-crc32")
	_, _, err := decode(t, r, enc.encode(data, 8192, "x-amz-checksum-crc32:AAAAAA=="))
	var e *Error
	if !errors.As(err, &e) || e.Message != "The CRC32 you specified did not match the calculated checksum." {
		t.Fatalf("err = %v", err)
	}
}

// Framing variations real clients produce are accepted.
func TestChunkedLenientFraming(t *testing.T) {
	data := testData(9000)
	sum := "x-amz-checksum-sha256:" + checksum.SHA256.Of(data)
	tests := []struct {
		name, payload, trailer string
		body                   func(e *encoder) string
	}{
		{"no final CRLF", StreamingPayload, "", func(e *encoder) string {
			return strings.TrimSuffix(e.encode(data, 8192), "\r\n")
		}},
		{"no CRLF after trailers", StreamingUnsignedPayloadTrailer, "x-amz-checksum-sha256", func(e *encoder) string {
			return strings.TrimSuffix(e.encode(data, 8192, sum), "\r\n")
		}},
		{"blank line before trailers", StreamingUnsignedPayloadTrailer, "x-amz-checksum-sha256", func(e *encoder) string {
			s := e.encode(data, 8192, sum)
			i := strings.LastIndex(s, "\r\n0\r\n") + len("\r\n0\r\n")
			return s[:i] + "\r\n" + s[i:]
		}},
		{"extra CRLFs at the end", StreamingUnsignedPayloadTrailer, "x-amz-checksum-sha256", func(e *encoder) string {
			return e.encode(data, 8192, sum) + "\r\n\r\n"
		}},
		{"bare LF line ends", StreamingUnsignedPayloadTrailer, "x-amz-checksum-sha256", func(e *encoder) string {
			return strings.ReplaceAll(e.encode(data, 8192, sum), "\r\n", "\n")
		}},
		{"extensions on unsigned chunks", StreamingUnsignedPayloadTrailer, "x-amz-checksum-sha256", func(e *encoder) string {
			return strings.ReplaceAll(e.encode(data, 8192, sum), "2000\r\n", "2000;chunk-signature=whatever;x=y\r\n")
		}},
		{"uppercase hex size", StreamingUnsignedPayloadTrailer, "x-amz-checksum-sha256", func(e *encoder) string {
			s := e.encode(data, 8192, sum)
			return strings.Replace(s, "\r\n328\r\n", "\r\n0000328\r\n", 1)
		}},
		{"trailer name in capitals", StreamingUnsignedPayloadTrailer, "X-Amz-Checksum-SHA256", func(e *encoder) string {
			return e.encode(data, 8192, "X-Amz-Checksum-Sha256: "+checksum.SHA256.Of(data))
		}},
		{"signed trailer without trailers", StreamingPayloadTrailer, "", func(e *encoder) string {
			return e.encode(data, 8192)
		}},
		{"unsigned trailer payload without trailers", StreamingUnsignedPayloadTrailer, "", func(e *encoder) string {
			return e.encode(data, 8192)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, enc := chunkedRequest(t, tc.payload, int64(len(data)), tc.trailer)
			got, a, err := decode(t, r, tc.body(enc))
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(data))
			}
			if tc.trailer != "" && a.TrailerChecksums()["sha256"] != checksum.SHA256.Of(data) {
				t.Errorf("TrailerChecksums = %v", a.TrailerChecksums())
			}
		})
	}
}

// countingReader counts the bytes taken from an endless source.
type countingReader struct {
	fill byte
	n    int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.fill
	}
	c.n += int64(len(p))
	return len(p), nil
}

// An absurd chunk size or an endless line is refused after a bounded read
// and without a large allocation.
func TestChunkedBoundsHostileInput(t *testing.T) {
	tests := []struct {
		name string
		body func() io.Reader
		want *Error
	}{
		{"endless size line", func() io.Reader { return &countingReader{fill: '1'} }, ErrInvalidChunk},
		{"endless extension", func() io.Reader {
			return io.MultiReader(strings.NewReader("10;chunk-signature="), &countingReader{fill: 'a'})
		}, ErrInvalidChunk},
		{"size overflows int64", func() io.Reader { return strings.NewReader("ffffffffffffffff\r\n") }, ErrInvalidChunk},
		{"17 hex digits", func() io.Reader { return strings.NewReader("00000000000000001\r\n") }, ErrInvalidChunk},
		{"over 5 GiB", func() io.Reader { return strings.NewReader("140000001\r\n") }, ErrInvalidChunk},
		{"negative", func() io.Reader { return strings.NewReader("-1\r\n") }, ErrInvalidChunk},
		{"spaces", func() io.Reader { return strings.NewReader(" 10\r\n") }, ErrInvalidChunk},
		{"empty size", func() io.Reader { return strings.NewReader(";x\r\n") }, ErrInvalidChunk},
		{"huge chunk, little data", func() io.Reader { return strings.NewReader("140000000\r\nabc") }, ErrIncompleteBody},
		{"endless trailer line", func() io.Reader {
			return io.MultiReader(strings.NewReader("0\r\nx-amz-checksum-crc32:"), &countingReader{fill: 'A'})
		}, ErrInvalidChunk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := chunkedRequest(t, StreamingUnsignedPayloadTrailer, -1, "")
			a, err := testVerifier(func() time.Time { return chunkTime }).Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			var readErr error
			var src io.Reader
			allocs := testing.AllocsPerRun(2, func() {
				src = tc.body()
				rd := a.Body(io.NopCloser(src))
				var buf [512]byte
				for readErr = nil; readErr == nil; {
					_, readErr = rd.Read(buf[:])
				}
			})
			if !errors.Is(readErr, tc.want) {
				t.Fatalf("err = %v, want %v", readErr, tc.want)
			}
			if c, ok := src.(*countingReader); ok && c.n > 2*maxLine {
				t.Errorf("read %d bytes of an endless line", c.n)
			}
			if allocs > 40 {
				t.Errorf("%v allocations", allocs)
			}
		})
	}
}

// The chunked reader holds no more than its line buffer: memory does not
// grow with the chunk size.
func TestChunkedStreamsLargeChunk(t *testing.T) {
	const size = 64 << 20
	r, _ := chunkedRequest(t, StreamingUnsignedPayloadTrailer, size, "")
	a, err := testVerifier(func() time.Time { return chunkTime }).Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	buf := make([]byte, 32<<10)
	allocs := testing.AllocsPerRun(2, func() {
		body := io.MultiReader(
			strings.NewReader(strconv.FormatInt(size, 16)+"\r\n"),
			io.LimitReader(&countingReader{fill: 'z'}, size),
			strings.NewReader("\r\n0\r\n\r\n"),
		)
		n, err = io.CopyBuffer(io.Discard, a.Body(io.NopCloser(body)), buf)
	})
	if err != nil || n != size {
		t.Fatalf("copied %d, %v", n, err)
	}
	if allocs > 40 {
		t.Errorf("%v allocations for a 64 MiB chunk", allocs)
	}
}

// A request to a real server whose connection delivers less than
// Content-Length yields IncompleteBody from every kind of body.
func TestTruncatedOverTheWire(t *testing.T) {
	v := testVerifier(func() time.Time { return chunkTime })
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := v.Verify(r)
		if err == nil {
			_, err = io.ReadAll(a.Body(r.Body))
		}
		got <- err
	}))
	defer srv.Close()
	for _, payload := range []string{hashHex("0123456789"), StreamingUnsignedPayloadTrailer} {
		t.Run(payload, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPut, srv.URL+"/b/k", nil)
			Sign(r, testAK, testSK, testRegion, payload, chunkTime)
			var req bytes.Buffer
			fmt.Fprintf(&req, "PUT /b/k HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n", r.Host)
			for k, vs := range r.Header {
				fmt.Fprintf(&req, "%s: %s\r\n", k, vs[0])
			}
			req.WriteString("\r\n0123456789")
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(req.Bytes())
			c.(*net.TCPConn).CloseWrite()
			if err := <-got; !errors.Is(err, ErrIncompleteBody) {
				t.Errorf("err = %v, want ErrIncompleteBody", err)
			}
		})
	}
}
