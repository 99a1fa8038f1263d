package s3api

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
)

// bucketsBackend serves ListBuckets and CreateBucket from a set of names;
// anything else fails the test. ListBuckets answers in reverse name order,
// so the handler's own sorting is what the tests see.
type bucketsBackend struct {
	untouchable

	mu    sync.Mutex
	names map[string]bool
}

func newBucketsBackend(t *testing.T, names ...string) *bucketsBackend {
	b := &bucketsBackend{untouchable: untouchable{t}, names: map[string]bool{}}
	for _, n := range names {
		b.names[n] = true
	}
	return b
}

func (b *bucketsBackend) ListBuckets(context.Context) ([]objstore.BucketInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []objstore.BucketInfo
	for n := range b.names {
		out = append(out, objstore.BucketInfo{Name: n, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	}
	slices.SortFunc(out, func(x, y objstore.BucketInfo) int { return strings.Compare(y.Name, x.Name) })
	return out, nil
}

func (b *bucketsBackend) CreateBucket(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.names[name] {
		return objstore.ErrBucketExists
	}
	b.names[name] = true
	return nil
}

func (b *bucketsBackend) delete(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.names, name)
}

// listedBuckets is a ListBuckets answer as a client decodes it. Prefix is
// a pointer to tell an echoed empty prefix from none.
type listedBuckets struct {
	Buckets []struct {
		Name         string
		CreationDate string
		BucketRegion string
	} `xml:"Buckets>Bucket"`
	Owner             struct{ ID string }
	Prefix            *string
	ContinuationToken *string
}

func (l listedBuckets) names() []string {
	var out []string
	for _, b := range l.Buckets {
		out = append(out, b.Name)
	}
	return out
}

func listBucketsPage(t *testing.T, s *Server, query string) listedBuckets {
	t.Helper()
	w := do(s, http.MethodGet, "/?"+query, "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /?%s: %d %s", query, w.Code, w.Body)
	}
	var out listedBuckets
	if err := xml.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("GET /?%s: %v in %s", query, err, w.Body)
	}
	return out
}

func TestListBucketsWithoutParametersListsEverything(t *testing.T) {
	s := testServer(newBucketsBackend(t, "ccc", "aaa", "bbb"), Options{})
	w := do(s, http.MethodGet, "/", "")
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	body := w.Body.String()
	// Clients that predate paging must see exactly the old document plus
	// BucketRegion: no Prefix, no token.
	if strings.Contains(body, "<Prefix") || strings.Contains(body, "<ContinuationToken") {
		t.Fatalf("unpaginated answer carries paging members: %s", body)
	}
	var out listedBuckets
	if err := xml.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.names(); !slices.Equal(got, []string{"aaa", "bbb", "ccc"}) {
		t.Fatalf("names %v", got)
	}
	for _, b := range out.Buckets {
		if b.BucketRegion != "us-east-1" || b.CreationDate != "2026-01-02T03:04:05.000Z" {
			t.Fatalf("entry %+v", b)
		}
	}
	if out.Owner.ID != defaultOwner.ID {
		t.Fatalf("owner %+v", out.Owner)
	}
}

