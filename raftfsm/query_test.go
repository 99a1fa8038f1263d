package raftfsm

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/strongboxdb/strongbox/objstore"
	bolt "go.etcd.io/bbolt"
)

// fillBucket creates bucket and puts keys (bodies are the keys) in batches.
func fillBucket(tb testing.TB, f *FSM, s *logSeq, bucket string, keys []string, batch int) {
	tb.Helper()
	logs := []*raft.Log{s.cmd(NewCreateBucket(bucket))}
	flush := func() {
		for _, r := range applyBatch(tb, f, logs) {
			if r.Err != nil {
				tb.Fatal(r.Err)
			}
		}
		logs = logs[:0]
	}
	for _, k := range keys {
		logs = append(logs, s.cmd(NewPutObject(putReq(bucket, k, k))))
		if len(logs) >= batch {
			flush()
		}
	}
	flush()
}

// page is a listing reduced to names, for comparisons.
type page struct {
	Objects        []string
	CommonPrefixes []string
	IsTruncated    bool
	NextStartAfter string
}

func toPage(r objstore.ListResult) page {
	p := page{CommonPrefixes: r.CommonPrefixes, IsTruncated: r.IsTruncated, NextStartAfter: r.NextStartAfter}
	for _, o := range r.Objects {
		p.Objects = append(p.Objects, o.Key)
	}
	return p
}

// refList is the obviously-correct listing: walk every key in sorted order,
// map it to itself or its common prefix, drop what is at or before
// StartAfter and duplicates, cut at MaxKeys.
func refList(sorted []string, o objstore.ListOptions) page {
	var p page
	if o.MaxKeys <= 0 {
		return p
	}
	n, last := 0, ""
	for _, k := range sorted {
		if !strings.HasPrefix(k, o.Prefix) {
			continue
		}
		entry, isPrefix := k, false
		if o.Delimiter != "" {
			if i := strings.Index(k[len(o.Prefix):], o.Delimiter); i >= 0 {
				entry, isPrefix = k[:len(o.Prefix)+i+len(o.Delimiter)], true
			}
		}
		if entry <= o.StartAfter || (n > 0 && entry == last) {
			continue
		}
		if n == o.MaxKeys {
			p.IsTruncated, p.NextStartAfter = true, last
			return p
		}
		if isPrefix {
			p.CommonPrefixes = append(p.CommonPrefixes, entry)
		} else {
			p.Objects = append(p.Objects, entry)
		}
		n, last = n+1, entry
	}
	return p
}

