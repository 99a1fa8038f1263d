package raftfsm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strongboxdb/strongbox/blobstore"
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
	tx      *bolt.Tx
	buckets *bolt.Bucket // bucket name -> bucket record
	data    *bolt.Bucket // bucket name -> {o, b, u, p} sub-buckets

	// blobs, garbage and garbageIDs are the blob index, the garbage list
	// and its index by blob (blobs.go), opened on first use.
	blobs, garbage, garbageIDs *bolt.Bucket
	// index is the log index of the entry being applied and seq counts the
	// garbage entries it listed: together they key garbage/.
	index uint64
	seq   uint32
	// time is the entry's command time, recorded with garbage entries.
	time int64
	// clusterID is set when the batch recorded the cluster ID.
	clusterID *[ClusterIDLen]byte
}

// setClusterID records the cluster ID unless one is recorded: the first
// committed wins, so every node ends up with the same one.
func (a *applier) setClusterID(c *Command) error {
	meta := a.tx.Bucket(bktMeta)
	if meta.Get(keyClusterID) != nil {
		return nil
	}
	if err := meta.Put(keyClusterID, c.ClusterID[:]); err != nil {
		return err
	}
	id := c.ClusterID
	a.clusterID = &id
	return nil
}

func newApplier(tx *bolt.Tx) *applier {
	return &applier{tx: tx, buckets: tx.Bucket(bktBuckets), data: tx.Bucket(bktData)}
}

// apply decodes and executes one command, filling r. Client outcomes and
// invalid commands go to r.Err; the returned error is a storage fault.
func (a *applier) apply(index uint64, data []byte, r *Result) error {
	a.index, a.seq = index, 0
	c, err := UnmarshalCommand(data)
	if err != nil {
		r.Err = err
		return nil
	}
	a.time = c.Time
	if err := validate(c); err != nil {
		r.Err = err
		return a.discardCarried(c)
	}
	// A blob is referenced by at most one record; a second command naming
	// the same blob (a client cannot cause one, a bug could) is refused,
	// because deleting either record would destroy the other's body.
	if ref := carriedBlob(c); ref != nil {
		if dup, err := a.isReferenced(ref.ID); err != nil || dup {
			if err == nil {
				r.Err = fmt.Errorf("%w: blob %s is already referenced", ErrInvalidCommand, ref.ID)
			}
			return err
		}
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
	case TypeCopyObject:
		return a.copyObject(c, r)
	case TypeDeleteObjects:
		return a.deleteObjects(c, r)
	case TypePutObjectTagging:
		return a.putObjectTagging(c, r)
	case TypePutBucketCors:
		return a.putBucketCors(c, r)
	case TypeCreateMultipartUpload:
		return a.createMultipartUpload(c, r)
	case TypeUploadPart:
		return a.uploadPart(c, r)
	case TypeCompleteMultipartUpload:
		return a.completeMultipartUpload(c, r)
	case TypeAbortMultipartUpload:
		return a.abortMultipartUpload(c, r)
	case TypeSetClusterID:
		return a.setClusterID(c)
	}
	return nil // TypeNoop
}

// carriedBlob returns the new blob a command brings, if any.
func carriedBlob(c *Command) *objstore.BlobRef {
	switch {
	case c.Put != nil:
		return c.Put.Blob
	case c.Copy != nil:
		return c.Copy.Blob
	case c.Part != nil:
		return &c.Part.Blob
	}
	return nil
}

// discardCarried lists the blob of a command that failed as garbage: no
// record will ever refer to it. Only a well-formed ID is listed, so that a
// corrupt command cannot name a file to delete.
func (a *applier) discardCarried(c *Command) error {
	ref := carriedBlob(c)
	if ref == nil || !blobstore.ValidID(ref.ID) {
		return nil
	}
	if dup, err := a.isReferenced(ref.ID); err != nil || dup {
		return err
	}
	return a.discard(ref.ID)
}

// failed records a client outcome for c and discards its blob.
func (a *applier) failed(c *Command, r *Result, err error) error {
	r.Err = err
	return a.discardCarried(c)
}

