package raftfsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
)

// This file holds the byte-level building blocks shared by the command,
// result and on-disk record encodings. Everything is length-prefixed with
// uvarints and written in a fixed field order; there is no reflection and
// no self-description, so every format carries its own version byte.
//
// Decoding is defensive: every length is checked against the bytes that
// remain before anything is sliced or allocated, so corrupt input costs at
// most its own size and never panics.

// appendString appends s as uvarint(len) followed by its bytes.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendBytes appends p as uvarint(len) followed by its bytes.
func appendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// appendMap appends m as uvarint(count) followed by key/value strings in
// ascending key order. Go randomises map iteration; sorting makes the bytes
// a function of the contents, which Raft determinism and the canonical
// form checked by the decoder both need.
func appendMap(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	if len(m) == 0 {
		return b
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b = appendString(b, k)
		b = appendString(b, m[k])
	}
	return b
}

// noTime stands for the zero time.Time, whose UnixNano is undefined.
const noTime = math.MinInt64

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, noTime)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

// unixTime is the one place nanoseconds become a time.Time, always in UTC so
// that two nodes decoding the same bytes produce equal values.
func unixTime(ns int64) time.Time {
	if ns == noTime {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func mapSize(m map[string]string) int {
	n := binary.MaxVarintLen64
	for k, v := range m {
		n += len(k) + len(v) + 2*binary.MaxVarintLen64
	}
	return n
}

// appendInfo appends the ObjectInfo fields every format shares: size, etag,
// content type and the four maps (headers, user metadata, checksums, tags).
// Key and LastModified are not included: each format has its own source of
// truth for them. The tags map is the version 2 addition of every format
// that embeds these fields; decoders of version 1 bytes skip it.
func appendInfo(b []byte, in *objstore.ObjectInfo) []byte {
	b = binary.AppendUvarint(b, uint64(in.Size))
	b = appendString(b, in.ETag)
	b = appendString(b, in.ContentType)
	b = appendMap(b, in.Headers)
	b = appendMap(b, in.UserMeta)
	b = appendMap(b, in.Checksums)
	return appendMap(b, in.Tags)
}

func infoSize(in *objstore.ObjectInfo) int {
	return 3*binary.MaxVarintLen64 + len(in.ETag) + len(in.ContentType) +
		mapSize(in.Headers) + mapSize(in.UserMeta) + mapSize(in.Checksums) + mapSize(in.Tags)
}

// appendList appends ss as uvarint(count) followed by the strings, in
// order.
func appendList(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func listSize(ss []string) int {
	n := binary.MaxVarintLen64
	for _, s := range ss {
		n += binary.MaxVarintLen64 + len(s)
	}
	return n
}

// Copy flags: which directives say REPLACE. Other bits must be zero.
const (
	copyReplaceMetadata = 1 << iota
	copyReplaceTags
	copyFlagsMask = copyReplaceMetadata | copyReplaceTags
)

// appendCopy appends a CopyRequest: source, destination, the source and
// destination conditions, the directives, the replacement metadata and
// tags, and the checksum algorithm.
func appendCopy(b []byte, cp *objstore.CopyRequest) []byte {
	b = appendString(b, cp.SrcBucket)
	b = appendString(b, cp.SrcKey)
	b = appendString(b, cp.Bucket)
	b = appendString(b, cp.Key)
	b = appendString(b, cp.SrcIfMatch)
	b = appendString(b, cp.SrcIfNoneMatch)
	b = appendTime(b, cp.SrcIfModifiedSince)
	b = appendTime(b, cp.SrcIfUnmodifiedSince)
	b = appendString(b, cp.IfMatch)
	b = appendString(b, cp.IfNoneMatch)
	var flags byte
	if cp.ReplaceMetadata {
		flags |= copyReplaceMetadata
	}
	if cp.ReplaceTags {
		flags |= copyReplaceTags
	}
	b = append(b, flags)
	b = appendString(b, cp.ContentType)
	b = appendMap(b, cp.Headers)
	b = appendMap(b, cp.UserMeta)
	b = appendMap(b, cp.Tags)
	return appendString(b, cp.ChecksumAlgorithm)
}

func copySize(cp *objstore.CopyRequest) int {
	return 16*binary.MaxVarintLen64 + len(cp.SrcBucket) + len(cp.SrcKey) + len(cp.Bucket) +
		len(cp.Key) + len(cp.SrcIfMatch) + len(cp.SrcIfNoneMatch) + len(cp.IfMatch) +
		len(cp.IfNoneMatch) + len(cp.ContentType) + mapSize(cp.Headers) + mapSize(cp.UserMeta) +
		mapSize(cp.Tags) + len(cp.ChecksumAlgorithm)
}

// appendCORS appends a CORS rule list: uvarint(count), then per rule its
// ID, the four string lists and MaxAgeSeconds.
func appendCORS(b []byte, rules []objstore.CORSRule) []byte {
	b = binary.AppendUvarint(b, uint64(len(rules)))
	for i := range rules {
		r := &rules[i]
		b = appendString(b, r.ID)
		b = appendList(b, r.AllowedOrigins)
		b = appendList(b, r.AllowedMethods)
		b = appendList(b, r.AllowedHeaders)
		b = appendList(b, r.ExposeHeaders)
		b = binary.AppendVarint(b, r.MaxAgeSeconds)
	}
	return b
}

func corsSize(rules []objstore.CORSRule) int {
	n := binary.MaxVarintLen64
	for i := range rules {
		r := &rules[i]
		n += 2*binary.MaxVarintLen64 + len(r.ID) + listSize(r.AllowedOrigins) +
			listSize(r.AllowedMethods) + listSize(r.AllowedHeaders) + listSize(r.ExposeHeaders)
	}
	return n
}

// decoder reads the formats above from a byte slice. The first failure is
// sticky: later calls return zero values, so a decode function can read all
// its fields and check d.err once at the end.
type decoder struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated input")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(errTruncated)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errors.New("malformed uvarint"))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errors.New("malformed varint"))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// size reads a uvarint that must fit a non-negative int64.
func (d *decoder) size() int64 {
	v := d.uvarint()
	if v > math.MaxInt64 {
		d.fail(fmt.Errorf("size %d out of range", v))
		return 0
	}
	return int64(v)
}

// bytes returns the next length-prefixed field as a sub-slice of the input
// (no copy), capacity-clipped so that appending to it cannot overwrite the
// bytes that follow. An empty field is returned as nil.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(fmt.Errorf("field length %d exceeds the %d bytes left", n, len(d.b)))
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

// stringMap reads what appendMap wrote. Keys must be strictly ascending:
// that rejects duplicates and keeps the encoding canonical. The count is
// checked against the remaining input (each entry takes at least two bytes)
// before the map is allocated.
func (d *decoder) stringMap() map[string]string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.b)/2) {
		d.fail(fmt.Errorf("map of %d entries in %d bytes", n, len(d.b)))
		return nil
	}
	m := make(map[string]string, n)
	var prev string
	for i := uint64(0); i < n; i++ {
		k, v := d.string(), d.string()
		if d.err != nil {
			return nil
		}
		if i > 0 && k <= prev {
			d.fail(fmt.Errorf("map key %q out of order", k))
			return nil
		}
		m[k], prev = v, k
	}
	return m
}

