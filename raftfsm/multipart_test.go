package raftfsm

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// Tests of multipart uploads: the four commands' encodings, their apply
// rules (parts, completion, abort, bucket deletion) and the upload and
// part listings.

func createUploadCmd(bucket, key, id string) *Command {
	return NewCreateMultipartUpload(&objstore.Upload{Bucket: bucket, Key: key, UploadID: id})
}

func partCmd(bucket, key, id string, n int, ref objstore.BlobRef) *Command {
	return NewUploadPart(&objstore.UploadPartRequest{Bucket: bucket, Key: key, UploadID: id, PartNumber: n, Blob: ref})
}

func completeCmd(bucket, key, id string, parts ...objstore.CompletePart) *Command {
	return NewCompleteMultipartUpload(&objstore.CompleteRequest{Bucket: bucket, Key: key, UploadID: id, Parts: parts})
}

// listedPart is a Complete entry for part n stored in ref, with the quoted
// ETag clients send.
func listedPart(n int, ref objstore.BlobRef) objstore.CompletePart {
	return objstore.CompletePart{PartNumber: n, ETag: `"` + ref.MD5 + `"`}
}

// wantMultipartETag computes S3's multipart ETag independently: hex MD5 of
// the concatenated binary part MD5s, "-", the part count.
func wantMultipartETag(t *testing.T, partMD5s ...string) string {
	t.Helper()
	var cat []byte
	for _, m := range partMD5s {
		raw, err := hex.DecodeString(m)
		if err != nil || len(raw) != 16 {
			t.Fatalf("bad part md5 %q", m)
		}
		cat = append(cat, raw...)
	}
	sum := md5.Sum(cat)
	return hex.EncodeToString(sum[:]) + "-" + strconv.Itoa(len(partMD5s))
}

func multipartSampleCommands() []*Command {
	full := &objstore.Upload{
		Bucket: "photos", Key: "2024/ü \x00.mov", UploadID: "1700000000-abc_DEF.9",
		ContentType: "video/quicktime", Headers: map[string]string{"Cache-Control": "no-cache", "Expires": "x"},
		UserMeta: map[string]string{"z": "1", "a": "2"}, Tags: map[string]string{"t": "v"},
		ChecksumAlgorithm: "crc32c", ChecksumType: objstore.ChecksumFullObject,
	}
	ref := testBlob(7, 5*mib)
	ref.Checksums = map[string]string{"crc32c": "yZRlqg==", "sha1": "2jmj7l5rSw0yVb/vlWAYkK/YBwk="}
	return []*Command{
		NewCreateMultipartUpload(full),
		createUploadCmd("b", "k", "u"),
		NewUploadPart(&objstore.UploadPartRequest{Bucket: "photos", Key: "2024/x", UploadID: "up-1", PartNumber: objstore.MaxParts, Blob: ref}),
		partCmd("b", "k", "u", 1, testBlob(8, 0)),
		NewCompleteMultipartUpload(&objstore.CompleteRequest{
			Bucket: "photos", Key: "2024/x", UploadID: "up-1", IfMatch: `"abc"`, IfNoneMatch: "*",
			Checksums: map[string]string{"crc32c": "yZRlqg==", "sha256": "x"},
			Parts: []objstore.CompletePart{
				{PartNumber: 1, ETag: `"` + ref.MD5 + `"`, Checksums: map[string]string{"crc32c": "AAAAAA=="}},
				{PartNumber: 2, ETag: ref.MD5},
				{PartNumber: objstore.MaxParts, ETag: ""},
			},
			DefaultChecksum: true,
		}),
		completeCmd("b", "k", "u", objstore.CompletePart{PartNumber: 1}),
		completeCmd("b", "k", "u"), // no parts: decodes, refused at apply
		NewAbortMultipartUpload("photos", "2024/ü", "up-1"),
		NewAbortMultipartUpload("", "", ""),
	}
}

func TestMultipartCommandCorruptInput(t *testing.T) {
	header := func(typ CommandType) []byte { return []byte{commandVersion, byte(typ), 0, 0, 0, 0, 0, 0, 0, 0} }
	strs := func(b []byte, ss ...string) []byte {
		for _, s := range ss {
			b = appendString(b, s)
		}
		return b
	}
	ref := testBlob(1, 1)
	bigPart := strs(header(TypeUploadPart), "b", "k", "u")
	bigPart = binary.AppendUvarint(bigPart, objstore.MaxParts+2)
	bigPart = appendBlobRef(bigPart, &ref)

	hugeCount := strs(header(TypeCompleteMultipartUpload), "b", "k", "u", "", "")
	hugeCount = append(hugeCount, 0) // no checksums
	hugeCount = binary.AppendUvarint(hugeCount, 1<<40)

	bigListed := strs(header(TypeCompleteMultipartUpload), "b", "k", "u", "", "")
	bigListed = append(bigListed, 0, 1)
	bigListed = binary.AppendUvarint(bigListed, 1<<20)
	bigListed = append(bigListed, 0, 0)

	unorderedUpload := strs(header(TypeCreateMultipartUpload), "b", "k", "u", "")
	unorderedUpload = append(unorderedUpload, 2)
	unorderedUpload = strs(unorderedUpload, "z", "1", "a", "2")
	unorderedUpload = append(unorderedUpload, 0, 0, 0, 0, 0)

	for name, data := range map[string][]byte{
		"part number past bound":   bigPart,
		"complete part count":      hugeCount,
		"listed part number":       bigListed,
		"unordered upload headers": unorderedUpload,
		"abort missing upload id":  strs(header(TypeAbortMultipartUpload), "b", "k"),
		"abort trailing":           append(strs(header(TypeAbortMultipartUpload), "b", "k", "u"), 0),
	} {
		if c, err := UnmarshalCommand(data); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%s: got %+v, %v; want ErrInvalidCommand", name, c, err)
		}
	}

}

// A CompleteMultipartUpload in a version 3 envelope (logged before the
// DefaultChecksum flag) still decodes, with the flag off; a flag byte
// other than 0 or 1 is corrupt input.
func TestCompleteVersion3DecodesWithoutDefaultChecksum(t *testing.T) {
	c := completeCmd("b", "k", "u", objstore.CompletePart{PartNumber: 1, ETag: "e"})
	c.Complete.DefaultChecksum = true
	v4 := c.Marshal()
	v4[0] = 4 // version 5 changed nothing for Complete
	if v4[len(v4)-1] != 1 {
		t.Fatalf("version 4 Complete ends %v", v4[len(v4)-1])
	}
	v3 := bytes.Clone(v4[:len(v4)-1])
	v3[0] = 3
	got, err := UnmarshalCommand(v3)
	if err != nil {
		t.Fatal(err)
	}
	if got.Complete.DefaultChecksum || got.Complete.Key != "k" || len(got.Complete.Parts) != 1 {
		t.Fatalf("version 3 Complete decoded as %+v", got.Complete)
	}
	bad := bytes.Clone(v4)
	bad[len(bad)-1] = 2
	if _, err := UnmarshalCommand(bad); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("flag byte 2: %v, want ErrInvalidCommand", err)
	}
}

