package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// observed is what the fake S3 saw of one request.
type observed struct {
	Method, Path    string
	TLS             bool
	Payload         string            // x-amz-content-sha256
	ContentEncoding string            // Content-Encoding
	Trailer         string            // x-amz-trailer
	ContentMD5      bool              // Content-MD5 sent
	HeaderSums      map[string]string // x-amz-checksum-* headers
	TrailerSums     map[string]string // verified trailing checksums
	Decoded         int64
	Err             error
}

func (o observed) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s payload=%s", o.Method, o.Payload)
	if o.ContentEncoding != "" {
		fmt.Fprintf(&b, " content-encoding=%s", o.ContentEncoding)
	}
	if o.Trailer != "" {
		fmt.Fprintf(&b, " x-amz-trailer=%s", o.Trailer)
	}
	if o.ContentMD5 {
		b.WriteString(" content-md5")
	}
	var names []string
	for k := range o.HeaderSums {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, " header-checksum=%s", n)
	}
	if o.Err != nil {
		fmt.Fprintf(&b, " err=%v", o.Err)
	}
	return b.String()
}

// fakeS3 is the smallest S3 that exercises the package: it verifies every
// request, decodes the body and keeps PUT bodies by path.
type fakeS3 struct {
	v       *Verifier
	mu      sync.Mutex
	objects map[string][]byte
	seen    []observed
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := observed{
		Method:          r.Method,
		Path:            r.URL.Path,
		TLS:             r.TLS != nil,
		Payload:         r.Header.Get("X-Amz-Content-Sha256"),
		ContentEncoding: r.Header.Get("Content-Encoding"),
		Trailer:         r.Header.Get("X-Amz-Trailer"),
		ContentMD5:      r.Header.Get("Content-Md5") != "",
	}
	if o.Payload == "" && r.URL.Query().Has("X-Amz-Signature") {
		o.Payload = "presigned"
	}
	for _, a := range checksum.All() {
		if v := r.Header.Get(a.HeaderName()); v != "" {
			if o.HeaderSums == nil {
				o.HeaderSums = map[string]string{}
			}
			o.HeaderSums[a.String()] = v
		}
	}
	data, err := f.handle(r, &o)
	o.Err = err
	f.mu.Lock()
	f.seen = append(f.seen, o)
	f.mu.Unlock()

	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Code: "InternalError", Message: err.Error(), Status: 500}
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(e.Status)
		xml.NewEncoder(w).Encode(struct {
			XMLName xml.Name `xml:"Error"`
			Code    string
			Message string
		}{Code: e.Code, Message: e.Message})
		return
	}
	switch r.Method {
	case http.MethodPut:
		sum := md5.Sum(data)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	case http.MethodGet:
		f.mu.Lock()
		obj, ok := f.objects[r.URL.Path]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		sum := md5.Sum(obj)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(obj)))
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.Write(obj)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (f *fakeS3) handle(r *http.Request, o *observed) ([]byte, error) {
	a, err := f.v.Verify(r)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(a.Body(r.Body))
	if err != nil {
		return nil, err
	}
	o.Decoded = a.DecodedContentLength
	if a.DecodedContentLength >= 0 && a.DecodedContentLength != int64(len(data)) {
		return nil, fmt.Errorf("decoded %d bytes, announced %d", len(data), a.DecodedContentLength)
	}
	o.TrailerSums = a.TrailerChecksums()
	// Header checksums are the object layer's to verify; check them here
	// so the test knows the bytes are the client's.
	for name, want := range o.HeaderSums {
		alg, _ := checksum.ParseAlgorithm(name)
		if got := alg.Of(data); got != want {
			return nil, fmt.Errorf("header %s = %s, body has %s", name, want, got)
		}
	}
	if md := r.Header.Get("Content-Md5"); md != "" {
		sum := md5.Sum(data)
		if md != base64.StdEncoding.EncodeToString(sum[:]) {
			return nil, errors.New("Content-MD5 mismatch")
		}
	}
	if r.Method == http.MethodPut {
		f.mu.Lock()
		f.objects[r.URL.Path] = data
		f.mu.Unlock()
	}
	return data, nil
}

