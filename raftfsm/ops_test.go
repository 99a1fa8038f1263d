package raftfsm

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/strongboxdb/strongbox/objstore"
)

// Tests of the commands added with envelope version 2: CopyObject,
// DeleteObjects, PutObjectTagging, PutBucketCors, and the compatibility of
// version 1 records.

// copyFixture is a store with bucket "b" holding "src" (body "source",
// metadata, tags, a checksum) written at time 3s, and bucket "c".
func copyFixture(t *testing.T) (*FSM, *logSeq) {
	t.Helper()
	f := openFSM(t)
	var s logSeq
	src := putReq("b", "src", "source")
	src.Info.UserMeta = map[string]string{"color": "red"}
	src.Info.Headers = map[string]string{"Cache-Control": "max-age=1"}
	src.Info.Checksums = map[string]string{"crc32": "AAAAAA=="}
	src.Info.Tags = map[string]string{"team": "blue"}
	runSteps(t, f, &s, []step{
		{"create b", NewCreateBucket("b"), nil},
		{"create c", NewCreateBucket("c"), nil},
		{"put src", NewPutObject(src), nil},
	})
	return f, &s
}

func TestApplyCopyObject(t *testing.T) {
	f, s := copyFixture(t)
	r := applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{SrcBucket: "b", SrcKey: "src", Bucket: "c", Key: "dst"}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	src, _ := f.HeadObject("b", "src")
	info, body, err := f.GetObject("c", "dst")
	if err != nil || string(body) != "source" {
		t.Fatalf("GetObject = %q, %v", body, err)
	}
	want := src
	want.Key, want.LastModified = "dst", time.Unix(int64(r.Index), 0).UTC()
	if !reflect.DeepEqual(info, want) || !reflect.DeepEqual(r.Object, want) {
		t.Fatalf("copied record\n got %+v\nwant %+v\nresult %+v", info, want, r.Object)
	}

	// REPLACE directives; a checksum algorithm the source lacks is computed.
	r = applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{
		SrcBucket: "b", SrcKey: "src", Bucket: "b", Key: "src",
		ReplaceMetadata: true, ContentType: "text/new", UserMeta: map[string]string{"n": "1"},
		ReplaceTags: true, Tags: map[string]string{"t": "2"},
		ChecksumAlgorithm: "sha256",
	}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	info, body, _ = f.GetObject("b", "src")
	if string(body) != "source" || info.ContentType != "text/new" || info.Headers != nil || info.UserMeta["n"] != "1" ||
		info.Tags["t"] != "2" || len(info.Tags) != 1 || info.ETag != etagOf("source") ||
		!reflect.DeepEqual(info.Checksums, map[string]string{"sha256": "Qc9nlLpCALg5xTUxVV8POZjfTLsBpNXLC5Tjyl4jlH0="}) {
		t.Fatalf("self-copy with REPLACE: %+v", info)
	}
}