func TestMultipartInvalidCommands(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"upload", createUploadCmd("b", "k", "u1"), nil},
	})
	withAlg := func(alg, typ string) *Command {
		return NewCreateMultipartUpload(&objstore.Upload{Bucket: "b", Key: "k", UploadID: "u2", ChecksumAlgorithm: alg, ChecksumType: typ})
	}
	badID := testBlob(30, 1)
	badID.ID = "XYZ"
	tests := []struct {
		name    string
		cmd     *Command
		garbage string // blob ID the refusal must list, if any
	}{
		{"empty bucket", createUploadCmd("", "k", "u2"), ""},
		{"empty key", createUploadCmd("b", "", "u2"), ""},
		{"empty upload id", createUploadCmd("b", "k", ""), ""},
		{"upload id with slash", createUploadCmd("b", "k", "a/b"), ""},
		{"upload id with NUL", createUploadCmd("b", "k", "a\x00"), ""},
		{"upload id too long", createUploadCmd("b", "k", strings.Repeat("x", 128+1)), ""},
		{"existing upload id", createUploadCmd("b", "k", "u1"), ""},
		{"uppercase algorithm", withAlg("CRC32", objstore.ChecksumComposite), ""},
		{"unknown algorithm", withAlg("crc16", objstore.ChecksumComposite), ""},
		{"md5 full object", withAlg("md5", objstore.ChecksumFullObject), ""},
		{"xxhash128 full object", withAlg("xxhash128", objstore.ChecksumFullObject), ""},
		{"uppercase new algorithm", withAlg("SHA512", objstore.ChecksumComposite), ""},
		{"algorithm without type", withAlg("crc32", ""), ""},
		{"type without algorithm", withAlg("", objstore.ChecksumComposite), ""},
		{"unknown type", withAlg("crc32", "composite"), ""},
		{"sha256 full object", withAlg("sha256", objstore.ChecksumFullObject), ""},
		{"sha1 full object", withAlg("sha1", objstore.ChecksumFullObject), ""},
		{"crc64nvme composite", withAlg("crc64nvme", objstore.ChecksumComposite), ""},
		{"part number 0", partCmd("b", "k", "u1", 0, testBlob(31, 1)), testBlobID(31)},
		{"part number past max", partCmd("b", "k", "u1", objstore.MaxParts+1, testBlob(32, 1)), testBlobID(32)},
		{"part with bad blob id", partCmd("b", "k", "u1", 1, badID), ""},
		{"part with bad md5", partCmd("b", "k", "u1", 1, objstore.BlobRef{ID: testBlobID(33), MD5: "xyz"}), testBlobID(33)},
		{"part with bad upload id", partCmd("b", "k", "u 1", 1, testBlob(34, 1)), testBlobID(34)},
		{"complete without parts", completeCmd("b", "k", "u1"), ""},
		{"abort bad upload id", NewAbortMultipartUpload("b", "k", "-?"), ""},
		{"abort empty key", NewAbortMultipartUpload("b", "", "u1"), ""},
	}
	for _, tt := range tests {
		before := dataOnly(dump(t, f))
		nGarbage := len(garbageIDs(t, f))
		r := applyOne(t, f, &s, tt.cmd)
		if !errors.Is(r.Err, ErrInvalidCommand) {
			t.Fatalf("%s: err = %v, want ErrInvalidCommand", tt.name, r.Err)
		}
		if dataOnly(dump(t, f)) != before {
			t.Fatalf("%s: invalid command changed replicated state", tt.name)
		}
		ids := garbageIDs(t, f)
		switch {
		case tt.garbage == "" && len(ids) != nGarbage:
			t.Fatalf("%s: listed garbage %v", tt.name, ids[nGarbage:])
		case tt.garbage != "" && (len(ids) != nGarbage+1 || ids[nGarbage] != tt.garbage):
			t.Fatalf("%s: garbage %v, want %s listed", tt.name, ids, tt.garbage)
		}
	}
	// Every valid algorithm and type pair is accepted.
	for i, c := range []struct{ alg, typ string }{
		{"crc32", objstore.ChecksumComposite}, {"crc32c", objstore.ChecksumComposite}, {"sha1", objstore.ChecksumComposite},
		{"sha256", objstore.ChecksumComposite}, {"crc32", objstore.ChecksumFullObject}, {"crc32c", objstore.ChecksumFullObject},
		{"crc64nvme", objstore.ChecksumFullObject},
	} {
		cmd := withAlg(c.alg, c.typ)
		cmd.Upload.UploadID = fmt.Sprint("ok", i)
		cmd.UploadID = cmd.Upload.UploadID
		if r := applyOne(t, f, &s, cmd); r.Err != nil {
			t.Errorf("%s %s: %v", c.alg, c.typ, r.Err)
		}
	}
}

func TestMultipartLifecycle(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"old object", NewPutObject(putReq("b", "video.mp4", "inline before")), nil},
	})
	u := &objstore.Upload{
		Bucket: "b", Key: "video.mp4", UploadID: "u1", ContentType: "video/mp4",
		Headers: map[string]string{"Cache-Control": "max-age=9"}, UserMeta: map[string]string{"who": "me"},
		Tags: map[string]string{"t": "1"},
	}
	r := applyOne(t, f, &s, NewCreateMultipartUpload(u))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	initiated := time.Unix(int64(r.Index), 0).UTC()
	if r.Object.Key != "video.mp4" || !r.Object.LastModified.Equal(initiated) {
		t.Fatalf("create result %+v", r.Object)
	}
	wantUpload := *u
	wantUpload.Initiated = initiated
	if got, err := f.GetUpload("b", "video.mp4", "u1"); err != nil || !reflect.DeepEqual(got, wantUpload) {
		t.Fatalf("GetUpload = %+v, %v\nwant %+v", got, err, wantUpload)
	}
	if lu, err := f.ListUploads("b", objstore.ListUploadsOptions{MaxUploads: 10}); err != nil || len(lu.Uploads) != 1 ||
		!reflect.DeepEqual(lu.Uploads[0], wantUpload) || lu.IsTruncated {
		t.Fatalf("ListUploads = %+v, %v", lu, err)
	}

	refs := map[int]objstore.BlobRef{
		1: testBlob(1, 5*mib), 2: testBlob(2, 6*mib), 3: testBlob(3, 5*mib), 4: testBlob(4, 7*mib), 5: testBlob(5, 1234),
	}
	refs[4] = objstore.BlobRef{ID: refs[4].ID, Size: refs[4].Size, MD5: refs[4].MD5, Checksums: map[string]string{"crc32": "AAAAAA=="}}
	partTime := map[int]time.Time{}
	for n := 1; n <= 5; n++ {
		r := applyOne(t, f, &s, partCmd("b", "video.mp4", "u1", n, refs[n]))
		if r.Err != nil {
			t.Fatalf("part %d: %v", n, r.Err)
		}
		partTime[n] = time.Unix(int64(r.Index), 0).UTC()
		want := objstore.ObjectInfo{Key: "video.mp4", LastModified: partTime[n], Size: refs[n].Size, ETag: refs[n].MD5, Checksums: refs[n].Checksums}
		if !reflect.DeepEqual(r.Object, want) {
			t.Fatalf("part %d result %+v, want %+v", n, r.Object, want)
		}
		if !referenced(t, f, refs[n].ID) {
			t.Fatalf("part %d blob not referenced", n)
		}
	}
	// Re-uploading part 2 replaces its blob; the old one is garbage.
	old2 := refs[2]
	refs[2] = testBlob(12, 5*mib+1)
	r = applyOne(t, f, &s, partCmd("b", "video.mp4", "u1", 2, refs[2]))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	partTime[2] = time.Unix(int64(r.Index), 0).UTC()
	if g, _ := f.Garbage(nil, 10); len(g) != 1 || g[0].ID != old2.ID || g[0].Index != r.Index || referenced(t, f, old2.ID) {
		t.Fatalf("re-uploaded part: garbage %+v", g)
	}
	checkBlobIndex(t, f)

	// ListParts pages.
	type pageWant struct {
		marker, max int
		parts       []int
		truncated   bool
		next        int
	}
	for _, pw := range []pageWant{
		{0, 2, []int{1, 2}, true, 2},
		{2, 2, []int{3, 4}, true, 4},
		{4, 2, []int{5}, false, 0},
		{5, 2, nil, false, 0},
		{0, 5, []int{1, 2, 3, 4, 5}, false, 0},
		{0, 4, []int{1, 2, 3, 4}, true, 4},
		{-3, 1, []int{1}, true, 1},
		{3, 100, []int{4, 5}, false, 0},
		{0, 0, nil, false, 0},
		{objstore.MaxParts, 10, nil, false, 0},
		{1 << 40, 10, nil, false, 0},
	} {
		res, err := f.ListParts("b", "video.mp4", "u1", pw.marker, pw.max)
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		for _, p := range res.Parts {
			nums = append(nums, p.PartNumber)
			want := objstore.PartInfo{PartNumber: p.PartNumber, LastModified: partTime[p.PartNumber], Blob: refs[p.PartNumber]}
			if !reflect.DeepEqual(p, want) {
				t.Fatalf("part %+v, want %+v", p, want)
			}
		}
		if !slices.Equal(nums, pw.parts) || res.IsTruncated != pw.truncated || res.NextPartNumberMarker != pw.next ||
			!reflect.DeepEqual(res.Upload, wantUpload) {
			t.Fatalf("ListParts(marker %d, max %d) = %v truncated=%v next=%d", pw.marker, pw.max, nums, res.IsTruncated, res.NextPartNumberMarker)
		}
	}

	// Complete with parts 1, 2, 4 and 5: part 3 is dropped.
	cr := completeCmd("b", "video.mp4", "u1", listedPart(1, refs[1]), listedPart(2, refs[2]),
		objstore.CompletePart{PartNumber: 4, ETag: refs[4].MD5, Checksums: map[string]string{"crc32": "AAAAAA=="}},
		objstore.CompletePart{PartNumber: 5, ETag: `W/"` + refs[5].MD5 + `"`})
	r = applyOne(t, f, &s, cr)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := objstore.ObjectInfo{
		Key: "video.mp4", Size: refs[1].Size + refs[2].Size + refs[4].Size + refs[5].Size,
		ETag: wantMultipartETag(t, refs[1].MD5, refs[2].MD5, refs[4].MD5, refs[5].MD5),
		// S3 dates a multipart object by its upload's initiation.
		LastModified: wantUpload.Initiated, ContentType: "video/mp4",
		Headers: u.Headers, UserMeta: u.UserMeta, Tags: u.Tags, PartsCount: 4,
		Blobs: []objstore.BlobRef{refs[1], refs[2], refs[4], refs[5]},
	}
	info, body, err := f.GetObject("b", "video.mp4")
	if err != nil || body != nil || !reflect.DeepEqual(info, want) || !reflect.DeepEqual(r.Object, want) {
		t.Fatalf("completed object %+v %q %v\nwant %+v\nresult %+v", info, body, err, want, r.Object)
	}
	if !strings.HasSuffix(info.ETag, "-4") || len(info.ETag) != 34 {
		t.Fatalf("ETag %q", info.ETag)
	}
	if ids := garbageIDs(t, f); !slices.Equal(ids, []string{old2.ID, refs[3].ID}) {
		t.Fatalf("garbage after complete %v", ids)
	}
	for _, n := range []int{1, 2, 4, 5} {
		if !referenced(t, f, refs[n].ID) {
			t.Fatalf("part %d blob lost its reference", n)
		}
	}
	if referenced(t, f, refs[3].ID) {
		t.Fatal("unlisted part still referenced")
	}
	checkBlobIndex(t, f)
	if _, err := f.GetUpload("b", "video.mp4", "u1"); !errors.Is(err, objstore.ErrNoSuchUpload) {
		t.Fatalf("GetUpload after complete: %v", err)
	}
	if _, err := f.ListParts("b", "video.mp4", "u1", 0, 10); !errors.Is(err, objstore.ErrNoSuchUpload) {
		t.Fatalf("ListParts after complete: %v", err)
	}
	if lu, _ := f.ListUploads("b", objstore.ListUploadsOptions{MaxUploads: 10}); len(lu.Uploads) != 0 {
		t.Fatalf("ListUploads after complete: %+v", lu)
	}

	// A retried Complete answers with the object it wrote and changes
	// nothing.
	before := trimApplied(dump(t, f))
	r = applyOne(t, f, &s, cr)
	if r.Err != nil || !reflect.DeepEqual(r.Object, want) {
		t.Fatalf("retried complete: %+v, %v", r.Object, r.Err)
	}
	if trimApplied(dump(t, f)) != before {
		t.Fatal("retried complete changed the store")
	}
	// Anything else after completion is NoSuchUpload.
	late := testBlob(40, 5*mib)
	runSteps(t, f, &s, []step{
		{"complete other parts", completeCmd("b", "video.mp4", "u1", listedPart(1, refs[1]), listedPart(2, refs[2])), objstore.ErrNoSuchUpload},
		{"complete wrong etag", completeCmd("b", "video.mp4", "u1", listedPart(1, refs[1]), listedPart(2, refs[2]), listedPart(4, refs[3]), listedPart(5, refs[5])), objstore.ErrNoSuchUpload},
		{"complete bad etag", completeCmd("b", "video.mp4", "u1", objstore.CompletePart{PartNumber: 1, ETag: "zz"}), objstore.ErrNoSuchUpload},
		{"complete other key", completeCmd("b", "other", "u1", listedPart(1, refs[1]), listedPart(2, refs[2]), listedPart(4, refs[4]), listedPart(5, refs[5])), objstore.ErrNoSuchUpload},
		{"part after complete", partCmd("b", "video.mp4", "u1", 6, late), objstore.ErrNoSuchUpload},
		{"abort after complete", NewAbortMultipartUpload("b", "video.mp4", "u1"), objstore.ErrNoSuchUpload},
	})
	if !isGarbage(t, f, late.ID) || referenced(t, f, late.ID) {
		t.Fatal("a part for a completed upload was not discarded")
	}

	// Deleting the object releases every part blob.
	runSteps(t, f, &s, []step{{"delete", NewDeleteObject("b", "video.mp4"), nil}})
	for _, n := range []int{1, 2, 4, 5} {
		if referenced(t, f, refs[n].ID) || !isGarbage(t, f, refs[n].ID) {
			t.Fatalf("part %d blob not released with the object", n)
		}
	}
	if walkAllBlobs(t, f, 5) != nil {
		t.Fatal("blob index not empty")
	}
	// The retry no longer finds its object.
	runSteps(t, f, &s, []step{{"retry after delete", cr, objstore.ErrNoSuchUpload}})
}

