package raftfsm

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
	bolt "go.etcd.io/bbolt"
)

// Multipart uploads live next to the objects of their S3 bucket:
//
//	data/<bucket>/u/   <escaped key> 0x00 0x01 <upload id> -> upload record
//	data/<bucket>/p/   <upload id> <part number, 2 bytes BE> -> part record
//
// The key escaping (0x00 -> 0x00 0xFF, then the 0x00 0x01 terminator)
// keeps bbolt's order equal to (key, upload id) order even for keys that
// contain U+0000, so ListMultipartUploads is a cursor walk. Upload IDs
// start with the receiving node's clock, so one key's uploads list in the
// order they were created, as S3 lists them. Both sub-buckets are created
// on first use, which keeps buckets created before multipart support
// valid.

var (
	bktUploads = []byte("u")
	bktParts   = []byte("p")
)

func escapeKey(b []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		b = append(b, key[i])
		if key[i] == 0 {
			b = append(b, 0xff)
		}
	}
	return append(b, 0, 1)
}

func uploadKey(key, uploadID string) []byte {
	return append(escapeKey(make([]byte, 0, len(key)+2+len(uploadID)), key), uploadID...)
}

// splitUploadKey inverts uploadKey.
func splitUploadKey(k []byte) (key, uploadID string, err error) {
	out := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		if k[i] != 0 {
			out = append(out, k[i])
			continue
		}
		if i+1 >= len(k) {
			break
		}
		switch k[i+1] {
		case 0xff:
			out = append(out, 0)
			i++
		case 1:
			return string(out), string(k[i+2:]), nil
		}
	}
	return "", "", fmt.Errorf("%w: malformed upload key %q", errCorrupt, k)
}

// partKey keys a part by its upload's full key (object key and upload
// ID), so two uploads can never share parts even if an ID were reused
// under another key. Upload IDs are [0-9A-Za-z._-], bytes of at least 0x2d,
// and part numbers at most 0x2710, so an upload's parts (prefix plus exactly
// two bytes) sort before those of any longer ID sharing the prefix.
func partKey(key, uploadID string, number int) []byte {
	return binary.BigEndian.AppendUint16(uploadKey(key, uploadID), uint16(number))
}

func validateMultipart(c *Command) error {
	if err := validName("key", c.Key); err != nil {
		return err
	}
	if !objstore.ValidUploadID(c.UploadID) {
		return fmt.Errorf("%w: upload id %q", ErrInvalidCommand, c.UploadID)
	}
	// The escaped key, the upload ID and a part number make the part key,
	// which bbolt must accept: a longer one would fail the write after the
	// checks and stop every replica.
	if n := len(partKey(c.Key, c.UploadID, 1)); n > bolt.MaxKeySize {
		return fmt.Errorf("%w: key of %d bytes for an upload", ErrInvalidCommand, len(c.Key))
	}
	switch c.Type {
	case TypeCreateMultipartUpload:
		if alg := c.Upload.ChecksumAlgorithm; alg != "" {
			a, ok := parseChecksumName(alg)
			if !ok {
				return fmt.Errorf("%w: checksum algorithm %q", ErrInvalidCommand, alg)
			}
			switch c.Upload.ChecksumType {
			case objstore.ChecksumComposite:
				if !a.SupportsComposite() {
					return fmt.Errorf("%w: %s has no composite checksum", ErrInvalidCommand, alg)
				}
			case objstore.ChecksumFullObject:
				if !a.SupportsFullObject() {
					return fmt.Errorf("%w: %s has no full-object checksum", ErrInvalidCommand, alg)
				}
			default:
				return fmt.Errorf("%w: checksum type %q", ErrInvalidCommand, c.Upload.ChecksumType)
			}
		} else if c.Upload.ChecksumType != "" {
			return fmt.Errorf("%w: checksum type without an algorithm", ErrInvalidCommand)
		}
	case TypeUploadPart:
		if n := c.Part.PartNumber; n < 1 || n > objstore.MaxParts {
			return fmt.Errorf("%w: part number %d", ErrInvalidCommand, n)
		}
		if c.Part.Blob.Size > objstore.MaxPartSize {
			return fmt.Errorf("%w: part of %d bytes", ErrInvalidCommand, c.Part.Blob.Size)
		}
		return validBlobRef(&c.Part.Blob)
	case TypeCompleteMultipartUpload:
		if n := len(c.Complete.Parts); n < 1 || n > objstore.MaxParts {
			return fmt.Errorf("%w: %d parts", ErrInvalidCommand, n)
		}
	}
	return nil
}

