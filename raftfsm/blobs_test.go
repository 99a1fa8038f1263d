package raftfsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
	bolt "go.etcd.io/bbolt"
)

// Tests of blob-backed objects (envelope and record version 3): the codec
// additions, the blob index and garbage list kept by apply, CopyObject of
// blob-backed sources, determinism and snapshots with blobs.

const mib = 1 << 20

// testBlobID returns a valid blob ID (32 lowercase hex digits) for n.
func testBlobID(n int) string { return fmt.Sprintf("%032x", n) }

// testBlob returns a reference to blob n with a valid MD5 of its own.
func testBlob(n int, size int64) objstore.BlobRef {
	return objstore.BlobRef{ID: testBlobID(n), Size: size, MD5: etagOf(fmt.Sprintf("blob %d", n))}
}

// blobPutReq is a PutObject whose body is the blob ref.
func blobPutReq(bucket, key string, ref objstore.BlobRef) *objstore.PutRequest {
	return &objstore.PutRequest{
		Bucket: bucket,
		Key:    key,
		Blob:   &ref,
		Info: objstore.ObjectInfo{
			Key:         key,
			Size:        ref.Size,
			ETag:        ref.MD5,
			ContentType: "application/octet-stream",
		},
	}
}

// garbageIDs lists the blob IDs in garbage/, in listing order.
func garbageIDs(tb testing.TB, f *FSM) []string {
	tb.Helper()
	g, err := f.Garbage(nil, 1<<20)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, e := range g {
		ids = append(ids, e.ID)
	}
	return ids
}

func isGarbage(tb testing.TB, f *FSM, id string) bool {
	tb.Helper()
	return slices.Contains(garbageIDs(tb, f), id)
}

func garbageListed(tb testing.TB, f *FSM, id string) bool {
	tb.Helper()
	ok, err := f.GarbageListed(id)
	if err != nil {
		tb.Fatal(err)
	}
	return ok
}

func referenced(tb testing.TB, f *FSM, id string) bool {
	tb.Helper()
	ok, err := f.BlobReferenced(id)
	if err != nil {
		tb.Fatal(err)
	}
	return ok
}

// walkAllBlobs walks the blob index in pages of limit and returns every
// entry, checking the page protocol on the way.
func walkAllBlobs(tb testing.TB, f *FSM, limit int) []objstore.BlobRef {
	tb.Helper()
	var out []objstore.BlobRef
	after := ""
	for range 100000 {
		var page []objstore.BlobRef
		last, err := f.WalkBlobs(after, limit, func(r objstore.BlobRef) { page = append(page, r) })
		if err != nil {
			tb.Fatal(err)
		}
		if len(page) > limit {
			tb.Fatalf("WalkBlobs(%q, %d) visited %d blobs", after, limit, len(page))
		}
		out = append(out, page...)
		if last == "" {
			return out
		}
		if len(page) != limit || last != page[len(page)-1].ID {
			tb.Fatalf("WalkBlobs(%q, %d) returned last %q after %d blobs", after, limit, last, len(page))
		}
		after = last
	}
	tb.Fatal("WalkBlobs does not terminate")
	return nil
}

// hasInlineBody reports whether the body sub-bucket holds a value for
// key: a blob-backed object must leave none behind.
func hasInlineBody(tb testing.TB, f *FSM, bucket, key string) bool {
	tb.Helper()
	var ok bool
	err := f.view(func(tx *bolt.Tx) error {
		_, bodies, err := objectsView(tx, bucket)
		if err != nil {
			return err
		}
		ok = bodies.Get([]byte(key)) != nil
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ok
}

// dataOnly reduces a dump to replicated data: no meta, applied index or
// garbage list and its index (local bookkeeping).
func dataOnly(d string) string {
	var sb strings.Builder
	for line := range strings.Lines(trimApplied(d)) {
		if !strings.HasPrefix(line, "garbage ") && !strings.HasPrefix(line, "garbage-ids ") {
			sb.WriteString(line)
		}
	}
	return sb.String()
}

func blobSampleCommands() []*Command {
	ref := testBlob(1, 6*mib)
	ref.Checksums = map[string]string{"crc32": "AAAAAA==", "sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="}
	put := blobPutReq("photos", "big/ü.bin", ref)
	put.IfNoneMatch = "*"
	put.Info.UserMeta = map[string]string{"a": "1", "b": "2"}
	put.Info.Tags = map[string]string{"t": "v"}
	put.Info.Checksums = ref.Checksums

	plain := blobPutReq("b", "k", testBlob(2, 0))

	cp := fullCopy()
	cref := testBlob(3, 12345)
	cref.Checksums = map[string]string{"sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="}
	cp.Blob, cp.SrcETag = &cref, etagOf("x")+"-3"

	blobNoETag := &objstore.CopyRequest{SrcBucket: "b", SrcKey: "k", Bucket: "b", Key: "k2"}
	bref := testBlob(4, 1)
	blobNoETag.Blob = &bref

	etagNoBlob := &objstore.CopyRequest{SrcBucket: "b", SrcKey: "k", Bucket: "b", Key: "k2", SrcETag: etagOf("y")}

	return []*Command{
		NewPutObject(put),
		NewPutObject(plain),
		NewCopyObject(cp),
		NewCopyObject(blobNoETag),
		NewCopyObject(etagNoBlob),
	}
}

func TestBlobCommandCorruptInput(t *testing.T) {
	// The presence byte of the optional blob sits right before the body
	// (PutObject) or right before SrcETag (CopyObject).
	put := NewPutObject(putReq("b", "k", "")).Marshal() // ... info, presence 0, body len 0
	if put[len(put)-2] != 0 || put[len(put)-1] != 0 {
		t.Fatalf("unexpected put tail % x", put[len(put)-2:])
	}
	badPut := bytes.Clone(put)
	badPut[len(badPut)-2] = 2
	cp := NewCopyObject(&objstore.CopyRequest{SrcBucket: "b", SrcKey: "k", Bucket: "b", Key: "d"}).Marshal()
	badCopy := bytes.Clone(cp)
	badCopy[len(badCopy)-2] = 7
	// Presence 1 with nothing after it.
	shortPut := append(bytes.Clone(put[:len(put)-2]), 1)
	// A blob whose checksum map is out of order.
	ref := testBlob(1, 10)
	unordered := append(bytes.Clone(put[:len(put)-2]), 1)
	unordered = appendString(unordered, ref.ID)
	unordered = binary.AppendUvarint(unordered, uint64(ref.Size))
	unordered = appendString(unordered, ref.MD5)
	unordered = append(unordered, 2)
	unordered = appendString(appendString(unordered, "z"), "1")
	unordered = appendString(appendString(unordered, "a"), "2")
	unordered = append(unordered, 0) // empty body
	// A blob size past int64.
	hugeSize := append(bytes.Clone(put[:len(put)-2]), 1)
	hugeSize = appendString(hugeSize, ref.ID)
	hugeSize = binary.AppendUvarint(hugeSize, 1<<63)
	hugeSize = appendString(hugeSize, ref.MD5)
	hugeSize = append(hugeSize, 0, 0)
	for name, data := range map[string][]byte{
		"put presence 2":      badPut,
		"copy presence 7":     badCopy,
		"put presence no ref": shortPut,
		"unordered checksums": unordered,
		"blob size overflow":  hugeSize,
	} {
		if c, err := UnmarshalCommand(data); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%s: got %+v, %v; want ErrInvalidCommand", name, c, err)
		}
	}
	// Sanity: the well-formed variant of "unordered" decodes.
	good := append(bytes.Clone(put[:len(put)-2]), 1)
	good = appendBlobRef(good, &ref)
	good = append(good, 0)
	if c, err := UnmarshalCommand(good); err != nil || c.Put.Blob == nil || !reflect.DeepEqual(*c.Put.Blob, ref) {
		t.Fatalf("hand-built blob put: %+v, %v", c, err)
	}
}

// v2PutObject encodes req as envelope version 2 did: no blob presence byte
// before the body.
func v2PutObject(req *objstore.PutRequest, unixNano int64) []byte {
	b := []byte{2, byte(TypePutObject), 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(b[2:headerLen], uint64(unixNano))
	b = appendString(b, req.Bucket)
	b = appendString(b, req.Key)
	b = appendString(b, req.IfMatch)
	b = appendString(b, req.IfNoneMatch)
	b = appendInfo(b, &req.Info)
	return appendBytes(b, req.Body)
}

// Entries written with envelope version 2 still decode (and apply).
func TestUnmarshalVersion2Command(t *testing.T) {
	p := fullPut()
	p.Info.Tags = map[string]string{"team": "blue"}
	data := v2PutObject(p, 42)
	c, err := UnmarshalCommand(data)
	if err != nil {
		t.Fatal(err)
	}
	want := NewPutObject(p)
	want.Time = 42
	if !reflect.DeepEqual(c, want) || c.Put.Blob != nil {
		t.Fatalf("version 2 put:\n got %+v\nwant %+v", c.Put, want.Put)
	}

	// A version 2 copy is the version 3 one without presence byte and
	// SrcETag.
	cp := NewCopyObject(fullCopy())
	cp.Time = 7
	v3 := cp.Marshal()
	if !bytes.HasSuffix(v3, []byte{0, 0}) {
		t.Fatalf("copy tail % x", v3[len(v3)-2:])
	}
	v2 := bytes.Clone(v3[:len(v3)-2])
	v2[0] = 2
	got, err := UnmarshalCommand(v2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cp) {
		t.Fatalf("version 2 copy:\n got %+v\nwant %+v", got.Copy, cp.Copy)
	}
	// ... and the version 3 tail is trailing garbage in a version 2 entry.
	v3as2 := bytes.Clone(v3)
	v3as2[0] = 2
	if _, err := UnmarshalCommand(v3as2); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("version 3 copy payload in a version 2 envelope: %v", err)
	}

	// Payloads that did not change decode under version 2.
	for _, c := range []*Command{
		NewCreateBucket("b"), NewDeleteBucket("b"), NewDeleteObject("b", "k"), NewNoop(),
		NewDeleteObjects("b", []string{"x", "y"}), NewPutObjectTagging("b", "k", map[string]string{"a": "b"}),
		NewPutBucketCors("b", fullCORS()),
	} {
		data := c.Marshal()
		data[0] = 2
		got, err := UnmarshalCommand(data)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("version 2 %s: %+v, %v", c.Type, got, err)
		}
	}
	// The multipart types do not exist in version 2 (nor 1).
	for _, typ := range []CommandType{TypeCreateMultipartUpload, TypeUploadPart, TypeCompleteMultipartUpload, TypeAbortMultipartUpload} {
		for _, ver := range []byte{1, 2} {
			data := NewAbortMultipartUpload("b", "k", "id").Marshal()
			data[0], data[1] = ver, byte(typ)
			if _, err := UnmarshalCommand(data); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("%s in a version %d envelope: %v", typ, ver, err)
			}
		}
	}

	// A version 2 entry applies like a current one.
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{{"create", NewCreateBucket("b"), nil}})
	r := f.Apply(s.next(raft.LogCommand, v2PutObject(putReq("b", "old", "from v2"), 99))).(*Result)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	info, body, err := f.GetObject("b", "old")
	if err != nil || string(body) != "from v2" || info.Blobs != nil || info.ETag != etagOf("from v2") {
		t.Fatalf("object from a version 2 entry: %+v %q %v", info, body, err)
	}
}