// completeFixture: bucket "b", upload "u1" for key "k" with parts 1, 2, 4
// (5 MiB each, crc32 checksums) and 3 (100 bytes); "exists" holds an inline
// object.
func completeFixture(t *testing.T) (*FSM, *logSeq, map[int]objstore.BlobRef) {
	t.Helper()
	f := openFSM(t)
	var s logSeq
	refs := map[int]objstore.BlobRef{}
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"upload", createUploadCmd("b", "k", "u1"), nil},
		{"upload exists", createUploadCmd("b", "exists", "u2"), nil},
		{"put exists", NewPutObject(putReq("b", "exists", "old")), nil},
	})
	for n := 1; n <= 4; n++ {
		size := int64(5 * mib)
		if n == 3 {
			size = 100
		}
		ref := testBlob(n, size)
		ref.Checksums = map[string]string{"crc32": checksum.CRC32.Of([]byte{byte(n)})}
		refs[n] = ref
		runSteps(t, f, &s, []step{{fmt.Sprint("part ", n), partCmd("b", "k", "u1", n, ref), nil}})
		ref2 := testBlob(100+n, size)
		refs[100+n] = ref2
		runSteps(t, f, &s, []step{{fmt.Sprint("part u2 ", n), partCmd("b", "exists", "u2", n, ref2), nil}})
	}
	return f, &s, refs
}