func TestApplyCopyObjectConditions(t *testing.T) {
	srcETag := `"` + etagOf("source") + `"`
	at := func(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
	// The source was written at 3s; the destination "c/dst" exists.
	tests := []struct {
		name string
		req  objstore.CopyRequest
		want error
	}{
		{"plain", objstore.CopyRequest{}, nil},
		{"missing source key", objstore.CopyRequest{SrcKey: "nope"}, objstore.ErrNoSuchKey},
		{"missing source bucket", objstore.CopyRequest{SrcBucket: "nope"}, objstore.ErrNoSuchBucket},
		{"missing destination bucket", objstore.CopyRequest{Bucket: "nope"}, objstore.ErrNoSuchBucket},
		{"if-match", objstore.CopyRequest{SrcIfMatch: srcETag}, nil},
		{"if-match list", objstore.CopyRequest{SrcIfMatch: `"x", ` + srcETag}, nil},
		{"if-match other", objstore.CopyRequest{SrcIfMatch: `"x"`}, objstore.ErrPreconditionFailed},
		{"if-none-match own", objstore.CopyRequest{SrcIfNoneMatch: srcETag}, objstore.ErrPreconditionFailed},
		{"if-none-match star", objstore.CopyRequest{SrcIfNoneMatch: "*"}, objstore.ErrPreconditionFailed},
		{"if-none-match other", objstore.CopyRequest{SrcIfNoneMatch: `"x"`}, nil},
		{"if-modified-since before", objstore.CopyRequest{SrcIfModifiedSince: at(2)}, nil},
		{"if-modified-since at", objstore.CopyRequest{SrcIfModifiedSince: at(3)}, objstore.ErrPreconditionFailed},
		{"if-unmodified-since at", objstore.CopyRequest{SrcIfUnmodifiedSince: at(3)}, nil},
		{"if-unmodified-since before", objstore.CopyRequest{SrcIfUnmodifiedSince: at(2)}, objstore.ErrPreconditionFailed},
		{"if-match wins over if-unmodified-since", objstore.CopyRequest{SrcIfMatch: srcETag, SrcIfUnmodifiedSince: at(2)}, nil},
		{"if-none-match decides over if-modified-since", objstore.CopyRequest{SrcIfNoneMatch: srcETag, SrcIfModifiedSince: at(2)}, objstore.ErrPreconditionFailed},
		{"destination if-none-match star", objstore.CopyRequest{IfNoneMatch: "*"}, objstore.ErrPreconditionFailed},
		{"destination if-match stale", objstore.CopyRequest{IfMatch: `"x"`}, objstore.ErrPreconditionFailed},
		{"destination if-match current", objstore.CopyRequest{IfMatch: `"` + etagOf("old") + `"`}, nil},
		{"destination if-match on missing key", objstore.CopyRequest{Key: "fresh", IfMatch: "*"}, objstore.ErrNoSuchKey},
		{"destination if-none-match on missing key", objstore.CopyRequest{Key: "fresh", IfNoneMatch: "*"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s := copyFixture(t)
			runSteps(t, f, s, []step{{"put dst", NewPutObject(putReq("c", "dst", "old")), nil}})
			req := tt.req
			if req.SrcBucket == "" {
				req.SrcBucket = "b"
			}
			if req.SrcKey == "" {
				req.SrcKey = "src"
			}
			if req.Bucket == "" {
				req.Bucket = "c"
			}
			if req.Key == "" {
				req.Key = "dst"
			}
			before := trimApplied(dump(t, f))
			r := applyOne(t, f, s, NewCopyObject(&req))
			if !errors.Is(r.Err, tt.want) || (tt.want == nil && r.Err != nil) {
				t.Fatalf("err = %v, want %v", r.Err, tt.want)
			}
			if tt.want != nil {
				if after := trimApplied(dump(t, f)); after != before {
					t.Fatal("a refused copy changed the store")
				}
				return
			}
			if _, body, err := f.GetObject(req.Bucket, req.Key); err != nil || string(body) != "source" {
				t.Fatalf("destination %q, %v", body, err)
			}
		})
	}
}

func TestApplyDeleteObjects(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{
		{"missing bucket", NewDeleteObjects("b", []string{"k"}), objstore.ErrNoSuchBucket},
		{"create", NewCreateBucket("b"), nil},
		{"put a", NewPutObject(putReq("b", "a", "1")), nil},
		{"put b", NewPutObject(putReq("b", "b", "2")), nil},
		{"put c", NewPutObject(putReq("b", "c", "3")), nil},
		{"empty batch", NewDeleteObjects("b", nil), nil},
		{"batch", NewDeleteObjects("b", []string{"a", "missing", "c", "a"}), nil},
	})
	res, err := f.ListObjects("b", objstore.ListOptions{MaxKeys: 10})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].Key != "b" {
		t.Fatalf("left %+v, %v", res.Objects, err)
	}
	if _, _, err := f.GetObject("b", "a"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("deleted key: %v", err)
	}
	// A key bbolt cannot hold makes the whole entry invalid, identically on
	// every node, and deletes nothing.
	before := trimApplied(dump(t, f))
	r := applyOne(t, f, &s, NewDeleteObjects("b", []string{"b", ""}))
	if !errors.Is(r.Err, ErrInvalidCommand) || trimApplied(dump(t, f)) != before {
		t.Fatalf("invalid key in batch: %v", r.Err)
	}
}

func TestApplyPutObjectTagging(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{
		{"missing bucket", NewPutObjectTagging("b", "k", map[string]string{"a": "1"}), objstore.ErrNoSuchBucket},
		{"create", NewCreateBucket("b"), nil},
		{"missing key", NewPutObjectTagging("b", "k", map[string]string{"a": "1"}), objstore.ErrNoSuchKey},
		{"put", NewPutObject(putReq("b", "k", "v")), nil},
	})
	before, _ := f.HeadObject("b", "k")
	runSteps(t, f, &s, []step{{"tag", NewPutObjectTagging("b", "k", map[string]string{"a": "1", "b": ""}), nil}})
	after, _ := f.HeadObject("b", "k")
	want := before
	want.Tags = map[string]string{"a": "1", "b": ""}
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("tagged record %+v, want %+v (only the tags change)", after, want)
	}
	runSteps(t, f, &s, []step{{"untag", NewPutObjectTagging("b", "k", map[string]string{}), nil}})
	if after, _ := f.HeadObject("b", "k"); !reflect.DeepEqual(after, before) {
		t.Fatalf("untagged record %+v, want %+v", after, before)
	}
	if _, body, _ := f.GetObject("b", "k"); string(body) != "v" {
		t.Fatalf("body %q", body)
	}
}