// uploadBuckets returns the upload and part sub-buckets of an existing S3
// bucket, creating them if needed, or nils after recording
// ErrNoSuchBucket in r.
func (a *applier) uploadBuckets(bucket string, r *Result) (uploads, parts *bolt.Bucket, err error) {
	b := a.data.Bucket([]byte(bucket))
	if b == nil {
		r.Err = objstore.ErrNoSuchBucket
		return nil, nil, nil
	}
	if uploads, err = b.CreateBucketIfNotExists(bktUploads); err != nil {
		return nil, nil, err
	}
	parts, err = b.CreateBucketIfNotExists(bktParts)
	return uploads, parts, err
}

func (a *applier) createMultipartUpload(c *Command, r *Result) error {
	uploads, _, err := a.uploadBuckets(c.Bucket, r)
	if err != nil || uploads == nil {
		return err
	}
	u := *c.Upload
	u.Initiated = unixTime(c.Time)
	k := uploadKey(u.Key, u.UploadID)
	if uploads.Get(k) != nil {
		r.Err = fmt.Errorf("%w: upload id %q exists", ErrInvalidCommand, u.UploadID)
		return nil
	}
	if err := uploads.Put(k, appendUploadRecord(nil, &u)); err != nil {
		return err
	}
	r.Object = objstore.ObjectInfo{Key: u.Key, LastModified: u.Initiated}
	return nil
}

// lookupUpload returns the upload (bucket, key, id), or nil.
func lookupUpload(uploads *bolt.Bucket, bucket, key, uploadID string) (*objstore.Upload, error) {
	if uploads == nil {
		return nil, nil
	}
	v := uploads.Get(uploadKey(key, uploadID))
	if v == nil {
		return nil, nil
	}
	u, err := decodeUploadRecord(bucket, key, uploadID, v)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func (a *applier) uploadPart(c *Command, r *Result) error {
	p := c.Part
	uploads, parts, err := a.uploadBuckets(p.Bucket, r)
	if err != nil {
		return err
	}
	if uploads == nil {
		return a.discardCarried(c)
	}
	u, err := lookupUpload(uploads, p.Bucket, p.Key, p.UploadID)
	if err != nil {
		return err
	}
	if u == nil {
		return a.failed(c, r, objstore.ErrNoSuchUpload)
	}
	k := partKey(p.Key, p.UploadID, p.PartNumber)
	if v := parts.Get(k); v != nil {
		old, err := decodePartRecord(p.PartNumber, v)
		if err != nil {
			return err
		}
		if err := a.release([]objstore.BlobRef{old.Blob}); err != nil {
			return err
		}
	}
	part := objstore.PartInfo{PartNumber: p.PartNumber, LastModified: unixTime(c.Time), Blob: p.Blob}
	if err := parts.Put(k, appendPartRecord(nil, &part)); err != nil {
		return err
	}
	if err := a.reference(&part.Blob); err != nil {
		return err
	}
	r.Object = objstore.ObjectInfo{Key: p.Key, LastModified: part.LastModified, Size: p.Blob.Size, ETag: p.Blob.MD5, Checksums: p.Blob.Checksums}
	return nil
}

// multipartETag is S3's ETag of a multipart object: the MD5 of the
// concatenated binary part MD5s, "-", the number of parts. ok is false if
// a part ETag is not a hex MD5.
func multipartETag(partETags []string) (etag string, ok bool) {
	h := md5.New()
	for _, e := range partETags {
		raw, err := hex.DecodeString(bareETag(e))
		if err != nil || len(raw) != md5.Size {
			return "", false
		}
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partETags)), true
}

