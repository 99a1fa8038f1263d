package raftfsm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/strongboxdb/strongbox/objstore"
	bolt "go.etcd.io/bbolt"
)

// applier executes commands inside one read-write transaction.
//
// Every command is checked completely (validation, existence,
// preconditions) before its first write. bbolt has no savepoints, so this
// ordering is what keeps a failed command from leaving half its effects in
// a batch transaction that other commands go on to commit. A write error
// after the checks can only be a storage fault; it is returned to the
// caller, which aborts the whole batch.
type applier struct {
	buckets *bolt.Bucket // bucket name -> bucket record
	data    *bolt.Bucket // bucket name -> {o, b} sub-buckets
}

func newApplier(tx *bolt.Tx) *applier {
	return &applier{buckets: tx.Bucket(bktBuckets), data: tx.Bucket(bktData)}
}

// apply decodes and executes one command, filling r. Client outcomes and
// invalid commands go to r.Err; the returned error is a storage fault.
func (a *applier) apply(data []byte, r *Result) error {
	c, err := UnmarshalCommand(data)
	if err != nil {
		r.Err = err
		return nil
	}
	if err := validate(c); err != nil {
		r.Err = err
		return nil
	}
	switch c.Type {
	case TypeCreateBucket:
		return a.createBucket(c, r)
	case TypeDeleteBucket:
		return a.deleteBucket(c, r)
	case TypePutObject:
		return a.putObject(c, r)
	case TypeDeleteObject:
		return a.deleteObject(c, r)
	}
	return nil // TypeNoop
}

// validate rejects field values bbolt cannot store, so that the writes
// after the checks cannot fail for a reason that depends on the command.
// The rules are deterministic: every node rejects the same commands.
func validate(c *Command) error {
	if c.Type == TypeNoop {
		return nil
	}
	if err := validName("bucket name", c.Bucket); err != nil {
		return err
	}
	switch c.Type {
	case TypeDeleteObject:
		return validName("key", c.Key)
	case TypePutObject:
		p := c.Put
		if err := validName("key", p.Key); err != nil {
			return err
		}
		if p.Info.Size != int64(len(p.Body)) {
			return fmt.Errorf("%w: size %d for a %d-byte body", ErrInvalidCommand, p.Info.Size, len(p.Body))
		}
		if len(p.Body) > bolt.MaxValueSize {
			return fmt.Errorf("%w: %d-byte body exceeds the inline limit", ErrInvalidCommand, len(p.Body))
		}
	}
	return nil
}

func validName(what, s string) error {
	if s == "" || len(s) > bolt.MaxKeySize {
		return fmt.Errorf("%w: %s of %d bytes", ErrInvalidCommand, what, len(s))
	}
	return nil
}

// objects returns the object-record and body sub-buckets of an S3 bucket,
// or nils if it does not exist.
func objects(data *bolt.Bucket, name []byte) (recs, bodies *bolt.Bucket, err error) {
	b := data.Bucket(name)
	if b == nil {
		return nil, nil, nil
	}
	recs, bodies = b.Bucket(bktObjects), b.Bucket(bktBodies)
	if recs == nil || bodies == nil {
		return nil, nil, fmt.Errorf("%w: bucket %q lacks its sub-buckets", errCorrupt, name)
	}
	return recs, bodies, nil
}

func (a *applier) createBucket(c *Command, r *Result) error {
	name := []byte(c.Bucket)
	if a.buckets.Get(name) != nil {
		r.Err = objstore.ErrBucketExists
		return nil
	}
	if err := a.buckets.Put(name, appendBucketRecord(nil, c.Time)); err != nil {
		return err
	}
	b, err := a.data.CreateBucket(name)
	if err != nil {
		return err
	}
	if _, err := b.CreateBucket(bktObjects); err != nil {
		return err
	}
	_, err = b.CreateBucket(bktBodies)
	return err
}

func (a *applier) deleteBucket(c *Command, r *Result) error {
	name := []byte(c.Bucket)
	if a.buckets.Get(name) == nil {
		r.Err = objstore.ErrNoSuchBucket
		return nil
	}
	recs, _, err := objects(a.data, name)
	if err != nil {
		return err
	}
	if recs == nil {
		return fmt.Errorf("%w: bucket %q has a record but no data", errCorrupt, name)
	}
	if k, _ := recs.Cursor().First(); k != nil {
		r.Err = objstore.ErrBucketNotEmpty
		return nil
	}
	if err := a.buckets.Delete(name); err != nil {
		return err
	}
	return a.data.DeleteBucket(name)
}

func (a *applier) putObject(c *Command, r *Result) error {
	p := c.Put
	recs, bodies, err := objects(a.data, []byte(p.Bucket))
	if err != nil {
		return err
	}
	if recs == nil {
		r.Err = objstore.ErrNoSuchBucket
		return nil
	}
	key := []byte(p.Key)
	if p.IfMatch != "" || p.IfNoneMatch != "" {
		outcome, err := preconditions(p, key, recs.Get(key))
		if err != nil {
			return err
		}
		if outcome != nil {
			r.Err = outcome
			return nil
		}
	}

	info := p.Info
	info.Key = p.Key
	info.LastModified = unixTime(c.Time)
	if err := recs.Put(key, appendRecord(nil, &info)); err != nil {
		return err
	}
	// p.Body aliases the log entry's Data, which outlives the transaction,
	// as bbolt requires of values passed to Put.
	if err := bodies.Put(key, p.Body); err != nil {
		return err
	}
	r.Object = info
	return nil
}

// preconditions evaluates If-Match and If-None-Match against the current
// record cur (nil if the key is absent), in RFC 9110 order. It returns the
// client outcome (nil if the write may proceed) and any storage error.
func preconditions(p *objstore.PutRequest, key, cur []byte) (outcome, err error) {
	var etag string
	if cur != nil {
		info, err := decodeRecord(key, cur)
		if err != nil {
			return nil, err
		}
		etag = info.ETag
	}
	if p.IfMatch != "" {
		if cur == nil {
			return objstore.ErrNoSuchKey, nil
		}
		if p.IfMatch != "*" && !etagEqual(p.IfMatch, etag) {
			return objstore.ErrPreconditionFailed, nil
		}
	}
	// S3 accepts only "*" on writes; a specific ETag is given its HTTP
	// meaning (fail if it matches) so the FSM has no undefined input.
	if p.IfNoneMatch != "" && cur != nil && (p.IfNoneMatch == "*" || etagEqual(p.IfNoneMatch, etag)) {
		return objstore.ErrPreconditionFailed, nil
	}
	return nil, nil
}

// etagEqual compares ETags ignoring a weak prefix and surrounding quotes:
// clients send `"abc"` or `W/"abc"`, records hold `abc`.
func etagEqual(a, b string) bool { return bareETag(a) == bareETag(b) }

func bareETag(s string) string {
	s = strings.TrimPrefix(s, "W/")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

func (a *applier) deleteObject(c *Command, r *Result) error {
	recs, bodies, err := objects(a.data, []byte(c.Bucket))
	if err != nil {
		return err
	}
	if recs == nil {
		r.Err = objstore.ErrNoSuchBucket
		return nil
	}
	key := []byte(c.Key)
	// Deleting a missing key is a success, as in S3; bbolt's Delete of a
	// missing key is a no-op.
	if err := recs.Delete(key); err != nil {
		return err
	}
	return bodies.Delete(key)
}

// errCorrupt marks store contents that break the layout's invariants.
var errCorrupt = errors.New("raftfsm: corrupt store")
