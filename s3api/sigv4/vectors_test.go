package sigv4

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The examples of AWS's SigV4 documentation for S3 ("Signature calculations
// for the Authorization header", "Authenticating requests: using query
// parameters", "Transferring payload in multiple chunks" and "Including
// trailing headers"), with their published signatures.
const (
	exampleAccessKey = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	exampleAmzDate   = "20130524T000000Z"
	exampleScope     = "20130524/us-east-1/s3/aws4_request"
)

var exampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func exampleVerifier(at time.Time) *Verifier {
	return &Verifier{
		Lookup: func(ak string) (string, bool) { return exampleSecret, ak == exampleAccessKey },
		Now:    func() time.Time { return at },
	}
}

func exampleAuthz(signedHeaders, sig string) string {
	return "AWS4-HMAC-SHA256 Credential=" + exampleAccessKey + "/" + exampleScope +
		",SignedHeaders=" + signedHeaders + ",Signature=" + sig
}

func TestAWSDocumentedHeaderExamples(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		body    string
		headers map[string]string
		signed  string
		sig     string
	}{
		{
			name: "GET object", method: "GET", target: "/test.txt",
			headers: map[string]string{"Range": "bytes=0-9", "X-Amz-Content-Sha256": EmptySHA256},
			signed:  "host;range;x-amz-content-sha256;x-amz-date",
			sig:     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		},
		{
			name: "PUT object", method: "PUT", target: "/test%24file.text", body: "Welcome to Amazon S3.",
			headers: map[string]string{
				"Date":                 "Fri, 24 May 2013 00:00:00 GMT",
				"X-Amz-Storage-Class":  "REDUCED_REDUNDANCY",
				"X-Amz-Content-Sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			},
			signed: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
			sig:    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
		},
		{
			name: "GET bucket lifecycle", method: "GET", target: "/?lifecycle",
			headers: map[string]string{"X-Amz-Content-Sha256": EmptySHA256},
			signed:  "host;x-amz-content-sha256;x-amz-date",
			sig:     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
		},
		{
			name: "GET bucket (list objects)", method: "GET", target: "/?max-keys=2&prefix=J",
			headers: map[string]string{"X-Amz-Content-Sha256": EmptySHA256},
			signed:  "host;x-amz-content-sha256;x-amz-date",
			sig:     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			r.Host = "examplebucket.s3.amazonaws.com"
			r.Header.Set("X-Amz-Date", exampleAmzDate)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			r.Header.Set("Authorization", exampleAuthz(tc.signed, tc.sig))
			a, err := exampleVerifier(exampleTime).Verify(r)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := io.ReadAll(a.Body(r.Body))
			if err != nil || string(got) != tc.body {
				t.Fatalf("body = %q, %v", got, err)
			}
			if a.AccessKey != exampleAccessKey || a.Region != "us-east-1" || !a.Time.Equal(exampleTime) {
				t.Errorf("Auth = %+v", a)
			}

			// Our signer produces the documented signature too.
			c := httptest.NewRequest(tc.method, "http://examplebucket.s3.amazonaws.com"+tc.target, strings.NewReader(tc.body))
			c.RequestURI = ""
			for k, v := range tc.headers {
				if k != "X-Amz-Content-Sha256" {
					c.Header.Set(k, v)
				}
			}
			c.ContentLength = 0 // the examples do not sign Content-Length
			Sign(c, exampleAccessKey, exampleSecret, "us-east-1", tc.headers["X-Amz-Content-Sha256"], exampleTime)
			if want := "AWS4-HMAC-SHA256 Credential=" + exampleAccessKey + "/" + exampleScope + ", SignedHeaders=" + tc.signed + ", Signature=" + tc.sig; c.Header.Get("Authorization") != want {
				t.Errorf("Sign:\n got %s\nwant %s", c.Header.Get("Authorization"), want)
			}
		})
	}
}