func TestCompleteOutcomes(t *testing.T) {
	_, _, refs := completeFixture(t)
	lp := func(n int) objstore.CompletePart { return listedPart(n, refs[n]) }
	lp2 := func(n int) objstore.CompletePart { return listedPart(n, refs[100+n]) }
	withSum := func(p objstore.CompletePart, alg, v string) objstore.CompletePart {
		p.Checksums = map[string]string{alg: v}
		return p
	}
	tests := []struct {
		name string
		req  objstore.CompleteRequest
		want error
	}{
		{"ok", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1), lp(2)}}, nil},
		{"ok small last", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1), lp(2), lp(3)}}, nil},
		{"ok single small part", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(3)}}, nil},
		{"ok unquoted etag", objstore.CompleteRequest{Parts: []objstore.CompletePart{{PartNumber: 1, ETag: refs[1].MD5}}}, nil},
		{"ok listed checksum", objstore.CompleteRequest{Parts: []objstore.CompletePart{withSum(lp(1), "crc32", refs[1].Checksums["crc32"])}}, nil},
		{"unknown upload", objstore.CompleteRequest{UploadID: "nope", Parts: []objstore.CompletePart{lp(1)}}, objstore.ErrNoSuchUpload},
		{"wrong key", objstore.CompleteRequest{Key: "other", Parts: []objstore.CompletePart{lp(1)}}, objstore.ErrNoSuchUpload},
		{"other upload's key", objstore.CompleteRequest{Key: "exists", Parts: []objstore.CompletePart{lp(1)}}, objstore.ErrNoSuchUpload},
		{"missing bucket", objstore.CompleteRequest{Bucket: "nope", Parts: []objstore.CompletePart{lp(1)}}, objstore.ErrNoSuchBucket},
		{"descending", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(2), lp(1)}}, objstore.ErrInvalidPartOrder},
		{"duplicate", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1), lp(1)}}, objstore.ErrInvalidPartOrder},
		{"order checked before parts", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1), {PartNumber: 9}, lp(2)}}, objstore.ErrInvalidPartOrder},
		{"missing part", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1), {PartNumber: 5, ETag: refs[1].MD5}}}, objstore.ErrInvalidPart},
		{"part zero", objstore.CompleteRequest{Parts: []objstore.CompletePart{{PartNumber: 0, ETag: refs[1].MD5}, lp(1)}}, objstore.ErrInvalidPart},
		{"wrong etag", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1), {PartNumber: 2, ETag: refs[1].MD5}}}, objstore.ErrInvalidPart},
		{"another upload's part", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp2(1)}}, objstore.ErrInvalidPart},
		{"wrong listed checksum", objstore.CompleteRequest{Parts: []objstore.CompletePart{withSum(lp(1), "crc32", refs[2].Checksums["crc32"])}}, objstore.ErrInvalidPart},
		{"listed checksum the part lacks", objstore.CompleteRequest{Parts: []objstore.CompletePart{withSum(lp(1), "sha256", "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=")}}, objstore.ErrInvalidPart},
		{"small part not last", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1), lp(3), lp(4)}}, objstore.ErrEntityTooSmall},
		{"full checksum without algorithm", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1)}, Checksums: map[string]string{"crc32": refs[1].Checksums["crc32"]}}, objstore.ErrBadDigest},
		{"if-match on missing key", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1)}, IfMatch: "*"}, objstore.ErrNoSuchKey},
		{"if-none-match on missing key", objstore.CompleteRequest{Parts: []objstore.CompletePart{lp(1)}, IfNoneMatch: "*"}, nil},
		{"existing: if-none-match", objstore.CompleteRequest{Key: "exists", UploadID: "u2", Parts: []objstore.CompletePart{lp2(1)}, IfNoneMatch: "*"}, objstore.ErrPreconditionFailed},
		{"existing: if-match stale", objstore.CompleteRequest{Key: "exists", UploadID: "u2", Parts: []objstore.CompletePart{lp2(1)}, IfMatch: `"` + etagOf("older") + `"`}, objstore.ErrPreconditionFailed},
		{"existing: if-match current", objstore.CompleteRequest{Key: "exists", UploadID: "u2", Parts: []objstore.CompletePart{lp2(1), lp2(2)}, IfMatch: `"` + etagOf("old") + `"`}, nil},
		{"existing: if-match star", objstore.CompleteRequest{Key: "exists", UploadID: "u2", Parts: []objstore.CompletePart{lp2(1)}, IfMatch: "*"}, nil},
		{"existing: plain", objstore.CompleteRequest{Key: "exists", UploadID: "u2", Parts: []objstore.CompletePart{lp2(1), lp2(2), lp2(3)}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s, _ := completeFixture(t)
			req := tt.req
			req.Bucket, req.Key, req.UploadID = orDefault(req.Bucket, "b"), orDefault(req.Key, "k"), orDefault(req.UploadID, "u1")
			before := dump(t, f)
			r := applyOne(t, f, s, NewCompleteMultipartUpload(&req))
			if !errors.Is(r.Err, tt.want) || (tt.want == nil && r.Err != nil) {
				t.Fatalf("err = %v, want %v", r.Err, tt.want)
			}
			if tt.want != nil {
				if trimApplied(dump(t, f)) != trimApplied(before) {
					t.Fatal("a refused Complete changed the store")
				}
				if r.Object.Key != "" {
					t.Fatalf("refused Complete returned %+v", r.Object)
				}
				return
			}
			info, err := f.HeadObject("b", req.Key)
			if err != nil || !reflect.DeepEqual(info, r.Object) || info.PartsCount != len(req.Parts) {
				t.Fatalf("completed object %+v, %v; result %+v", info, err, r.Object)
			}
			var md5s []string
			var size int64
			for _, p := range req.Parts {
				ref := refs[p.PartNumber]
				if req.UploadID == "u2" {
					ref = refs[100+p.PartNumber]
				}
				md5s = append(md5s, ref.MD5)
				size += ref.Size
				if info.Blobs[len(md5s)-1].ID != ref.ID {
					t.Fatalf("blob %d is %s, want %s", len(md5s)-1, info.Blobs[len(md5s)-1].ID, ref.ID)
				}
			}
			if info.ETag != wantMultipartETag(t, md5s...) || info.Size != size {
				t.Fatalf("ETag %s size %d, want %s %d", info.ETag, info.Size, wantMultipartETag(t, md5s...), size)
			}
			if _, body, _ := f.GetObject("b", req.Key); body != nil || hasInlineBody(t, f, "b", req.Key) {
				t.Fatalf("inline body survived the Complete: %q", body)
			}
			// The unlisted parts are garbage, listed by this entry.
			g, _ := f.Garbage(nil, 100)
			for _, e := range g {
				if e.Index != r.Index {
					t.Fatalf("garbage entry %+v not from the Complete (index %d)", e, r.Index)
				}
			}
			if len(g) != 4-len(req.Parts) {
				t.Fatalf("garbage %+v for %d listed parts of 4", g, len(req.Parts))
			}
			checkBlobIndex(t, f)
		})
	}
}

// A Complete for an upload that is gone succeeds only if the key holds the
// multipart object it would have written: an ETag that merely looks the
// same (an inline object's ETag is the node's business) is not enough.
func TestCompleteRetryNeedsTheMultipartObject(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	p1, p2 := testBlob(1, 5*mib), testBlob(2, 1)
	look := putReq("b", "k", "lookalike")
	look.Info.ETag = wantMultipartETag(t, p1.MD5, p2.MD5)
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"lookalike", NewPutObject(look), nil},
		{"retry", completeCmd("b", "k", "gone", listedPart(1, p1), listedPart(2, p2)), objstore.ErrNoSuchUpload},
	})
}

func TestCompleteReplacesBlobObject(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	old := testBlob(1, 10)
	p1, p2 := testBlob(2, 5*mib), testBlob(3, 1)
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"blob object", NewPutObject(blobPutReq("b", "k", old)), nil},
		{"upload", createUploadCmd("b", "k", "u"), nil},
		{"part 1", partCmd("b", "k", "u", 1, p1), nil},
		{"part 2", partCmd("b", "k", "u", 2, p2), nil},
		{"complete", completeCmd("b", "k", "u", listedPart(1, p1), listedPart(2, p2)), nil},
	})
	if !slices.Equal(garbageIDs(t, f), []string{old.ID}) || referenced(t, f, old.ID) {
		t.Fatalf("garbage %v", garbageIDs(t, f))
	}
	// A multipart object can be copied (by the node, into one blob).
	info, _ := f.HeadObject("b", "k")
	nb := testBlob(4, info.Size)
	r := applyOne(t, f, &s, NewCopyObject(&objstore.CopyRequest{SrcBucket: "b", SrcKey: "k", Bucket: "b", Key: "copy", Blob: &nb, SrcETag: info.ETag}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if r.Object.PartsCount != 0 || r.Object.ETag != nb.MD5 || len(r.Object.Blobs) != 1 || r.Object.ChecksumType != "" || r.Object.Size != info.Size {
		t.Fatalf("copy of a multipart object %+v", r.Object)
	}
	checkBlobIndex(t, f)
}

func TestCompleteTooLarge(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	// 1025 parts of the 5 GiB maximum pass the 5 TiB object limit.
	n := int(objstore.MaxObjectSize/objstore.MaxPartSize) + 1
	steps := []step{
		{"create", NewCreateBucket("b"), nil},
		{"upload", createUploadCmd("b", "k", "u"), nil},
	}
	var listed []objstore.CompletePart
	for i := 1; i <= n; i++ {
		p := testBlob(i, objstore.MaxPartSize)
		steps = append(steps, step{fmt.Sprintf("part %d", i), partCmd("b", "k", "u", i, p), nil})
		listed = append(listed, listedPart(i, p))
	}
	steps = append(steps,
		step{"complete", completeCmd("b", "k", "u", listed...), objstore.ErrEntityTooLarge},
		step{"complete exactly the limit", completeCmd("b", "k", "u", listed[:n-1]...), nil})
	runSteps(t, f, &s, steps)
}

// Part sizes are trusted numbers; their sum must not wrap around into a
// negative Size that passes the limit check and is then written as a
// record no one can decode.
func TestCompletePartSizesDoNotOverflow(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	p1, p2 := testBlob(1, 1<<62), testBlob(2, 1<<62)
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"upload", createUploadCmd("b", "k", "u"), nil},
	})
	for i, p := range []objstore.BlobRef{p1, p2} {
		if r := applyOne(t, f, &s, partCmd("b", "k", "u", i+1, p)); r.Err != nil && !errors.Is(r.Err, ErrInvalidCommand) {
			t.Fatalf("part %d: %v", i+1, r.Err)
		}
	}
	r := applyOne(t, f, &s, completeCmd("b", "k", "u", listedPart(1, p1), listedPart(2, p2)))
	if r.Err == nil {
		t.Errorf("Complete of two 2^62-byte parts succeeded with Size %d; want ErrEntityTooLarge (or refused parts)", r.Object.Size)
	}
	if _, err := f.HeadObject("b", "k"); err != nil && !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Errorf("HeadObject after the Complete: %v", err)
	}
	if r := applyOne(t, f, &s, NewDeleteObject("b", "k")); r.Err != nil {
		t.Errorf("DeleteObject after the Complete: %v", r.Err)
	}
}

