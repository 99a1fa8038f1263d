package raftfsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
)

func fullPut() *objstore.PutRequest {
	p := putReq("photos", "2024/ünïcødé/ key?.jpg", "some body bytes\x00\xff")
	p.IfMatch = `"abc"`
	p.IfNoneMatch = "*"
	p.Info.Headers = map[string]string{"Cache-Control": "no-cache", "Content-Disposition": "inline", "Expires": ""}
	p.Info.UserMeta = map[string]string{"owner": "ana", "z": "last", "a": "first"}
	p.Info.Checksums = map[string]string{"crc32c": "yZRlqg==", "sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="}
	return p
}

func fullCopy() *objstore.CopyRequest {
	return &objstore.CopyRequest{
		SrcBucket:            "photos",
		SrcKey:               "2024/src ü.jpg",
		Bucket:               "archive",
		Key:                  "2024/dst.jpg",
		SrcIfMatch:           `"abc", "def"`,
		SrcIfNoneMatch:       "*",
		SrcIfModifiedSince:   time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		SrcIfUnmodifiedSince: time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC),
		IfMatch:              `"0123"`,
		IfNoneMatch:          "*",
		ReplaceMetadata:      true,
		ContentType:          "image/jpeg",
		Headers:              map[string]string{"Cache-Control": "no-store"},
		UserMeta:             map[string]string{"camera": "x100", "a": "b"},
		ReplaceTags:          true,
		Tags:                 map[string]string{"year": "2024", "album": "summer"},
		ChecksumAlgorithm:    "sha256",
	}
}

func fullCORS() []objstore.CORSRule {
	return []objstore.CORSRule{
		{ID: "app", AllowedOrigins: []string{"http://a.example", "http://*.b.example"}, AllowedMethods: []string{"GET", "PUT"},
			AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: 3000},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}, MaxAgeSeconds: -1},
	}
}

func sampleCommands() []*Command {
	empty := NewPutObject(putReq("b", "k", ""))
	empty.Put.Body = nil
	tagged := NewPutObject(fullPut())
	tagged.Put.Info.Tags = map[string]string{"team": "blue", "a b": "c=d"}
	plainCopy := NewCopyObject(&objstore.CopyRequest{SrcBucket: "b", SrcKey: "k", Bucket: "b", Key: "k2"})
	return []*Command{
		NewCreateBucket("photos"),
		NewDeleteBucket("photos"),
		NewPutObject(fullPut()),
		empty,
		tagged,
		NewDeleteObject("photos", "a/b/c"),
		NewNoop(),
		NewCopyObject(fullCopy()),
		plainCopy,
		NewDeleteObjects("photos", []string{"a", "b/c", "a", "ü"}),
		NewDeleteObjects("photos", nil),
		NewPutObjectTagging("photos", "a/b", map[string]string{"k": "v", "empty": ""}),
		NewPutObjectTagging("photos", "a/b", nil),
		NewPutBucketCors("photos", fullCORS()),
		NewPutBucketCors("photos", nil),
	}
}

// v1PutObject encodes req the way version 1 of the envelope did: the same
// fields, but the shared info without the tags map.
func v1PutObject(req *objstore.PutRequest, unixNano int64) []byte {
	b := []byte{1, byte(TypePutObject), 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(b[2:headerLen], uint64(unixNano))
	b = appendString(b, req.Bucket)
	b = appendString(b, req.Key)
	b = appendString(b, req.IfMatch)
	b = appendString(b, req.IfNoneMatch)
	in := req.Info
	b = binary.AppendUvarint(b, uint64(in.Size))
	b = appendString(b, in.ETag)
	b = appendString(b, in.ContentType)
	b = appendMap(b, in.Headers)
	b = appendMap(b, in.UserMeta)
	b = appendMap(b, in.Checksums)
	return appendBytes(b, req.Body)
}

// Entries written before version 2 (PutObject without tags) still decode,
// so an old log replays; SetTime still stamps them.
func TestUnmarshalVersion1Command(t *testing.T) {
	p := fullPut()
	data := v1PutObject(p, 42)
	if err := SetTime(data, 43); err != nil {
		t.Fatal(err)
	}
	c, err := UnmarshalCommand(data)
	if err != nil {
		t.Fatal(err)
	}
	want := NewPutObject(p)
	want.Time = 43
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("version 1 put:\n got %+v\nwant %+v", c.Put, want.Put)
	}
	for _, other := range [][]byte{
		NewCreateBucket("b").Marshal(), NewDeleteObject("b", "k").Marshal(), NewNoop().Marshal(),
	} {
		other[0] = 1 // these payloads did not change between versions
		if _, err := UnmarshalCommand(other); err != nil {
			t.Errorf("version 1 %s: %v", CommandType(other[1]), err)
		}
	}
}