func TestAWSDocumentedPresignedExample(t *testing.T) {
	const target = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	newReq := func() *http.Request {
		r := httptest.NewRequest("GET", target, nil)
		r.Host = "examplebucket.s3.amazonaws.com"
		return r
	}
	a, err := exampleVerifier(exampleTime.Add(time.Hour)).Verify(newReq())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !a.Presigned || a.PayloadHash != UnsignedPayload {
		t.Errorf("Auth = %+v", a)
	}
	if _, err := exampleVerifier(exampleTime.Add(86401 * time.Second)).Verify(newReq()); !errors.Is(err, ErrExpiredRequest) {
		t.Errorf("after expiry: %v, want ErrExpiredRequest", err)
	}

	c := httptest.NewRequest("GET", "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	c.RequestURI = ""
	u, err := Presign(c, exampleAccessKey, exampleSecret, "us-east-1", 86400*time.Second, exampleTime)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.RequestURI(); got != target {
		t.Errorf("Presign:\n got %s\nwant %s", got, target)
	}
}

// awsStreamingExample is the documented chunked upload: 65 KiB of 'a' in a
// 64 KiB chunk, a 1 KiB chunk and the final chunk.
type awsStreamingExample struct {
	payload    string
	signed     string
	seed       string
	chunkSigs  [3]string
	trailer    string // "" for none
	trailerSig string
}

var (
	streamingExample = awsStreamingExample{
		payload: StreamingPayload,
		signed:  "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
		seed:    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
		chunkSigs: [3]string{
			"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
			"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
			"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
		},
	}
	streamingTrailerExample = awsStreamingExample{
		payload: StreamingPayloadTrailer,
		signed:  "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
		seed:    "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
		chunkSigs: [3]string{
			"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
			"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
			"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
		},
		trailer:    "x-amz-checksum-crc32c:sOO8/Q==",
		trailerSig: "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435",
	}
	exampleChunk1 = strings.Repeat("a", 65536)
	exampleChunk2 = strings.Repeat("a", 1024)
)

func (e awsStreamingExample) body() string {
	b := "10000;chunk-signature=" + e.chunkSigs[0] + "\r\n" + exampleChunk1 + "\r\n" +
		"400;chunk-signature=" + e.chunkSigs[1] + "\r\n" + exampleChunk2 + "\r\n" +
		"0;chunk-signature=" + e.chunkSigs[2] + "\r\n"
	if e.trailer != "" {
		b += e.trailer + "\r\n" + "x-amz-trailer-signature:" + e.trailerSig + "\r\n"
	}
	return b + "\r\n"
}

func (e awsStreamingExample) request(body string) *http.Request {
	r := httptest.NewRequest("PUT", "/examplebucket/chunkObject.txt", strings.NewReader(body))
	r.Host = "s3.amazonaws.com"
	r.ContentLength = 66824
	r.Header.Set("X-Amz-Date", exampleAmzDate)
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("X-Amz-Content-Sha256", e.payload)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	if e.trailer != "" {
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32c")
	}
	r.Header.Set("Authorization", exampleAuthz(e.signed, e.seed))
	return r
}

func TestAWSDocumentedStreamingExamples(t *testing.T) {
	for _, e := range []awsStreamingExample{streamingExample, streamingTrailerExample} {
		t.Run(e.payload, func(t *testing.T) {
			r := e.request(e.body())
			a, err := exampleVerifier(exampleTime).Verify(r)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if a.DecodedContentLength != 66560 || !a.Streaming() {
				t.Errorf("Auth = %+v", a)
			}
			if a.TrailerChecksums() != nil {
				t.Error("trailer checksums before the body was read")
			}
			got, err := io.ReadAll(a.Body(r.Body))
			if err != nil {
				t.Fatalf("body: %v", err)
			}
			if string(got) != exampleChunk1+exampleChunk2 {
				t.Fatalf("decoded %d bytes, want 66560 bytes of 'a'", len(got))
			}
			sums := a.TrailerChecksums()
			if e.trailer != "" {
				if len(sums) != 1 || sums["crc32c"] != "sOO8/Q==" {
					t.Errorf("TrailerChecksums = %v", sums)
				}
			} else if sums != nil {
				t.Errorf("TrailerChecksums = %v, want nil", sums)
			}
		})
	}
}