func (a *applier) completeMultipartUpload(c *Command, r *Result) error {
	cr := c.Complete
	uploads, parts, err := a.uploadBuckets(cr.Bucket, r)
	if err != nil || uploads == nil {
		return err
	}
	recs, bodies, err := a.bucketObjects(cr.Bucket, r)
	if err != nil || recs == nil {
		return err
	}
	key := []byte(cr.Key)
	cur := recs.Get(key)
	u, err := lookupUpload(uploads, cr.Bucket, cr.Key, cr.UploadID)
	if err != nil {
		return err
	}
	if u == nil {
		return a.completeRetry(cr, key, cur, r)
	}
	for i := 1; i < len(cr.Parts); i++ {
		if cr.Parts[i].PartNumber <= cr.Parts[i-1].PartNumber {
			r.Err = objstore.ErrInvalidPartOrder
			return nil
		}
	}
	listed := make([]objstore.PartInfo, len(cr.Parts))
	etags := make([]string, len(cr.Parts))
	var size int64
	for i, want := range cr.Parts {
		v := parts.Get(partKey(cr.Key, cr.UploadID, want.PartNumber))
		if v == nil {
			r.Err = fmt.Errorf("%w: part %d was not uploaded", objstore.ErrInvalidPart, want.PartNumber)
			return nil
		}
		p, err := decodePartRecord(want.PartNumber, v)
		if err != nil {
			return err
		}
		if !etagEqual(want.ETag, p.Blob.MD5) {
			r.Err = fmt.Errorf("%w: part %d has ETag %q", objstore.ErrInvalidPart, want.PartNumber, p.Blob.MD5)
			return nil
		}
		for _, alg := range slices.Sorted(maps.Keys(want.Checksums)) {
			if p.Blob.Checksums[alg] != want.Checksums[alg] {
				r.Err = fmt.Errorf("%w: part %d: %s checksum differs", objstore.ErrInvalidPart, want.PartNumber, alg)
				return nil
			}
		}
		if u.ChecksumAlgorithm != "" && p.Blob.Checksums[u.ChecksumAlgorithm] == "" {
			r.Err = fmt.Errorf("%w: part %d lacks a %s checksum", objstore.ErrInvalidPart, want.PartNumber, u.ChecksumAlgorithm)
			return nil
		}
		if p.Blob.Size > objstore.MaxPartSize {
			return fmt.Errorf("%w: part %d of %d bytes", errCorrupt, want.PartNumber, p.Blob.Size)
		}
		if i < len(cr.Parts)-1 && p.Blob.Size < objstore.MinPartSize {
			r.Err = fmt.Errorf("%w: part %d is %d bytes", objstore.ErrEntityTooSmall, want.PartNumber, p.Blob.Size)
			return nil
		}
		listed[i], etags[i] = p, p.Blob.MD5
		size += p.Blob.Size
	}
	if size > objstore.MaxObjectSize {
		r.Err = objstore.ErrEntityTooLarge
		return nil
	}
	if cr.IfMatch != "" || cr.IfNoneMatch != "" {
		outcome, err := preconditions(cr.IfMatch, cr.IfNoneMatch, key, cur)
		if err != nil {
			return err
		}
		if outcome != nil {
			r.Err = outcome
			return nil
		}
	}
	etag, _ := multipartETag(etags) // part MD5s were validated when stored
	info := objstore.ObjectInfo{
		// S3 dates a multipart object by its upload's initiation.
		Key: cr.Key, Size: size, ETag: etag, LastModified: u.Initiated,
		ContentType: u.ContentType, Headers: u.Headers, UserMeta: u.UserMeta, Tags: u.Tags,
		PartsCount: len(listed), Blobs: make([]objstore.BlobRef, len(listed)),
	}
	for i := range listed {
		info.Blobs[i] = listed[i].Blob
	}
	if alg := u.ChecksumAlgorithm; alg != "" {
		sum, err := objectChecksum(u, listed)
		if err != nil {
			// Stored checksums are validated at UploadPart, so this is
			// not reachable from a client; still a client outcome, never
			// a store fault that would stop every replica.
			r.Err = fmt.Errorf("%w: %v", objstore.ErrInvalidPart, err)
			return nil
		}
		info.Checksums = map[string]string{alg: sum}
		info.ChecksumType = u.ChecksumType
	} else if cr.DefaultChecksum {
		if sum, ok := defaultChecksum(listed); ok {
			info.Checksums = map[string]string{checksum.Default.String(): sum}
			info.ChecksumType = objstore.ChecksumFullObject
		}
	}
	for _, alg := range slices.Sorted(maps.Keys(cr.Checksums)) {
		if got, ok := info.Checksums[alg]; !ok || !sameChecksum(got, cr.Checksums[alg]) {
			r.Err = fmt.Errorf("%w: the %s checksum of the object is %q", objstore.ErrBadDigest, alg, got)
			return nil
		}
	}

	// Parts not listed are dropped with the upload; listed ones now
	// belong to the object (their index entries stay).
	keep := make(map[string]bool, len(listed))
	for _, p := range listed {
		keep[p.Blob.ID] = true
	}
	if err := a.deleteParts(parts, cr.Key, cr.UploadID, keep); err != nil {
		return err
	}
	if err := uploads.Delete(uploadKey(cr.Key, cr.UploadID)); err != nil {
		return err
	}
	return a.writeObject(recs, bodies, key, cur, &info, nil, r)
}