// info reads what appendInfo wrote; withTags is false for version 1
// encodings, which end before the tags map.
func (d *decoder) info(in *objstore.ObjectInfo, withTags bool) {
	in.Size = d.size()
	in.ETag = d.string()
	in.ContentType = d.string()
	in.Headers = d.stringMap()
	in.UserMeta = d.stringMap()
	in.Checksums = d.stringMap()
	if withTags {
		in.Tags = d.stringMap()
	}
}

// count reads a uvarint element count and checks it against the input
// left, given that each element takes at least min bytes, so a corrupt
// count cannot make the caller allocate more than the input's size.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/min) {
		d.fail(fmt.Errorf("%d elements in %d bytes", n, len(d.b)))
		return 0
	}
	return int(n)
}

// bounded reads a uvarint that must not exceed max.
func (d *decoder) bounded(max int) int {
	v := d.uvarint()
	if v > uint64(max) {
		d.fail(fmt.Errorf("value %d exceeds %d", v, max))
		return 0
	}
	return int(v)
}

// list reads what appendList wrote; an empty list is nil.
func (d *decoder) list() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.string())
	}
	if d.err != nil {
		return nil
	}
	return out
}

// copyRequest reads what appendCopy wrote.
func (d *decoder) copyRequest() *objstore.CopyRequest {
	cp := &objstore.CopyRequest{}
	cp.SrcBucket = d.string()
	cp.SrcKey = d.string()
	cp.Bucket = d.string()
	cp.Key = d.string()
	cp.SrcIfMatch = d.string()
	cp.SrcIfNoneMatch = d.string()
	cp.SrcIfModifiedSince = unixTime(d.varint())
	cp.SrcIfUnmodifiedSince = unixTime(d.varint())
	cp.IfMatch = d.string()
	cp.IfNoneMatch = d.string()
	flags := d.byte()
	if flags&^copyFlagsMask != 0 {
		d.fail(fmt.Errorf("unknown copy flags %#x", flags))
	}
	cp.ReplaceMetadata = flags&copyReplaceMetadata != 0
	cp.ReplaceTags = flags&copyReplaceTags != 0
	cp.ContentType = d.string()
	cp.Headers = d.stringMap()
	cp.UserMeta = d.stringMap()
	cp.Tags = d.stringMap()
	cp.ChecksumAlgorithm = d.string()
	return cp
}