func TestResultRoundTripMultipartFields(t *testing.T) {
	obj := objstore.ObjectInfo{
		Key: "k", Size: 15 * mib, ETag: etagOf("x") + "-3", LastModified: time.Unix(0, 1700000000123456789).UTC(),
		ContentType: "video/mp4", Checksums: map[string]string{"crc32c": "yZRlqg==-3"},
		ChecksumType: objstore.ChecksumComposite, PartsCount: 3,
	}
	full := obj
	full.ChecksumType, full.PartsCount = objstore.ChecksumFullObject, objstore.MaxParts
	for _, r := range []Result{
		{Index: 9, Object: obj},
		{Index: 10, Object: full},
	} {
		got, err := UnmarshalResult(MarshalResult(&r))
		if err != nil || !reflect.DeepEqual(*got, r) {
			t.Fatalf("got %+v, %v\nwant %+v", got, err, r)
		}
	}
	// Blobs are not part of the wire result: the follower gets the rest.
	withBlobs := Result{Index: 1, Object: obj}
	withBlobs.Object.Blobs = []objstore.BlobRef{testBlob(1, 5)}
	got, err := UnmarshalResult(MarshalResult(&withBlobs))
	if err != nil || got.Object.Blobs != nil || got.Object.PartsCount != 3 || got.Object.ChecksumType != objstore.ChecksumComposite {
		t.Fatalf("result with blobs: %+v, %v", got, err)
	}
	// A parts count past MaxParts is corrupt.
	bad := MarshalResult(&Result{Index: 1, Object: obj})
	bad = append(bad[:len(bad)-1], binary.AppendUvarint(nil, objstore.MaxParts+1)...)
	if _, err := UnmarshalResult(bad); !errors.Is(err, ErrInvalidResult) {
		t.Fatalf("parts count over MaxParts: %v", err)
	}
	// Version 2 results (no checksum type, parts count) still decode.
	v2 := []byte{2, 0, 7, 1}
	v2 = appendString(v2, obj.Key)
	v2 = appendTime(v2, obj.LastModified)
	v2 = appendInfo(v2, &obj)
	r, err := UnmarshalResult(v2)
	want := obj
	want.ChecksumType, want.PartsCount = "", 0
	if err != nil || r.Index != 7 || !reflect.DeepEqual(r.Object, want) {
		t.Fatalf("version 2 result: %+v, %v", r, err)
	}
}

func TestResultRoundTripNewErrors(t *testing.T) {
	for _, sentinel := range []error{
		objstore.ErrNoSuchUpload,
		objstore.ErrInvalidPart,
		objstore.ErrInvalidPartOrder,
		objstore.ErrEntityTooSmall,
		objstore.ErrBadDigest,
		objstore.ErrEntityTooLarge,
		ErrSourceChanged,
	} {
		t.Run(sentinel.Error(), func(t *testing.T) {
			got, err := UnmarshalResult(MarshalResult(&Result{Index: 3, Err: sentinel}))
			if err != nil {
				t.Fatal(err)
			}
			if got.Err != sentinel || got.Index != 3 {
				t.Errorf("exact sentinel came back as %#v", got.Err)
			}
			wrapped := fmt.Errorf("%w: part 2 is 12 bytes", sentinel)
			got, err = UnmarshalResult(MarshalResult(&Result{Index: 4, Err: wrapped}))
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(got.Err, sentinel) || got.Err.Error() != wrapped.Error() {
				t.Errorf("wrapped sentinel came back as %v (matches: %v)", got.Err, errors.Is(got.Err, sentinel))
			}
			for _, other := range wireErrors {
				if other != nil && other != sentinel && errors.Is(got.Err, other) {
					t.Errorf("decoded error also matches %v", other)
				}
			}
		})
	}
}

