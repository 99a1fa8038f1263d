package raftfsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
	bolt "go.etcd.io/bbolt"
)

// Blob bookkeeping. Every blob is referenced by at most one record (an
// object or an uploaded part), so no reference counting is needed: the
// apply that drops a record's last reference (overwrite, delete, abort, a
// part replaced or left out of a Complete) moves the blob from the blobs/
// index to garbage/, and so does a failed command that carried a blob it
// will now never reference. Both buckets are top level in fsm.db:
//
//	blobs/        <blob id> -> [size uvarint][md5 string]   every referenced blob
//	garbage/      <applied index 8 BE><seq 4 BE> -> <time 8 BE><blob id>
//	garbage-ids/  <blob id> -> <garbage/ key>             garbage/ by blob ID
//
// blobs/ is replicated state like any other: the same on every node. It
// answers "is this blob referenced" in one lookup (orphan collection) and
// lists what a node must hold (catch-up after a snapshot or downtime).
// garbage/ is written deterministically by apply but drained by each node
// on its own schedule (node/blobgc.go, through Garbage and DeleteGarbage), so replicas may differ in what is
// left of it; nothing compares it. garbage-ids/ indexes it by blob ID,
// written in the same transactions, so that the orphan collector can leave
// a listed blob to the drain in one lookup (GarbageListed); entries listed
// before the index existed are not in it, which only makes them
// collectable as they were before.

var (
	bktBlobs      = []byte("blobs")
	bktGarbage    = []byte("garbage")
	bktGarbageIDs = []byte("garbage-ids")
)

// blobIndex and garbage return the top-level buckets, creating them in
// stores written before they existed. Creating a bucket is deterministic
// (every replica creates it at the same entry) and invisible to readers.
func (a *applier) blobIndex() (*bolt.Bucket, error) {
	if a.blobs == nil {
		b, err := a.tx.CreateBucketIfNotExists(bktBlobs)
		if err != nil {
			return nil, err
		}
		a.blobs = b
	}
	return a.blobs, nil
}

func (a *applier) garbageBucket() (*bolt.Bucket, error) {
	if a.garbage == nil {
		b, err := a.tx.CreateBucketIfNotExists(bktGarbage)
		if err != nil {
			return nil, err
		}
		a.garbage = b
	}
	return a.garbage, nil
}

func (a *applier) garbageIDBucket() (*bolt.Bucket, error) {
	if a.garbageIDs == nil {
		b, err := a.tx.CreateBucketIfNotExists(bktGarbageIDs)
		if err != nil {
			return nil, err
		}
		a.garbageIDs = b
	}
	return a.garbageIDs, nil
}

func blobIndexValue(r *objstore.BlobRef) []byte {
	b := binary.AppendUvarint(nil, uint64(r.Size))
	return appendString(b, r.MD5)
}

// isReferenced reports whether a record refers to blob id.
func (a *applier) isReferenced(id string) (bool, error) {
	idx, err := a.blobIndex()
	if err != nil {
		return false, err
	}
	return idx.Get([]byte(id)) != nil, nil
}

// reference records that a new record refers to r.
func (a *applier) reference(r *objstore.BlobRef) error {
	idx, err := a.blobIndex()
	if err != nil {
		return err
	}
	return idx.Put([]byte(r.ID), blobIndexValue(r))
}

// release drops the references of a record that goes away: its blobs are
// garbage.
func (a *applier) release(refs []objstore.BlobRef) error {
	if len(refs) == 0 {
		return nil
	}
	idx, err := a.blobIndex()
	if err != nil {
		return err
	}
	for i := range refs {
		if err := idx.Delete([]byte(refs[i].ID)); err != nil {
			return err
		}
		if err := a.discard(refs[i].ID); err != nil {
			return err
		}
	}
	return nil
}

// discard lists a blob as garbage. It is also used directly for a blob
// carried by a command that failed: it was never referenced.
func (a *applier) discard(id string) error {
	g, err := a.garbageBucket()
	if err != nil {
		return err
	}
	var k [12]byte
	binary.BigEndian.PutUint64(k[:8], a.index)
	binary.BigEndian.PutUint32(k[8:], a.seq)
	a.seq++
	// The command's (leader-stamped) time: nodes age entries by it, so
	// a drainer needs no memory of when it first saw one.
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), uint64(a.time))
	if err := g.Put(k[:], append(v, id...)); err != nil {
		return err
	}
	gi, err := a.garbageIDBucket()
	if err != nil {
		return err
	}
	return gi.Put([]byte(id), k[:])
}

// releaseRecord releases the blobs of the object record v (nil: none).
func (a *applier) releaseRecord(key, v []byte) error {
	if v == nil {
		return nil
	}
	old, err := decodeRecord(key, v)
	if err != nil {
		return err
	}
	return a.release(old.Blobs)
}