// cors reads what appendCORS wrote; an empty list is nil.
func (d *decoder) cors() []objstore.CORSRule {
	// A rule takes at least six bytes: five empty fields and a varint.
	n := d.count(6)
	if n == 0 {
		return nil
	}
	out := make([]objstore.CORSRule, 0, n)
	for range n {
		out = append(out, objstore.CORSRule{
			ID:             d.string(),
			AllowedOrigins: d.list(),
			AllowedMethods: d.list(),
			AllowedHeaders: d.list(),
			ExposeHeaders:  d.list(),
			MaxAgeSeconds:  d.varint(),
		})
	}
	if d.err != nil {
		return nil
	}
	return out
}

// done reports the first error, or an error if input is left over: a
// decoder that stops early would otherwise accept corrupt tails silently.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}

// On-disk records. Each starts with its own version byte so the layout can
// evolve without a migration: a reader dispatches on it. Version 2 object
// records end with the tag set; version 3 adds the checksum type, the parts
// count and, for blob-backed bodies, the blob list. Version 2 bucket
// records end with the CORS rules. Every version is read; object records
// are written as version 3, bucket records as version 2.

const (
	recordVersion       = 3
	bucketRecordVersion = 2

	// bodyInline: the body is the value under the same key in the bucket's
	// body sub-bucket.
	bodyInline = 0
	// bodyBlobs: the body is the concatenation of the blobs the record
	// lists (objstore.ObjectInfo.Blobs); nothing is in the body bucket.
	bodyBlobs = 1
)

// appendBlobRef appends a blob reference: id, size, md5, checksums.
func appendBlobRef(b []byte, r *objstore.BlobRef) []byte {
	b = appendString(b, r.ID)
	b = binary.AppendUvarint(b, uint64(r.Size))
	b = appendString(b, r.MD5)
	return appendMap(b, r.Checksums)
}

func blobRefSize(r *objstore.BlobRef) int {
	return 3*binary.MaxVarintLen64 + len(r.ID) + len(r.MD5) + mapSize(r.Checksums)
}

func (d *decoder) blobRef() objstore.BlobRef {
	return objstore.BlobRef{ID: d.string(), Size: d.size(), MD5: d.string(), Checksums: d.stringMap()}
}

// appendBlobList appends a count and then the references in order.
func appendBlobList(b []byte, refs []objstore.BlobRef) []byte {
	b = binary.AppendUvarint(b, uint64(len(refs)))
	for i := range refs {
		b = appendBlobRef(b, &refs[i])
	}
	return b
}

func (d *decoder) blobList() []objstore.BlobRef {
	// A reference takes at least four bytes: three empty fields and a
	// zero size.
	n := d.count(4)
	if n == 0 {
		return nil
	}
	out := make([]objstore.BlobRef, 0, n)
	for range n {
		out = append(out, d.blobRef())
	}
	if d.err != nil {
		return nil
	}
	return out
}

