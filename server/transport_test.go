package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
	"github.com/strongboxdb/strongbox/server"
)

// httpsCluster starts a cluster whose S3 endpoints serve HTTPS with one
// self-signed certificate, and returns an HTTP client that trusts it.
func httpsCluster(t *testing.T) (*testCluster, *http.Client) {
	t.Helper()
	dir := t.TempDir()
	tlsCfg, certFile, err := server.SelfSignedTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("bad self-signed certificate")
	}
	c := startCluster(t, 3, func(cfg *server.Config) { cfg.TLS = tlsCfg })
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return c, hc
}

// Over HTTPS the SDK's defaults send aws-chunked bodies with a trailing
// CRC32 (STREAMING-UNSIGNED-PAYLOAD-TRAILER). They must be decoded (no
// chunk framing stored), verified, stored and returned on GET with
// checksum mode, which the SDK then validates.
func TestHTTPSDefaultChecksumsRoundTrip(t *testing.T) {
	c, hc := httpsCluster(t)
	if !strings.HasPrefix(c.nodes[0].S3URL(), "https://") {
		t.Fatalf("endpoint %s is not HTTPS", c.nodes[0].S3URL())
	}
	cl := func(i int) *s3.Client {
		return newClient(c.nodes[i%3].S3URL(), testAccessKey, testSecretKey, func(o *s3.Options) { o.HTTPClient = hc })
	}
	mustCreateBucket(t, cl(0), "tls-bucket")
	sizes := []int{0, 1, 8 << 10, 64<<10 + 3, 1<<20 + 17}
	for i, size := range sizes {
		body := make([]byte, size)
		_, _ = rand.Read(body)
		key := "obj-" + string(rune('a'+i))
		// A seekable body of known length, and a stream of unknown length.
		if _, err := cl(i).PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("tls-bucket"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("PutObject %d bytes: %v", size, err)
		}
		out, err := cl(i+1).GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String("tls-bucket"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("GetObject %d bytes: %v", size, err)
		}
		got, err := io.ReadAll(out.Body) // the SDK validates the CRC32 while reading
		out.Body.Close()
		if err != nil {
			t.Fatalf("read %d bytes: %v", size, err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("%d-byte object came back as %d bytes (chunk framing stored?)", size, len(got))
		}
		if size > 0 && aws.ToString(out.ChecksumCRC32) == "" {
			t.Fatalf("%d bytes: no CRC32 returned with checksum mode", size)
		}
		// Unknown length: the SDK streams aws-chunked without a decoded length.
		_, err = cl(i+2).PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("tls-bucket"), Key: aws.String(key + "-stream"), Body: io.NopCloser(bytes.NewReader(body))})
		if err != nil {
			t.Fatalf("PutObject stream of %d bytes: %v", size, err)
		}
		if got := mustGet(t, cl(i), "tls-bucket", key+"-stream"); got != string(body) {
			t.Fatalf("stream of %d bytes came back as %d bytes", size, len(got))
		}
	}
}

// A wrong trailing checksum is rejected with BadDigest and stores nothing.
func TestTrailingChecksumMismatchStoresNothing(t *testing.T) {
	c, hc := httpsCluster(t)
	cl := newClient(c.nodes[0].S3URL(), testAccessKey, testSecretKey, func(o *s3.Options) { o.HTTPClient = hc })
	mustCreateBucket(t, cl, "bad-digest")
	_, err := cl.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket: aws.String("bad-digest"), Key: aws.String("k"), Body: strings.NewReader("hello"),
		ChecksumCRC32: aws.String("AAAAAA=="), // not the CRC32 of "hello"
	})
	if apiCode(err) != "BadDigest" && apiCode(err) != "XAmzContentChecksumMismatch" {
		t.Fatalf("got %v, want BadDigest", err)
	}
	if _, err := cl.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("bad-digest"), Key: aws.String("k")}); !isHTTPStatus(err, 404) {
		t.Fatalf("object stored despite bad checksum: %v", err)
	}
}

// Presigned GET and PUT URLs work with a plain HTTP client on any node;
// an expired one is refused with "Request has expired".
func TestPresignedURLs(t *testing.T) {
	c := startCluster(t, 3, nil)
	mustCreateBucket(t, c.client(0), "presign")
	pc := s3.NewPresignClient(c.client(1))
	put, err := pc.PresignPutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("presign"), Key: aws.String("up load.txt")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("via presigned put"))
	for k, v := range put.SignedHeader {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %s", resp.Status)
	}
	get, err := s3.NewPresignClient(c.client(2)).PresignGetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("up load.txt")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "via presigned put" {
		t.Fatalf("presigned GET: %s %q", resp.Status, b)
	}

	// Expired: sign for one second, ten minutes ago.
	u, _ := http.NewRequest(http.MethodGet, c.nodes[0].S3URL()+"/presign/up%20load.txt", nil)
	expired, err := sigv4.Presign(u, testAccessKey, testSecretKey, "us-east-1", time.Second, time.Now().Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(expired.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>AccessDenied</Code>") || !strings.Contains(string(b), "Request has expired") {
		t.Fatalf("expired presigned GET: %s %s", resp.Status, b)
	}
}