// A malformed part checksum (the FSM stores part checksums verbatim) must
// be a client outcome of the Complete, not a storage fault that stops
// every replica at the same entry.
func TestCompleteMalformedPartChecksumIsNotAStoreFault(t *testing.T) {
	for _, typ := range []string{objstore.ChecksumComposite, objstore.ChecksumFullObject} {
		t.Run(typ, func(t *testing.T) {
			f := openFSM(t)
			var s logSeq
			p := testBlob(1, 10)
			p.Checksums = map[string]string{"crc32": "not base64!"}
			runSteps(t, f, &s, []step{
				{"create", NewCreateBucket("b"), nil},
				{"upload", NewCreateMultipartUpload(&objstore.Upload{Bucket: "b", Key: "k", UploadID: "u", ChecksumAlgorithm: "crc32", ChecksumType: typ}), nil},
			})
			r := applyOne(t, f, &s, partCmd("b", "k", "u", 1, p))
			if r.Err != nil {
				return // refusing the part up front is a fine answer too
			}
			r = applyOne(t, f, &s, completeCmd("b", "k", "u", listedPart(1, p)))
			if r.Err == nil || errors.Is(r.Err, ErrStoreFailed) {
				t.Errorf("Complete with a malformed stored part checksum: %v", r.Err)
			}
			if r := applyOne(t, f, &s, NewNoop()); r.Err != nil {
				t.Fatalf("the FSM stopped applying: %v", r.Err)
			}
		})
	}
}

func TestCompleteChecksums(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	for _, c := range []struct {
		alg checksum.Algorithm
		typ string
	}{
		{checksum.CRC32, objstore.ChecksumComposite}, {checksum.CRC32C, objstore.ChecksumComposite},
		{checksum.SHA1, objstore.ChecksumComposite}, {checksum.SHA256, objstore.ChecksumComposite},
		{checksum.CRC32, objstore.ChecksumFullObject}, {checksum.CRC32C, objstore.ChecksumFullObject},
		{checksum.CRC64NVME, objstore.ChecksumFullObject},
		// The algorithms of April 2026 are COMPOSITE only.
		{checksum.MD5, objstore.ChecksumComposite}, {checksum.SHA512, objstore.ChecksumComposite},
		{checksum.XXHASH64, objstore.ChecksumComposite}, {checksum.XXHASH3, objstore.ChecksumComposite},
		{checksum.XXHASH128, objstore.ChecksumComposite},
	} {
		t.Run(c.alg.String()+"_"+c.typ, func(t *testing.T) {
			alg := c.alg.String()
			var parts []objstore.BlobRef
			for n := 1; n <= 3; n++ {
				data := make([]byte, 16)
				for i := range data {
					data[i] = byte(rng.IntN(256))
				}
				ref := testBlob(n, int64(5*mib+rng.IntN(1000)))
				if n == 3 {
					ref.Size = int64(rng.IntN(100))
				}
				ref.Checksums = map[string]string{alg: c.alg.Of(data), "sha256": checksum.SHA256.Of(data)}
				if c.alg == checksum.SHA256 {
					ref.Checksums = map[string]string{alg: c.alg.Of(data)}
				}
				parts = append(parts, ref)
			}
			setup := func() (*FSM, *logSeq, []objstore.BlobRef) {
				f := openFSM(t)
				var s logSeq
				runSteps(t, f, &s, []step{
					{"create", NewCreateBucket("b"), nil},
					{"upload", NewCreateMultipartUpload(&objstore.Upload{Bucket: "b", Key: "k", UploadID: "u", ChecksumAlgorithm: alg, ChecksumType: c.typ}), nil},
				})
				for i, ref := range parts {
					runSteps(t, f, &s, []step{{fmt.Sprint("part ", i+1), partCmd("b", "k", "u", i+1, ref), nil}})
				}
				return f, &s, parts
			}
			complete := func(refs []objstore.BlobRef, sums map[string]string) *Command {
				cmd := completeCmd("b", "k", "u", listedPart(1, refs[0]), listedPart(2, refs[1]), listedPart(3, refs[2]))
				cmd.Complete.Checksums = sums
				return cmd
			}

			f, s, refs := setup()
			r := applyOne(t, f, s, complete(refs, nil))
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			var want string
			var err error
			if c.typ == objstore.ChecksumComposite {
				var sums []string
				h := c.alg.New()
				for _, ref := range refs {
					sums = append(sums, ref.Checksums[alg])
					raw, _ := base64.StdEncoding.DecodeString(ref.Checksums[alg])
					h.Write(raw)
				}
				want, err = checksum.Composite(c.alg, sums)
				if independent := base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-3"; want != independent {
					t.Fatalf("checksum.Composite = %s, computed %s", want, independent)
				}
			} else {
				var parts []checksum.PartSum
				for _, ref := range refs {
					parts = append(parts, checksum.PartSum{Sum: ref.Checksums[alg], Size: ref.Size})
				}
				want, err = checksum.CombineFull(c.alg, parts)
			}
			if err != nil {
				t.Fatal(err)
			}
			info, _ := f.HeadObject("b", "k")
			if !reflect.DeepEqual(info.Checksums, map[string]string{alg: want}) || info.ChecksumType != c.typ ||
				!reflect.DeepEqual(r.Object, info) {
				t.Fatalf("object checksums %v type %q, want %s %s", info.Checksums, info.ChecksumType, want, c.typ)
			}
			// The Result carries the type to a forwarding follower.
			if got, err := UnmarshalResult(MarshalResult(r)); err != nil || got.Object.ChecksumType != c.typ || got.Object.PartsCount != 3 || got.Object.Checksums[alg] != want {
				t.Fatalf("result over the wire %+v, %v", got, err)
			}

			// Full-object checksums sent with the Complete.
			bare, _, _ := strings.Cut(want, "-")
			for name, tc := range map[string]struct {
				sums map[string]string
				want error
			}{
				"matching":            {map[string]string{alg: want}, nil},
				"without part count":  {map[string]string{alg: bare}, nil},
				"wrong":               {map[string]string{alg: c.alg.Of([]byte("other"))}, objstore.ErrBadDigest},
				"wrong part count":    {map[string]string{alg: bare + "-2"}, objstore.ErrBadDigest},
				"other algorithm":     {map[string]string{"sha1": checksum.SHA1.Of(nil)}, objstore.ErrBadDigest},
				"matching plus other": {map[string]string{alg: want, "sha1": checksum.SHA1.Of(nil)}, objstore.ErrBadDigest},
			} {
				if c.typ == objstore.ChecksumFullObject && name == "without part count" {
					continue
				}
				f, s, refs := setup()
				before := dump(t, f)
				r := applyOne(t, f, s, complete(refs, tc.sums))
				if !errors.Is(r.Err, tc.want) || (tc.want == nil && r.Err != nil) {
					t.Fatalf("%s: err = %v, want %v", name, r.Err, tc.want)
				}
				if tc.want != nil && trimApplied(dump(t, f)) != trimApplied(before) {
					t.Fatalf("%s: a refused Complete changed the store", name)
				}
			}

			// Every listed part must carry the upload's algorithm.
			f, s, refs = setup()
			lacking := testBlob(50, refs[2].Size)
			lacking.Checksums = map[string]string{"crc64nvme": checksum.CRC64NVME.Of(nil)}
			if c.alg == checksum.CRC64NVME {
				lacking.Checksums = map[string]string{"crc32": checksum.CRC32.Of(nil)}
			}
			runSteps(t, f, s, []step{
				{"replace part 3", partCmd("b", "k", "u", 3, lacking), nil},
				{"complete", completeCmd("b", "k", "u", listedPart(1, refs[0]), listedPart(2, refs[1]), listedPart(3, lacking)), objstore.ErrInvalidPart},
				{"complete without it", completeCmd("b", "k", "u", listedPart(1, refs[0]), listedPart(2, refs[1])), nil},
			})
			if info, _ := f.HeadObject("b", "k"); info.PartsCount != 2 || info.Checksums[alg] == "" {
				t.Fatalf("two-part object %+v", info)
			}
		})
	}
}

