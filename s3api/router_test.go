package s3api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// untouchable is a Backend that fails the test if the router sends it
// anything: requests for unsupported features must never reach the store.
type untouchable struct{ t *testing.T }

func (u untouchable) fail() error                                { u.t.Error("backend called"); return objstore.ErrUnavailable }
func (u untouchable) CreateBucket(context.Context, string) error { return u.fail() }
func (u untouchable) DeleteBucket(context.Context, string) error { return u.fail() }
func (u untouchable) HeadBucket(context.Context, string) (objstore.BucketInfo, error) {
	return objstore.BucketInfo{}, u.fail()
}
func (u untouchable) ListBuckets(context.Context) ([]objstore.BucketInfo, error) {
	return nil, u.fail()
}
func (u untouchable) PutObject(context.Context, *objstore.PutRequest) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, u.fail()
}
func (u untouchable) GetObject(context.Context, string, string) (objstore.ObjectInfo, objstore.Body, error) {
	return objstore.ObjectInfo{}, nil, u.fail()
}
func (u untouchable) HeadObject(context.Context, string, string) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, u.fail()
}
func (u untouchable) DeleteObject(context.Context, string, string) error { return u.fail() }
func (u untouchable) ListObjects(context.Context, string, objstore.ListOptions) (objstore.ListResult, error) {
	return objstore.ListResult{}, u.fail()
}
func (u untouchable) CopyObject(context.Context, *objstore.CopyRequest) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, u.fail()
}
func (u untouchable) DeleteObjects(context.Context, string, []string) error { return u.fail() }
func (u untouchable) PutObjectTagging(context.Context, string, string, map[string]string) error {
	return u.fail()
}
func (u untouchable) PutBucketCors(context.Context, string, []objstore.CORSRule) error {
	return u.fail()
}
func (u untouchable) StoreBlob(context.Context, io.Reader, int64, ...checksum.Algorithm) (objstore.BlobRef, error) {
	return objstore.BlobRef{}, u.fail()
}
func (u untouchable) DiscardBlob(context.Context, string) error { return u.fail() }
func (u untouchable) CreateMultipartUpload(context.Context, *objstore.Upload) (objstore.Upload, error) {
	return objstore.Upload{}, u.fail()
}
func (u untouchable) UploadPart(context.Context, *objstore.UploadPartRequest) (objstore.PartInfo, error) {
	return objstore.PartInfo{}, u.fail()
}
func (u untouchable) CompleteMultipartUpload(context.Context, *objstore.CompleteRequest) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, u.fail()
}
func (u untouchable) AbortMultipartUpload(context.Context, string, string, string) error {
	return u.fail()
}
func (u untouchable) ListParts(context.Context, string, string, string, int, int) (objstore.ListPartsResult, error) {
	return objstore.ListPartsResult{}, u.fail()
}
func (u untouchable) ListMultipartUploads(context.Context, string, objstore.ListUploadsOptions) (objstore.ListUploadsResult, error) {
	return objstore.ListUploadsResult{}, u.fail()
}

func signedRequest(method, target string, body string) *http.Request {
	r := newRequest(method, target, body)
	sigv4.Sign(r, "ak", "sk", "us-east-1", sigv4.UnsignedPayload, time.Now())
	return r
}

func TestUnsupportedSubresourcesAreNotImplemented(t *testing.T) {
	s := New(untouchable{t}, Options{Credentials: func(ak string) (string, Rights, bool) { return "sk", RightsAll, ak == "ak" }})
	for _, c := range []struct{ method, target string }{
		{http.MethodPut, "/bucket?policy"},    // must not create the bucket
		{http.MethodPut, "/bucket?lifecycle"}, // nor this
		{http.MethodGet, "/bucket?acl"},
		{http.MethodDelete, "/bucket?website"}, // must not delete the bucket
		{http.MethodPut, "/bucket/key?acl"},    // must not overwrite the object
		{http.MethodGet, "/bucket/key?legal-hold"},
		{http.MethodPost, "/bucket/key?restore"},
		// Subresources on no list: the writing operations take no
		// parameters, so anything else is refused.
		{http.MethodPut, "/newbucket?versioning"},
		{http.MethodDelete, "/bucket?versioning"},
		{http.MethodDelete, "/bucket?metadataConfiguration"},
		{http.MethodPut, "/bucket?rename"},
		{http.MethodPut, "/bucket/key?renameObject"},
		{http.MethodPut, "/bucket/key?some-future-subresource=1"},
		{http.MethodDelete, "/bucket/key?versionId=null&other"},
		// Names are exact: the handler reads versionId, not VersionId.
		{http.MethodDelete, "/bucket/key?VersionId=abc"},
		// A pair that does not parse is not skipped.
		{http.MethodPut, "/newbucket?versioning;x"},
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, signedRequest(c.method, c.target, ""))
		if w.Code != http.StatusNotImplemented || !strings.Contains(w.Body.String(), "<Code>NotImplemented</Code>") {
			t.Errorf("%s %s: %d %s", c.method, c.target, w.Code, w.Body)
		}
	}
}