func TestObjectRecordVersion3(t *testing.T) {
	b1, b2 := testBlob(1, 5*mib), testBlob(2, 17)
	b1.Checksums = map[string]string{"crc32c": "yZRlqg=="}
	in := objstore.ObjectInfo{
		Key: "dir/ü", Size: 5*mib + 17, ETag: etagOf("mp") + "-2", LastModified: time.Unix(0, 1700000000123456789).UTC(),
		ContentType: "application/x", Headers: map[string]string{"Cache-Control": "no-cache"},
		UserMeta: map[string]string{"a": "b"}, Checksums: map[string]string{"crc32c": "AAAAAA==-2"},
		Tags: map[string]string{"t": "1"}, ChecksumType: objstore.ChecksumComposite, PartsCount: 2,
		Blobs: []objstore.BlobRef{b1, b2},
	}
	inline := fullPut().Info
	inline.LastModified = time.Unix(3, 0).UTC()
	inline.Tags = map[string]string{"x": "y"}
	single := inline
	single.Blobs = []objstore.BlobRef{testBlob(3, inline.Size)}
	noBlobs := inline
	noBlobs.Blobs = []objstore.BlobRef{} // blob-backed location with an empty list
	for name, info := range map[string]objstore.ObjectInfo{"multipart": in, "inline": inline, "single blob": single, "empty list": noBlobs} {
		rec := appendRecord(nil, &info)
		if rec[0] != recordVersion {
			t.Fatalf("%s: record version %d", name, rec[0])
		}
		wantLoc := byte(bodyInline)
		if info.Blobs != nil {
			wantLoc = bodyBlobs
		}
		if rec[1] != wantLoc {
			t.Errorf("%s: body location %d, want %d", name, rec[1], wantLoc)
		}
		got, err := decodeRecord([]byte(info.Key), rec)
		if err != nil || !reflect.DeepEqual(got, info) {
			t.Fatalf("%s: decoded %+v, %v\nwant %+v", name, got, err, info)
		}
		for n := range len(rec) {
			if _, err := decodeRecord([]byte(info.Key), rec[:n]); err == nil {
				t.Fatalf("%s: truncated to %d of %d bytes decoded", name, n, len(rec))
			}
		}
		if _, err := decodeRecord([]byte(info.Key), append(bytes.Clone(rec), 0)); err == nil {
			t.Fatalf("%s: trailing byte accepted", name)
		}
	}

	// Version 2 records: no checksum type, parts count or blobs.
	v2 := []byte{2, bodyInline}
	v2 = appendTime(v2, inline.LastModified)
	v2 = appendInfo(v2, &inline)
	got, err := decodeRecord([]byte(inline.Key), v2)
	if err != nil || !reflect.DeepEqual(got, inline) {
		t.Fatalf("version 2 record: %+v, %v\nwant %+v", got, err, inline)
	}
	// Only version 3 knows the blob location; unknown locations and
	// versions are refused.
	v2blob := bytes.Clone(v2)
	v2blob[1] = bodyBlobs
	v3loc := appendRecord(nil, &inline)
	v3loc[1] = 2
	v4 := appendRecord(nil, &inline)
	v4[0] = recordVersion + 1
	tooMany := []byte{recordVersion, bodyInline}
	tooMany = appendTime(tooMany, inline.LastModified)
	tooMany = appendInfo(tooMany, &inline)
	tooMany = appendString(tooMany, "")
	tooMany = binary.AppendUvarint(tooMany, objstore.MaxParts+1)
	for name, rec := range map[string][]byte{"v2 blob location": v2blob, "v3 location 2": v3loc, "version 4": v4, "parts count": tooMany} {
		if got, err := decodeRecord([]byte("k"), rec); err == nil {
			t.Errorf("%s decoded: %+v", name, got)
		}
	}
}

