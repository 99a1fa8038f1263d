package objstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// BlobRef names one immutable, replicated blob file holding an object's
// body or one part of it (see package blobstore). The receiving node fixes
// every field before the command that refers to the blob is proposed; the
// state machine stores them verbatim and a node that fetches the blob from
// a peer verifies the copy against Size and MD5.
type BlobRef struct {
	// ID is 32 lowercase hex digits (blobstore.ValidID).
	ID   string
	Size int64
	// MD5 is the lowercase hex MD5 of the blob: the ETag of a single-part
	// object, the ETag of a multipart part.
	MD5 string
	// Checksums holds the S3 checksums computed while the blob was
	// written, base64, keyed by lowercase algorithm name ("crc32c"); "md5"
	// only when asked for as a checksum (MD5 above is always there).
	Checksums map[string]string
}

// Body reads the bytes of the object version whose record it came with.
// Implementations are safe for concurrent use.
type Body interface {
	// Open returns a reader of length bytes starting at off; the caller
	// must ensure 0 <= off and off+length <= the object's Size, and must
	// Close the reader. ctx bounds the whole read, not just the Open. A
	// read error after some bytes were returned means the body could not
	// be read completely (a blob missing on every reachable node): the
	// caller must not present the bytes as the whole answer.
	Open(ctx context.Context, off, length int64) (io.ReadCloser, error)
}

// Checksum types an object's or upload's checksum can have (S3's
// x-amz-checksum-type).
const (
	// ChecksumFullObject: the checksum covers the whole body, as if it
	// had been computed in one pass.
	ChecksumFullObject = "FULL_OBJECT"
	// ChecksumComposite: a multipart checksum of the part checksums,
	// base64(H(part1 || part2 ...)) + "-N".
	ChecksumComposite = "COMPOSITE"
)

// Upload is one multipart upload: what CreateMultipartUpload fixed for the
// object Complete will write.
type Upload struct {
	Bucket, Key string
	// UploadID is chosen by the node that received CreateMultipartUpload:
	// printable, unique, and sorting by creation time on one node.
	UploadID  string
	Initiated time.Time // set by the leader
	// ContentType, Headers, UserMeta and Tags are the future object's,
	// with ObjectInfo's meaning.
	ContentType string
	Headers     map[string]string
	UserMeta    map[string]string
	Tags        map[string]string
	// ChecksumAlgorithm is the lowercase algorithm every part must carry
	// ("crc32", ...), "" for none. ChecksumType is ChecksumComposite or
	// ChecksumFullObject when an algorithm is set, "" otherwise.
	ChecksumAlgorithm string
	ChecksumType      string
}

// ValidUploadID reports whether id has the form of an upload ID: 1 to 128
// characters of [0-9A-Za-z._-]. The node issues only such IDs, the state
// machine refuses others, and the HTTP layer answers NoSuchUpload for
// them without asking, as S3 answers an unknown ID. The character set also
// keeps an ID's bytes above every part number's first byte, which the
// state machine's part keys rely on.
func ValidUploadID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// PartInfo is one uploaded part. Blob.MD5 is the part's ETag, Blob.Size
// its size and Blob.Checksums its checksums.
type PartInfo struct {
	PartNumber   int
	LastModified time.Time
	Blob         BlobRef
}

// UploadPartRequest adds (or replaces) part PartNumber of an upload. The
// blob is already stored on a majority; the state machine records it.
type UploadPartRequest struct {
	Bucket, Key, UploadID string
	PartNumber            int
	Blob                  BlobRef
}

// CompletePart is one entry of a CompleteMultipartUpload request body.
type CompletePart struct {
	PartNumber int
	// ETag is the part's ETag as the client sent it (quotes allowed).
	ETag string
	// Checksums are the part checksums the client listed, base64, keyed
	// by lowercase algorithm name; each must equal the stored one.
	Checksums map[string]string
}

// CompleteRequest is a validated CompleteMultipartUpload. The state machine
// checks the parts against the upload (NoSuchUpload, InvalidPartOrder,
// InvalidPart, EntityTooSmall), evaluates IfMatch / IfNoneMatch with
// PutRequest's meaning, and writes the object.
type CompleteRequest struct {
	Bucket, Key, UploadID string
	Parts                 []CompletePart
	IfMatch, IfNoneMatch  string
	// Checksums are full-object checksums the client sent as headers with
	// the Complete (x-amz-checksum-*); each must equal the one computed
	// from the parts, else ErrBadDigest.
	Checksums map[string]string
	// DefaultChecksum asks, for an upload created without a checksum
	// algorithm, for S3's default: a full-object CRC64NVME combined from
	// the CRC64NVME recorded with every part (none if a part lacks one).
	// It travels in the command, rather than being implied, so that the
	// same log entry applies the same way on every node and every version.
	DefaultChecksum bool
}

// ListUploadsOptions selects one page of ListMultipartUploads.
type ListUploadsOptions struct {
	Prefix, Delimiter string
	// KeyMarker and UploadIDMarker continue a listing: uploads of keys
	// after KeyMarker, plus, when UploadIDMarker is set, KeyMarker's own
	// uploads with IDs after it (as S3 does, an empty UploadIDMarker skips
	// all of KeyMarker's uploads).
	KeyMarker, UploadIDMarker string
	// MaxUploads bounds Uploads plus CommonPrefixes.
	MaxUploads int
}

// ListUploadsResult is one page of ListMultipartUploads, ordered by key and
// then by upload ID.
type ListUploadsResult struct {
	Uploads                           []Upload
	CommonPrefixes                    []string
	IsTruncated                       bool
	NextKeyMarker, NextUploadIDMarker string
}

// ListPartsResult is one page of ListParts.
type ListPartsResult struct {
	Upload               Upload
	Parts                []PartInfo
	IsTruncated          bool
	NextPartNumberMarker int
}

// Multipart limits, as S3 enforces them.
const (
	MaxParts      = 10000
	MinPartSize   = 5 << 20 // every part but the last
	MaxPartSize   = 5 << 30
	MaxObjectSize = 5 << 40 // 5 TiB, a multipart object
	MaxSinglePut  = 5 << 30 // 5 GiB, PutObject and CopyObject
)

// Multipart errors, returned like the sentinels in objstore.go.
var (
	// ErrNoSuchUpload: the upload does not exist (never created, completed
	// or aborted). Nothing was changed.
	ErrNoSuchUpload = errors.New("no such upload")
	// ErrInvalidPart: a listed part was not uploaded, or its ETag or
	// checksum differs from the stored part.
	ErrInvalidPart = errors.New("invalid part")
	// ErrInvalidPartOrder: the listed part numbers do not strictly ascend.
	ErrInvalidPartOrder = errors.New("invalid part order")
	// ErrEntityTooSmall: a listed part other than the last is under
	// MinPartSize.
	ErrEntityTooSmall = errors.New("entity too small")
	// ErrBadDigest: a checksum the client sent does not match the data.
	ErrBadDigest = errors.New("bad digest")
	// ErrEntityTooLarge: a body went past the size limit it was given.
	ErrEntityTooLarge = errors.New("entity too large")
)