// The FULL_OBJECT checksum of a completed upload equals the checksum of
// the concatenated bytes.
func TestCompleteFullObjectChecksumOfRealData(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 15))
	p1, p2 := make([]byte, 5*mib), make([]byte, 777)
	for _, p := range [][]byte{p1, p2} {
		for i := range p {
			p[i] = byte(rng.IntN(256))
		}
	}
	whole := crc32.Checksum(append(bytes.Clone(p1), p2...), crc32.MakeTable(crc32.Castagnoli))
	want := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, whole))
	if want != checksum.CRC32C.Of(append(bytes.Clone(p1), p2...)) {
		t.Fatal("test setup: crc32c disagrees with package checksum")
	}

	f := openFSM(t)
	var s logSeq
	r1 := objstore.BlobRef{ID: testBlobID(1), Size: int64(len(p1)), MD5: etagOf(string(p1)), Checksums: map[string]string{"crc32c": checksum.CRC32C.Of(p1)}}
	r2 := objstore.BlobRef{ID: testBlobID(2), Size: int64(len(p2)), MD5: etagOf(string(p2)), Checksums: map[string]string{"crc32c": checksum.CRC32C.Of(p2)}}
	cr := completeCmd("b", "k", "u", listedPart(1, r1), listedPart(2, r2))
	cr.Complete.Checksums = map[string]string{"crc32c": want}
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"upload", NewCreateMultipartUpload(&objstore.Upload{Bucket: "b", Key: "k", UploadID: "u", ChecksumAlgorithm: "crc32c", ChecksumType: objstore.ChecksumFullObject}), nil},
		{"part 1", partCmd("b", "k", "u", 1, r1), nil},
		{"part 2", partCmd("b", "k", "u", 2, r2), nil},
		{"complete", cr, nil},
	})
	info, _ := f.HeadObject("b", "k")
	if info.Checksums["crc32c"] != want || info.ChecksumType != objstore.ChecksumFullObject || info.Size != int64(len(p1)+len(p2)) {
		t.Fatalf("object %+v, want crc32c %s", info, want)
	}
}

// An upload created without a checksum algorithm gets S3's default when
// the Complete asks for it: a full-object CRC64NVME, combined from the
// CRC64NVME the node recorded with every part. Parts recorded without one
// (by older nodes) leave the object without a checksum, and so does a
// Complete without the flag (logged before it existed).
func TestCompleteDefaultChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 17))
	p1, p2 := make([]byte, 5*mib), make([]byte, 1234)
	for _, p := range [][]byte{p1, p2} {
		for i := range p {
			p[i] = byte(rng.IntN(256))
		}
	}
	want := checksum.CRC64NVME.Of(append(bytes.Clone(p1), p2...))
	ref := func(n int, p []byte, sums map[string]string) objstore.BlobRef {
		return objstore.BlobRef{ID: testBlobID(n), Size: int64(len(p)), MD5: etagOf(string(p)), Checksums: sums}
	}

	withSums := func(n int, p []byte) objstore.BlobRef {
		return ref(n, p, map[string]string{"crc64nvme": checksum.CRC64NVME.Of(p), "crc32": checksum.CRC32.Of(p)})
	}
	for _, tt := range []struct {
		name     string
		r1, r2   objstore.BlobRef
		flag     bool
		wantSums map[string]string
	}{
		{"every part has crc64nvme", withSums(1, p1), withSums(2, p2), true, map[string]string{"crc64nvme": want}},
		{"a part without it", withSums(1, p1), ref(2, p2, nil), true, nil},
		// A Complete logged before the flag existed applies as it did.
		{"without the flag", withSums(1, p1), withSums(2, p2), false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := openFSM(t)
			var s logSeq
			complete := completeCmd("b", "k", "u", listedPart(1, tt.r1), listedPart(2, tt.r2))
			complete.Complete.DefaultChecksum = tt.flag
			runSteps(t, f, &s, []step{
				{"create", NewCreateBucket("b"), nil},
				{"upload", createUploadCmd("b", "k", "u"), nil},
				{"part 1", partCmd("b", "k", "u", 1, tt.r1), nil},
				{"part 2", partCmd("b", "k", "u", 2, tt.r2), nil},
				{"complete", complete, nil},
			})
			info, err := f.HeadObject("b", "k")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(info.Checksums, tt.wantSums) {
				t.Fatalf("checksums %v, want %v", info.Checksums, tt.wantSums)
			}
			if tt.wantSums != nil && info.ChecksumType != objstore.ChecksumFullObject {
				t.Fatalf("checksum type %q, want %s", info.ChecksumType, objstore.ChecksumFullObject)
			}
		})
	}
}

func TestAbortMultipartUpload(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	a1, a2, b1 := testBlob(1, 5*mib), testBlob(2, 3), testBlob(3, 4)
	runSteps(t, f, &s, []step{
		{"missing bucket", NewAbortMultipartUpload("b", "k", "ua"), objstore.ErrNoSuchBucket},
		{"create", NewCreateBucket("b"), nil},
		{"never created", NewAbortMultipartUpload("b", "k", "ua"), objstore.ErrNoSuchUpload},
		{"upload a", createUploadCmd("b", "k", "ua"), nil},
		{"upload b", createUploadCmd("b", "k", "ub"), nil},
		{"a part 1", partCmd("b", "k", "ua", 1, a1), nil},
		{"a part 2", partCmd("b", "k", "ua", 2, a2), nil},
		{"b part 1", partCmd("b", "k", "ub", 1, b1), nil},
		{"wrong key", NewAbortMultipartUpload("b", "k2", "ua"), objstore.ErrNoSuchUpload},
	})
	r := applyOne(t, f, &s, NewAbortMultipartUpload("b", "k", "ua"))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	g, _ := f.Garbage(nil, 10)
	if len(g) != 2 || g[0].ID != a1.ID || g[1].ID != a2.ID || g[0].Index != r.Index || g[1].Index != r.Index {
		t.Fatalf("garbage after abort %+v", g)
	}
	if referenced(t, f, a1.ID) || referenced(t, f, a2.ID) || !referenced(t, f, b1.ID) {
		t.Fatal("abort released the wrong blobs")
	}
	if _, err := f.GetUpload("b", "k", "ua"); !errors.Is(err, objstore.ErrNoSuchUpload) {
		t.Fatalf("GetUpload after abort: %v", err)
	}
	if res, err := f.ListParts("b", "k", "ub", 0, 10); err != nil || len(res.Parts) != 1 || res.Parts[0].Blob.ID != b1.ID {
		t.Fatalf("the other upload: %+v, %v", res, err)
	}
	late := testBlob(4, 1)
	runSteps(t, f, &s, []step{
		{"abort again", NewAbortMultipartUpload("b", "k", "ua"), objstore.ErrNoSuchUpload},
		{"complete after abort", completeCmd("b", "k", "ua", listedPart(1, a1)), objstore.ErrNoSuchUpload},
		{"part after abort", partCmd("b", "k", "ua", 3, late), objstore.ErrNoSuchUpload},
		{"abort without parts", createUploadCmd("b", "k", "uc"), nil},
		{"abort it", NewAbortMultipartUpload("b", "k", "uc"), nil},
	})
	if !isGarbage(t, f, late.ID) {
		t.Fatal("part for an aborted upload not discarded")
	}
	if lu, _ := f.ListUploads("b", objstore.ListUploadsOptions{MaxUploads: 10}); len(lu.Uploads) != 1 || lu.Uploads[0].UploadID != "ub" {
		t.Fatalf("uploads left %+v", lu.Uploads)
	}
	checkBlobIndex(t, f)
}

func TestUploadPartFailuresDiscardTheBlob(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"upload", createUploadCmd("b", "k", "u"), nil},
	})
	for i, tt := range []struct {
		name             string
		bucket, key, uid string
		want             error
	}{
		{"missing bucket", "nope", "k", "u", objstore.ErrNoSuchBucket},
		{"missing upload", "b", "k", "nope", objstore.ErrNoSuchUpload},
		{"wrong key", "b", "k2", "u", objstore.ErrNoSuchUpload},
	} {
		ref := testBlob(10+i, 5)
		before := dataOnly(dump(t, f))
		r := applyOne(t, f, &s, partCmd(tt.bucket, tt.key, tt.uid, 1, ref))
		if !errors.Is(r.Err, tt.want) {
			t.Fatalf("%s: err = %v, want %v", tt.name, r.Err, tt.want)
		}
		if dataOnly(dump(t, f)) != before {
			t.Fatalf("%s: refused part changed replicated state", tt.name)
		}
		g, _ := f.Garbage(nil, 100)
		if len(g) != i+1 || g[i].ID != ref.ID || g[i].Index != r.Index || referenced(t, f, ref.ID) {
			t.Fatalf("%s: garbage %+v", tt.name, g)
		}
	}
	if res, _ := f.ListParts("b", "k", "u", 0, 10); len(res.Parts) != 0 {
		t.Fatalf("parts %+v", res.Parts)
	}
}