func TestListObjects(t *testing.T) {
	keys := []string{
		"a", "a/", "a/b", "a/b/c", "a/c", "b", "b/x", "c/d/e", "d",
		"photos/2024/jan/1.jpg", "photos/2024/jan/2.jpg", "photos/2024/feb/1.jpg", "photos/index.html",
		"x--y", "x--z", "x-y",
		// UTF-8 byte order: U+00E9 (C3 A9) < U+FF61 (EF BD A1) < U+1D11E (F0 9D 84 9E),
		// although UTF-16 would put the surrogate pair of U+1D11E before U+FF61.
		"é", "\uff61", "𝄞", "z",
	}
	f := openFSM(t)
	var s logSeq
	fillBucket(t, f, &s, "b", keys, 7)

	tests := []struct {
		name string
		opts objstore.ListOptions
		want page
	}{
		{"all", objstore.ListOptions{MaxKeys: 1000}, page{Objects: []string{
			"a", "a/", "a/b", "a/b/c", "a/c", "b", "b/x", "c/d/e", "d",
			"photos/2024/feb/1.jpg", "photos/2024/jan/1.jpg", "photos/2024/jan/2.jpg", "photos/index.html",
			"x--y", "x--z", "x-y", "z", "é", "\uff61", "𝄞"}}},
		{"prefix", objstore.ListOptions{Prefix: "a/", MaxKeys: 1000}, page{Objects: []string{"a/", "a/b", "a/b/c", "a/c"}}},
		{"prefix no match", objstore.ListOptions{Prefix: "nope", MaxKeys: 1000}, page{}},
		{"delimiter", objstore.ListOptions{Delimiter: "/", MaxKeys: 1000}, page{
			Objects:        []string{"a", "b", "d", "x--y", "x--z", "x-y", "z", "é", "\uff61", "𝄞"},
			CommonPrefixes: []string{"a/", "b/", "c/", "photos/"}}},
		{"prefix and delimiter", objstore.ListOptions{Prefix: "photos/", Delimiter: "/", MaxKeys: 1000}, page{
			Objects: []string{"photos/index.html"}, CommonPrefixes: []string{"photos/2024/"}}},
		{"deeper", objstore.ListOptions{Prefix: "photos/2024/", Delimiter: "/", MaxKeys: 1000}, page{
			CommonPrefixes: []string{"photos/2024/feb/", "photos/2024/jan/"}}},
		{"prefix equals key", objstore.ListOptions{Prefix: "a/", Delimiter: "/", MaxKeys: 1000}, page{
			Objects: []string{"a/", "a/b", "a/c"}, CommonPrefixes: []string{"a/b/"}}},
		{"multi-byte delimiter", objstore.ListOptions{Prefix: "x", Delimiter: "--", MaxKeys: 1000}, page{
			Objects: []string{"x-y"}, CommonPrefixes: []string{"x--"}}},
		{"max keys counts prefixes", objstore.ListOptions{Delimiter: "/", MaxKeys: 3}, page{
			Objects: []string{"a", "b"}, CommonPrefixes: []string{"a/"}, IsTruncated: true, NextStartAfter: "b"}},
		{"page ending on a prefix", objstore.ListOptions{Delimiter: "/", MaxKeys: 2}, page{
			Objects: []string{"a"}, CommonPrefixes: []string{"a/"}, IsTruncated: true, NextStartAfter: "a/"}},
		{"continue after a prefix", objstore.ListOptions{Delimiter: "/", StartAfter: "a/", MaxKeys: 2}, page{
			Objects: []string{"b"}, CommonPrefixes: []string{"b/"}, IsTruncated: true, NextStartAfter: "b/"}},
		{"start after inside a prefix", objstore.ListOptions{Delimiter: "/", StartAfter: "a/b", MaxKeys: 2}, page{
			Objects: []string{"b"}, CommonPrefixes: []string{"b/"}, IsTruncated: true, NextStartAfter: "b/"}},
		{"start after a key", objstore.ListOptions{StartAfter: "photos/index.html", MaxKeys: 2}, page{
			Objects: []string{"x--y", "x--z"}, IsTruncated: true, NextStartAfter: "x--z"}},
		{"start after before prefix", objstore.ListOptions{Prefix: "b", StartAfter: "a/c", MaxKeys: 10}, page{
			Objects: []string{"b", "b/x"}}},
		{"start after past prefix", objstore.ListOptions{Prefix: "a", StartAfter: "b", MaxKeys: 10}, page{}},
		{"start after everything", objstore.ListOptions{StartAfter: "\U0010ffff", MaxKeys: 10}, page{}},
		{"exact fit is not truncated", objstore.ListOptions{Prefix: "a/", MaxKeys: 4}, page{
			Objects: []string{"a/", "a/b", "a/b/c", "a/c"}}},
		{"max keys zero", objstore.ListOptions{MaxKeys: 0}, page{}},
		{"utf-8 order", objstore.ListOptions{StartAfter: "z", MaxKeys: 10}, page{Objects: []string{"é", "\uff61", "𝄞"}}},
	}
	sorted := slices.Sorted(slices.Values(keys))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.ListObjects("b", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := toPage(res); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			// The hand-written expectations and the reference agree.
			if ref := refList(sorted, tt.opts); !reflect.DeepEqual(ref, tt.want) {
				t.Fatalf("reference disagrees: %+v", ref)
			}
		})
	}

	// Listed objects carry their full records.
	res, err := f.ListObjects("b", objstore.ListOptions{Prefix: "d", MaxKeys: 1})
	if err != nil || len(res.Objects) != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	if o := res.Objects[0]; o.Key != "d" || o.Size != 1 || o.ETag != etagOf("d") || o.LastModified.IsZero() {
		t.Fatalf("listed record %+v", o)
	}
}