func TestListBucketsEmpty(t *testing.T) {
	s := testServer(newBucketsBackend(t), Options{})
	w := do(s, http.MethodGet, "/?max-buckets=5", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<Buckets></Buckets>") ||
		strings.Contains(w.Body.String(), "<ContinuationToken") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// walkBuckets follows continuation tokens from query, returning every
// page's names.
func walkBuckets(t *testing.T, s *Server, query string) [][]string {
	t.Helper()
	var pages [][]string
	token := ""
	for range 100 {
		q := query
		if token != "" {
			q += "&continuation-token=" + url.QueryEscape(token)
		}
		page := listBucketsPage(t, s, q)
		pages = append(pages, page.names())
		if page.ContinuationToken == nil {
			return pages
		}
		if *page.ContinuationToken == "" {
			t.Fatalf("empty ContinuationToken after %v", pages)
		}
		token = *page.ContinuationToken
	}
	t.Fatalf("no end after 100 pages from %s", query)
	return nil
}

func TestListBucketsPages(t *testing.T) {
	names := []string{"a-1", "a-2", "a-3", "b-1", "b-2"}
	s := testServer(newBucketsBackend(t, names...), Options{})
	for _, tc := range []struct {
		query string
		want  [][]string
	}{
		{"max-buckets=2", [][]string{{"a-1", "a-2"}, {"a-3", "b-1"}, {"b-2"}}},
		// A full last page ends the listing: no token to an empty page.
		{"max-buckets=5", [][]string{names}},
		{"max-buckets=10000", [][]string{names}},
		{"max-buckets=2&prefix=a-", [][]string{{"a-1", "a-2"}, {"a-3"}}},
		{"max-buckets=1&prefix=b-", [][]string{{"b-1"}, {"b-2"}}},
		{"prefix=zzz", [][]string{nil}},
		// The first value of a repeated parameter counts, as in S3.
		{"max-buckets=4&max-buckets=abc", [][]string{names[:4], names[4:]}},
		{"max-buckets=3&bucket-region=us-east-1", [][]string{names[:3], names[3:]}},
		{"bucket-region=US-EAST-1", [][]string{names}},
	} {
		if got := walkBuckets(t, s, tc.query); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: pages %v, want %v", tc.query, got, tc.want)
		}
	}
}

func TestListBucketsEchoesPrefix(t *testing.T) {
	s := testServer(newBucketsBackend(t, "aaa", "abc", "bbb"), Options{})
	for query, want := range map[string]string{"prefix=a": "a", "prefix=": "", "prefix=a&max-buckets=1": "a"} {
		page := listBucketsPage(t, s, query)
		if page.Prefix == nil || *page.Prefix != want {
			t.Errorf("%s: Prefix %v, want %q", query, page.Prefix, want)
		}
	}
	if page := listBucketsPage(t, s, "max-buckets=1"); page.Prefix != nil {
		t.Errorf("Prefix %q echoed without a prefix parameter", *page.Prefix)
	}
}

// Any paging parameter without max-buckets gets S3's default page of
// 10000 and a token beyond it.
func TestListBucketsDefaultPageSize(t *testing.T) {
	var names []string
	for i := range maxListBuckets + 1 {
		names = append(names, fmt.Sprintf("bkt-%05d", i))
	}
	s := testServer(newBucketsBackend(t, names...), Options{})
	if page := listBucketsPage(t, s, ""); len(page.Buckets) != len(names) || page.ContinuationToken != nil {
		t.Fatalf("unpaginated: %d buckets, token %v", len(page.Buckets), page.ContinuationToken)
	}
	for _, query := range []string{"prefix=bkt-", "bucket-region=us-east-1", "continuation-token="} {
		page := listBucketsPage(t, s, query)
		if len(page.Buckets) != maxListBuckets || page.ContinuationToken == nil {
			t.Fatalf("%s: %d buckets, token %v", query, len(page.Buckets), page.ContinuationToken)
		}
		rest := listBucketsPage(t, s, "continuation-token="+url.QueryEscape(*page.ContinuationToken))
		if !slices.Equal(rest.names(), names[maxListBuckets:]) || rest.ContinuationToken != nil {
			t.Errorf("%s: second page %v, token %v", query, rest.names(), rest.ContinuationToken)
		}
	}
}

// A token resumes after the name it was given for, so buckets deleted or
// created between pages neither repeat nor hide buckets that stayed.
func TestListBucketsTokenSurvivesChanges(t *testing.T) {
	m := newBucketsBackend(t, "aaa", "bbb", "ccc", "ddd")
	s := testServer(m, Options{})
	first := listBucketsPage(t, s, "max-buckets=2")
	if !slices.Equal(first.names(), []string{"aaa", "bbb"}) || first.ContinuationToken == nil {
		t.Fatalf("first page %+v", first)
	}
	m.delete("bbb")
	m.delete("ccc")
	if err := m.CreateBucket(context.Background(), "abc"); err != nil {
		t.Fatal(err)
	}
	second := listBucketsPage(t, s, "max-buckets=2&continuation-token="+url.QueryEscape(*first.ContinuationToken))
	if !slices.Equal(second.names(), []string{"ddd"}) || second.ContinuationToken != nil {
		t.Fatalf("second page %+v", second)
	}
}

func TestListBucketsRefusesBadParameters(t *testing.T) {
	s := testServer(newBucketsBackend(t, "aaa"), Options{})
	const (
		parse  = "Provided max-buckets not an integer or within integer range"
		rng    = "Argument max-buckets must be an integer between 1 and 10000"
		region = "Requests with bucket-region specified must be made to the corresponding regional endpoint"
		token  = "The continuation token provided is incorrect"
	)
	for query, msg := range map[string]string{
		"max-buckets=abc":                            parse,
		"max-buckets=":                               parse,
		"max-buckets=%201":                           parse,
		"max-buckets=1.5":                            parse,
		"max-buckets=99999999999":                    parse,
		"max-buckets=abc&continuation-token=garbage": parse,
		"max-buckets=0":                              rng,
		"max-buckets=-1":                             rng,
		"max-buckets=10001":                          rng,
		"max-buckets=0&bucket-region=zz":             rng,
		"bucket-region=eu-west-1":                    region,
		"bucket-region=":                             "Argument value  is not a valid AWS Region",
		"continuation-token=garbage&bucket-region=x": region,
		"continuation-token=garbage":                 token,
		"continuation-token=Zzp4":                    token, // base64 of "g:x", not a bucket name
		"continuation-token=YWFh===":                 token,
	} {
		w := do(s, http.MethodGet, "/?"+query, "")
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "<Code>InvalidArgument</Code><Message>"+msg+"</Message>") {
			t.Errorf("%s: %d %s; want 400 InvalidArgument %q", query, w.Code, w.Body, msg)
		}
	}
}

func TestCreateBucketObjectLock(t *testing.T) {
	m := newBucketsBackend(t)
	s := testServer(m, Options{})
	for _, v := range []string{"true", "TRUE", " True "} {
		// untouchable fails the test if the refused request reaches the store.
		s := testServer(untouchable{t}, Options{})
		wantCode(t, do(s, http.MethodPut, "/locked", "", "x-amz-bucket-object-lock-enabled", v), http.StatusNotImplemented, "NotImplemented")
	}
	w := do(s, http.MethodPut, "/unlocked", "", "x-amz-bucket-object-lock-enabled", "false")
	if w.Code != http.StatusOK {
		t.Fatalf("object lock false: %d %s", w.Code, w.Body)
	}
	if page := listBucketsPage(t, s, ""); !slices.Equal(page.names(), []string{"unlocked"}) {
		t.Fatalf("buckets %v", page.names())
	}
}