func TestBlobPutLifecycle(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{{"create", NewCreateBucket("b"), nil}})
	if got := walkAllBlobs(t, f, 3); got != nil {
		t.Fatalf("fresh store has blobs %+v", got)
	}

	b1 := testBlob(1, 10*mib)
	b1.Checksums = map[string]string{"crc32": "AAAAAA=="}
	p := blobPutReq("b", "k", b1)
	p.Info.Checksums = b1.Checksums
	p.Info.UserMeta = map[string]string{"m": "1"}
	r := applyOne(t, f, &s, NewPutObject(p))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	info, body, err := f.GetObject("b", "k")
	if err != nil || body != nil {
		t.Fatalf("GetObject = %q, %v", body, err)
	}
	want := p.Info
	want.LastModified = time.Unix(int64(r.Index), 0).UTC()
	want.Blobs = []objstore.BlobRef{b1}
	if !reflect.DeepEqual(info, want) || !reflect.DeepEqual(r.Object, want) {
		t.Fatalf("blob-backed record\n got %+v\nwant %+v\nresult %+v", info, want, r.Object)
	}
	if head, _ := f.HeadObject("b", "k"); !reflect.DeepEqual(head, want) {
		t.Fatalf("HeadObject %+v", head)
	}
	// A listing carries everything but the blob list.
	listed := want
	listed.Blobs = nil
	if list, _ := f.ListObjects("b", objectsPage); len(list.Objects) != 1 || !reflect.DeepEqual(list.Objects[0], listed) {
		t.Fatalf("ListObjects %+v", list.Objects)
	}
	if !referenced(t, f, b1.ID) || len(garbageIDs(t, f)) != 0 {
		t.Fatalf("after put: referenced=%v garbage=%v", referenced(t, f, b1.ID), garbageIDs(t, f))
	}
	if got := walkAllBlobs(t, f, 10); len(got) != 1 || got[0].ID != b1.ID || got[0].Size != b1.Size || got[0].MD5 != b1.MD5 || got[0].Checksums != nil {
		t.Fatalf("WalkBlobs = %+v", got)
	}

	// Tagging keeps the record's blobs.
	runSteps(t, f, &s, []step{{"tag", NewPutObjectTagging("b", "k", map[string]string{"a": "b"}), nil}})
	if info, _ := f.HeadObject("b", "k"); !reflect.DeepEqual(info.Blobs, want.Blobs) || info.Tags["a"] != "b" {
		t.Fatalf("tagged blob-backed record %+v", info)
	}

	// Overwrite with an inline body: the blob is garbage, listed by the
	// overwriting entry.
	r = applyOne(t, f, &s, NewPutObject(putReq("b", "k", "small")))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if info, body, _ := f.GetObject("b", "k"); info.Blobs != nil || string(body) != "small" {
		t.Fatalf("inline overwrite: %+v %q", info, body)
	}
	g, err := f.Garbage(nil, 10)
	if err != nil || len(g) != 1 || g[0].ID != b1.ID || g[0].Index != r.Index || len(g[0].Key) != 12 {
		t.Fatalf("Garbage = %+v, %v", g, err)
	}
	if referenced(t, f, b1.ID) || walkAllBlobs(t, f, 10) != nil {
		t.Fatal("overwritten blob still in the index")
	}
	if !garbageListed(t, f, b1.ID) {
		t.Fatal("released blob not found by GarbageListed")
	}

	// Blob over inline, then blob over blob.
	b2, b3 := testBlob(2, 6*mib), testBlob(3, 7*mib)
	runSteps(t, f, &s, []step{{"blob over inline", NewPutObject(blobPutReq("b", "k", b2)), nil}})
	if _, body, _ := f.GetObject("b", "k"); body != nil || hasInlineBody(t, f, "b", "k") {
		t.Fatalf("inline body survived: %q", body)
	}
	if len(garbageIDs(t, f)) != 1 || !referenced(t, f, b2.ID) {
		t.Fatalf("blob over inline: garbage %v", garbageIDs(t, f))
	}
	r = applyOne(t, f, &s, NewPutObject(blobPutReq("b", "k", b3)))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if ids := garbageIDs(t, f); !slices.Equal(ids, []string{b1.ID, b2.ID}) || referenced(t, f, b2.ID) || !referenced(t, f, b3.ID) {
		t.Fatalf("blob over blob: garbage %v", ids)
	}

	// DeleteObject releases; deleting again releases nothing more.
	runSteps(t, f, &s, []step{
		{"delete", NewDeleteObject("b", "k"), nil},
		{"delete again", NewDeleteObject("b", "k"), nil},
	})
	if ids := garbageIDs(t, f); !slices.Equal(ids, []string{b1.ID, b2.ID, b3.ID}) || referenced(t, f, b3.ID) {
		t.Fatalf("after delete: garbage %v", ids)
	}

	// DeleteObjects releases each key's blob once, in request order.
	b4, b5 := testBlob(4, 1), testBlob(5, 2)
	runSteps(t, f, &s, []step{
		{"put x", NewPutObject(blobPutReq("b", "x", b4)), nil},
		{"put y", NewPutObject(blobPutReq("b", "y", b5)), nil},
		{"put z", NewPutObject(putReq("b", "z", "inline")), nil},
	})
	r = applyOne(t, f, &s, NewDeleteObjects("b", []string{"y", "missing", "z", "x", "y"}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	g, _ = f.Garbage(nil, 100)
	if len(g) != 5 || g[3].ID != b5.ID || g[4].ID != b4.ID || g[3].Index != r.Index || g[4].Index != r.Index ||
		bytes.Compare(g[3].Key, g[4].Key) >= 0 {
		t.Fatalf("DeleteObjects garbage %+v", g)
	}
	if referenced(t, f, b4.ID) || referenced(t, f, b5.ID) || walkAllBlobs(t, f, 1) != nil {
		t.Fatal("deleted blobs still referenced")
	}
	runSteps(t, f, &s, []step{{"bucket now empty", NewDeleteBucket("b"), nil}})

	// Garbage pages and DeleteGarbage.
	if g, _ := f.Garbage(nil, 2); len(g) != 2 || g[0].ID != b1.ID {
		t.Fatalf("Garbage(2) = %+v", g)
	}
	all, _ := f.Garbage(nil, 100)
	if err := f.DeleteGarbage([][]byte{all[0].Key, all[2].Key, []byte("not a key at all")}); err != nil {
		t.Fatal(err)
	}
	if ids := garbageIDs(t, f); !slices.Equal(ids, []string{b2.ID, b5.ID, b4.ID}) {
		t.Fatalf("after DeleteGarbage: %v", ids)
	}
	for id, want := range map[string]bool{b1.ID: false, b2.ID: true, b3.ID: false, b4.ID: true, b5.ID: true, "never seen": false} {
		if garbageListed(t, f, id) != want {
			t.Fatalf("GarbageListed(%s) = %v after DeleteGarbage", id, !want)
		}
	}
	applied := f.AppliedIndex()
	var keys [][]byte
	for _, e := range all {
		keys = append(keys, e.Key)
	}
	if err := f.DeleteGarbage(keys); err != nil {
		t.Fatal(err)
	}
	if ids := garbageIDs(t, f); ids != nil || f.AppliedIndex() != applied {
		t.Fatalf("after draining: %v, applied %d", ids, f.AppliedIndex())
	}
	if garbageListed(t, f, b2.ID) || garbageListed(t, f, b4.ID) {
		t.Fatal("a drained blob is still listed")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteGarbage(keys); !errors.Is(err, ErrClosed) {
		t.Fatalf("DeleteGarbage after Close: %v", err)
	}
	if _, err := f.Garbage(nil, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Garbage after Close: %v", err)
	}
	if _, err := f.BlobReferenced(b1.ID); !errors.Is(err, ErrClosed) {
		t.Fatalf("BlobReferenced after Close: %v", err)
	}
	if _, err := f.WalkBlobs("", 1, func(objstore.BlobRef) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("WalkBlobs after Close: %v", err)
	}
}

func TestWalkBlobsPagination(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	logs := []*raft.Log{s.cmd(NewCreateBucket("b"))}
	rng := rand.New(rand.NewPCG(5, 6))
	var want []string
	for _, n := range rng.Perm(23) {
		ref := testBlob(1000+n*7919, int64(n))
		want = append(want, ref.ID)
		logs = append(logs, s.cmd(NewPutObject(blobPutReq("b", fmt.Sprint("k", n), ref))))
	}
	for _, r := range applyBatch(t, f, logs) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	slices.Sort(want)
	for _, limit := range []int{1, 2, 5, 22, 23, 24, 100} {
		var got []string
		for _, ref := range walkAllBlobs(t, f, limit) {
			got = append(got, ref.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: walked %v\nwant %v", limit, got, want)
		}
	}
	// Starting after an ID that is not in the index.
	var got []string
	last, err := f.WalkBlobs(want[10][:31]+"g", 100, func(r objstore.BlobRef) { got = append(got, r.ID) })
	if err != nil || last != "" || !slices.Equal(got, want[11:]) {
		t.Fatalf("walk after a foreign ID: %v, %q, %v", got, last, err)
	}
	got = nil
	if _, err := f.WalkBlobs(want[10], 3, func(r objstore.BlobRef) { got = append(got, r.ID) }); err != nil || !slices.Equal(got, want[11:14]) {
		t.Fatalf("walk after %s: %v, %v", want[10], got, err)
	}
}

func TestBlobPutFailuresDiscardTheBlob(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"put existing", NewPutObject(blobPutReq("b", "k", testBlob(1, 100))), nil},
	})
	tests := []struct {
		name string
		req  *objstore.PutRequest
		want error
	}{
		{"missing bucket", blobPutReq("nope", "k", testBlob(10, 1)), objstore.ErrNoSuchBucket},
		{"if-none-match on existing", withIf(blobPutReq("b", "k", testBlob(11, 1)), "", "*"), objstore.ErrPreconditionFailed},
		{"if-match stale", withIf(blobPutReq("b", "k", testBlob(12, 1)), `"`+etagOf("other")+`"`, ""), objstore.ErrPreconditionFailed},
		{"if-match on missing", withIf(blobPutReq("b", "new", testBlob(13, 1)), "*", ""), objstore.ErrNoSuchKey},
	}
	for _, tt := range tests {
		before := dataOnly(dump(t, f))
		r := applyOne(t, f, &s, NewPutObject(tt.req))
		if !errors.Is(r.Err, tt.want) {
			t.Fatalf("%s: err = %v, want %v", tt.name, r.Err, tt.want)
		}
		if after := dataOnly(dump(t, f)); after != before {
			t.Fatalf("%s: failed put changed replicated state", tt.name)
		}
		g, _ := f.Garbage(nil, 100)
		if len(g) == 0 || g[len(g)-1].ID != tt.req.Blob.ID || g[len(g)-1].Index != r.Index {
			t.Fatalf("%s: garbage %+v does not end with the carried blob", tt.name, g)
		}
		if referenced(t, f, tt.req.Blob.ID) {
			t.Fatalf("%s: carried blob referenced", tt.name)
		}
	}
	// The existing object is intact.
	if info, _ := f.HeadObject("b", "k"); len(info.Blobs) != 1 || info.Blobs[0].ID != testBlobID(1) || !referenced(t, f, testBlobID(1)) {
		t.Fatalf("existing object %+v", info)
	}
	// A successful conditional put with a blob.
	r := applyOne(t, f, &s, NewPutObject(withIf(blobPutReq("b", "k", testBlob(14, 2)), `"`+testBlob(1, 0).MD5+`"`, "")))
	if r.Err != nil || !referenced(t, f, testBlobID(14)) || !isGarbage(t, f, testBlobID(1)) {
		t.Fatalf("conditional blob put: %v", r.Err)
	}
}