// completeRetry answers a Complete for an upload that no longer exists. A
// client whose first Complete got no answer (a timeout, a 503 after the
// entry committed) retries it; if the object under the key is exactly what
// that Complete would have written, the retry succeeds with it, as S3's
// does. Anything else is NoSuchUpload.
func (a *applier) completeRetry(cr *objstore.CompleteRequest, key, cur []byte, r *Result) error {
	r.Err = objstore.ErrNoSuchUpload
	if cur == nil {
		return nil
	}
	etags := make([]string, len(cr.Parts))
	for i := range cr.Parts {
		etags[i] = cr.Parts[i].ETag
	}
	want, ok := multipartETag(etags)
	if !ok {
		return nil
	}
	info, err := decodeRecord(key, cur)
	if err != nil {
		return err
	}
	if info.ETag == want && info.PartsCount == len(cr.Parts) {
		r.Err, r.Object = nil, info
	}
	return nil
}

// defaultChecksum computes the full-object checksum.Default S3 gives a
// multipart object uploaded without a checksum algorithm, from the one the
// node recorded with every part. A part without one (recorded before nodes
// did that) leaves the object without a checksum, as it was then.
func defaultChecksum(parts []objstore.PartInfo) (string, bool) {
	alg := checksum.Default
	sums := make([]checksum.PartSum, len(parts))
	for i, p := range parts {
		v, ok := p.Blob.Checksums[alg.String()]
		if !ok {
			return "", false
		}
		sums[i] = checksum.PartSum{Sum: v, Size: p.Blob.Size}
	}
	sum, err := checksum.CombineFull(alg, sums)
	return sum, err == nil
}

// objectChecksum computes a completed object's checksum from its parts'.
func objectChecksum(u *objstore.Upload, parts []objstore.PartInfo) (string, error) {
	alg, err := checksum.ParseAlgorithm(u.ChecksumAlgorithm)
	if err != nil {
		return "", err
	}
	if u.ChecksumType == objstore.ChecksumFullObject {
		sums := make([]checksum.PartSum, len(parts))
		for i, p := range parts {
			sums[i] = checksum.PartSum{Sum: p.Blob.Checksums[u.ChecksumAlgorithm], Size: p.Blob.Size}
		}
		return checksum.CombineFull(alg, sums)
	}
	sums := make([]string, len(parts))
	for i, p := range parts {
		sums[i] = p.Blob.Checksums[u.ChecksumAlgorithm]
	}
	return checksum.Composite(alg, sums)
}

