package objstore

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// BucketInfo describes one bucket.
type BucketInfo struct {
	Name    string
	Created time.Time
	// CORS is the bucket's CORS configuration, rules in the order the
	// client gave them; nil when the bucket has none.
	CORS []CORSRule
}

// CORSRule is one rule of a bucket's CORS configuration, as S3's
// CORSConfiguration document holds it. Values are kept as the client sent
// them (GetBucketCors returns them verbatim); matching is the HTTP layer's.
type CORSRule struct {
	ID             string
	AllowedOrigins []string
	AllowedMethods []string
	AllowedHeaders []string
	ExposeHeaders  []string
	// MaxAgeSeconds is -1 when the rule sets none.
	MaxAgeSeconds int64
}

// ObjectInfo is the metadata record of one object version. ETag is the
// unquoted lowercase hex digest (MD5 of the body for single-part uploads);
// the HTTP layer adds the quotes S3 clients expect.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
	ContentType  string
	// Headers holds the other standard headers S3 stores with an object and
	// returns verbatim (Cache-Control, Content-Disposition, Content-Encoding,
	// Content-Language, Expires), keyed by canonical header name.
	Headers map[string]string
	// UserMeta holds x-amz-meta-* values keyed by the lowercase suffix after
	// "x-amz-meta-".
	UserMeta map[string]string
	// Checksums holds full-object checksums the client supplied and the
	// server verified, keyed by lowercase algorithm name ("crc32", "crc32c",
	// "crc64nvme", "md5", "sha1", "sha256", "sha512", "xxhash64",
	// "xxhash3", "xxhash128"), values base64 as S3 returns them. An "md5"
	// entry is an x-amz-checksum-md5 the client sent, not the ETag: a
	// Content-MD5 alone leaves none.
	Checksums map[string]string
	// Tags is the object's tag set (at most 10 pairs, validated by the HTTP
	// layer); nil when it has none. Tags change without changing ETag or
	// LastModified, as in S3.
	Tags map[string]string
	// ChecksumType is ChecksumFullObject or ChecksumComposite; "" means
	// full-object (every single-part write).
	ChecksumType string
	// Blobs lists, in order, the blobs holding the body when it does not
	// live inline in the state machine: one for a large single-part
	// object, one per part for a multipart one. nil for inline bodies.
	Blobs []BlobRef
	// PartsCount is the number of parts of an object written by
	// CompleteMultipartUpload (x-amz-mp-parts-count), 0 otherwise.
	PartsCount int
}

// PutRequest is a fully validated PutObject, body included. The receiving
// node computes ETag and verifies checksums before proposing it; the state
// machine trusts these fields and only evaluates the preconditions.
type PutRequest struct {
	Bucket string
	Key    string
	Body   []byte
	// Blob, when not nil, holds the body instead of Body (which is then
	// empty): it is already stored on a majority of the nodes.
	Blob *BlobRef
	Info ObjectInfo // Key, Size and ETag must match the body; LastModified is set by the leader.
	// IfMatch, when not empty, makes the write succeed only if the current
	// object's ETag equals it (quotes stripped); "*" matches any existing
	// object. A missing object yields ErrNoSuchKey.
	IfMatch string
	// IfNoneMatch "*" makes the write succeed only if no object exists under
	// the key. Other values are rejected by the HTTP layer.
	IfNoneMatch string
}

// CopyRequest is a fully validated CopyObject. The state machine reads the
// source, evaluates every condition and writes the destination in one step,
// so a copy is atomic: it copies one committed version of the source, and
// its destination conditions are a compare-and-set like PutRequest's.
type CopyRequest struct {
	SrcBucket, SrcKey string
	Bucket, Key       string

	// Conditions on the source (x-amz-copy-source-if-*). A failed one
	// yields ErrPreconditionFailed. As in S3, a true SrcIfMatch overrides a
	// false SrcIfUnmodifiedSince, and a false SrcIfNoneMatch makes the copy
	// fail whatever SrcIfModifiedSince says. Dates compare against the
	// source's LastModified truncated to whole seconds; zero means absent.
	SrcIfMatch           string
	SrcIfNoneMatch       string
	SrcIfModifiedSince   time.Time
	SrcIfUnmodifiedSince time.Time

	// IfMatch and IfNoneMatch are conditions on the destination, with
	// PutRequest's meaning.
	IfMatch     string
	IfNoneMatch string

	// ReplaceMetadata (x-amz-metadata-directive: REPLACE) stores
	// ContentType, Headers and UserMeta instead of the source's.
	ReplaceMetadata bool
	ContentType     string
	Headers         map[string]string
	UserMeta        map[string]string

	// ReplaceTags (x-amz-tagging-directive: REPLACE) stores Tags instead of
	// the source's tag set.
	ReplaceTags bool
	Tags        map[string]string

	// ChecksumAlgorithm, when set (lowercase, e.g. "crc32"), makes the copy
	// carry a checksum of that algorithm instead of the source's ones; the
	// state machine computes it from the body when the source lacks it.
	ChecksumAlgorithm string

	// Blob and SrcETag are set by the node, not the HTTP layer, when the
	// source's body lives in blobs: the node copies the bytes into Blob
	// first, and the state machine writes the destination only if the
	// source still has ETag SrcETag (else the node copies again).
	Blob    *BlobRef
	SrcETag string
}