func TestBlobInvalidCommands(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"put", NewPutObject(blobPutReq("b", "k", testBlob(1, 100))), nil},
	})
	withBody := blobPutReq("b", "x", testBlob(20, 4))
	withBody.Body = []byte("body")
	badSize := blobPutReq("b", "x", testBlob(21, 4))
	badSize.Info.Size = 5
	badETag := blobPutReq("b", "x", testBlob(22, 4))
	badETag.Info.ETag = etagOf("else")
	negSize := blobPutReq("b", "x", testBlob(23, -1))
	upperMD5 := testBlob(24, 4)
	upperMD5.MD5 = strings.ToUpper(upperMD5.MD5)
	upperID := testBlob(25, 4)
	upperID.ID = strings.ToUpper("abcdef" + testBlobID(25)[6:])
	shortID := testBlob(26, 4)
	shortID.ID = shortID.ID[1:]
	pathID := testBlob(27, 4)
	pathID.ID = "../../" + pathID.ID[6:]
	withSum := func(n int, name, v string) objstore.BlobRef {
		b := testBlob(n, 4)
		b.Checksums = map[string]string{name: v}
		return b
	}

	tests := []struct {
		name    string
		req     *objstore.PutRequest
		garbage bool // the carried ID is well-formed, so it is listed
	}{
		{"body with blob", withBody, true},
		{"size mismatch", badSize, true},
		{"etag mismatch", badETag, true},
		{"negative size", negSize, false}, // does not even decode
		{"uppercase md5", blobPutReq("b", "x", upperMD5), true},
		{"uppercase id", blobPutReq("b", "x", upperID), false},
		{"short id", blobPutReq("b", "x", shortID), false},
		{"path id", blobPutReq("b", "x", pathID), false},
		{"empty key", blobPutReq("b", "", testBlob(28, 4)), true},
		{"unknown checksum", blobPutReq("b", "x", withSum(40, "xxhash32", "AAAAAA==")), true},
		{"uppercase checksum name", blobPutReq("b", "x", withSum(41, "SHA512", checksum.SHA512.Of(nil))), true},
		{"sha256 value as sha512", blobPutReq("b", "x", withSum(42, "sha512", checksum.SHA256.Of(nil))), true},
		{"xxhash64 value as xxhash128", blobPutReq("b", "x", withSum(43, "xxhash128", checksum.XXHASH64.Of(nil))), true},
		{"unpadded md5", blobPutReq("b", "x", withSum(44, "md5", strings.TrimRight(checksum.MD5.Of(nil), "="))), true},
		// A blob already referenced by a record: refused, and not listed
		// (the record still needs it), also when the command is invalid
		// for another reason.
		{"referenced blob, size mismatch", func() *objstore.PutRequest {
			p := blobPutReq("b", "other", testBlob(1, 100))
			p.Info.Size = 99
			return p
		}(), false},
		{"referenced blob", blobPutReq("b", "other", testBlob(1, 100)), false},
		{"referenced blob same key", blobPutReq("b", "k", testBlob(1, 100)), false},
	}
	for _, tt := range tests {
		before := dataOnly(dump(t, f))
		nGarbage := len(garbageIDs(t, f))
		r := applyOne(t, f, &s, NewPutObject(tt.req))
		if !errors.Is(r.Err, ErrInvalidCommand) {
			t.Fatalf("%s: err = %v, want ErrInvalidCommand", tt.name, r.Err)
		}
		if dataOnly(dump(t, f)) != before {
			t.Fatalf("%s: invalid command changed replicated state", tt.name)
		}
		ids := garbageIDs(t, f)
		listed := len(ids) == nGarbage+1 && ids[nGarbage] == tt.req.Blob.ID
		if listed != tt.garbage || (!tt.garbage && len(ids) != nGarbage) {
			t.Fatalf("%s: garbage %v (want carried blob listed: %v)", tt.name, ids, tt.garbage)
		}
	}
	if !referenced(t, f, testBlobID(1)) {
		t.Fatal("the referenced blob lost its reference")
	}
	if _, err := f.HeadObject("b", "other"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("duplicate blob put wrote a record: %v", err)
	}

	// The other command types carrying a referenced blob are refused too.
	cp := &objstore.CopyRequest{SrcBucket: "b", SrcKey: "k", Bucket: "b", Key: "copy", SrcETag: testBlob(1, 0).MD5}
	dup := testBlob(1, 100)
	cp.Blob = &dup
	runSteps(t, f, &s, []step{
		{"create upload", NewCreateMultipartUpload(&objstore.Upload{Bucket: "b", Key: "mp", UploadID: "u1"}), nil},
		{"copy with referenced blob", NewCopyObject(cp), ErrInvalidCommand},
		{"invalid part with referenced blob", NewUploadPart(&objstore.UploadPartRequest{Bucket: "b", Key: "mp", UploadID: "u1", PartNumber: 0, Blob: testBlob(1, 100)}), ErrInvalidCommand},
		{"part with referenced blob", NewUploadPart(&objstore.UploadPartRequest{Bucket: "b", Key: "mp", UploadID: "u1", PartNumber: 1, Blob: testBlob(1, 100)}), ErrInvalidCommand},
	})
	if isGarbage(t, f, testBlobID(1)) || !referenced(t, f, testBlobID(1)) {
		t.Fatal("a refused duplicate released the referenced blob")
	}
	if res, _ := f.ListParts("b", "mp", "u1", 0, 10); len(res.Parts) != 0 {
		t.Fatalf("duplicate part recorded: %+v", res.Parts)
	}
}

// blobCopyFixture: bucket "b" with "src" stored in blob 1 (with a crc32
// checksum and metadata) and "inline" stored inline; bucket "c".
func blobCopyFixture(t *testing.T) (*FSM, *logSeq, objstore.BlobRef) {
	t.Helper()
	f := openFSM(t)
	var s logSeq
	src := testBlob(1, 8*mib)
	src.Checksums = map[string]string{"crc32": "AAAAAA=="}
	p := blobPutReq("b", "src", src)
	p.Info.Checksums = src.Checksums
	p.Info.UserMeta = map[string]string{"color": "red"}
	p.Info.Tags = map[string]string{"team": "blue"}
	runSteps(t, f, &s, []step{
		{"create b", NewCreateBucket("b"), nil},
		{"create c", NewCreateBucket("c"), nil},
		{"put src", NewPutObject(p), nil},
		{"put inline", NewPutObject(putReq("b", "inline", "inline body")), nil},
	})
	return f, &s, src
}