// Presigners move x-amz-* headers into the query string (the JS SDK v3
// moves all but the encryption ones); like S3, the server treats them as
// the headers they stand for: metadata, tags and a checksum are stored and
// checked, and what a header would be refused for is refused. The JS SDK's
// default presigned PutObject carries the CRC32 of an empty body
// (AAAAAA==), so uploading data with it fails, as it does on S3.
func TestPresignedHoistedHeaders(t *testing.T) {
	c := startCluster(t, 3, nil)
	mustCreateBucket(t, c.client(0), "hoisted")
	const body = "hoisted headers"
	put := func(key, query string) rawResponse {
		t.Helper()
		u, _ := http.NewRequest(http.MethodPut, c.nodes[1].S3URL()+"/hoisted/"+key+"?"+query, nil)
		signed, err := sigv4.Presign(u, testAccessKey, testSecretKey, "us-east-1", time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPut, signed.String(), strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	}

	crc := crc32B64([]byte(body))
	ok := put("ok", "x-amz-meta-color=red&x-amz-tagging=team%3Dblue&x-amz-checksum-crc32="+url.QueryEscape(crc)+"&x-amz-sdk-checksum-algorithm=CRC32&x-id=PutObject")
	if ok.Status != 200 {
		t.Fatalf("presigned PUT with hoisted headers: %d %s", ok.Status, ok.Body)
	}
	head, err := c.client(2).HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("hoisted"), Key: aws.String("ok"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	if head.Metadata["color"] != "red" || aws.ToInt32(head.TagCount) != 1 || aws.ToString(head.ChecksumCRC32) != crc {
		t.Fatalf("stored: metadata %v, tags %d, crc32 %q (want %q)", head.Metadata, aws.ToInt32(head.TagCount), aws.ToString(head.ChecksumCRC32), crc)
	}

	for _, tt := range []struct{ name, query, code string }{
		{"empty-body crc32", "x-amz-checksum-crc32=AAAAAA%3D%3D&x-amz-sdk-checksum-algorithm=CRC32", "BadDigest"},
		{"bogus storage class", "x-amz-storage-class=BOGUS", "InvalidStorageClass"},
		{"object lock", "x-amz-object-lock-mode=COMPLIANCE", "InvalidRequest"},
	} {
		resp := put("refused", tt.query)
		wantS3Error(t, tt.name, resp, 400, tt.code)
	}
	if _, err := c.client(0).HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("hoisted"), Key: aws.String("refused")}); !isHTTPStatus(err, 404) {
		t.Fatalf("HEAD after the refused presigned PUTs: %v, want 404", err)
	}
}

// Virtual-hosted style: bucket.localhost:port addresses the bucket.
func TestVirtualHostedStyle(t *testing.T) {
	c := startCluster(t, 3, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(c.nodes[1].S3URL(), "http://"))
	// *.localhost need not resolve here; dial loopback whatever the host.
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: dial}}
	vh := newClient("http://localhost:"+port, testAccessKey, testSecretKey, func(o *s3.Options) {
		o.UsePathStyle = false
		o.HTTPClient = hc
	})
	mustCreateBucket(t, vh, "vhost-bucket")
	mustPut(t, vh, "vhost-bucket", "dir/key", "hello")
	// Written virtual-hosted, read path-style from another node.
	if got := mustGet(t, c.client(2), "vhost-bucket", "dir/key"); got != "hello" {
		t.Fatalf("got %q", got)
	}
	out, err := vh.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String("vhost-bucket")})
	if err != nil || len(out.Contents) != 1 {
		t.Fatalf("virtual-hosted list: %v %+v", err, out)
	}

	// SigV2 signs the bucket in its resource, not in Host: botocore's
	// virtual-hosted SigV2 requests sign /bucket/key and /bucket/.
	for _, tt := range []struct{ path, resource, want string }{
		{"/dir/key", "/vhost-bucket/dir/key", "hello"},
		{"/", "/vhost-bucket/", "<Key>dir/key</Key>"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://vhost-bucket.localhost:"+port+tt.path, nil)
		date := time.Now().UTC().Format(http.TimeFormat)
		req.Header.Set("Date", date)
		mac := hmac.New(sha1.New, []byte(testSecretKey))
		mac.Write([]byte("GET\n\n\n" + date + "\n" + tt.resource))
		req.Header.Set("Authorization", "AWS "+testAccessKey+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), tt.want) {
			t.Fatalf("virtual-hosted SigV2 GET %s: %s %s", tt.path, resp.Status, b)
		}
	}
}

// The admin API requires the admin credentials.
func TestAdminRequiresCredentials(t *testing.T) {
	c := startCluster(t, 1, nil)
	url := c.nodes[0].S3URL() + "/_strongbox/cluster/status"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous admin call: %s", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	sigv4.Sign(req, testAccessKey, testSecretKey, "us-east-1", sigv4.EmptySHA256, time.Now())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"leader": "n1"`) {
		t.Fatalf("signed admin call: %s %s", resp.Status, b)
	}
	// Health is open, for load balancers.
	resp, err = http.Get(c.nodes[0].S3URL() + "/_strongbox/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health: %s", resp.Status)
	}
}