// validBlobRef checks what the store relies on: an ID that can be a file
// name and an MD5 in the form ETags use.
// Checksums must be well-formed too: a multipart Complete combines them,
// and a value that cannot be decoded then must be refused here, at the
// command that brings it.
//
// The names accepted are those of checksum.ParseAlgorithm, lowercase:
// since April 2026 that includes md5, sha512, xxhash64, xxhash3 and
// xxhash128, which this check refused before. Widening it keeps replay
// deterministic: a command carrying one of them could not have been
// proposed by a node of the earlier version (its HTTP layer refused those
// algorithms before proposing), so no entry in an existing log changes
// outcome. During a rolling upgrade, though, an entry proposed by an
// upgraded leader is refused by a follower still running the earlier
// version, which then drops the entry's blob while the leader stores the
// object: the replicas diverge. Upgrade every node before clients use
// the new algorithms (the README says so).
func validBlobRef(r *objstore.BlobRef) error {
	if !blobstore.ValidID(r.ID) || r.Size < 0 || r.Size > objstore.MaxSinglePut || !isHexMD5(r.MD5) {
		return fmt.Errorf("%w: malformed blob reference %q", ErrInvalidCommand, r.ID)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Checksums)) {
		if alg, ok := parseChecksumName(name); !ok || !alg.ValidValue(r.Checksums[name]) {
			return fmt.Errorf("%w: blob %s: malformed %q checksum", ErrInvalidCommand, r.ID, name)
		}
	}
	return nil
}

// parseChecksumName returns the algorithm whose record key name is (its
// lowercase name, as checksum.Algorithm.String gives it), and false for
// any other string. Every command that names an algorithm is checked with
// it, so the set of names a log can carry is decided in one place (see
// validBlobRef for why widening it is safe to replay).
func parseChecksumName(name string) (checksum.Algorithm, bool) {
	alg, err := checksum.ParseAlgorithm(name)
	return alg, err == nil && alg.String() == name
}

func isHexMD5(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Queries for the node's blob maintenance. Each runs in its own read
// transaction; none waits for a read barrier, so callers that need a
// linearizable answer run one first.

// BlobReferenced reports whether a record refers to blob id.
func (f *FSM) BlobReferenced(id string) (bool, error) {
	var ok bool
	err := f.view(func(tx *bolt.Tx) error {
		if idx := tx.Bucket(bktBlobs); idx != nil {
			ok = idx.Get([]byte(id)) != nil
		}
		return nil
	})
	return ok, err
}

// WalkBlobs calls fn for every referenced blob (ID, Size and MD5 set), in
// ID order, starting after the ID after ("" for the start). It stops
// after limit blobs and returns the last ID visited, "" when the walk
// reached the end. Walking in bounded pages keeps read transactions short
// even for millions of blobs.
func (f *FSM) WalkBlobs(after string, limit int, fn func(objstore.BlobRef)) (last string, err error) {
	if limit <= 0 {
		return after, nil
	}
	err = f.view(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bktBlobs)
		if idx == nil {
			return nil
		}
		c := idx.Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for n := 0; k != nil; k, v = c.Next() {
			if n == limit {
				return nil
			}
			d := decoder{b: v}
			ref := objstore.BlobRef{ID: string(k), Size: d.size(), MD5: d.string()}
			if err := d.done(); err != nil {
				return fmt.Errorf("%w: blob index entry %q: %v", errCorrupt, k, err)
			}
			fn(ref)
			last = ref.ID
			n++
		}
		last = ""
		return nil
	})
	return last, err
}

// GarbageListed reports whether blob id is listed in garbage/, that is
// released (or carried by a failed command) and not yet drained by this
// node. The orphan collector leaves such a blob to the drain, whose delay
// covers a read that looked the record up just before the release.
func (f *FSM) GarbageListed(id string) (bool, error) {
	var ok bool
	err := f.view(func(tx *bolt.Tx) error {
		if gi := tx.Bucket(bktGarbageIDs); gi != nil {
			ok = gi.Get([]byte(id)) != nil
		}
		return nil
	})
	return ok, err
}

// GarbageEntry is one blob listed as garbage: Key identifies the entry
// for DeleteGarbage, Index is the log index of the apply that listed it
// and Time that command's time.
type GarbageEntry struct {
	Key   []byte
	Index uint64
	Time  time.Time
	ID    string
}

// Garbage returns up to limit garbage entries in the order they were
// listed, starting after the entry keyed after (nil: from the first).
func (f *FSM) Garbage(after []byte, limit int) ([]GarbageEntry, error) {
	var out []GarbageEntry
	err := f.view(func(tx *bolt.Tx) error {
		g := tx.Bucket(bktGarbage)
		if g == nil {
			return nil
		}
		c := g.Cursor()
		k, v := c.First()
		if after != nil {
			if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 12 || len(v) < 8 {
				return fmt.Errorf("%w: garbage entry of %d+%d bytes", errCorrupt, len(k), len(v))
			}
			out = append(out, GarbageEntry{
				Key:   bytes.Clone(k),
				Index: binary.BigEndian.Uint64(k),
				Time:  unixTime(int64(binary.BigEndian.Uint64(v))),
				ID:    string(v[8:]),
			})
		}
		return nil
	})
	return out, err
}

// DeleteGarbage removes drained garbage entries in a local transaction. It
// changes nothing replicated (the applied index stays), so a node calls it
// whenever it has removed the blob files; running it concurrently with
// applies is safe (bbolt serialises writers).
func (f *FSM) DeleteGarbage(keys [][]byte) error {
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	if f.db == nil {
		return ErrClosed
	}
	if err := f.stopped(); err != nil {
		return err
	}
	return f.db.Update(func(tx *bolt.Tx) error {
		g := tx.Bucket(bktGarbage)
		if g == nil {
			return nil
		}
		gi := tx.Bucket(bktGarbageIDs)
		for _, k := range keys {
			// The index entry goes only if it names this entry: a blob
			// listed twice (a bug elsewhere) stays listed until both
			// are drained.
			if v := g.Get(k); gi != nil && len(v) > 8 && bytes.Equal(gi.Get(v[8:]), k) {
				if err := gi.Delete(v[8:]); err != nil {
					return err
				}
			}
			if err := g.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