// allSampleCommands is every command type in its richest form: the
// version 2 types, blob-carrying puts and copies, the multipart types.
func allSampleCommands() []*Command {
	return slices.Concat(sampleCommands(), blobSampleCommands(), multipartSampleCommands(),
		[]*Command{NewSetClusterID([ClusterIDLen]byte{0xde, 0xad, 15: 0xff})})
}

func TestCommandRoundTrip(t *testing.T) {
	for i, c := range allSampleCommands() {
		t.Run(c.Type.String(), func(t *testing.T) {
			c.Time = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano() + int64(i)
			data := c.Marshal()
			if data[0] != commandVersion || CommandType(data[1]) != c.Type {
				t.Fatalf("envelope % x", data[:2])
			}
			got, err := UnmarshalCommand(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
			}
			if c.Put != nil && !reflect.DeepEqual(got.Put, c.Put) {
				t.Fatalf("put:\n got %+v\nwant %+v", got.Put, c.Put)
			}
			// Canonical: encoding the decoded command gives the same bytes.
			if again := got.Marshal(); !bytes.Equal(again, data) {
				t.Fatalf("re-marshal differs:\n% x\n% x", again, data)
			}
			if _, err := UnmarshalCommand(append(bytes.Clone(data), 0)); !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("trailing byte: %v", err)
			}
		})
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	// Map iteration order is random; the bytes must not be.
	c := NewPutObject(fullPut())
	want := c.Marshal()
	for range 50 {
		if got := c.Marshal(); !bytes.Equal(got, want) {
			t.Fatal("Marshal output varies between calls")
		}
	}
}

func TestSetTime(t *testing.T) {
	c := NewPutObject(fullPut())
	c.Time = 1
	data := c.Marshal()
	if err := SetTime(data, 1234567890123); err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalCommand(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Time != 1234567890123 {
		t.Fatalf("Time = %d", got.Time)
	}
	for _, bad := range [][]byte{nil, {commandVersion, 1}, {commandVersion + 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if err := SetTime(bad, 1); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("SetTime(% x) = %v, want ErrInvalidCommand", bad, err)
		}
	}
}

func TestUnmarshalCommandRejectsCorruptInput(t *testing.T) {
	put := NewPutObject(fullPut()).Marshal()
	header := func(version, typ byte) []byte {
		return []byte{version, typ, 0, 0, 0, 0, 0, 0, 0, 0}
	}
	hugeLen := append(header(1, byte(TypeCreateBucket)), binary.AppendUvarint(nil, 1<<62)...)
	hugeMap := append(header(1, byte(TypePutObject)), 1, 'b', 1, 'k', 0, 0, 0, 0, 0)
	hugeMap = binary.AppendUvarint(hugeMap, 1<<40)
	// headers {"z", "a"} out of order, then empty user meta, checksums, body.
	unordered := append(header(1, byte(TypePutObject)), 1, 'b', 1, 'k', 0, 0, 0, 0, 0,
		2, 1, 'z', 0, 1, 'a', 0, 0, 0)
	overflow := append(header(1, byte(TypeCreateBucket)), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	negSize := append(header(1, byte(TypePutObject)), 1, 'b', 1, 'k', 0, 0)
	negSize = binary.AppendUvarint(negSize, 1<<63)

	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short header", []byte{1, 1, 0}},
		{"unknown version", header(commandVersion+1, byte(TypeNoop))},
		{"new type in version 1", header(1, byte(TypeDeleteObjects))},
		{"version zero", header(0, byte(TypeNoop))},
		{"type zero", header(1, 0)},
		{"unknown type", header(1, 99)},
		{"missing bucket", header(1, byte(TypeCreateBucket))},
		{"length past end", hugeLen},
		{"map count past end", hugeMap},
		{"unordered map", unordered},
		{"varint overflow", overflow},
		{"size out of range", negSize},
		{"trailing bytes", append(NewNoop().Marshal(), 0)},
		{"trailing after put", append(bytes.Clone(put), 7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := UnmarshalCommand(tt.data); !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("got %+v, %v; want ErrInvalidCommand", c, err)
			}
		})
	}
}

func TestUnmarshalCommandTruncations(t *testing.T) {
	for _, c := range allSampleCommands() {
		data := c.Marshal()
		for n := range len(data) {
			if _, err := UnmarshalCommand(data[:n]); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("%s truncated to %d of %d bytes decoded without error", c.Type, n, len(data))
			}
		}
	}
}

func TestUnmarshalCommandBitFlipsDoNotPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range allSampleCommands() {
		data := c.Marshal()
		for range 2000 {
			mut := bytes.Clone(data)
			for range 1 + rng.IntN(3) {
				mut[rng.IntN(len(mut))] ^= byte(1 << rng.IntN(8))
			}
			checkDecodeStable(t, mut)
		}
	}
}