func TestApplyPutBucketCors(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{
		{"missing bucket", NewPutBucketCors("b", fullCORS()), objstore.ErrNoSuchBucket},
		{"create", NewCreateBucket("b"), nil},
		{"put b/k", NewPutObject(putReq("b", "k", "v")), nil},
		{"cors", NewPutBucketCors("b", fullCORS()), nil},
	})
	info, err := f.GetBucket("b")
	if err != nil || !reflect.DeepEqual(info.CORS, fullCORS()) || !info.Created.Equal(time.Unix(2, 0)) {
		t.Fatalf("GetBucket = %+v, %v", info, err)
	}
	list, _ := f.ListBuckets()
	if len(list) != 1 || !reflect.DeepEqual(list[0], info) {
		t.Fatalf("ListBuckets = %+v", list)
	}
	runSteps(t, f, &s, []step{{"remove", NewPutBucketCors("b", nil), nil}})
	if info, _ := f.GetBucket("b"); info.CORS != nil || !info.Created.Equal(time.Unix(2, 0)) {
		t.Fatalf("after removal %+v", info)
	}
	// Deleting and re-creating a bucket forgets its configuration.
	runSteps(t, f, &s, []step{
		{"cors again", NewPutBucketCors("b", fullCORS()), nil},
		{"delete k", NewDeleteObject("b", "k"), nil},
		{"delete bucket", NewDeleteBucket("b"), nil},
		{"recreate", NewCreateBucket("b"), nil},
	})
	if info, _ := f.GetBucket("b"); info.CORS != nil {
		t.Fatalf("recreated bucket kept CORS: %+v", info)
	}
}

// Records written by the version 1 code (no tags, no CORS) stay readable.
func TestVersion1RecordsDecode(t *testing.T) {
	in := fullPut().Info
	in.LastModified = time.Unix(0, 1700000000123456789).UTC()
	v1 := []byte{1, bodyInline}
	v1 = appendTime(v1, in.LastModified)
	v1 = appendInfoV1(v1, &in)
	got, err := decodeRecord([]byte(in.Key), v1)
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("version 1 object record: %+v, %v\nwant %+v", got, err, in)
	}
	b, err := decodeBucketRecord([]byte("b"), binary.AppendVarint([]byte{1}, 1e9))
	if err != nil || b.Name != "b" || !b.Created.Equal(time.Unix(1, 0)) || b.CORS != nil {
		t.Fatalf("version 1 bucket record: %+v, %v", b, err)
	}
	// Version 1 result from a leader still running the old code.
	res := []byte{1, 0, 7, 1}
	res = appendString(res, in.Key)
	res = appendTime(res, in.LastModified)
	res = appendInfoV1(res, &in)
	r, err := UnmarshalResult(res)
	if err != nil || r.Index != 7 || !reflect.DeepEqual(r.Object, in) {
		t.Fatalf("version 1 result: %+v, %v", r, err)
	}
}

func appendInfoV1(b []byte, in *objstore.ObjectInfo) []byte {
	b = binary.AppendUvarint(b, uint64(in.Size))
	b = appendString(b, in.ETag)
	b = appendString(b, in.ContentType)
	b = appendMap(b, in.Headers)
	b = appendMap(b, in.UserMeta)
	return appendMap(b, in.Checksums)
}

// A copy replayed after a restart must not run again: here it would
// resurrect a destination deleted after it, with the source's later body.
func TestReplayDoesNotRepeatCopy(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s logSeq
	logs := []*raft.Log{
		s.cmd(NewCreateBucket("b")),
		s.cmd(NewPutObject(putReq("b", "src", "v1"))),
		s.cmd(NewCopyObject(&objstore.CopyRequest{SrcBucket: "b", SrcKey: "src", Bucket: "b", Key: "dst", IfNoneMatch: "*"})),
		s.cmd(NewPutObject(putReq("b", "src", "v2"))),
		s.cmd(NewDeleteObjects("b", []string{"dst"})),
	}
	for _, r := range applyBatch(t, f, logs) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	want := dump(t, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range logs {
		if r := f.Apply(l).(*Result); r.Err != nil || r.Object.Key != "" {
			t.Fatalf("replayed entry %d: %+v", l.Index, r)
		}
	}
	if got := dump(t, f); got != want {
		t.Fatal("replay changed the store")
	}
	if _, _, err := f.GetObject("b", "dst"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("dst after replay: %v", err)
	}
}