func (f *fakeS3) last() observed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[len(f.seen)-1]
}

// count returns how many requests the server has seen.
func (f *fakeS3) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// since returns the first request seen after count n, and false if none.
func (f *fakeS3) since(n int) (observed, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) <= n {
		return observed{}, false
	}
	return f.seen[n], true
}

func (f *fakeS3) object(path string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[path]
	return b, ok
}

// startFakeS3 starts a plain and a TLS server in front of one fakeS3.
func startFakeS3(t *testing.T) (*fakeS3, map[string]*httptest.Server) {
	t.Helper()
	f := &fakeS3{v: testVerifier(nil), objects: map[string][]byte{}}
	plain := httptest.NewServer(f)
	tlsSrv := httptest.NewTLSServer(f)
	t.Cleanup(plain.Close)
	t.Cleanup(tlsSrv.Close)
	return f, map[string]*httptest.Server{"http": plain, "https": tlsSrv}
}

func sdkClient(srv *httptest.Server, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(testAK, testSK, ""),
		HTTPClient:   srv.Client(),
		Retryer:      aws.NopRetryer{},
	}, opts...)
}

// onlyReader hides Seek, as a pipe or network stream would.
type onlyReader struct{ io.Reader }

// findings collects one line per client configuration for the log.
type findings struct {
	mu    sync.Mutex
	lines map[string]bool
}

func (f *findings) add(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lines == nil {
		f.lines = map[string]bool{}
	}
	f.lines[s] = true
}

func (f *findings) log(t *testing.T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ls []string
	for l := range f.lines {
		ls = append(ls, l)
	}
	sort.Strings(ls)
	t.Logf("what the client sent:\n%s", strings.Join(ls, "\n"))
}

// The AWS SDK's PutObject, with its default checksum behaviour and with each
// algorithm, over HTTP and HTTPS, seekable and streaming bodies: the server
// gets exactly the client's bytes and verifies the signature, the payload
// and any trailing checksum.
func TestE2EAWSSDKPutObject(t *testing.T) {
	f, servers := startFakeS3(t)
	var found findings
	defer found.log(t)
	modes := map[string]int{}

	type bodyKind struct {
		name        string
		make        func(b []byte) io.Reader
		knownLength bool
	}
	bodies := []bodyKind{
		{"seekable", func(b []byte) io.Reader { return bytes.NewReader(b) }, true},
		{"stream", func(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} }, true},
		{"stream-nolen", func(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} }, false},
	}
	algs := []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
		types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256}
	sizes := []int{0, 17, 70_000, 1<<20 + 3}

	for _, scheme := range []string{"http", "https"} {
		srv := servers[scheme]
		for _, calc := range []aws.RequestChecksumCalculation{0, aws.RequestChecksumCalculationWhenSupported, aws.RequestChecksumCalculationWhenRequired} {
			client := sdkClient(srv, func(o *s3.Options) { o.RequestChecksumCalculation = calc })
			for _, body := range bodies {
				for _, alg := range algs {
					for _, size := range sizes {
						if alg != "" && size != 70_000 {
							continue
						}
						name := fmt.Sprintf("%s/calc=%d/%s/alg=%s/%d", scheme, calc, body.name, alg, size)
						t.Run(name, func(t *testing.T) {
							data := testData(size)
							key := fmt.Sprintf("dir/key with spaces+%s/%s/%d/%s/%d", scheme, body.name, calc, alg, size)
							in := &s3.PutObjectInput{
								Bucket:            aws.String("bucket"),
								Key:               aws.String(key),
								Body:              body.make(data),
								ChecksumAlgorithm: alg,
							}
							if body.knownLength {
								in.ContentLength = aws.Int64(int64(size))
							}
							before := f.count()
							_, err := client.PutObject(context.Background(), in)
							o, sent := f.since(before)
							prefix := fmt.Sprintf("aws-sdk-go-v2 %-5s %-12s %-14s alg=%-9s %-5s: ", scheme, body.name, calcName(calc), alg, sizeClass(size))
							if !sent {
								found.add(prefix + "refused by the client: " + err.Error())
								if body.name != "seekable" && scheme == "http" {
									// The SDK must hash an unseekable body
									// before sending it over plain HTTP,
									// and cannot.
									t.Skipf("client refused: %v", err)
								}
								t.Fatalf("PutObject sent nothing: %v", err)
							}
							found.add(prefix + o.String())
							if err != nil {
								t.Fatalf("PutObject: %v (server saw %s)", err, o)
							}
							got, ok := f.object("/bucket/" + key)
							if !ok || !bytes.Equal(got, data) {
								t.Fatalf("stored %d bytes (present %v), want %d", len(got), ok, size)
							}
							modes[o.Payload]++
							for a, v := range o.TrailerSums {
								alg, _ := checksum.ParseAlgorithm(a)
								if v != alg.Of(data) {
									t.Errorf("trailer %s = %s, want %s", a, v, alg.Of(data))
								}
							}
							if alg != "" {
								want := strings.ToLower(string(alg))
								if o.TrailerSums[want] == "" && o.HeaderSums[want] == "" {
									t.Errorf("no %s checksum reached the server: %s", want, o)
								}
							}
						})
					}
				}
			}
		}
	}
	if modes[StreamingUnsignedPayloadTrailer] == 0 {
		t.Errorf("no upload used %s; the decoder was not exercised by the SDK (modes %v)", StreamingUnsignedPayloadTrailer, modes)
	}
}