// validate rejects field values bbolt cannot store, so that the writes
// after the checks cannot fail for a reason that depends on the command.
// The rules are deterministic: every node rejects the same commands.
func validate(c *Command) error {
	switch c.Type {
	case TypeNoop:
		return nil
	case TypeSetClusterID:
		if c.ClusterID == ([ClusterIDLen]byte{}) {
			return fmt.Errorf("%w: all-zero cluster ID", ErrInvalidCommand)
		}
		return nil
	}
	if err := validName("bucket name", c.Bucket); err != nil {
		return err
	}
	switch c.Type {
	case TypeDeleteObject, TypePutObjectTagging:
		return validName("key", c.Key)
	case TypeDeleteObjects:
		for _, k := range c.Keys {
			if err := validName("key", k); err != nil {
				return err
			}
		}
	case TypeCopyObject:
		cp := c.Copy
		if err := validName("source bucket name", cp.SrcBucket); err != nil {
			return err
		}
		if err := validName("source key", cp.SrcKey); err != nil {
			return err
		}
		if err := validName("key", cp.Key); err != nil {
			return err
		}
		if cp.ChecksumAlgorithm != "" {
			if _, ok := parseChecksumName(cp.ChecksumAlgorithm); !ok {
				return fmt.Errorf("%w: checksum algorithm %q", ErrInvalidCommand, cp.ChecksumAlgorithm)
			}
		}
		if cp.Blob != nil {
			if err := validBlobRef(cp.Blob); err != nil {
				return err
			}
		}
	case TypePutObject:
		p := c.Put
		if err := validName("key", p.Key); err != nil {
			return err
		}
		if p.Blob != nil {
			if err := validBlobRef(p.Blob); err != nil {
				return err
			}
			if len(p.Body) != 0 || p.Info.Size != p.Blob.Size || p.Info.ETag != p.Blob.MD5 {
				return fmt.Errorf("%w: blob-backed put disagrees with its blob", ErrInvalidCommand)
			}
			return nil
		}
		if p.Info.Size != int64(len(p.Body)) {
			return fmt.Errorf("%w: size %d for a %d-byte body", ErrInvalidCommand, p.Info.Size, len(p.Body))
		}
		if len(p.Body) > bolt.MaxValueSize {
			return fmt.Errorf("%w: %d-byte body exceeds the inline limit", ErrInvalidCommand, len(p.Body))
		}
	case TypeCreateMultipartUpload, TypeUploadPart, TypeCompleteMultipartUpload, TypeAbortMultipartUpload:
		return validateMultipart(c)
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

// bucketObjects is objects for a command on an existing bucket: when the
// bucket is missing it records ErrNoSuchBucket in r and returns nil
// buckets with a nil error, so callers stop with "if err != nil || recs
// == nil { return err }".
func (a *applier) bucketObjects(bucket string, r *Result) (recs, bodies *bolt.Bucket, err error) {
	recs, bodies, err = objects(a.data, []byte(bucket))
	if err == nil && recs == nil {
		r.Err = objstore.ErrNoSuchBucket
	}
	return recs, bodies, err
}

func (a *applier) createBucket(c *Command, r *Result) error {
	name := []byte(c.Bucket)
	if a.buckets.Get(name) != nil {
		r.Err = objstore.ErrBucketExists
		return nil
	}
	if err := a.buckets.Put(name, appendBucketRecord(nil, &objstore.BucketInfo{Created: unixTime(c.Time)})); err != nil {
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
	// Uploads in progress do not keep a bucket alive (S3 deletes them with
	// it); their part blobs become garbage.
	if err := a.releaseAllParts(a.data.Bucket(name)); err != nil {
		return err
	}
	if err := a.buckets.Delete(name); err != nil {
		return err
	}
	return a.data.DeleteBucket(name)
}

func (a *applier) putObject(c *Command, r *Result) error {
	p := c.Put
	recs, bodies, err := a.bucketObjects(p.Bucket, r)
	if err != nil || recs == nil {
		if err == nil {
			err = a.discardCarried(c)
		}
		return err
	}
	key := []byte(p.Key)
	cur := recs.Get(key)
	if p.IfMatch != "" || p.IfNoneMatch != "" {
		outcome, err := preconditions(p.IfMatch, p.IfNoneMatch, key, cur)
		if err != nil {
			return err
		}
		if outcome != nil {
			return a.failed(c, r, outcome)
		}
	}

	info := p.Info
	info.Key = p.Key
	info.LastModified = unixTime(c.Time)
	info.ChecksumType, info.PartsCount, info.Blobs = "", 0, nil
	if p.Blob != nil {
		info.Blobs = []objstore.BlobRef{*p.Blob}
	}
	return a.writeObject(recs, bodies, key, cur, &info, p.Body, r)
}

// writeObject replaces the object at key (current record cur, nil if
// none) with info and, for an inline object, body. The blobs of the
// replaced version become garbage and info's blobs become referenced.
func (a *applier) writeObject(recs, bodies *bolt.Bucket, key, cur []byte, info *objstore.ObjectInfo, body []byte, r *Result) error {
	if err := a.releaseRecord(key, cur); err != nil {
		return err
	}
	if err := recs.Put(key, appendRecord(nil, info)); err != nil {
		return err
	}
	if info.Blobs != nil {
		if err := bodies.Delete(key); err != nil {
			return err
		}
		for i := range info.Blobs {
			if err := a.reference(&info.Blobs[i]); err != nil {
				return err
			}
		}
	} else if err := bodies.Put(key, body); err != nil {
		// body aliases the log entry's Data (or a copy), which outlives
		// the transaction, as bbolt requires of values passed to Put.
		return err
	}
	r.Object = *info
	return nil
}

// preconditions evaluates If-Match and If-None-Match against the current
// record cur (nil if the key is absent), in RFC 9110 order. It returns the
// client outcome (nil if the write may proceed) and any storage error.
func preconditions(ifMatch, ifNoneMatch string, key, cur []byte) (outcome, err error) {
	var etag string
	if cur != nil {
		info, err := decodeRecord(key, cur)
		if err != nil {
			return nil, err
		}
		etag = info.ETag
	}
	if ifMatch != "" {
		if cur == nil {
			return objstore.ErrNoSuchKey, nil
		}
		if ifMatch != "*" && !etagEqual(ifMatch, etag) {
			return objstore.ErrPreconditionFailed, nil
		}
	}
	// S3 accepts only "*" on writes; a specific ETag is given its HTTP
	// meaning (fail if it matches) so the FSM has no undefined input.
	if ifNoneMatch != "" && cur != nil && (ifNoneMatch == "*" || etagEqual(ifNoneMatch, etag)) {
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
	recs, bodies, err := a.bucketObjects(c.Bucket, r)
	if err != nil || recs == nil {
		return err
	}
	key := []byte(c.Key)
	// Deleting a missing key is a success, as in S3; bbolt's Delete of a
	// missing key is a no-op.
	if err := a.releaseRecord(key, recs.Get(key)); err != nil {
		return err
	}
	if err := recs.Delete(key); err != nil {
		return err
	}
	return bodies.Delete(key)
}

// copyObject reads the source, evaluates the source and destination
// conditions and writes the destination, all at the entry's position in
// the log: the copy is of exactly one committed version of the source, and
// a conditional copy is a compare-and-set on the destination.
func (a *applier) copyObject(c *Command, r *Result) error {
	cp := c.Copy
	srcRecs, srcBodies, err := objects(a.data, []byte(cp.SrcBucket))
	if err != nil {
		return err
	}
	dstRecs, dstBodies, err := objects(a.data, []byte(cp.Bucket))
	if err != nil {
		return err
	}
	if srcRecs == nil || dstRecs == nil {
		return a.failed(c, r, objstore.ErrNoSuchBucket)
	}
	srcKey := []byte(cp.SrcKey)
	v := srcRecs.Get(srcKey)
	if v == nil {
		return a.failed(c, r, objstore.ErrNoSuchKey)
	}
	src, err := decodeRecord(srcKey, v)
	if err != nil {
		return err
	}
	if !sourceConditionsHold(cp, src) {
		return a.failed(c, r, objstore.ErrPreconditionFailed)
	}
	// A blob-backed source is copied by the node before proposing (its
	// bytes are not in this store): the command must carry that copy, made
	// from the version the source still is. An inline source is copied
	// here, so a command carrying a blob for it is stale too.
	if (src.Blobs != nil) != (cp.Blob != nil) ||
		(cp.Blob != nil && (src.ETag != cp.SrcETag || src.Size != cp.Blob.Size)) {
		return a.failed(c, r, ErrSourceChanged)
	}
	dstKey := []byte(cp.Key)
	cur := dstRecs.Get(dstKey)
	if cp.IfMatch != "" || cp.IfNoneMatch != "" {
		outcome, err := preconditions(cp.IfMatch, cp.IfNoneMatch, dstKey, cur)
		if err != nil {
			return err
		}
		if outcome != nil {
			return a.failed(c, r, outcome)
		}
	}

	info := src
	info.Key = cp.Key
	info.LastModified = unixTime(c.Time)
	if cp.ReplaceMetadata {
		info.ContentType, info.Headers, info.UserMeta = cp.ContentType, cp.Headers, cp.UserMeta
	}
	if cp.ReplaceTags {
		info.Tags = cp.Tags
	}
	var body []byte
	if cp.Blob != nil {
		// The copy is a new single-part object: its ETag is the MD5 of
		// the bytes and its checksums were computed over them while they
		// were copied (the node asks for the source's algorithms).
		info.Blobs = []objstore.BlobRef{*cp.Blob}
		info.ETag, info.PartsCount, info.ChecksumType = cp.Blob.MD5, 0, ""
		info.Checksums = nil
		for alg := range src.Checksums {
			if v, ok := cp.Blob.Checksums[alg]; ok {
				if info.Checksums == nil {
					info.Checksums = map[string]string{}
				}
				info.Checksums[alg] = v
			}
		}
		if alg := cp.ChecksumAlgorithm; alg != "" {
			sum, ok := cp.Blob.Checksums[alg]
			if !ok {
				return a.failed(c, r, fmt.Errorf("%w: copy lacks its %s checksum", ErrInvalidCommand, alg))
			}
			info.Checksums = map[string]string{alg: sum}
		}
	} else {
		b := srcBodies.Get(srcKey)
		if int64(len(b)) != src.Size {
			return fmt.Errorf("%w: object %q: %d-byte body for size %d", errCorrupt, cp.SrcKey, len(b), src.Size)
		}
		// The source value is bbolt memory (a page, or a value put earlier
		// in this batch); the destination write may touch the same pages,
		// so the body is copied before it is put back.
		body = bytes.Clone(b)
		if alg := cp.ChecksumAlgorithm; alg != "" {
			sum, ok := src.Checksums[alg]
			if !ok {
				algo, _ := parseChecksumName(alg) // checked by validate
				sum = algo.Of(body)
			}
			info.Checksums = map[string]string{alg: sum}
		}
	}
	return a.writeObject(dstRecs, dstBodies, dstKey, cur, &info, body, r)
}

// sourceConditionsHold evaluates x-amz-copy-source-if-* against the source
// record in S3's order: an ETag condition, when present, decides instead of
// its date partner.
func sourceConditionsHold(cp *objstore.CopyRequest, src objstore.ObjectInfo) bool {
	lm := src.LastModified.Truncate(time.Second)
	if cp.SrcIfMatch != "" {
		if !objstore.ETagMatches(cp.SrcIfMatch, src.ETag) {
			return false
		}
	} else if t := cp.SrcIfUnmodifiedSince; !t.IsZero() && lm.After(t) {
		return false
	}
	if cp.SrcIfNoneMatch != "" {
		if objstore.ETagMatches(cp.SrcIfNoneMatch, src.ETag) {
			return false
		}
	} else if t := cp.SrcIfModifiedSince; !t.IsZero() && !lm.After(t) {
		return false
	}
	return true
}

// deleteObjects deletes every key of a batch; missing keys are not an
// error, as in S3.
func (a *applier) deleteObjects(c *Command, r *Result) error {
	recs, bodies, err := a.bucketObjects(c.Bucket, r)
	if err != nil || recs == nil {
		return err
	}
	for _, k := range c.Keys {
		key := []byte(k)
		if err := a.releaseRecord(key, recs.Get(key)); err != nil {
			return err
		}
		if err := recs.Delete(key); err != nil {
			return err
		}
		if err := bodies.Delete(key); err != nil {
			return err
		}
	}
	return nil
}

// putObjectTagging replaces an existing object's tag set. The record keeps
// its ETag and LastModified; the body is untouched.
func (a *applier) putObjectTagging(c *Command, r *Result) error {
	recs, _, err := a.bucketObjects(c.Bucket, r)
	if err != nil || recs == nil {
		return err
	}
	key := []byte(c.Key)
	v := recs.Get(key)
	if v == nil {
		r.Err = objstore.ErrNoSuchKey
		return nil
	}
	info, err := decodeRecord(key, v)
	if err != nil {
		return err
	}
	info.Tags = c.Tags
	if err := recs.Put(key, appendRecord(nil, &info)); err != nil {
		return err
	}
	r.Object = info
	return nil
}

// putBucketCors replaces an existing bucket's CORS rules.
func (a *applier) putBucketCors(c *Command, r *Result) error {
	name := []byte(c.Bucket)
	v := a.buckets.Get(name)
	if v == nil {
		r.Err = objstore.ErrNoSuchBucket
		return nil
	}
	info, err := decodeBucketRecord(name, v)
	if err != nil {
		return err
	}
	info.CORS = c.CORS
	return a.buckets.Put(name, appendBucketRecord(nil, &info))
}

// errCorrupt marks store contents that break the layout's invariants.
var errCorrupt = errors.New("raftfsm: corrupt store")