// sameChecksum compares a computed checksum with a client's, which may
// leave out a composite checksum's "-N" suffix.
func sameChecksum(got, want string) bool {
	return got == want || checksum.TrimPartCount(got) == want
}

// deleteParts deletes every part record of an upload; the blobs of parts
// not in keep become garbage.
func (a *applier) deleteParts(parts *bolt.Bucket, key, uploadID string, keep map[string]bool) error {
	prefix := uploadKey(key, uploadID)
	var doomed [][]byte
	var release []objstore.BlobRef
	c := parts.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+2; k, v = c.Next() {
		p, err := decodePartRecord(int(binary.BigEndian.Uint16(k[len(prefix):])), v)
		if err != nil {
			return err
		}
		if !keep[p.Blob.ID] {
			release = append(release, p.Blob)
		}
		doomed = append(doomed, bytes.Clone(k))
	}
	// Deleting while iterating would move the cursor.
	for _, k := range doomed {
		if err := parts.Delete(k); err != nil {
			return err
		}
	}
	return a.release(release)
}

func (a *applier) abortMultipartUpload(c *Command, r *Result) error {
	uploads, parts, err := a.uploadBuckets(c.Bucket, r)
	if err != nil || uploads == nil {
		return err
	}
	u, err := lookupUpload(uploads, c.Bucket, c.Key, c.UploadID)
	if err != nil {
		return err
	}
	if u == nil {
		r.Err = objstore.ErrNoSuchUpload
		return nil
	}
	if err := a.deleteParts(parts, c.Key, c.UploadID, nil); err != nil {
		return err
	}
	return uploads.Delete(uploadKey(c.Key, c.UploadID))
}

// releaseAllParts drops every upload of the S3 bucket b (being deleted):
// their part blobs become garbage.
func (a *applier) releaseAllParts(b *bolt.Bucket) error {
	if b == nil {
		return nil
	}
	parts := b.Bucket(bktParts)
	if parts == nil {
		return nil
	}
	var refs []objstore.BlobRef
	err := parts.ForEach(func(k, v []byte) error {
		p, err := decodePartRecord(0, v)
		if err != nil {
			return err
		}
		refs = append(refs, p.Blob)
		return nil
	})
	if err != nil {
		return err
	}
	return a.release(refs)
}

// Queries.

// GetUpload returns an upload, or objstore.ErrNoSuchBucket or
// objstore.ErrNoSuchUpload (also when the upload exists under another
// key).
func (f *FSM) GetUpload(bucket, key, uploadID string) (objstore.Upload, error) {
	res, err := f.ListParts(bucket, key, uploadID, 0, 0)
	return res.Upload, err
}

// OpenUploads returns how many multipart uploads of bucket are open, up to
// limit: it stops counting there, so the cost is bounded by limit, not by
// the bucket. A missing bucket has none.
func (f *FSM) OpenUploads(bucket string, limit int) (int, error) {
	n := 0
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktData).Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		uploads := b.Bucket(bktUploads)
		if uploads == nil {
			return nil
		}
		c := uploads.Cursor()
		for k, _ := c.First(); k != nil && n < limit; k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// ListParts returns the upload and up to max of its parts numbered above
