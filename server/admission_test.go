package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
	"github.com/strongboxdb/strongbox/server"
)

// trickle opens a connection to addr and sends the head of a request plus
// a first part of its body, then stops: a client that never finishes.
func trickle(t *testing.T, addr, head, body string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, head+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readResponse reads one HTTP response from conn, or fails after limit.
func readResponse(t *testing.T, conn net.Conn, limit time.Duration) (*http.Response, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", limit, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// postFormHead is the start of an anonymous POST Object request whose form
// is much longer than what is sent.
func postFormHead(addr, bucket string) string {
	return "POST /" + bucket + " HTTP/1.1\r\nHost: " + addr +
		"\r\nContent-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 100000\r\n"
}

// TestAnonymousWorkCannotStarveSignedRequests: anonymous POST forms that
// trickle their fields take only the unauthenticated budget; signed
// requests keep being served, and a form that stops sending is cut off by
// its deadline.
func TestAnonymousWorkCannotStarveSignedRequests(t *testing.T) {
	c := startCluster(t, 1, func(cfg *server.Config) {
		cfg.MaxInFlight = 4
		cfg.MaxUnauthenticated = 2
		cfg.PostFormTimeout = 5 * time.Second
	})
	cl := c.client(0)
	mustCreateBucket(t, cl, "forms")
	addr := strings.TrimPrefix(c.nodes[0].S3URL(), "http://")

	// Twice as many tricklers as there are in-flight slots: before the
	// signed and anonymous gates were split, they took every slot. Which
	// two the server admits is up to its scheduling.
	type answer struct {
		status int
		body   string
	}
	answers := make(chan answer, 8)
	for i := 0; i < 8; i++ {
		conn := trickle(t, addr, postFormHead(addr, "forms"), "--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk")
		go func() {
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				answers <- answer{0, err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				b = append(b, " (no Retry-After)"...)
			}
			answers <- answer{resp.StatusCode, string(b)}
		}()
	}
	// The six past the anonymous budget are shed at once.
	for i := 0; i < 6; i++ {
		a := <-answers
		if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "<Code>SlowDown</Code>") || strings.Contains(a.body, "no Retry-After") {
			t.Fatalf("anonymous form past the budget: %d %s", a.status, a.body)
		}
	}
	// Signed requests are served while the other two hold the anonymous
	// budget (they are cut off only after PostFormTimeout).
	for i := 0; i < 8; i++ {
		if _, err := cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("forms"), Key: aws.String(fmt.Sprint("k", i)), Body: strings.NewReader("v")}); err != nil {
			t.Fatalf("signed PUT %d while anonymous forms trickle: %v", i, err)
		}
	}
	// The two admitted forms run out of time: 400 RequestTimeout.
	for i := 0; i < 2; i++ {
		if a := <-answers; a.status != http.StatusBadRequest || !strings.Contains(a.body, "<Code>RequestTimeout</Code>") {
			t.Fatalf("stalled form: %d %s", a.status, a.body)
		}
	}
}

// TestStalledBodyTimesOut: a signed PUT whose body stops arriving gets
// 400 RequestTimeout after the idle deadline and gives its slot back.
func TestStalledBodyTimesOut(t *testing.T) {
	c := startCluster(t, 1, func(cfg *server.Config) {
		cfg.MaxInFlight = 1
		cfg.AdmissionQueue = -1 // shed at once: the slot must really be free
		cfg.BodyIdleTimeout = time.Second
	})
	cl := c.client(0)
	mustCreateBucket(t, cl, "stall")
	addr := strings.TrimPrefix(c.nodes[0].S3URL(), "http://")

	req, err := http.NewRequest(http.MethodPut, c.nodes[0].S3URL()+"/stall/obj", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 1000
	sigv4.Sign(req, testAccessKey, testSecretKey, "us-east-1", sigv4.UnsignedPayload, time.Now())
	var head strings.Builder
	fmt.Fprintf(&head, "PUT /stall/obj HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n", addr)
	for k, vs := range req.Header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, vs[0])
	}
	conn := trickle(t, addr, head.String(), "only ten b")
	resp, body := readResponse(t, conn, 20*time.Second)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "<Code>RequestTimeout</Code>") {
		t.Fatalf("stalled signed PUT: %d %s", resp.StatusCode, body)
	}
	// The only slot is free again.
	if _, err := cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("stall"), Key: aws.String("next"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PUT after the stalled one timed out: %v", err)
	}
	if _, err := cl.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("stall"), Key: aws.String("obj")}); err == nil {
		t.Fatal("the stalled PUT stored an object")
	}
}