// checkDecodeStable asserts the fuzz property: decoding never panics, and
// whatever decodes re-encodes to something that decodes to the same command.
func checkDecodeStable(t *testing.T, data []byte) {
	t.Helper()
	c, err := UnmarshalCommand(data)
	if err != nil {
		if !errors.Is(err, ErrInvalidCommand) {
			t.Fatalf("error %v does not wrap ErrInvalidCommand", err)
		}
		return
	}
	again, err := UnmarshalCommand(c.Marshal())
	if err != nil {
		t.Fatalf("re-encoded command does not decode: %v", err)
	}
	if !reflect.DeepEqual(again, c) {
		t.Fatalf("unstable round trip:\n%+v\n%+v", c, again)
	}
}

func FuzzUnmarshalCommand(f *testing.F) {
	for _, c := range allSampleCommands() {
		f.Add(c.Marshal())
	}
	f.Add([]byte{})
	f.Add([]byte{1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(checkDecodeStable)
}

func TestResultRoundTrip(t *testing.T) {
	obj := fullPut().Info
	obj.LastModified = time.Unix(0, 1700000000123456789).UTC()
	tagged := obj
	tagged.Tags = map[string]string{"k": "v"}
	tests := []struct {
		name string
		r    Result
	}{
		{"ok empty", Result{Index: 1}},
		{"ok object", Result{Index: 1 << 40, Object: obj}},
		{"ok tagged object", Result{Index: 2, Object: tagged}},
		{"no such bucket", Result{Index: 7, Err: objstore.ErrNoSuchBucket}},
		{"no such key", Result{Index: 7, Err: objstore.ErrNoSuchKey}},
		{"exists", Result{Index: 7, Err: objstore.ErrBucketExists}},
		{"not empty", Result{Index: 7, Err: objstore.ErrBucketNotEmpty}},
		{"precondition", Result{Index: 7, Err: objstore.ErrPreconditionFailed}},
		{"unavailable", Result{Err: objstore.ErrUnavailable}},
		{"slow down", Result{Err: objstore.ErrSlowDown}},
		{"closed", Result{Err: ErrClosed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UnmarshalResult(MarshalResult(&tt.r))
			if err != nil {
				t.Fatal(err)
			}
			// Sentinels come back as themselves, so == comparisons work.
			if !reflect.DeepEqual(*got, tt.r) {
				t.Fatalf("got %+v\nwant %+v", *got, tt.r)
			}
		})
	}

	t.Run("wrapped sentinel keeps message", func(t *testing.T) {
		in := &Result{Err: fmt.Errorf("%w: unknown type 9", ErrInvalidCommand)}
		got, err := UnmarshalResult(MarshalResult(in))
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(got.Err, ErrInvalidCommand) || got.Err.Error() != in.Err.Error() {
			t.Fatalf("got %v", got.Err)
		}
	})
	t.Run("other error is generic", func(t *testing.T) {
		got, err := UnmarshalResult(MarshalResult(&Result{Err: errors.New("disk on fire")}))
		if err != nil {
			t.Fatal(err)
		}
		if got.Err == nil || errors.Is(got.Err, objstore.ErrNoSuchKey) {
			t.Fatalf("got %v", got.Err)
		}
	})
	t.Run("unknown code is generic", func(t *testing.T) {
		data := []byte{resultVersion, 77, 3, 'x', 'y', 'z', 5, 0}
		got, err := UnmarshalResult(data)
		if err != nil {
			t.Fatal(err)
		}
		if got.Err == nil || got.Index != 5 {
			t.Fatalf("got %+v", got)
		}
		for _, s := range wireErrors {
			if s != nil && errors.Is(got.Err, s) {
				t.Fatalf("unknown code matched %v", s)
			}
		}
	})
}

func TestUnmarshalResultRejectsCorruptInput(t *testing.T) {
	obj := fullPut().Info
	obj.LastModified = time.Unix(5, 0).UTC()
	good := MarshalResult(&Result{Index: 3, Object: obj, Err: objstore.ErrNoSuchKey})
	for n := range len(good) {
		if _, err := UnmarshalResult(good[:n]); !errors.Is(err, ErrInvalidResult) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	for _, bad := range [][]byte{
		{resultVersion + 1, 0, 0, 0}, // version
		{resultVersion, 0, 0, 9},     // object flag
		append(bytes.Clone(good), 0),
	} {
		if _, err := UnmarshalResult(bad); !errors.Is(err, ErrInvalidResult) {
			t.Errorf("UnmarshalResult(% x) = %v", bad, err)
		}
	}
}