func sizeClass(n int) string {
	switch {
	case n == 0:
		return "empty"
	case n < 64<<10:
		return "small"
	case n < 1<<20:
		return "64KiB+"
	}
	return "1MiB+"
}

func calcName(c aws.RequestChecksumCalculation) string {
	switch c {
	case aws.RequestChecksumCalculationWhenRequired:
		return "when_required"
	case aws.RequestChecksumCalculationWhenSupported:
		return "when_supported"
	}
	return "unset"
}

// The SDK's presign client: a presigned PUT then GET move the object.
func TestE2EAWSSDKPresignClient(t *testing.T) {
	f, servers := startFakeS3(t)
	for scheme, srv := range servers {
		t.Run(scheme, func(t *testing.T) {
			pc := s3.NewPresignClient(sdkClient(srv))
			key := "presigned/k e y+%2F/" + scheme
			data := testData(5000)
			put, err := pc.PresignPutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)},
				s3.WithPresignExpires(10*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader(data))
			for k, vs := range put.SignedHeader {
				if k != "Host" {
					req.Header[k] = vs
				}
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("presigned PUT: %d (%s)", resp.StatusCode, f.last())
			}
			get, err := pc.PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			resp, err = srv.Client().Get(get.URL)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(got, data) {
				t.Fatalf("presigned GET: %d, %d bytes (%s)", resp.StatusCode, len(got), f.last())
			}

			// A tampered presigned URL is refused.
			resp, err = srv.Client().Get(strings.Replace(get.URL, "X-Amz-Expires=900", "X-Amz-Expires=901", 1))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("tampered URL: %d", resp.StatusCode)
			}
		})
	}
}