// appendRecord encodes an object's metadata record. Key is not stored in
// the record: it is the bbolt key. The body location follows from Blobs.
func appendRecord(b []byte, in *objstore.ObjectInfo) []byte {
	loc := byte(bodyInline)
	if in.Blobs != nil {
		loc = bodyBlobs
	}
	b = append(b, recordVersion, loc)
	b = appendTime(b, in.LastModified)
	b = appendInfo(b, in)
	b = appendString(b, in.ChecksumType)
	b = binary.AppendUvarint(b, uint64(in.PartsCount))
	if loc == bodyBlobs {
		b = appendBlobList(b, in.Blobs)
	}
	return b
}

// decodeRecord decodes a record written by appendRecord. The returned
// info's strings and maps are copies; v may be bbolt memory that dies with
// the transaction.
func decodeRecord(key, v []byte) (objstore.ObjectInfo, error) {
	return decodeRecordFields(key, v, true)
}

// decodeRecordMeta is decodeRecord without the blob list (Blobs stays
// nil): a listing page needs sizes and ETags, and a 10,000-part record's
// list is about a megabyte.
func decodeRecordMeta(key, v []byte) (objstore.ObjectInfo, error) {
	return decodeRecordFields(key, v, false)
}

func decodeRecordFields(key, v []byte, withBlobs bool) (objstore.ObjectInfo, error) {
	d := decoder{b: v}
	info := objstore.ObjectInfo{Key: string(key)}
	ver := d.byte()
	if d.err == nil && (ver < 1 || ver > recordVersion) {
		return info, fmt.Errorf("raftfsm: object record %q: unsupported version %d", key, ver)
	}
	loc := d.byte()
	if d.err == nil && loc != bodyInline && (ver < 3 || loc != bodyBlobs) {
		return info, fmt.Errorf("raftfsm: object record %q: unsupported body location %d", key, loc)
	}
	info.LastModified = unixTime(d.varint())
	d.info(&info, ver >= 2)
	if ver >= 3 {
		info.ChecksumType = d.string()
		info.PartsCount = d.bounded(objstore.MaxParts)
		if !withBlobs {
			if d.err != nil {
				return info, fmt.Errorf("raftfsm: object record %q: %w", key, d.err)
			}
			return info, nil
		}
		if loc == bodyBlobs {
			info.Blobs = d.blobList()
			if info.Blobs == nil {
				info.Blobs = []objstore.BlobRef{}
			}
		}
	}
	if err := d.done(); err != nil {
		return info, fmt.Errorf("raftfsm: object record %q: %w", key, err)
	}
	return info, nil
}

// appendBucketRecord encodes a bucket's record: version, creation time and
// (version 2) the CORS rules. Name is not stored: it is the bbolt key.
func appendBucketRecord(b []byte, info *objstore.BucketInfo) []byte {
	b = append(b, bucketRecordVersion)
	b = appendTime(b, info.Created)
	return appendCORS(b, info.CORS)
}

func decodeBucketRecord(name, v []byte) (objstore.BucketInfo, error) {
	d := decoder{b: v}
	ver := d.byte()
	if d.err == nil && ver != 1 && ver != bucketRecordVersion {
		return objstore.BucketInfo{}, fmt.Errorf("raftfsm: bucket record %q: unsupported version %d", name, ver)
	}
	info := objstore.BucketInfo{Name: string(name), Created: unixTime(d.varint())}
	if ver >= 2 {
		info.CORS = d.cors()
	}
	if err := d.done(); err != nil {
		return objstore.BucketInfo{}, fmt.Errorf("raftfsm: bucket record %q: %w", name, err)
	}
	return info, nil
}

// appliedRecord is the meta value holding the last applied index and term:
// two big-endian uint64s.
func appendApplied(b []byte, index, term uint64) []byte {
	b = binary.BigEndian.AppendUint64(b, index)
	return binary.BigEndian.AppendUint64(b, term)
}

func decodeApplied(v []byte) (index, term uint64, err error) {
	if v == nil {
		return 0, 0, nil // fresh store
	}
	if len(v) != 16 {
		return 0, 0, fmt.Errorf("raftfsm: applied-index record of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), nil
}