func TestDeleteBucketWithOpenUploads(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	p1, p2, p3 := testBlob(1, 5*mib), testBlob(2, 5), testBlob(3, 6)
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"create other", NewCreateBucket("other"), nil},
		{"upload 1", createUploadCmd("b", "k", "u1"), nil},
		{"upload 2", createUploadCmd("b", "j", "u2"), nil},
		{"upload 3", createUploadCmd("b", "k", "u3"), nil},
		{"other upload", createUploadCmd("other", "k", "u1"), nil},
		{"part 1", partCmd("b", "k", "u1", 1, p1), nil},
		{"part 2", partCmd("b", "k", "u1", 2, p2), nil},
		{"part 3", partCmd("b", "j", "u2", 7, p3), nil},
		{"other part", partCmd("other", "k", "u1", 1, testBlob(4, 1)), nil},
		{"object", NewPutObject(putReq("b", "x", "x")), nil},
	})
	before := dump(t, f)
	runSteps(t, f, &s, []step{{"not empty", NewDeleteBucket("b"), objstore.ErrBucketNotEmpty}})
	if trimApplied(dump(t, f)) != trimApplied(before) {
		t.Fatal("a refused DeleteBucket changed the store")
	}
	runSteps(t, f, &s, []step{{"delete object", NewDeleteObject("b", "x"), nil}})
	r := applyOne(t, f, &s, NewDeleteBucket("b"))
	if r.Err != nil {
		t.Fatalf("DeleteBucket with open uploads: %v", r.Err)
	}
	g, _ := f.Garbage(nil, 10)
	var ids []string
	for _, e := range g {
		ids = append(ids, e.ID)
		if e.Index != r.Index {
			t.Fatalf("garbage entry %+v not from DeleteBucket", e)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{p1.ID, p2.ID, p3.ID}) {
		t.Fatalf("garbage %v", ids)
	}
	for _, p := range []objstore.BlobRef{p1, p2, p3} {
		if referenced(t, f, p.ID) {
			t.Fatalf("%s still referenced", p.ID)
		}
	}
	if !referenced(t, f, testBlobID(4)) {
		t.Fatal("another bucket's part was released")
	}
	if _, err := f.ListUploads("b", objstore.ListUploadsOptions{MaxUploads: 10}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("ListUploads of a deleted bucket: %v", err)
	}
	if _, err := f.GetUpload("b", "k", "u1"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("GetUpload of a deleted bucket: %v", err)
	}
	runSteps(t, f, &s, []step{
		{"recreate", NewCreateBucket("b"), nil},
		{"old upload gone", partCmd("b", "k", "u1", 1, testBlob(5, 1)), objstore.ErrNoSuchUpload},
	})
	if lu, err := f.ListUploads("b", objstore.ListUploadsOptions{MaxUploads: 10}); err != nil || len(lu.Uploads) != 0 {
		t.Fatalf("recreated bucket lists %+v, %v", lu, err)
	}
	if _, err := f.GetUpload("b", "k", "u1"); !errors.Is(err, objstore.ErrNoSuchUpload) {
		t.Fatalf("GetUpload in the recreated bucket: %v", err)
	}
	checkBlobIndex(t, f)
}

// Two uploads may never share part records: the parts of one upload
// belong to it alone, whatever the other commands name.
func TestUploadIDReusedUnderAnotherKey(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	pa, pb := testBlob(1, 5*mib), testBlob(2, 5*mib)
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"upload k1", createUploadCmd("b", "k1", "same"), nil},
		{"part k1", partCmd("b", "k1", "same", 1, pa), nil},
	})
	applyOne(t, f, &s, createUploadCmd("b", "k2", "same")) // refused or not
	applyOne(t, f, &s, partCmd("b", "k2", "same", 1, pb))
	res, err := f.ListParts("b", "k1", "same", 0, 10)
	if err != nil || len(res.Parts) != 1 || res.Parts[0].Blob.ID != pa.ID {
		t.Errorf("k1's parts after a command on k2's upload of the same ID: %+v, %v", res.Parts, err)
	}
	if !referenced(t, f, pa.ID) {
		t.Errorf("k1's part blob was released by a command on another key")
	}
}

// Result.Err must be the same on every replica, message included.
func TestCompleteErrorsAreDeterministic(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	ref := testBlob(1, 10)
	ref.Checksums = map[string]string{"crc32": "AAAAAA==", "crc32c": "AAAAAA==", "sha1": checksum.SHA1.Of(nil)}
	runSteps(t, f, &s, []step{
		{"create", NewCreateBucket("b"), nil},
		{"upload", NewCreateMultipartUpload(&objstore.Upload{Bucket: "b", Key: "k", UploadID: "u", ChecksumAlgorithm: "crc32", ChecksumType: objstore.ChecksumComposite}), nil},
		{"part", partCmd("b", "k", "u", 1, ref), nil},
	})
	wrongParts := listedPart(1, ref)
	wrongParts.Checksums = map[string]string{"crc32": "AQAAAA==", "crc32c": "AQAAAA==", "sha1": checksum.SHA1.Of([]byte("x"))}
	badDigest := completeCmd("b", "k", "u", listedPart(1, ref))
	badDigest.Complete.Checksums = map[string]string{"crc32": "AQAAAA==", "crc32c": "AQAAAA==", "sha256": checksum.SHA256.Of(nil)}
	for name, c := range map[string]*Command{
		"part checksums":  completeCmd("b", "k", "u", wrongParts),
		"object checksum": badDigest,
	} {
		msgs := map[string]bool{}
		for range 40 {
			r := applyOne(t, f, &s, c)
			if r.Err == nil {
				t.Fatalf("%s: Complete succeeded", name)
			}
			msgs[r.Err.Error()] = true
		}
		if len(msgs) != 1 {
			t.Errorf("%s: the same entry failed with %d different messages: %v", name, len(msgs), slices.Sorted(func(yield func(string) bool) {
				for m := range msgs {
					if !yield(m) {
						return
					}
				}
			}))
		}
	}
}

// upEntry is one upload in the reference model of ListUploads.
type upEntry struct{ key, id string }

func upItem(key, id string) string { return fmt.Sprintf("U %q %q", key, id) }
func cpItem(cp string) string      { return fmt.Sprintf("P %q", cp) }

type upPage struct {
	Items                             []string
	IsTruncated                       bool
	NextKeyMarker, NextUploadIDMarker string
}

