package sigv4

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/s3api/checksum"
)

func BenchmarkSign(b *testing.B) {
	r, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/objects/key-000123", nil)
	r.ContentLength = 4096
	r.Header.Set("Content-Type", "application/octet-stream")
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		Sign(r, testAK, testSK, testRegion, UnsignedPayload, at)
	}
}

func BenchmarkPresign(b *testing.B) {
	r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:9000/bucket/objects/key-000123", nil)
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Presign(r, testAK, testSK, testRegion, time.Hour, at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	at := time.Now()
	r, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/bucket/objects/key%20000123?partNumber=1&uploadId=abc", nil)
	r.ContentLength = 4096
	r.Header.Set("Content-Type", "application/octet-stream")
	Sign(r, testAK, testSK, testRegion, UnsignedPayload, at)
	v := testVerifier(func() time.Time { return at })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedDecode(b *testing.B) {
	data := testData(4 << 20)
	for _, payload := range []string{StreamingPayload, StreamingUnsignedPayloadTrailer} {
		b.Run(payload, func(b *testing.B) {
			enc := newEncoder(payload, fuzzSeed)
			var trailers []string
			a := fuzzAuth(0, -1, 0)
			a.PayloadHash = payload
			if payload != StreamingPayload {
				trailers = append(trailers, "x-amz-checksum-crc32:"+checksum.CRC32.Of(data))
				a.trailer = checksum.CRC32
			}
			body := enc.encode(data, 64<<10, trailers...)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				rd := a.Body(io.NopCloser(strings.NewReader(body)))
				for {
					if _, err := rd.Read(buf); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
				}
			}
		})
	}
}
