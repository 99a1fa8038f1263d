package s3api

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// XML bombs and oversized documents. encoding/xml expands no entities but
// the five predefined ones and character references, so the billion-laughs
// bomb is out; what remains is depth (every open element is kept), width
// (every attribute of an element is kept) and sheer size. Each must be
// answered with S3's error, change nothing (the backends here fail the
// test if called) and cost the server little memory whatever the body.

// maxBombAlloc is what one hostile document may make the server allocate,
// its own copy of a body included. Before the list documents were decoded
// in bounded pieces, an 8 MiB CompleteMultipartUpload of nested elements
// allocated over 500 MiB and a 2 MiB Delete over 120 MiB.
const maxBombAlloc = 16 << 20

// allocated returns the bytes allocated while f ran. Tests calling it do
// not run in parallel, so the count is f's (the runtime's own background
// work adds little).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// fill repeats unit after prefix until the document is about size bytes.
func fill(prefix, unit string, size int) string {
	return prefix + strings.Repeat(unit, (size-len(prefix))/len(unit))
}

func md5Of(s string) string {
	sum := md5.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestXMLBombsAreRefusedCheaply(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{})
	uploadID := createUpload(t, s, "/bkt/k")
	complete := "/bkt/k?uploadId=" + uploadID
	const part = "<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>"

	tests := []struct {
		name, method, target, body string
	}{
		// Just under each document's size bound, so only the shape is wrong.
		{"complete: deep", http.MethodPost, complete, fill("<CompleteMultipartUpload>", "<a>", maxCompleteBody-16)},
		{"complete: deep in a part", http.MethodPost, complete, fill("<CompleteMultipartUpload>"+part+"<Part><PartNumber>2</PartNumber>", "<a>", maxCompleteBody-16)},
		{"complete: wide", http.MethodPost, complete, fill("<CompleteMultipartUpload><Part", " a=''", maxCompleteBody-16)},
		{"complete: namespaces", http.MethodPost, complete, fill("<CompleteMultipartUpload><Part", " xmlns:a='b'", maxCompleteBody-16)},
		{"complete: huge ETag", http.MethodPost, complete, fill("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>", "e", maxCompleteBody-16)},
		{"delete: deep", http.MethodPost, "/bkt?delete", fill("<Delete><Object>", "<a>", maxDeleteBody-16)},
		{"delete: deep in a key", http.MethodPost, "/bkt?delete", fill("<Delete><Object><Key>", "<a>", maxDeleteBody-16)},
		{"delete: wide", http.MethodPost, "/bkt?delete", fill("<Delete><Object", " a=''", maxDeleteBody-16)},
		{"delete: 1001 keys", http.MethodPost, "/bkt?delete", "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", maxDeleteKeys+1) + "</Delete>"},
		{"tagging: deep", http.MethodPut, "/bkt/k?tagging", fill("<Tagging><TagSet>", "<a>", maxTaggingBody)},
		{"tagging: wide", http.MethodPut, "/bkt/k?tagging", fill("<Tagging><TagSet", " a=''", maxTaggingBody)},
		{"cors: deep", http.MethodPut, "/bkt?cors", fill("<CORSConfiguration><CORSRule>", "<a>", maxCORSBody)},
		{"create bucket: deep", http.MethodPut, "/newbucket", fill("<CreateBucketConfiguration>", "<a>", maxBucketConfig)},
		// Past each bound.
		{"complete: too large", http.MethodPost, complete, "<CompleteMultipartUpload>" + part + strings.Repeat(" ", maxCompleteBody) + "</CompleteMultipartUpload>"},
		{"delete: too large", http.MethodPost, "/bkt?delete", "<Delete><Object><Key>k</Key></Object>" + strings.Repeat(" ", maxDeleteBody) + "</Delete>"},
		{"tagging: too large", http.MethodPut, "/bkt/k?tagging", "<Tagging><TagSet></TagSet>" + strings.Repeat(" ", maxTaggingBody) + "</Tagging>"},
		{"cors: too large", http.MethodPut, "/bkt?cors", "<CORSConfiguration>" + strings.Repeat(" ", maxCORSBody) + "</CORSConfiguration>"},
		{"create bucket: too large", http.MethodPut, "/newbucket", "<CreateBucketConfiguration>" + strings.Repeat(" ", maxBucketConfig) + "</CreateBucketConfiguration>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w *httptest.ResponseRecorder
			n := allocated(func() {
				w = do(s, tt.method, tt.target, tt.body, "Content-MD5", md5Of(tt.body))
			})
			wantCode(t, w, http.StatusBadRequest, "MalformedXML")
			if n > maxBombAlloc {
				t.Errorf("a %d-byte document allocated %d MiB", len(tt.body), n>>20)
			}
		})
	}
	if len(m.objects) != 0 {
		t.Errorf("objects stored: %v", m.objects)
	}
}

// endlessBody never ends; it counts what was read from it.
type endlessBody struct {
	unit string
	read int64
}

func (e *endlessBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.unit[(e.read+int64(i))%int64(len(e.unit))]
	}
	e.read += int64(len(p))
	return len(p), nil
}

func (e *endlessBody) Close() error { return nil }

// A document that never ends (chunked transfer encoding, no length) is
// read to its bound and no further, then refused.
func TestEndlessXMLBodiesStopAtTheirBound(t *testing.T) {
	m := newMemBackend(t, "bkt")
	s := testServer(m, Options{})
	uploadID := createUpload(t, s, "/bkt/k")
	tests := []struct {
		method, target string
		limit          int64
	}{
		{http.MethodPost, "/bkt/k?uploadId=" + uploadID, maxCompleteBody},
		{http.MethodPost, "/bkt?delete", maxDeleteBody},
		{http.MethodPut, "/bkt/k?tagging", maxTaggingBody},
		{http.MethodPut, "/bkt?cors", maxCORSBody},
		{http.MethodPut, "/newbucket", maxBucketConfig},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			body := &endlessBody{unit: "<a>"}
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.Body, r.ContentLength = body, -1
			r.Header.Set("Content-MD5", md5Of(""))
			sigv4.Sign(r, "ak", "sk", "us-east-1", sigv4.UnsignedPayload, time.Now())
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			wantCode(t, w, http.StatusBadRequest, "MalformedXML")
			// Reads come in buffers of up to 32 KiB (io.Copy, bufio).
			if body.read > tt.limit+64<<10 {
				t.Errorf("read %d bytes of an endless body bounded at %d", body.read, tt.limit)
			}
		})
	}
}