func toUpPage(r objstore.ListUploadsResult) upPage {
	// The result keeps uploads and prefixes apart; merge them in (key, id)
	// order, which is how they were produced.
	p := upPage{IsTruncated: r.IsTruncated, NextKeyMarker: r.NextKeyMarker, NextUploadIDMarker: r.NextUploadIDMarker}
	type it struct {
		key, id, s string
	}
	var all []it
	for _, u := range r.Uploads {
		all = append(all, it{u.Key, u.UploadID, upItem(u.Key, u.UploadID)})
	}
	for _, c := range r.CommonPrefixes {
		all = append(all, it{c, "", cpItem(c)})
	}
	slices.SortStableFunc(all, func(a, b it) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for _, x := range all {
		p.Items = append(p.Items, x.s)
	}
	return p
}

// refUploads is the obviously-correct listing over sorted entries: drop
// what is not after the markers or not under the prefix, roll keys up to
// their common prefix (skipping prefixes at or before KeyMarker and
// repeats), cut at MaxUploads.
func refUploads(sorted []upEntry, o objstore.ListUploadsOptions) upPage {
	var p upPage
	if o.MaxUploads <= 0 {
		return p
	}
	var lastKey, lastID, lastCP string
	for _, e := range sorted {
		if o.KeyMarker != "" && !(e.key > o.KeyMarker || e.key == o.KeyMarker && o.UploadIDMarker != "" && e.id > o.UploadIDMarker) {
			continue
		}
		if !strings.HasPrefix(e.key, o.Prefix) {
			continue
		}
		item, k, id := upItem(e.key, e.id), e.key, e.id
		if o.Delimiter != "" {
			if i := strings.Index(e.key[len(o.Prefix):], o.Delimiter); i >= 0 {
				cp := e.key[:len(o.Prefix)+i+len(o.Delimiter)]
				if cp <= o.KeyMarker || cp == lastCP {
					continue
				}
				lastCP = cp
				item, k, id = cpItem(cp), cp, ""
			}
		}
		if len(p.Items) == o.MaxUploads {
			p.IsTruncated, p.NextKeyMarker, p.NextUploadIDMarker = true, lastKey, lastID
			return p
		}
		p.Items = append(p.Items, item)
		lastKey, lastID = k, id
	}
	return p
}

func TestListUploadsMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 17))
	pieces := []string{"a", "b", "/", "\x00", "ab/", "\xff", "a\x00"}
	var pool []string
	for len(pool) < 30 {
		var sb strings.Builder
		for range 1 + rng.IntN(4) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		if !slices.Contains(pool, sb.String()) {
			pool = append(pool, sb.String())
		}
	}
	// Make sure some keys are prefixes of others and some end in NUL.
	pool = append(pool, "a", "a/", "a/b", "a\x00", "a\x00\x00", "a\x00b", "ab", "\x00")
	pool = slices.Compact(slices.Sorted(slices.Values(pool)))

	f := openFSM(t)
	var s logSeq
	logs := []*raft.Log{s.cmd(NewCreateBucket("b"))}
	var all []upEntry
	const n = 120
	for i, p := range rng.Perm(n) {
		key := pool[rng.IntN(len(pool))]
		if i < len(pool) {
			key = pool[i] // every key has an upload
		}
		// IDs are unique; their order differs from creation order.
		e := upEntry{key, fmt.Sprintf("id%03d", p)}
		all = append(all, e)
		u := &objstore.Upload{Bucket: "b", Key: e.key, UploadID: e.id, ContentType: "t/" + e.id}
		logs = append(logs, s.cmd(NewCreateMultipartUpload(u)))
	}
	for i, r := range applyBatch(t, f, logs) {
		if r.Err != nil {
			t.Fatalf("entry %d: %v", i, r.Err)
		}
	}
	slices.SortFunc(all, func(a, b upEntry) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})

	// Upload records come back complete.
	full, err := f.ListUploads("b", objstore.ListUploadsOptions{MaxUploads: 1000})
	if err != nil || len(full.Uploads) != n || full.IsTruncated {
		t.Fatalf("full listing: %d uploads, %v", len(full.Uploads), err)
	}
	for i, u := range full.Uploads {
		if u.Bucket != "b" || u.Key != all[i].key || u.UploadID != all[i].id || u.ContentType != "t/"+u.UploadID || u.Initiated.IsZero() {
			t.Fatalf("upload %d: %+v, want %q %q", i, u, all[i].key, all[i].id)
		}
	}

	prefixes := []string{"", "a", "a/", "\x00", "a\x00", "b", "ab", "\xff", "zzz"}
	delims := []string{"", "/", "\x00", "b/", "a"}
	check := func(o objstore.ListUploadsOptions) {
		t.Helper()
		res, err := f.ListUploads("b", o)
		if err != nil {
			t.Fatal(err)
		}
		got, want := toUpPage(res), refUploads(all, o)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ListUploads(%#v)\n got %#v\nwant %#v", o, got, want)
		}
		// Paging on from here visits exactly what one big page would.
		whole := o
		whole.MaxUploads = 1 << 20
		wantAll := refUploads(all, whole).Items
		items := got.Items
		for page := got; page.IsTruncated; {
			next := o
			next.KeyMarker, next.UploadIDMarker = page.NextKeyMarker, page.NextUploadIDMarker
			res, err := f.ListUploads("b", next)
			if err != nil {
				t.Fatal(err)
			}
			page = toUpPage(res)
			if len(page.Items) == 0 || len(items) > len(wantAll) {
				t.Fatalf("paging from %#v does not progress", o)
			}
			items = append(items, page.Items...)
		}
		if !slices.Equal(items, wantAll) {
			t.Fatalf("pages from %#v\n got %#v\nwant %#v", o, items, wantAll)
		}
	}
	for _, p := range prefixes {
		for _, d := range delims {
			for _, m := range []int{1, 2, 3, 7, 1000} {
				check(objstore.ListUploadsOptions{Prefix: p, Delimiter: d, MaxUploads: m})
			}
		}
	}
	for range 3000 {
		o := objstore.ListUploadsOptions{
			Prefix:     prefixes[rng.IntN(len(prefixes))],
			Delimiter:  delims[rng.IntN(len(delims))],
			MaxUploads: 1 + rng.IntN(6),
		}
		if rng.IntN(4) == 0 {
			o.Prefix = pool[rng.IntN(len(pool))][:1]
		}
		switch rng.IntN(4) {
		case 0:
		case 1:
			o.KeyMarker = pool[rng.IntN(len(pool))]
		case 2:
			e := all[rng.IntN(len(all))]
			o.KeyMarker, o.UploadIDMarker = e.key, e.id
		case 3:
			o.KeyMarker = pool[rng.IntN(len(pool))] + pieces[rng.IntN(len(pieces))]
			o.UploadIDMarker = fmt.Sprintf("id%03d", rng.IntN(n+5))
		}
		if rng.IntN(10) == 0 {
			o.UploadIDMarker = "id050" // ignored without a key marker
			o.KeyMarker = ""
		}
		check(o)
	}

	// Degenerate requests.
	if res, err := f.ListUploads("b", objstore.ListUploadsOptions{}); err != nil || len(res.Uploads)+len(res.CommonPrefixes) != 0 || res.IsTruncated {
		t.Fatalf("MaxUploads 0: %+v, %v", res, err)
	}
	if _, err := f.ListUploads("nope", objstore.ListUploadsOptions{MaxUploads: 1}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("missing bucket: %v", err)
	}
	runSteps(t, f, &s, []step{{"bucket without uploads", NewCreateBucket("empty"), nil}})
	if res, err := f.ListUploads("empty", objstore.ListUploadsOptions{MaxUploads: 5, Delimiter: "/"}); err != nil || !reflect.DeepEqual(res, objstore.ListUploadsResult{}) {
		t.Fatalf("empty bucket: %+v, %v", res, err)
	}
}

func TestListUploadsExamples(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{{"create", NewCreateBucket("b"), nil}})
	for _, e := range []upEntry{
		{"photos/2024/a.jpg", "u3"}, {"photos/2024/a.jpg", "u1"}, {"photos/2025/b.jpg", "u2"},
		{"photos/x.jpg", "u4"}, {"videos/v.mp4", "u5"}, {"readme", "u6"}, {"photos", "u7"},
	} {
		runSteps(t, f, &s, []step{{"upload " + e.id, createUploadCmd("b", e.key, e.id), nil}})
	}
	page := func(o objstore.ListUploadsOptions) upPage {
		res, err := f.ListUploads("b", o)
		if err != nil {
			t.Fatal(err)
		}
		return toUpPage(res)
	}
	got := page(objstore.ListUploadsOptions{Delimiter: "/", MaxUploads: 10})
	want := upPage{Items: []string{upItem("photos", "u7"), cpItem("photos/"), upItem("readme", "u6"), cpItem("videos/")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("root listing\n got %#v\nwant %#v", got, want)
	}
	got = page(objstore.ListUploadsOptions{Prefix: "photos/", Delimiter: "/", MaxUploads: 2})
	want = upPage{Items: []string{cpItem("photos/2024/"), cpItem("photos/2025/")}, IsTruncated: true, NextKeyMarker: "photos/2025/"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("photos/ page\n got %#v\nwant %#v", got, want)
	}
	got = page(objstore.ListUploadsOptions{Prefix: "photos/", Delimiter: "/", MaxUploads: 2, KeyMarker: "photos/2025/"})
	want = upPage{Items: []string{upItem("photos/x.jpg", "u4")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("photos/ second page\n got %#v\nwant %#v", got, want)
	}
	got = page(objstore.ListUploadsOptions{Prefix: "photos/2024/", MaxUploads: 1})
	want = upPage{Items: []string{upItem("photos/2024/a.jpg", "u1")}, IsTruncated: true, NextKeyMarker: "photos/2024/a.jpg", NextUploadIDMarker: "u1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("one upload page\n got %#v\nwant %#v", got, want)
	}
	got = page(objstore.ListUploadsOptions{Prefix: "photos/2024/", MaxUploads: 1, KeyMarker: "photos/2024/a.jpg", UploadIDMarker: "u1"})
	want = upPage{Items: []string{upItem("photos/2024/a.jpg", "u3")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("second upload of the key\n got %#v\nwant %#v", got, want)
	}
	// A key marker without an upload ID marker skips all of that key.
	got = page(objstore.ListUploadsOptions{MaxUploads: 10, KeyMarker: "photos/2024/a.jpg"})
	want = upPage{Items: []string{upItem("photos/2025/b.jpg", "u2"), upItem("photos/x.jpg", "u4"), upItem("readme", "u6"), upItem("videos/v.mp4", "u5")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after a key\n got %#v\nwant %#v", got, want)
	}
}