func TestCopyBlobBackedSource(t *testing.T) {
	t.Run("without a blob", func(t *testing.T) {
		f, s, src := blobCopyFixture(t)
		before := trimApplied(dump(t, f))
		r := applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{SrcBucket: "b", SrcKey: "src", Bucket: "c", Key: "dst", SrcETag: src.MD5}))
		if !errors.Is(r.Err, ErrSourceChanged) {
			t.Fatalf("err = %v, want ErrSourceChanged", r.Err)
		}
		if trimApplied(dump(t, f)) != before {
			t.Fatal("refused copy changed the store")
		}
		if _, err := f.HeadObject("c", "dst"); !errors.Is(err, objstore.ErrNoSuchKey) {
			t.Fatalf("destination: %v", err)
		}
	})

	t.Run("with a matching blob", func(t *testing.T) {
		f, s, src := blobCopyFixture(t)
		nb := testBlob(2, src.Size)
		nb.Checksums = map[string]string{"crc32": "BBBBBB==", "sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="}
		r := applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{
			SrcBucket: "b", SrcKey: "src", Bucket: "c", Key: "dst",
			SrcIfMatch: `"` + src.MD5 + `"`, Blob: &nb, SrcETag: src.MD5,
		}))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		srcInfo, _ := f.HeadObject("b", "src")
		info, body, err := f.GetObject("c", "dst")
		if err != nil || body != nil {
			t.Fatalf("GetObject %q %v", body, err)
		}
		want := srcInfo
		want.Key, want.LastModified = "dst", time.Unix(int64(r.Index), 0).UTC()
		want.ETag = nb.MD5
		want.Blobs = []objstore.BlobRef{nb}
		// Only the source's algorithms are kept, with the copy's values.
		want.Checksums = map[string]string{"crc32": "BBBBBB=="}
		if !reflect.DeepEqual(info, want) || !reflect.DeepEqual(r.Object, want) {
			t.Fatalf("copy\n got %+v\nwant %+v", info, want)
		}
		if !referenced(t, f, src.ID) || !referenced(t, f, nb.ID) || garbageIDs(t, f) != nil {
			t.Fatalf("after copy: garbage %v", garbageIDs(t, f))
		}

		// A copy with a checksum algorithm takes the blob's value.
		nb3 := testBlob(3, src.Size)
		nb3.Checksums = nb.Checksums
		r = applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{
			SrcBucket: "b", SrcKey: "src", Bucket: "c", Key: "dst", ChecksumAlgorithm: "sha256",
			ReplaceMetadata: true, ContentType: "text/x", ReplaceTags: true, Blob: &nb3, SrcETag: `"` + src.MD5 + `"`,
		}))
		// SrcETag is compared verbatim: a quoted one is stale.
		if !errors.Is(r.Err, ErrSourceChanged) {
			t.Fatalf("quoted SrcETag: %v", r.Err)
		}
		nb4 := testBlob(4, src.Size)
		nb4.Checksums = nb.Checksums
		r = applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{
			SrcBucket: "b", SrcKey: "src", Bucket: "c", Key: "dst", ChecksumAlgorithm: "sha256",
			ReplaceMetadata: true, ContentType: "text/x", ReplaceTags: true, Blob: &nb4, SrcETag: src.MD5,
		}))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		info, _ = f.HeadObject("c", "dst")
		if !reflect.DeepEqual(info.Checksums, map[string]string{"sha256": nb.Checksums["sha256"]}) || info.ContentType != "text/x" ||
			info.UserMeta != nil || info.Tags != nil || info.ETag != nb4.MD5 {
			t.Fatalf("copy with checksum algorithm %+v", info)
		}
		// The replaced destination's blob is garbage.
		if ids := garbageIDs(t, f); !slices.Equal(ids, []string{nb3.ID, nb.ID}) || referenced(t, f, nb.ID) {
			t.Fatalf("garbage %v", ids)
		}

		// Requesting an algorithm the blob lacks is an invalid command.
		nb5 := testBlob(5, src.Size)
		r = applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{
			SrcBucket: "b", SrcKey: "src", Bucket: "c", Key: "dst2", ChecksumAlgorithm: "crc32c", Blob: &nb5, SrcETag: src.MD5,
		}))
		if !errors.Is(r.Err, ErrInvalidCommand) || !isGarbage(t, f, nb5.ID) || referenced(t, f, nb5.ID) {
			t.Fatalf("copy lacking the checksum: %v", r.Err)
		}
	})

	t.Run("stale", func(t *testing.T) {
		f, s, src := blobCopyFixture(t)
		tests := []struct {
			name string
			cp   objstore.CopyRequest
			want error
		}{
			{"stale etag", objstore.CopyRequest{SrcETag: etagOf("older")}, ErrSourceChanged},
			{"no etag", objstore.CopyRequest{}, ErrSourceChanged},
			{"size differs", objstore.CopyRequest{SrcETag: src.MD5, Blob: blobPtr(testBlob(0, src.Size+1))}, ErrSourceChanged},
			{"source condition", objstore.CopyRequest{SrcETag: src.MD5, SrcIfNoneMatch: "*"}, objstore.ErrPreconditionFailed},
			{"destination condition", objstore.CopyRequest{SrcETag: src.MD5, Key: "exists", IfNoneMatch: "*"}, objstore.ErrPreconditionFailed},
			{"missing destination bucket", objstore.CopyRequest{SrcETag: src.MD5, Bucket: "nope"}, objstore.ErrNoSuchBucket},
			{"missing source", objstore.CopyRequest{SrcETag: src.MD5, SrcKey: "nope"}, objstore.ErrNoSuchKey},
			{"inline source with a blob", objstore.CopyRequest{SrcKey: "inline", SrcETag: etagOf("inline body"), Blob: blobPtr(testBlob(0, int64(len("inline body"))))}, ErrSourceChanged},
		}
		runSteps(t, f, s, []step{{"put exists", NewPutObject(putReq("c", "exists", "x")), nil}})
		for i, tt := range tests {
			cp := tt.cp
			cp.SrcBucket, cp.Bucket = "b", orDefault(cp.Bucket, "c")
			cp.SrcKey, cp.Key = orDefault(cp.SrcKey, "src"), orDefault(cp.Key, "dst")
			if cp.Blob == nil {
				cp.Blob = blobPtr(testBlob(0, src.Size))
			}
			cp.Blob.ID = testBlobID(100 + i)
			before := dataOnly(dump(t, f))
			r := applyOne(t, f, s, NewCopyObject(&cp))
			if !errors.Is(r.Err, tt.want) {
				t.Fatalf("%s: err = %v, want %v", tt.name, r.Err, tt.want)
			}
			if dataOnly(dump(t, f)) != before {
				t.Fatalf("%s: refused copy changed replicated state", tt.name)
			}
			if ids := garbageIDs(t, f); len(ids) != i+1 || ids[i] != cp.Blob.ID || referenced(t, f, cp.Blob.ID) {
				t.Fatalf("%s: garbage %v, want the carried blob %s last", tt.name, ids, cp.Blob.ID)
			}
		}
	})

	t.Run("inline source", func(t *testing.T) {
		f, s, _ := blobCopyFixture(t)
		r := applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{SrcBucket: "b", SrcKey: "inline", Bucket: "c", Key: "dst"}))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if info, body, err := f.GetObject("c", "dst"); err != nil || string(body) != "inline body" || info.Blobs != nil {
			t.Fatalf("inline copy %+v %q %v", info, body, err)
		}
		// An inline copy over a blob-backed destination releases its blob.
		r = applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{SrcBucket: "b", SrcKey: "inline", Bucket: "b", Key: "src"}))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if info, body, _ := f.GetObject("b", "src"); string(body) != "inline body" || info.Blobs != nil ||
			!isGarbage(t, f, testBlobID(1)) || referenced(t, f, testBlobID(1)) {
			t.Fatalf("inline copy over a blob object: %+v %q, garbage %v", info, body, garbageIDs(t, f))
		}
	})

	t.Run("onto itself", func(t *testing.T) {
		f, s, src := blobCopyFixture(t)
		nb := testBlob(2, src.Size)
		r := applyOne(t, f, s, NewCopyObject(&objstore.CopyRequest{
			SrcBucket: "b", SrcKey: "src", Bucket: "b", Key: "src",
			ReplaceMetadata: true, ContentType: "text/new", Blob: &nb, SrcETag: src.MD5,
		}))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		info, _ := f.HeadObject("b", "src")
		if info.ContentType != "text/new" || len(info.Blobs) != 1 || info.Blobs[0].ID != nb.ID || info.ETag != nb.MD5 || info.Checksums != nil {
			t.Fatalf("self copy %+v", info)
		}
		if !slices.Equal(garbageIDs(t, f), []string{src.ID}) || referenced(t, f, src.ID) || !referenced(t, f, nb.ID) {
			t.Fatalf("self copy garbage %v", garbageIDs(t, f))
		}
	})
}

