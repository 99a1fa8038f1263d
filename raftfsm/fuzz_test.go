package raftfsm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
)

// Fuzz targets for the state machine's decoders beyond FuzzUnmarshalCommand
// (command_test.go): the Result a leader sends back to the node that
// forwarded a write, and the object and bucket records read from bbolt.
// Each must refuse malformed bytes with an error and re-encode what it
// accepts to bytes that decode to the same value.

func FuzzUnmarshalResult(f *testing.F) {
	obj := fullPut().Info
	obj.Key = "k"
	obj.LastModified = time.Unix(0, 1700000000123456789).UTC()
	obj.Tags = map[string]string{"k": "v"}
	obj.ChecksumType = objstore.ChecksumFullObject
	obj.PartsCount = 3
	for _, r := range []*Result{
		{Index: 1}, {Index: 1 << 40, Object: obj}, {Index: 7, Err: objstore.ErrNoSuchKey},
		{Err: objstore.ErrSlowDown}, {Index: 2, Err: errors.New("disk on fire")},
	} {
		f.Add(MarshalResult(r))
	}
	f.Add([]byte{resultVersion, 77, 3, 'x', 'y', 'z', 5, 0})
	f.Add([]byte{1, 0, 1, 1, 1, 'k', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := UnmarshalResult(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidResult) {
				t.Fatalf("error %v does not wrap ErrInvalidResult", err)
			}
			return
		}
		again, err := UnmarshalResult(MarshalResult(r))
		if err != nil {
			t.Fatalf("re-encoded result does not decode: %v", err)
		}
		if again.Index != r.Index || !reflect.DeepEqual(again.Object, r.Object) {
			t.Fatalf("unstable round trip:\n%+v\n%+v", r, again)
		}
		if (again.Err == nil) != (r.Err == nil) {
			t.Fatalf("error lost or invented: %v, %v", r.Err, again.Err)
		}
		if r.Err != nil {
			for _, s := range wireErrors {
				if s != nil && errors.Is(r.Err, s) != errors.Is(again.Err, s) {
					t.Fatalf("%v matches %v, %v does not", r.Err, s, again.Err)
				}
			}
			if !strings.Contains(again.Err.Error(), r.Err.Error()) {
				t.Fatalf("message %q lost: %q", r.Err, again.Err)
			}
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	inline := fullPut().Info
	inline.LastModified = time.Unix(5, 6).UTC()
	inline.Tags = map[string]string{"a": "b"}
	blobs := inline
	blobs.Blobs = []objstore.BlobRef{{ID: "0123456789abcdef0123456789abcdef", Size: 10, MD5: "x", Checksums: map[string]string{"crc32": "AAAAAA=="}}}
	blobs.PartsCount = 2
	f.Add(false, appendRecord(nil, &inline))
	f.Add(false, appendRecord(nil, &blobs))
	f.Add(false, []byte{1, 0, 0})
	f.Add(true, appendBucketRecord(nil, &objstore.BucketInfo{Created: time.Unix(7, 0).UTC(), CORS: fullCORS()}))
	f.Add(true, []byte{1, 2})
	f.Fuzz(func(t *testing.T, bucket bool, v []byte) {
		if bucket {
			info, err := decodeBucketRecord([]byte("b"), v)
			if err != nil {
				return
			}
			again, err := decodeBucketRecord([]byte("b"), appendBucketRecord(nil, &info))
			if err != nil || !reflect.DeepEqual(again, info) {
				t.Fatalf("unstable round trip: %+v, %v\n%+v", again, err, info)
			}
			return
		}
		info, err := decodeRecord([]byte("k"), v)
		if err != nil {
			return
		}
		meta, err := decodeRecordMeta([]byte("k"), v)
		if err != nil {
			t.Fatalf("decodeRecord accepts, decodeRecordMeta refuses: %v", err)
		}
		withoutBlobs := info
		withoutBlobs.Blobs = nil
		if !reflect.DeepEqual(meta, withoutBlobs) {
			t.Fatalf("meta %+v\nfull %+v", meta, info)
		}
		again, err := decodeRecord([]byte("k"), appendRecord(nil, &info))
		if err != nil || !reflect.DeepEqual(again, info) {
			t.Fatalf("unstable round trip: %+v, %v\n%+v", again, err, info)
		}
	})
}