// TestConnectionLimit: past MaxConnections a new connection is answered
// 503 SlowDown at once instead of growing the node's connections.
func TestConnectionLimit(t *testing.T) {
	c := startCluster(t, 1, func(cfg *server.Config) { cfg.MaxConnections = 3 })
	addr := strings.TrimPrefix(c.nodes[0].S3URL(), "http://")
	// Three idle keep-alive connections hold every place. Each is known to
	// be accepted once it answered a request.
	for i := 0; i < 3; i++ {
		conn := trickle(t, addr, "GET /_strongbox/health HTTP/1.1\r\nHost: "+addr+"\r\n", "")
		if resp, _ := readResponse(t, conn, 10*time.Second); resp.StatusCode != http.StatusOK {
			t.Fatalf("health on connection %d: %d", i, resp.StatusCode)
		}
	}
	conn := trickle(t, addr, "GET /_strongbox/health HTTP/1.1\r\nHost: "+addr+"\r\n", "")
	resp, body := readResponse(t, conn, 10*time.Second)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "<Code>SlowDown</Code>") || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("connection past the limit: %d %s", resp.StatusCode, body)
	}
}

// TestOversizedHeaders: a header section past S3's 8 KB gets S3's answer;
// one far past it is refused by the HTTP server before any handler runs,
// so a client cannot make a node buffer megabytes of headers.
func TestOversizedHeaders(t *testing.T) {
	c := startCluster(t, 1, nil)
	big := http.Header{"X-Amz-Meta-Big": {strings.Repeat("a", 9<<10)}}
	resp := c.raw(t, 0, http.MethodGet, "/", "", big, true)
	wantS3Error(t, "9 KiB of headers", resp, http.StatusBadRequest, "RequestHeaderSectionTooLarge")

	addr := strings.TrimPrefix(c.nodes[0].S3URL(), "http://")
	conn := trickle(t, addr, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nX-Huge: "+strings.Repeat("a", 1<<20)+"\r\n", "")
	r, _ := readResponse(t, conn, 10*time.Second)
	if r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("1 MiB of headers: %d", r.StatusCode)
	}
}

// TestUploadBurstQueuesForBlobStreams: 32 large uploads at once, more than
// a node's blob streams, are all served: the ones past the bound wait for
// a stream instead of being refused with SlowDown. Every upload has sent
// its headers and the start of its body before any is allowed to finish,
// so half of them must wait.
func TestUploadBurstQueuesForBlobStreams(t *testing.T) {
	c := startCluster(t, 1, nil)
	mustCreateBucket(t, c.client(0), "burst")
	const n, size, head = 32, 1 << 20, 64 << 10
	var started, finish sync.WaitGroup
	started.Add(n)
	finish.Add(1)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		pr, pw := io.Pipe()
		req, err := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/burst/obj%d", c.nodes[0].S3URL(), i), pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		sigv4.Sign(req, testAccessKey, testSecretKey, "us-east-1", sigv4.UnsignedPayload, time.Now())
		go func() {
			defer pw.Close()
			body := bytes.Repeat([]byte{byte(i)}, size)
			_, err := pw.Write(body[:head])
			started.Done()
			if err != nil {
				return
			}
			finish.Wait()
			_, _ = pw.Write(body[head:])
		}()
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("PUT %s: %d %s", req.URL.Path, resp.StatusCode, b)
			}
			errs <- err
		}()
	}
	started.Wait()
	finish.Done()
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestOpenUploadsBounded: a bucket's open multipart uploads are bounded;
// past the bound CreateMultipartUpload is shed until one is finished.
func TestOpenUploadsBounded(t *testing.T) {
	c := startCluster(t, 1, func(cfg *server.Config) { cfg.Node.MaxOpenUploads = 3 })
	cl := newClient(c.nodes[0].S3URL(), testAccessKey, testSecretKey, noRetries)
	mustCreateBucket(t, cl, "ups")
	create := func() (string, error) {
		out, err := cl.CreateMultipartUpload(ctxT(t), &s3.CreateMultipartUploadInput{Bucket: aws.String("ups"), Key: aws.String("k")})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.UploadId), nil
	}
	var ids []string
	for i := 0; i < 3; i++ {
		id, err := create()
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	_, err := create()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SlowDown" {
		t.Fatalf("fourth upload: %v, want SlowDown", err)
	}
	if _, err := cl.AbortMultipartUpload(ctxT(t), &s3.AbortMultipartUploadInput{Bucket: aws.String("ups"), Key: aws.String("k"), UploadId: aws.String(ids[0])}); err != nil {
		t.Fatal(err)
	}
	if _, err := create(); err != nil {
		t.Fatalf("upload after an abort: %v", err)
	}
}