// Wrong credentials through the real SDK surface as the S3 error codes.
func TestE2EAWSSDKErrors(t *testing.T) {
	_, servers := startFakeS3(t)
	srv := servers["https"]
	for _, tc := range []struct {
		name, ak, sk, code string
	}{
		{"wrong secret", testAK, "wrong", "SignatureDoesNotMatch"},
		{"unknown key", "AKIDNOBODY", testSK, "InvalidAccessKeyId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := sdkClient(srv, func(o *s3.Options) {
				o.Credentials = credentials.NewStaticCredentialsProvider(tc.ak, tc.sk, "")
			})
			_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String("bucket"), Key: aws.String("k"), Body: strings.NewReader("data"),
			})
			var apiErr interface{ ErrorCode() string }
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

// minio-go's PutObject with its defaults and with each option that changes
// the payload signing, over HTTP and HTTPS.
func TestE2EMinioPutObject(t *testing.T) {
	f, servers := startFakeS3(t)
	var found findings
	defer found.log(t)
	modes := map[string]int{}

	type variant struct {
		name     string
		trailing bool
		opts     minio.PutObjectOptions
	}
	variants := []variant{
		{"default", false, minio.PutObjectOptions{}},
		{"SendContentMd5", false, minio.PutObjectOptions{SendContentMd5: true}},
		{"DisableContentSha256", false, minio.PutObjectOptions{DisableContentSha256: true}},
		{"TrailingHeaders", true, minio.PutObjectOptions{}},
		{"TrailingHeaders+AutoChecksum=CRC64NVME", true, minio.PutObjectOptions{AutoChecksum: minio.ChecksumCRC64NVME}},
		{"TrailingHeaders+Checksum=SHA256", true, minio.PutObjectOptions{Checksum: minio.ChecksumSHA256}},
	}
	for _, scheme := range []string{"http", "https"} {
		srv := servers[scheme]
		for _, v := range variants {
			mc, err := minio.New(strings.TrimPrefix(srv.URL, scheme+"://"), &minio.Options{
				Creds:           miniocreds.NewStaticV4(testAK, testSK, ""),
				Secure:          scheme == "https",
				Transport:       srv.Client().Transport,
				Region:          testRegion,
				MaxRetries:      1,
				TrailingHeaders: v.trailing,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{0, 70_000, 1<<20 + 3} {
				name := fmt.Sprintf("%s/%s/%d", scheme, v.name, size)
				t.Run(name, func(t *testing.T) {
					data := testData(size)
					key := fmt.Sprintf("minio/key with spaces+%s/%s/%d", scheme, v.name, size)
					before := f.count()
					_, err := mc.PutObject(context.Background(), "bucket", key, bytes.NewReader(data), int64(size), v.opts)
					o, sent := f.since(before)
					prefix := fmt.Sprintf("minio-go %-5s %-38s %-5s: ", scheme, v.name, sizeClass(size))
					if !sent {
						found.add(prefix + "refused by the client: " + err.Error())
						t.Fatalf("PutObject sent nothing: %v", err)
					}
					found.add(prefix + o.String())
					if err != nil {
						t.Fatalf("PutObject: %v (server saw %s)", err, o)
					}
					got, ok := f.object("/bucket/" + key)
					if !ok || !bytes.Equal(got, data) {
						t.Fatalf("stored %d bytes (present %v), want %d", len(got), ok, size)
					}
					modes[o.Payload]++
					for a, val := range o.TrailerSums {
						alg, _ := checksum.ParseAlgorithm(a)
						if val != alg.Of(data) {
							t.Errorf("trailer %s = %s, want %s", a, val, alg.Of(data))
						}
					}

					// And back, through minio-go's GetObject.
					obj, err := mc.GetObject(context.Background(), "bucket", key, minio.GetObjectOptions{})
					if err != nil {
						t.Fatal(err)
					}
					back, err := io.ReadAll(obj)
					obj.Close()
					if err != nil || !bytes.Equal(back, data) {
						t.Fatalf("GetObject: %d bytes, %v", len(back), err)
					}
				})
			}
		}
	}
	if modes[StreamingPayload] == 0 {
		t.Errorf("no upload used %s (modes %v)", StreamingPayload, modes)
	}
}