// marker, or the errors of GetUpload.
func (f *FSM) ListParts(bucket, key, uploadID string, marker, max int) (objstore.ListPartsResult, error) {
	var res objstore.ListPartsResult
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktData).Bucket([]byte(bucket))
		if b == nil {
			return objstore.ErrNoSuchBucket
		}
		u, err := lookupUpload(b.Bucket(bktUploads), bucket, key, uploadID)
		if err != nil {
			return err
		}
		if u == nil {
			return objstore.ErrNoSuchUpload
		}
		res.Upload = *u
		parts := b.Bucket(bktParts)
		if parts == nil || max <= 0 {
			return nil
		}
		if marker < 0 {
			marker = 0
		}
		if marker >= objstore.MaxParts {
			return nil
		}
		prefix := uploadKey(key, uploadID)
		c := parts.Cursor()
		for k, v := c.Seek(partKey(key, uploadID, marker+1)); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+2; k, v = c.Next() {
			if len(res.Parts) == max {
				res.IsTruncated = true
				res.NextPartNumberMarker = res.Parts[len(res.Parts)-1].PartNumber
				break
			}
			p, err := decodePartRecord(int(binary.BigEndian.Uint16(k[len(prefix):])), v)
			if err != nil {
				return err
			}
			res.Parts = append(res.Parts, p)
		}
		return nil
	})
	return res, err
}

// ListUploads returns one page of a bucket's uploads in (key, upload ID)
// order, with ListObjects' prefix and delimiter rules; or
// objstore.ErrNoSuchBucket.
func (f *FSM) ListUploads(bucket string, opts objstore.ListUploadsOptions) (objstore.ListUploadsResult, error) {
	var res objstore.ListUploadsResult
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktData).Bucket([]byte(bucket))
		if b == nil {
			return objstore.ErrNoSuchBucket
		}
		uploads := b.Bucket(bktUploads)
		if uploads == nil || opts.MaxUploads <= 0 {
			return nil
		}
		var err error
		res, err = listUploadsPage(bucket, uploads.Cursor(), opts)
		return err
	})
	return res, err
}

func listUploadsPage(bucket string, c *bolt.Cursor, opts objstore.ListUploadsOptions) (objstore.ListUploadsResult, error) {
	var res objstore.ListUploadsResult
	prefix := opts.Prefix
	seek := escapeKey(nil, prefix)
	seek = seek[:len(seek)-2] // the prefix, not a whole key
	if opts.KeyMarker != "" && opts.KeyMarker >= prefix {
		if opts.UploadIDMarker != "" {
			seek = uploadKey(opts.KeyMarker, opts.UploadIDMarker)
		} else {
			seek = escapeKey(nil, opts.KeyMarker)
			seek[len(seek)-1]++ // past every upload of KeyMarker
		}
	}
	k, v := c.Seek(seek)
	if k != nil && opts.UploadIDMarker != "" && bytes.Equal(k, seek) {
		k, v = c.Next() // the marker is exclusive
	}
	n := 0
	var lastKey, lastID string
	for k != nil {
		key, id, err := splitUploadKey(k)
		if err != nil {
			return res, err
		}
		if len(key) < len(prefix) || key[:len(prefix)] != prefix {
			break
		}
		if d := opts.Delimiter; d != "" {
			if i := bytes.Index([]byte(key[len(prefix):]), []byte(d)); i >= 0 {
				cp := key[:len(prefix)+i+len(d)]
				if cp > opts.KeyMarker || opts.KeyMarker == "" {
					if n == opts.MaxUploads {
						res.IsTruncated = true
						break
					}
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					n, lastKey, lastID = n+1, cp, ""
				}
				esc := escapeKey(nil, cp)
				next := prefixEnd(esc[:len(esc)-2])
				if next == nil {
					break
				}
				k, v = c.Seek(next)
				continue
			}
		}
		if n == opts.MaxUploads {
			res.IsTruncated = true
			break
		}
		u, err := decodeUploadRecord(bucket, key, id, v)
		if err != nil {
			return res, err
		}
		res.Uploads = append(res.Uploads, u)
		n, lastKey, lastID = n+1, key, id
		k, v = c.Next()
	}
	if res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = lastKey, lastID
	}
	return res, nil
}