// ListOptions selects one page of a bucket listing.
type ListOptions struct {
	Prefix    string
	Delimiter string
	// StartAfter is an exclusive lower bound on returned keys. A common
	// prefix that sorts at or before StartAfter is not returned again, so a
	// continuation can resume after a rolled-up prefix.
	StartAfter string
	// MaxKeys bounds Objects plus CommonPrefixes; 0 returns an empty page.
	MaxKeys int
}

// ListResult is one page of a listing, keys in UTF-8 byte order. Its
// ObjectInfos leave Blobs nil (a listing needs no body layout).
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextStartAfter is the last key or common prefix in this page; passing
	// it as StartAfter continues the listing. Empty unless IsTruncated.
	NextStartAfter string
}

// Errors the state machine and the node return as values. Callers compare
// with errors.Is; the HTTP layer maps each to exactly one S3 error code.
var (
	// ErrNoSuchBucket: the bucket does not exist. Nothing was changed.
	ErrNoSuchBucket = errors.New("no such bucket")
	// ErrNoSuchKey: the object does not exist. Nothing was changed.
	ErrNoSuchKey = errors.New("no such key")
	// ErrBucketExists: CreateBucket on an existing bucket (this store has a
	// single owner, so S3 calls it BucketAlreadyOwnedByYou).
	ErrBucketExists = errors.New("bucket already exists")
	// ErrBucketNotEmpty: DeleteBucket on a bucket that still holds objects.
	ErrBucketNotEmpty = errors.New("bucket not empty")
	// ErrPreconditionFailed: an If-Match / If-None-Match condition was false
	// at the write's position in the log. Nothing was changed.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrUnavailable: the cluster could not serve the request now (no
	// leader, leadership lost, quorum unreachable, shutting down). For a
	// write the outcome is unknown: it may or may not have been applied.
	// Clients should retry.
	ErrUnavailable = errors.New("service unavailable")
	// ErrSlowDown: the node shed the request because a configured bound was
	// reached. Nothing was changed; clients should back off and retry.
	ErrSlowDown = errors.New("slow down")

	// ErrNoSpace: a node could not write to its disk because the file
	// system is full, over quota, or below the blob store's reserve. It
	// wraps ErrUnavailable and promises no more: a blob that could not be
	// stored changed nothing, but a write whose Raft entry or state
	// machine commit hit the full disk has an unknown outcome. Clients
	// should retry; the node accepts writes again once space is freed.
	ErrNoSpace = fmt.Errorf("%w: out of disk space", ErrUnavailable)
	// ErrReadOnly: as ErrNoSpace, for a data directory that is read-only
	// or not writable (EROFS, EACCES, EPERM).
	ErrReadOnly = fmt.Errorf("%w: data directory not writable", ErrUnavailable)
)

// ETagMatches reports whether list, the value of an If-Match or
// If-None-Match style header (comma-separated entity tags, quoted or not,
// possibly weak, or "*"), names etag. Both the HTTP layer (GET/HEAD
// preconditions) and the state machine (copy-source conditions) use it, so
// the two can never disagree.
func ETagMatches(list, etag string) bool {
	for cand := range strings.SplitSeq(list, ",") {
		cand = strings.TrimPrefix(strings.TrimSpace(cand), "W/")
		if cand == "*" || strings.Trim(cand, `"`) == etag {
			return true
		}
	}
	return false
}