// A version ID other than "null" (every object's, buckets being
// unversioned) names nothing: GET, HEAD and DELETE refuse it before the
// store is asked, so DELETE ?versionId=x never deletes the current object.
func TestVersionIDOtherThanNullIsRefused(t *testing.T) {
	s := New(untouchable{t}, Options{Credentials: func(ak string) (string, Rights, bool) { return "sk", RightsAll, ak == "ak" }})
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodDelete} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, signedRequest(method, "/bucket/key?versionId=abc", ""))
		if w.Code != http.StatusBadRequest || (method != http.MethodHead && !strings.Contains(w.Body.String(), "<Code>InvalidArgument</Code>")) {
			t.Errorf("%s ?versionId=abc: %d %s", method, w.Code, w.Body)
		}
	}
}

func TestErrorsAreS3XML(t *testing.T) {
	s := New(untouchable{t}, Options{Credentials: func(ak string) (string, Rights, bool) { return "sk", RightsAll, ak == "ak" }})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, signedRequest(http.MethodPatch, "/bucket/key", ""))
	body, _ := io.ReadAll(w.Body)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Content-Type") != "application/xml" {
		t.Fatalf("PATCH: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{"<Code>MethodNotAllowed</Code>", "<Resource>/bucket/key</Resource>", "<RequestId>" + w.Header().Get("x-amz-request-id") + "</RequestId>"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("error body lacks %s: %s", want, body)
		}
	}
	// HEAD errors carry no body.
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/bucket/key", nil))
	if w.Code != http.StatusForbidden || w.Body.Len() != 0 {
		t.Fatalf("anonymous HEAD: %d, %d body bytes", w.Code, w.Body.Len())
	}
}

// Beyond MaxInFlight concurrent requests a node answers 503 SlowDown at
// once rather than queueing without bound.
func TestLoadSheddingAnswersSlowDown(t *testing.T) {
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := New(blockingBackend{untouchable{t}, block, entered}, Options{
		Credentials: func(ak string) (string, Rights, bool) { return "sk", RightsAll, ak == "ak" },
		MaxInFlight: 1,
	})
	done := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, signedRequest(http.MethodGet, "/", ""))
		done <- w.Code
	}()
	<-entered
	w := httptest.NewRecorder()
	s.ServeHTTP(w, signedRequest(http.MethodGet, "/", ""))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "<Code>SlowDown</Code>") {
		t.Fatalf("second request: %d %s", w.Code, w.Body)
	}
	close(block)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("first request: %d", code)
	}
}

type blockingBackend struct {
	untouchable
	block   chan struct{}
	entered chan struct{}
}

func (b blockingBackend) ListBuckets(context.Context) ([]objstore.BucketInfo, error) {
	b.entered <- struct{}{}
	<-b.block
	return nil, nil
}

// BenchmarkRoute measures routing alone (no authentication, no handler)
// for the requests SDKs send most: aws-sdk-go-v2 adds ?x-id=<Operation> to
// object writes, and a presigned GET carries a dozen query parameters.
func BenchmarkRoute(b *testing.B) {
	s := testServer(untouchable{}, Options{}) // Match never reaches the backend
	for _, target := range []string{
		"/bkt/key",
		"/bkt/key?x-id=PutObject",
		"/bkt/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ak%2F20260101%2Fus-east-1%2Fs3%2Faws4_request" +
			"&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("0", 64) + "&x-id=GetObject",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPut} {
			r := httptest.NewRequest(method, target, nil)
			b.Run(method+" "+target[:min(len(target), 30)], func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var m mux.RouteMatch
					if !s.router.Match(r, &m) {
						b.Fatal("no route")
					}
				}
			})
		}
	}
}

// TestQueryNamesMatchesParseQuery: queryNames reads names exactly as
// url.ParseQuery does, and flags the pairs it drops.
func TestQueryNamesMatchesParseQuery(t *testing.T) {
	for _, raw := range []string{
		"", "a", "a=1&b=2", "&&a=&", "x-id=PutObject", "a%20b=1", "a+b=c+d", "uploadId=%zz", "%zz=1",
		"versioning;x", "a=1;b", "tagging&X-Amz-Credential=ak%2F20260101", "a=%4", "a=%41%",
	} {
		var got []string
		bad := false
		queryNames(raw, func(name string, ok bool) bool {
			if ok {
				got = append(got, name)
			} else {
				bad = true
			}
			return true
		})
		q, err := url.ParseQuery(raw)
		var want []string
		for name, vs := range q {
			for range vs {
				want = append(want, name)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || bad != (err != nil) {
			t.Errorf("%q: names %q (bad %v), ParseQuery %q (err %v)", raw, got, bad, want, err)
		}
	}
}