func blobPtr(r objstore.BlobRef) *objstore.BlobRef { return &r }

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// genBlobLogs is genLogs for the version 3 commands: blob-backed puts,
// copies with and without blobs, the four multipart commands, with a
// share of commands bound to fail (stale copies, missing uploads, wrong
// parts, duplicate blob IDs, invalid references).
func genBlobLogs(seed uint64, n int) []*raft.Log {
	rng := rand.New(rand.NewPCG(seed, seed^0x51ed2701))
	buckets := []string{"alpha", "beta"}
	keys := []string{"a", "a/b", "b", "dir/x", "z\x00", "ü"}
	var s logSeq
	nextBlob := 0
	blob := func(size int64) objstore.BlobRef {
		nextBlob++
		return testBlob(nextBlob, size)
	}
	lastMD5 := map[string]string{}         // bucket/key -> MD5 of the last blob put there
	partMD5 := map[string]map[int]string{} // upload id -> part -> MD5
	uploadOf := map[string][2]string{}     // upload id -> bucket, key
	var uploads []string
	logs := make([]*raft.Log, 0, n)
	for len(logs) < n {
		b, k := buckets[rng.IntN(len(buckets))], keys[rng.IntN(len(keys))]
		var l *raft.Log
		switch x := rng.IntN(100); {
		case x < 6:
			l = s.cmd(NewCreateBucket(b))
		case x < 8:
			l = s.cmd(NewDeleteBucket(b))
		case x < 18:
			l = s.cmd(NewPutObject(putReq(b, k, fmt.Sprint("inline ", rng.IntN(3)))))
		case x < 34:
			ref := blob(int64(rng.IntN(3)) * mib)
			if rng.IntN(12) == 0 && nextBlob > 1 {
				ref = testBlob(1+rng.IntN(nextBlob-1), 0) // possibly still referenced
				ref.Size = 0
			}
			p := blobPutReq(b, k, ref)
			switch rng.IntN(5) {
			case 0:
				p.IfNoneMatch = "*"
			case 1:
				p.IfMatch = `"` + lastMD5[b+"/"+k] + `"`
			}
			lastMD5[b+"/"+k] = ref.MD5
			l = s.cmd(NewPutObject(p))
		case x < 40:
			sk := keys[rng.IntN(len(keys))]
			cp := &objstore.CopyRequest{SrcBucket: buckets[rng.IntN(len(buckets))], SrcKey: sk, Bucket: b, Key: k}
			if rng.IntN(3) > 0 {
				ref := blob(int64(rng.IntN(3)) * mib)
				ref.Checksums = map[string]string{"crc32": "AAAAAA=="}
				cp.Blob, cp.SrcETag = &ref, lastMD5[cp.SrcBucket+"/"+sk]
				lastMD5[b+"/"+k] = ref.MD5
			}
			if rng.IntN(4) == 0 {
				cp.IfNoneMatch = "*"
			}
			l = s.cmd(NewCopyObject(cp))
		case x < 46:
			l = s.cmd(NewDeleteObject(b, k))
		case x < 48:
			l = s.cmd(NewDeleteObjects(b, []string{k, keys[rng.IntN(len(keys))]}))
		case x < 56:
			id := fmt.Sprintf("up%04d", len(uploads))
			uploads = append(uploads, id)
			uploadOf[id] = [2]string{b, k}
			u := &objstore.Upload{Bucket: b, Key: k, UploadID: id, ContentType: "x/y"}
			if rng.IntN(2) == 0 {
				u.ChecksumAlgorithm, u.ChecksumType = "crc32", objstore.ChecksumFullObject
			}
			l = s.cmd(NewCreateMultipartUpload(u))
		case x < 78 && len(uploads) > 0:
			id := uploads[rng.IntN(len(uploads))]
			bk := uploadOf[id]
			if rng.IntN(15) == 0 {
				bk[1] = "wrong key"
			}
			size := int64(5 * mib)
			if rng.IntN(4) == 0 {
				size = int64(rng.IntN(1000))
			}
			ref := blob(size)
			ref.Checksums = map[string]string{"crc32": []string{"AAAAAA==", "AAAAAQ==", "/////w=="}[rng.IntN(3)]}
			pn := 1 + rng.IntN(4)
			if partMD5[id] == nil {
				partMD5[id] = map[int]string{}
			}
			partMD5[id][pn] = ref.MD5
			l = s.cmd(NewUploadPart(&objstore.UploadPartRequest{Bucket: bk[0], Key: bk[1], UploadID: id, PartNumber: pn, Blob: ref}))
		case x < 86 && len(uploads) > 0:
			id := uploads[rng.IntN(len(uploads))]
			bk := uploadOf[id]
			var parts []objstore.CompletePart
			for pn := 1; pn <= 4; pn++ {
				if md, ok := partMD5[id][pn]; ok && rng.IntN(4) > 0 {
					if rng.IntN(20) == 0 {
						md = etagOf("wrong")
					}
					parts = append(parts, objstore.CompletePart{PartNumber: pn, ETag: `"` + md + `"`})
				}
			}
			if len(parts) == 0 {
				parts = []objstore.CompletePart{{PartNumber: 1, ETag: etagOf("none")}}
			}
			cr := &objstore.CompleteRequest{Bucket: bk[0], Key: bk[1], UploadID: id, Parts: parts}
			if rng.IntN(5) == 0 {
				cr.IfNoneMatch = "*"
			}
			l = s.cmd(NewCompleteMultipartUpload(cr))
		case x < 90 && len(uploads) > 0:
			id := uploads[rng.IntN(len(uploads))]
			bk := uploadOf[id]
			l = s.cmd(NewAbortMultipartUpload(bk[0], bk[1], id))
		case x < 94:
			bad := blob(1)
			bad.MD5 = "not an md5"
			l = s.cmd(NewPutObject(blobPutReq(b, k, bad)))
		default:
			l = s.cmd(NewNoop())
		}
		logs = append(logs, l)
	}
	return logs
}