// TestListPagingMatchesReference pages through random buckets with random
// options and checks every page, and their concatenation, against refList.
func TestListPagingMatchesReference(t *testing.T) {
	alphabet := []string{"a", "b", "/", "-", "é", "z", "\xff"}
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 11))
		set := map[string]bool{}
		for range rng.IntN(300) {
			var sb strings.Builder
			for range 1 + rng.IntN(6) {
				sb.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			set[sb.String()] = true
		}
		sorted := slices.Sorted(func(yield func(string) bool) {
			for k := range set {
				if !yield(k) {
					return
				}
			}
		})
		f := openFSM(t)
		var s logSeq
		fillBucket(t, f, &s, "rnd", sorted, 64)

		for trial := range 40 {
			opts := objstore.ListOptions{MaxKeys: []int{1, 2, 3, 7, 50}[rng.IntN(5)]}
			if rng.IntN(2) == 0 && len(sorted) > 0 {
				k := sorted[rng.IntN(len(sorted))]
				opts.Prefix = k[:rng.IntN(len(k)+1)]
			}
			opts.Delimiter = []string{"", "/", "-", "/a", "\xff"}[rng.IntN(5)]
			name := fmt.Sprintf("seed%d/trial%d/prefix=%q,delim=%q,max=%d", seed, trial, opts.Prefix, opts.Delimiter, opts.MaxKeys)

			full := refList(sorted, objstore.ListOptions{Prefix: opts.Prefix, Delimiter: opts.Delimiter, MaxKeys: 1 << 30})
			var got page
			for pages := 0; ; pages++ {
				if pages > len(sorted)+1 {
					t.Fatalf("%s: paging does not terminate", name)
				}
				res, err := f.ListObjects("rnd", opts)
				if err != nil {
					t.Fatal(err)
				}
				p := toPage(res)
				if want := refList(sorted, opts); !reflect.DeepEqual(p, want) {
					t.Fatalf("%s: page after %q:\n got %+v\nwant %+v", name, opts.StartAfter, p, want)
				}
				got.Objects = append(got.Objects, p.Objects...)
				got.CommonPrefixes = append(got.CommonPrefixes, p.CommonPrefixes...)
				if !p.IsTruncated {
					break
				}
				opts.StartAfter = p.NextStartAfter
			}
			if !reflect.DeepEqual(got, full) {
				t.Fatalf("%s: concatenated pages\n got %+v\nwant %+v", name, got, full)
			}
		}
	}
}

// countingCursor counts cursor operations, to show that the walk's cost
// follows the page and not the bucket.
type countingCursor struct {
	c          *bolt.Cursor
	seeks, nxt int
}

func (c *countingCursor) Seek(k []byte) ([]byte, []byte) { c.seeks++; return c.c.Seek(k) }
func (c *countingCursor) Next() ([]byte, []byte)         { c.nxt++; return c.c.Next() }

func TestListSkipsRolledUpKeys(t *testing.T) {
	keys := []string{"a", "z"}
	for i := range 5000 {
		keys = append(keys, fmt.Sprintf("big/%05d", i), fmt.Sprintf("m/%05d/x", i))
	}
	f := openFSM(t)
	var s logSeq
	fillBucket(t, f, &s, "b", keys, 2000)

	tests := []struct {
		name       string
		opts       objstore.ListOptions
		want       page
		maxCursors int
	}{
		// a, big/ (one seek over 5000 keys), m/ (another), z.
		{"top level", objstore.ListOptions{Delimiter: "/", MaxKeys: 100}, page{
			Objects: []string{"a", "z"}, CommonPrefixes: []string{"big/", "m/"}}, 6},
		{"resume after big prefix", objstore.ListOptions{Delimiter: "/", StartAfter: "big/", MaxKeys: 1}, page{
			CommonPrefixes: []string{"m/"}, IsTruncated: true, NextStartAfter: "m/"}, 4},
		{"resume inside skipped prefix", objstore.ListOptions{Delimiter: "/", StartAfter: "big/02500", MaxKeys: 1}, page{
			CommonPrefixes: []string{"m/"}, IsTruncated: true, NextStartAfter: "m/"}, 5},
		{"one page of a large prefix", objstore.ListOptions{Prefix: "m/", Delimiter: "/", StartAfter: "m/01000/", MaxKeys: 3}, page{
			CommonPrefixes: []string{"m/01001/", "m/01002/", "m/01003/"}, IsTruncated: true, NextStartAfter: "m/01003/"}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cc *countingCursor
			err := f.view(func(tx *bolt.Tx) error {
				recs, _, err := objectsView(tx, "b")
				if err != nil {
					return err
				}
				cc = &countingCursor{c: recs.Cursor()}
				res, err := listPage(cc, tt.opts)
				if got := toPage(res); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got  %+v\nwant %+v", got, tt.want)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if ops := cc.seeks + cc.nxt; ops > tt.maxCursors {
				t.Fatalf("%d cursor operations (%d seeks, %d nexts) for a %d-key page, want <= %d",
					ops, cc.seeks, cc.nxt, tt.opts.MaxKeys, tt.maxCursors)
			}
		})
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{[]byte("a/"), []byte("a0")},
		{[]byte("a\xff"), []byte("b")},
		{[]byte("a\xff\xff"), []byte("b")},
		{[]byte("\xff\xff"), nil},
		{[]byte{}, nil},
	}
	for _, tt := range tests {
		if got := prefixEnd(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("prefixEnd(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
