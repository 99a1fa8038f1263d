package raftfsm

import (
	"bytes"
	"fmt"

	"github.com/strongboxdb/strongbox/objstore"
	bolt "go.etcd.io/bbolt"
)

// The read methods below serve the FSM's local state: whatever has been
// applied on this node when the read transaction begins. They are safe to
// call concurrently with each other, with Apply, Snapshot and Restore.
// Linearizability is the caller's business: obtain a read index from the
// leader, WaitApplied on it, then read. Each method sees one consistent
// bbolt snapshot, and returned values never alias bbolt memory.

// view runs fn in a read transaction on the current database handle.
func (f *FSM) view(fn func(tx *bolt.Tx) error) error {
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	if f.db == nil {
		if err := f.stopped(); err != nil {
			return err
		}
		return ErrClosed
	}
	return f.db.View(fn)
}

// GetBucket returns the bucket's record, or objstore.ErrNoSuchBucket.
func (f *FSM) GetBucket(name string) (objstore.BucketInfo, error) {
	var info objstore.BucketInfo
	err := f.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktBuckets).Get([]byte(name))
		if v == nil {
			return objstore.ErrNoSuchBucket
		}
		var err error
		info, err = decodeBucketRecord([]byte(name), v)
		return err
	})
	return info, err
}

// ListBuckets returns every bucket, sorted by name in byte order.
func (f *FSM) ListBuckets() ([]objstore.BucketInfo, error) {
	var out []objstore.BucketInfo
	err := f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBuckets).ForEach(func(k, v []byte) error {
			info, err := decodeBucketRecord(k, v)
			out = append(out, info)
			return err
		})
	})
	return out, err
}

// objectsView returns the bucket's record sub-bucket and body sub-bucket in
// a read transaction, or objstore.ErrNoSuchBucket.
func objectsView(tx *bolt.Tx, bucket string) (recs, bodies *bolt.Bucket, err error) {
	recs, bodies, err = objects(tx.Bucket(bktData), []byte(bucket))
	if err == nil && recs == nil {
		err = objstore.ErrNoSuchBucket
	}
	return recs, bodies, err
}

// HeadObject returns the object's record, or objstore.ErrNoSuchBucket or
// objstore.ErrNoSuchKey. It does not touch the body.
func (f *FSM) HeadObject(bucket, key string) (objstore.ObjectInfo, error) {
	var info objstore.ObjectInfo
	err := f.view(func(tx *bolt.Tx) error {
		recs, _, err := objectsView(tx, bucket)
		if err != nil {
			return err
		}
		v := recs.Get([]byte(key))
		if v == nil {
			return objstore.ErrNoSuchKey
		}
		info, err = decodeRecord([]byte(key), v)
		return err
	})
	return info, err
}

// GetObject returns the object's record and a copy of its inline body (nil
// for an empty body or one stored in blobs, see ObjectInfo.Blobs), or
// objstore.ErrNoSuchBucket or objstore.ErrNoSuchKey.
func (f *FSM) GetObject(bucket, key string) (objstore.ObjectInfo, []byte, error) {
	var (
		info objstore.ObjectInfo
		body []byte
	)
	err := f.view(func(tx *bolt.Tx) error {
		recs, bodies, err := objectsView(tx, bucket)
		if err != nil {
			return err
		}
		k := []byte(key)
		v := recs.Get(k)
		if v == nil {
			return objstore.ErrNoSuchKey
		}
		if info, err = decodeRecord(k, v); err != nil {
			return err
		}
		if info.Blobs != nil {
			return nil // the body is in blob files, read by the node
		}
		b := bodies.Get(k)
		if int64(len(b)) != info.Size {
			return fmt.Errorf("%w: object %q: %d-byte body for size %d", errCorrupt, key, len(b), info.Size)
		}
		// bbolt memory is only valid inside the transaction.
		body = bytes.Clone(b)
		if len(body) == 0 {
			body = nil
		}
		return nil
	})
	return info, body, err
}

// ListObjects returns one page of the bucket's keys in byte order (which is
// UTF-8 code point order), following S3 ListObjectsV2 semantics; see
// objstore.ListOptions. It returns objstore.ErrNoSuchBucket if the bucket
// does not exist.
//
// Cost grows with the page, not the bucket: one cursor seek to the start,
// then one step per returned object and one seek per returned common prefix
// (the keys rolled into a prefix are jumped over, never visited).
func (f *FSM) ListObjects(bucket string, opts objstore.ListOptions) (objstore.ListResult, error) {
	var res objstore.ListResult
	err := f.view(func(tx *bolt.Tx) error {
		recs, _, err := objectsView(tx, bucket)
		if err != nil {
			return err
		}
		res, err = listPage(recs.Cursor(), opts)
		return err
	})
	return res, err
}

// cursor is the part of *bolt.Cursor listPage uses; tests count its calls.
type cursor interface {
	Seek(seek []byte) (key, value []byte)
	Next() (key, value []byte)
}

func listPage(c cursor, opts objstore.ListOptions) (objstore.ListResult, error) {
	var res objstore.ListResult
	if opts.MaxKeys <= 0 {
		return res, nil
	}
	prefix, delim := []byte(opts.Prefix), []byte(opts.Delimiter)
	after := []byte(opts.StartAfter)

	// Start at the first key that is both >= Prefix and > StartAfter.
	seek := prefix
	if bytes.Compare(after, prefix) > 0 {
		seek = after
	}
	k, v := c.Seek(seek)
	if k != nil && len(after) > 0 && bytes.Equal(k, after) {
		k, v = c.Next() // StartAfter is exclusive
	}

	n, last := 0, []byte(nil)
	for k != nil && bytes.HasPrefix(k, prefix) {
		if len(delim) > 0 {
			if i := bytes.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				// A prefix at or before StartAfter was returned by an
				// earlier page (or precedes the requested range): skip it.
				if bytes.Compare(cp, after) > 0 {
					if n == opts.MaxKeys {
						res.IsTruncated = true
						break
					}
					res.CommonPrefixes = append(res.CommonPrefixes, string(cp))
					n, last = n+1, cp
				}
				next := prefixEnd(cp)
				if next == nil {
					break // nothing sorts after every key starting with cp
				}
				k, v = c.Seek(next)
				continue
			}
		}
		if n == opts.MaxKeys {
			res.IsTruncated = true
			break
		}
		info, err := decodeRecordMeta(k, v)
		if err != nil {
			return res, err
		}
		res.Objects = append(res.Objects, info)
		n, last = n+1, k
		k, v = c.Next()
	}
	if res.IsTruncated {
		res.NextStartAfter = string(last)
	}
	return res, nil
}

// prefixEnd returns the smallest key greater than every key that starts
// with p, or nil if there is none (p is all 0xff bytes).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