func TestBlobDeterminismAcrossBatchSplits(t *testing.T) {
	logs := genBlobLogs(11, 600)
	var (
		wantDump    string
		wantResults []string
	)
	for _, sp := range []struct {
		seed     uint64
		maxBatch int
	}{{1, 1}, {2, 5}, {3, 50}, {4, 600}} {
		t.Run(fmt.Sprintf("seed%d_max%d", sp.seed, sp.maxBatch), func(t *testing.T) {
			f := openFSM(t)
			rs := applySplit(t, f, logs, sp.seed, sp.maxBatch)
			var keys []string
			count := map[string]int{}
			for i, r := range rs {
				keys = append(keys, resultKey(r))
				c, _ := UnmarshalCommand(logs[i].Data)
				outcome := "ok"
				if r.Err != nil {
					outcome = "fail"
				}
				count[c.Type.String()+" "+outcome]++
			}
			for _, need := range []string{
				"PutObject ok", "PutObject fail", "CopyObject ok", "CopyObject fail",
				"UploadPart ok", "UploadPart fail", "CompleteMultipartUpload ok", "CompleteMultipartUpload fail",
				"AbortMultipartUpload ok", "DeleteBucket fail",
			} {
				if count[need] == 0 {
					t.Fatalf("the log has no %q: %v", need, count)
				}
			}
			if len(garbageIDs(t, f)) == 0 || len(walkAllBlobs(t, f, 50)) == 0 {
				t.Fatal("the log leaves no garbage or no referenced blobs")
			}
			checkBlobIndex(t, f)
			d := dump(t, f)
			if wantDump == "" {
				wantDump, wantResults = d, keys
				return
			}
			if d != wantDump {
				t.Fatalf("state differs from the first split")
			}
			for i := range keys {
				if keys[i] != wantResults[i] {
					t.Fatalf("result %d differs:\n%s\n%s", i, keys[i], wantResults[i])
				}
			}
		})
	}
}

// checkBlobIndex verifies the blob invariants over the whole store: every
// blob a record (object or part) names is in the index exactly once with
// its size and MD5, and the index holds nothing else.
func checkBlobIndex(t *testing.T, f *FSM) {
	t.Helper()
	named := map[string]objstore.BlobRef{}
	add := func(where string, r objstore.BlobRef) {
		if _, dup := named[r.ID]; dup {
			t.Fatalf("blob %s referenced twice (again by %s)", r.ID, where)
		}
		named[r.ID] = r
	}
	buckets, err := f.ListBuckets()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		res, err := f.ListObjects(b.Name, objstore.ListOptions{MaxKeys: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			// Listings leave the blob list out; the record has it.
			full, err := f.HeadObject(b.Name, o.Key)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range full.Blobs {
				add(b.Name+"/"+o.Key, r)
			}
		}
		ups, err := f.ListUploads(b.Name, objstore.ListUploadsOptions{MaxUploads: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range ups.Uploads {
			parts, err := f.ListParts(b.Name, u.Key, u.UploadID, 0, objstore.MaxParts)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range parts.Parts {
				add(fmt.Sprintf("%s/%s part %d", b.Name, u.UploadID, p.PartNumber), p.Blob)
			}
		}
	}
	idx := walkAllBlobs(t, f, 17)
	if len(idx) != len(named) {
		t.Fatalf("index holds %d blobs, records name %d", len(idx), len(named))
	}
	for _, r := range idx {
		want, ok := named[r.ID]
		if !ok || want.Size != r.Size || want.MD5 != r.MD5 {
			t.Fatalf("index entry %+v, record has %+v", r, want)
		}
	}
}

func TestSnapshotRestoreKeepsBlobsAndUploads(t *testing.T) {
	logs := genBlobLogs(21, 500)
	src := openFSM(t)
	applySplit(t, src, logs[:350], 1, 20)
	atSnapshot := dump(t, src)
	data := snapshotBytes(t, src)

	// Restore into a store that has its own blobs and uploads.
	dst := openFSM(t)
	var s logSeq
	runSteps(t, dst, &s, []step{
		{"create", NewCreateBucket("alpha"), nil},
		{"put", NewPutObject(blobPutReq("alpha", "own", testBlob(999999, 1))), nil},
		{"upload", NewCreateMultipartUpload(&objstore.Upload{Bucket: "alpha", Key: "own", UploadID: "mine"}), nil},
	})
	if err := dst.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, dst); got != atSnapshot {
		t.Fatal("restored state differs from the snapshot's")
	}
	if referenced(t, dst, testBlobID(999999)) {
		t.Fatal("the restored store kept a blob of the discarded state")
	}
	if _, err := dst.GetUpload("alpha", "own", "mine"); err == nil {
		t.Fatal("the restored store kept an upload of the discarded state")
	}
	// Every query agrees with the source as of the snapshot.
	ref := openFSM(t)
	applySplit(t, ref, logs[:350], 2, 350)
	if !reflect.DeepEqual(walkAllBlobs(t, dst, 7), walkAllBlobs(t, ref, 1000)) {
		t.Fatal("WalkBlobs differs after Restore")
	}
	g1, _ := dst.Garbage(nil, 1<<20)
	g2, _ := ref.Garbage(nil, 1<<20)
	if !reflect.DeepEqual(g1, g2) {
		t.Fatal("Garbage differs after Restore")
	}
	nUploads := 0
	for _, b := range []string{"alpha", "beta"} {
		u1, e1 := dst.ListUploads(b, objstore.ListUploadsOptions{MaxUploads: 1000})
		nUploads += len(u1.Uploads)
		u2, e2 := ref.ListUploads(b, objstore.ListUploadsOptions{MaxUploads: 1000})
		if !reflect.DeepEqual(u1, u2) || errMsg(e1) != errMsg(e2) {
			t.Fatalf("ListUploads(%s) differs after Restore", b)
		}
		for _, u := range u1.Uploads {
			p1, _ := dst.ListParts(b, u.Key, u.UploadID, 0, 100)
			p2, _ := ref.ListParts(b, u.Key, u.UploadID, 0, 100)
			if !reflect.DeepEqual(p1, p2) {
				t.Fatalf("ListParts(%s) differs after Restore", u.UploadID)
			}
		}
	}
	if nUploads == 0 || len(g1) == 0 || len(walkAllBlobs(t, dst, 100)) == 0 {
		t.Fatalf("the snapshot holds %d uploads, %d garbage entries: the test exercises too little", nUploads, len(g1))
	}
	checkBlobIndex(t, dst)
	// Both continue identically.
	applySplit(t, src, logs[350:], 3, 20)
	applySplit(t, dst, logs[350:], 4, 40)
	if dump(t, dst) != dump(t, src) {
		t.Fatal("restored FSM diverged after applying the rest of the log")
	}
}

// Garbage entries carry their command's time (the drainer ages them by
// it) and page with an exclusive cursor.
func TestGarbagePagesAndTimes(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	applyOne(t, f, &s, NewCreateBucket("b"))
	var ids []string
	for i := 1; i <= 5; i++ {
		ref := testBlob(i, 1<<20)
		applyOne(t, f, &s, NewPutObject(blobPutReq("b", "k", ref)))
		ids = append(ids, ref.ID)
	}
	r := applyOne(t, f, &s, NewDeleteObject("b", "k"))
	all, err := f.Garbage(nil, 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("Garbage = %+v, %v", all, err)
	}
	for i, e := range all {
		if e.ID != ids[i] {
			t.Fatalf("entry %d is %s, want %s", i, e.ID, ids[i])
		}
	}
	// The last entry was listed by the delete, at its time.
	if last := all[4]; last.Index != r.Index || !last.Time.Equal(time.Unix(int64(r.Index), 0)) {
		t.Fatalf("last entry %+v, delete at index %d", last, r.Index)
	}
	var paged []string
	var after []byte
	for {
		page, err := f.Garbage(after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			paged = append(paged, e.ID)
		}
		after = page[len(page)-1].Key
	}
	if !slices.Equal(paged, ids) {
		t.Fatalf("paged %v, want %v", paged, ids)
	}
}
