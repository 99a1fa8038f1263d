package raftfsm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strongboxdb/strongbox/objstore"
)

// CommandType says which operation a Command carries. The values are part
// of the log format: never renumber them.
type CommandType uint8

// Command types. Zero is deliberately unused so a zeroed envelope is
// rejected rather than read as a real operation.
const (
	TypeCreateBucket CommandType = 1
	TypeDeleteBucket CommandType = 2
	TypePutObject    CommandType = 3
	TypeDeleteObject CommandType = 4
	// TypeNoop changes nothing but the applied index. A new leader proposes
	// one so that its term has an entry the FSM observes, which the read
	// path can wait for.
	TypeNoop CommandType = 5

	// Types added with envelope version 2.

	// TypeCopyObject reads a source object and writes a destination in
	// one step (objstore.CopyRequest).
	TypeCopyObject CommandType = 6
	// TypeDeleteObjects deletes a batch of keys from one bucket.
	TypeDeleteObjects CommandType = 7
	// TypePutObjectTagging replaces an object's tag set (nil removes it).
	TypePutObjectTagging CommandType = 8
	// TypePutBucketCors replaces a bucket's CORS rules (nil removes them).
	TypePutBucketCors CommandType = 9

	// Types added with envelope version 3, which also gave PutObject and
	// CopyObject an optional blob reference.

	// TypeCreateMultipartUpload starts an upload (objstore.Upload).
	TypeCreateMultipartUpload CommandType = 10
	// TypeUploadPart records (or replaces) one part's blob.
	TypeUploadPart CommandType = 11
	// TypeCompleteMultipartUpload turns listed parts into an object.
	TypeCompleteMultipartUpload CommandType = 12
	// TypeAbortMultipartUpload deletes an upload and its parts.
	TypeAbortMultipartUpload CommandType = 13

	// Types added with envelope version 5.

	// TypeSetClusterID records the cluster's identity (Command.ClusterID)
	// unless one is recorded already: the first one committed wins, later
	// ones change nothing. The node package proposes it once per cluster
	// (see FSM.ClusterID).
	TypeSetClusterID CommandType = 14
)

func (t CommandType) String() string {
	switch t {
	case TypeCreateBucket:
		return "CreateBucket"
	case TypeDeleteBucket:
		return "DeleteBucket"
	case TypePutObject:
		return "PutObject"
	case TypeDeleteObject:
		return "DeleteObject"
	case TypeNoop:
		return "Noop"
	case TypeCopyObject:
		return "CopyObject"
	case TypeDeleteObjects:
		return "DeleteObjects"
	case TypePutObjectTagging:
		return "PutObjectTagging"
	case TypePutBucketCors:
		return "PutBucketCors"
	case TypeCreateMultipartUpload:
		return "CreateMultipartUpload"
	case TypeUploadPart:
		return "UploadPart"
	case TypeCompleteMultipartUpload:
		return "CompleteMultipartUpload"
	case TypeAbortMultipartUpload:
		return "AbortMultipartUpload"
	case TypeSetClusterID:
		return "SetClusterID"
	}
	return fmt.Sprintf("CommandType(%d)", uint8(t))
}

// Encoded envelope:
//
//	byte 0      encoding version (commandVersion)
//	byte 1      CommandType
//	bytes 2-9   Time, big-endian int64 unix nanoseconds
//	bytes 10-   the type's payload
//
// Time has a fixed width and position so the leader can stamp a command
// forwarded by a follower in place (SetTime) without decoding it or copying
// its body.
//
// Version 2 added the object's tag set to the shared info fields (so to
// PutObject's payload) and types 6 to 9. Marshal writes version 2;
// UnmarshalCommand still reads version 1 entries (types 1 to 5, info
// without tags), so logs written before the change replay unchanged.
//
// Version 3 added an optional blob reference to PutObject (before the
// inline body) and to CopyObject (with the source ETag it was copied
// from), and types 10 to 13. Versions 1 and 2 still decode.
//
// Version 4 added CompleteMultipartUpload's DefaultChecksum flag after its
// parts; a version 3 Complete decodes with the flag off, as it applied.
//
// Version 5 added type 14, SetClusterID, whose payload is the 16-byte
// cluster ID (length-prefixed like every byte string).
const (
	commandVersion = 5
	headerLen      = 10
)

// knownVersion reports whether v is an envelope version this code decodes.
func knownVersion(v byte) bool { return v >= 1 && v <= commandVersion }

// maxTypeOf is the highest command type each envelope version carries.
var maxTypeOf = [...]CommandType{1: TypeNoop, 2: TypePutBucketCors, 3: TypeAbortMultipartUpload, 4: TypeAbortMultipartUpload, 5: TypeSetClusterID}

// Command is one state-machine operation: the unit a node proposes to Raft.
// Build one with the New* constructors, fill Time on the leader, and Marshal.
// A Command is a plain value: not safe for concurrent mutation, safe to
// share once no one mutates it.
type Command struct {
	Type CommandType

	// Time is the leader's clock in unix nanoseconds, fixed before the
	// command is proposed. It becomes the bucket's Created or the object's
	// LastModified; the FSM never reads a clock, so replicas agree.
	Time int64

	// Bucket names the bucket for every type but Noop. Key names the object
	// for TypeDeleteObject and TypePutObjectTagging. For TypePutObject and
	// TypeCopyObject the request's (destination) Bucket and Key are the
	// ones encoded; UnmarshalCommand copies them here too so callers can
	// route on Command.Bucket whatever the type.
	Bucket string
	Key    string

	// Put is the request of a TypePutObject command and nil otherwise.
	// Put.Info.Key and Put.Info.LastModified are not encoded: the stored
	// record takes them from Put.Key and Time.
	Put *objstore.PutRequest

	// Copy is the request of a TypeCopyObject command and nil otherwise;
	// Bucket and Key are its destination.
	Copy *objstore.CopyRequest

	// Keys are the keys a TypeDeleteObjects command deletes, in request
	// order (duplicates are harmless).
	Keys []string

	// Tags is the tag set of a TypePutObjectTagging command; nil removes
	// the object's tags.
	Tags map[string]string

	// CORS is the rule list of a TypePutBucketCors command; nil removes the
	// bucket's configuration.
	CORS []objstore.CORSRule

	// UploadID names the upload of TypeAbortMultipartUpload; the other
	// multipart types carry it in their request, and UnmarshalCommand
	// copies it here.
	UploadID string
	// Upload is the upload a TypeCreateMultipartUpload command starts
	// (Initiated is not encoded: it is Time).
	Upload *objstore.Upload
	// Part is the request of a TypeUploadPart command.
	Part *objstore.UploadPartRequest
	// Complete is the request of a TypeCompleteMultipartUpload command.
	Complete *objstore.CompleteRequest

	// ClusterID is the identity a TypeSetClusterID command records; never
	// all zeros.
	ClusterID [ClusterIDLen]byte
}

// ClusterIDLen is the length of a cluster ID (transport.ClusterID).
const ClusterIDLen = 16

// NewCreateBucket returns a command creating bucket. It fails with
// objstore.ErrBucketExists when the bucket exists.
func NewCreateBucket(bucket string) *Command {
	return &Command{Type: TypeCreateBucket, Bucket: bucket}
}

// NewDeleteBucket returns a command deleting an empty bucket.
func NewDeleteBucket(bucket string) *Command {
	return &Command{Type: TypeDeleteBucket, Bucket: bucket}
}

// NewPutObject returns a command storing req. The command keeps req (and
// its Body) by reference.
func NewPutObject(req *objstore.PutRequest) *Command {
	return &Command{Type: TypePutObject, Bucket: req.Bucket, Key: req.Key, Put: req}
}

// NewDeleteObject returns a command deleting key from bucket; deleting a
// missing key succeeds.
func NewDeleteObject(bucket, key string) *Command {
	return &Command{Type: TypeDeleteObject, Bucket: bucket, Key: key}
}

// NewNoop returns a command that only advances the applied index.
func NewNoop() *Command { return &Command{Type: TypeNoop} }

// NewSetClusterID returns a command recording the cluster's identity if
// none is recorded yet. An all-zero id is an invalid command.
func NewSetClusterID(id [ClusterIDLen]byte) *Command {
	return &Command{Type: TypeSetClusterID, ClusterID: id}
}

// NewCopyObject returns a command copying req.SrcKey to req.Key. The
// command keeps req by reference.
func NewCopyObject(req *objstore.CopyRequest) *Command {
	return &Command{Type: TypeCopyObject, Bucket: req.Bucket, Key: req.Key, Copy: req}
}

// NewDeleteObjects returns a command deleting keys from bucket; missing
// keys are not an error. It fails only when the bucket does not exist.
func NewDeleteObjects(bucket string, keys []string) *Command {
	return &Command{Type: TypeDeleteObjects, Bucket: bucket, Keys: keys}
}

// NewPutObjectTagging returns a command replacing the tag set of an
// existing object; nil or empty tags remove it.
func NewPutObjectTagging(bucket, key string, tags map[string]string) *Command {
	if len(tags) == 0 {
		tags = nil
	}
	return &Command{Type: TypePutObjectTagging, Bucket: bucket, Key: key, Tags: tags}
}

// NewPutBucketCors returns a command replacing the CORS rules of an
// existing bucket; nil or empty rules remove the configuration.
func NewPutBucketCors(bucket string, rules []objstore.CORSRule) *Command {
	if len(rules) == 0 {
		rules = nil
	}
	return &Command{Type: TypePutBucketCors, Bucket: bucket, CORS: rules}
}

// NewCreateMultipartUpload returns a command starting upload u. The
// receiving node chooses u.UploadID; it fails with ErrNoSuchBucket.
func NewCreateMultipartUpload(u *objstore.Upload) *Command {
	return &Command{Type: TypeCreateMultipartUpload, Bucket: u.Bucket, Key: u.Key, UploadID: u.UploadID, Upload: u}
}

// NewUploadPart returns a command recording a part whose blob is stored.
// It fails with ErrNoSuchBucket or ErrNoSuchUpload; either way the blob
// becomes garbage.
func NewUploadPart(req *objstore.UploadPartRequest) *Command {
	return &Command{Type: TypeUploadPart, Bucket: req.Bucket, Key: req.Key, UploadID: req.UploadID, Part: req}
}

// NewCompleteMultipartUpload returns a command completing an upload.
func NewCompleteMultipartUpload(req *objstore.CompleteRequest) *Command {
	return &Command{Type: TypeCompleteMultipartUpload, Bucket: req.Bucket, Key: req.Key, UploadID: req.UploadID, Complete: req}
}

// NewAbortMultipartUpload returns a command deleting an upload and its
// parts; ErrNoSuchUpload if it does not exist.
func NewAbortMultipartUpload(bucket, key, uploadID string) *Command {
	return &Command{Type: TypeAbortMultipartUpload, Bucket: bucket, Key: key, UploadID: uploadID}
}

// Marshal encodes c into a new slice, sized up front so a 4 KiB body is
// copied exactly once. The encoding is canonical: equal commands give equal
// bytes (maps are written in key order).
//
// Marshal panics if c is malformed (unknown Type, or TypePutObject with a
// nil Put): that is a programming error, not bad input.
func (c *Command) Marshal() []byte {
	n := headerLen + binary.MaxVarintLen64 + len(c.Bucket) + binary.MaxVarintLen64 + len(c.Key)
	switch {
	case c.Type == TypePutObject && c.Put != nil:
		p := c.Put
		n += 6*binary.MaxVarintLen64 + len(p.Bucket) + len(p.Key) + len(p.IfMatch) +
			len(p.IfNoneMatch) + len(p.Body) + infoSize(&p.Info)
		if p.Blob != nil {
			n += blobRefSize(p.Blob)
		}
	case c.Type == TypeCopyObject && c.Copy != nil:
		n += copySize(c.Copy) + 2*binary.MaxVarintLen64 + len(c.Copy.SrcETag)
		if c.Copy.Blob != nil {
			n += blobRefSize(c.Copy.Blob)
		}
	case c.Type == TypeCreateMultipartUpload && c.Upload != nil:
		n += 2*binary.MaxVarintLen64 + len(c.Upload.UploadID) + uploadFieldsSize(c.Upload)
	case c.Type == TypeUploadPart && c.Part != nil:
		n += 3*binary.MaxVarintLen64 + len(c.Part.UploadID) + blobRefSize(&c.Part.Blob)
	case c.Type == TypeCompleteMultipartUpload && c.Complete != nil:
		cr := c.Complete
		n += 4*binary.MaxVarintLen64 + len(cr.UploadID) + len(cr.IfMatch) + len(cr.IfNoneMatch) +
			mapSize(cr.Checksums) + completePartsSize(cr.Parts)
	case c.Type == TypeAbortMultipartUpload:
		n += binary.MaxVarintLen64 + len(c.UploadID)
	case c.Type == TypeDeleteObjects:
		n += listSize(c.Keys)
	case c.Type == TypePutObjectTagging:
		n += mapSize(c.Tags)
	case c.Type == TypePutBucketCors:
		n += corsSize(c.CORS)
	case c.Type == TypeSetClusterID:
		n += 1 + ClusterIDLen
	}
	b := make([]byte, headerLen, n)
	b[0], b[1] = commandVersion, byte(c.Type)
	binary.BigEndian.PutUint64(b[2:headerLen], uint64(c.Time))

	switch c.Type {
	case TypeCreateBucket, TypeDeleteBucket:
		b = appendString(b, c.Bucket)
	case TypeDeleteObject:
		b = appendString(b, c.Bucket)
		b = appendString(b, c.Key)
	case TypePutObject:
		if c.Put == nil {
			panic("raftfsm: Marshal of a PutObject command with nil Put")
		}
		p := c.Put
		b = appendString(b, p.Bucket)
		b = appendString(b, p.Key)
		b = appendString(b, p.IfMatch)
		b = appendString(b, p.IfNoneMatch)
		b = appendInfo(b, &p.Info)
		b = appendOptionalBlob(b, p.Blob)
		b = appendBytes(b, p.Body) // last: the bulk of the entry
	case TypeCopyObject:
		if c.Copy == nil {
			panic("raftfsm: Marshal of a CopyObject command with nil Copy")
		}
		b = appendCopy(b, c.Copy)
		b = appendOptionalBlob(b, c.Copy.Blob)
		b = appendString(b, c.Copy.SrcETag)
	case TypeCreateMultipartUpload:
		if c.Upload == nil {
			panic("raftfsm: Marshal of a CreateMultipartUpload command with nil Upload")
		}
		u := c.Upload
		b = appendString(b, u.Bucket)
		b = appendString(b, u.Key)
		b = appendString(b, u.UploadID)
		b = appendUploadFields(b, u)
	case TypeUploadPart:
		if c.Part == nil {
			panic("raftfsm: Marshal of an UploadPart command with nil Part")
		}
		p := c.Part
		b = appendString(b, p.Bucket)
		b = appendString(b, p.Key)
		b = appendString(b, p.UploadID)
		b = binary.AppendUvarint(b, uint64(p.PartNumber))
		b = appendBlobRef(b, &p.Blob)
	case TypeCompleteMultipartUpload:
		if c.Complete == nil {
			panic("raftfsm: Marshal of a CompleteMultipartUpload command with nil Complete")
		}
		cr := c.Complete
		b = appendString(b, cr.Bucket)
		b = appendString(b, cr.Key)
		b = appendString(b, cr.UploadID)
		b = appendString(b, cr.IfMatch)
		b = appendString(b, cr.IfNoneMatch)
		b = appendMap(b, cr.Checksums)
		b = appendCompleteParts(b, cr.Parts)
		b = appendBool(b, cr.DefaultChecksum)
	case TypeAbortMultipartUpload:
		b = appendString(b, c.Bucket)
		b = appendString(b, c.Key)
		b = appendString(b, c.UploadID)
	case TypeDeleteObjects:
		b = appendString(b, c.Bucket)
		b = appendList(b, c.Keys)
	case TypePutObjectTagging:
		b = appendString(b, c.Bucket)
		b = appendString(b, c.Key)
		b = appendMap(b, c.Tags)
	case TypePutBucketCors:
		b = appendString(b, c.Bucket)
		b = appendCORS(b, c.CORS)
	case TypeSetClusterID:
		b = appendBytes(b, c.ClusterID[:])
	case TypeNoop:
	default:
		panic(fmt.Sprintf("raftfsm: Marshal of unknown command type %d", c.Type))
	}
	return b
}

// UnmarshalCommand decodes bytes produced by Marshal. Any malformed input
// (unknown version or type, truncation, lengths past the end, trailing
// bytes, unordered map keys) yields an error wrapping ErrInvalidCommand;
// it never panics and allocates no more than the input's size.
//
// The returned Command aliases data: Put.Body is a sub-slice of it, which
// saves a copy of every body on the apply path. Do not modify data while
// the Command is in use.
func UnmarshalCommand(data []byte) (*Command, error) {
	if len(data) < headerLen {
		return nil, fmt.Errorf("%w: %d-byte envelope", ErrInvalidCommand, len(data))
	}
	version := data[0]
	if !knownVersion(version) {
		return nil, fmt.Errorf("%w: unknown encoding version %d", ErrInvalidCommand, version)
	}
	c := &Command{
		Type: CommandType(data[1]),
		Time: int64(binary.BigEndian.Uint64(data[2:headerLen])),
	}
	if c.Type > maxTypeOf[version] {
		return nil, fmt.Errorf("%w: type %d in a version %d envelope", ErrInvalidCommand, data[1], version)
	}
	d := decoder{b: data[headerLen:]}
	switch c.Type {
	case TypeCreateBucket, TypeDeleteBucket:
		c.Bucket = d.string()
	case TypeDeleteObject:
		c.Bucket = d.string()
		c.Key = d.string()
	case TypePutObject:
		p := &objstore.PutRequest{}
		p.Bucket = d.string()
		p.Key = d.string()
		p.IfMatch = d.string()
		p.IfNoneMatch = d.string()
		d.info(&p.Info, version >= 2)
		if version >= 3 {
			p.Blob = d.optionalBlob()
		}
		p.Body = d.bytes()
		p.Info.Key = p.Key
		c.Bucket, c.Key, c.Put = p.Bucket, p.Key, p
	case TypeCopyObject:
		cp := d.copyRequest()
		if version >= 3 {
			cp.Blob = d.optionalBlob()
			cp.SrcETag = d.string()
		}
		c.Bucket, c.Key, c.Copy = cp.Bucket, cp.Key, cp
	case TypeCreateMultipartUpload:
		u := &objstore.Upload{Bucket: d.string(), Key: d.string(), UploadID: d.string()}
		d.uploadFields(u)
		c.Bucket, c.Key, c.UploadID, c.Upload = u.Bucket, u.Key, u.UploadID, u
	case TypeUploadPart:
		p := &objstore.UploadPartRequest{Bucket: d.string(), Key: d.string(), UploadID: d.string()}
		p.PartNumber = d.bounded(objstore.MaxParts + 1)
		p.Blob = d.blobRef()
		c.Bucket, c.Key, c.UploadID, c.Part = p.Bucket, p.Key, p.UploadID, p
	case TypeCompleteMultipartUpload:
		cr := &objstore.CompleteRequest{Bucket: d.string(), Key: d.string(), UploadID: d.string()}
		cr.IfMatch = d.string()
		cr.IfNoneMatch = d.string()
		cr.Checksums = d.stringMap()
		cr.Parts = d.completeParts()
		if version >= 4 {
			cr.DefaultChecksum = d.bool()
		}
		c.Bucket, c.Key, c.UploadID, c.Complete = cr.Bucket, cr.Key, cr.UploadID, cr
	case TypeAbortMultipartUpload:
		c.Bucket = d.string()
		c.Key = d.string()
		c.UploadID = d.string()
	case TypeDeleteObjects:
		c.Bucket = d.string()
		c.Keys = d.list()
	case TypePutObjectTagging:
		c.Bucket = d.string()
		c.Key = d.string()
		c.Tags = d.stringMap()
	case TypePutBucketCors:
		c.Bucket = d.string()
		c.CORS = d.cors()
	case TypeSetClusterID:
		if id := d.bytes(); d.err == nil && len(id) != ClusterIDLen {
			d.fail(fmt.Errorf("%d-byte cluster ID", len(id)))
		} else {
			copy(c.ClusterID[:], id)
		}
	case TypeNoop:
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrInvalidCommand, data[1])
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidCommand, c.Type, err)
	}
	return c, nil
}

// SetTime overwrites the Time of an encoded command in place. The leader
// uses it on commands forwarded by followers: it stamps its own clock
// without decoding the payload or copying the body. Only the envelope is
// checked; a corrupt payload is still caught when the entry is applied.
// On a decoded Command, set the Time field instead.
func SetTime(data []byte, unixNano int64) error {
	if len(data) < headerLen || !knownVersion(data[0]) {
		return fmt.Errorf("%w: cannot stamp time: not a known envelope version", ErrInvalidCommand)
	}
	binary.BigEndian.PutUint64(data[2:headerLen], uint64(unixNano))
	return nil
}

// Result is what applying one log entry produced; ApplyBatch and Apply
// return a *Result for every entry, and raft hands it to the proposer as
// ApplyFuture.Response().
type Result struct {
	// Err is nil on success, an objstore sentinel for client outcomes
	// (ErrNoSuchBucket, ErrPreconditionFailed, ...), or wraps
	// ErrInvalidCommand, ErrStoreFailed or ErrClosed. With any Err the
	// entry changed nothing but, except for ErrStoreFailed and ErrClosed,
	// the applied index.
	Err error
	// Object is the stored record of a successful PutObject (Key and
	// LastModified filled in); zero otherwise.
	Object objstore.ObjectInfo
	// Index is the entry's Raft log index.
	Index uint64
}

// Result wire format, for a leader answering a forwarding follower:
//
//	byte 0   resultVersion
//	byte 1   error code (0 = nil)
//	         if code != 0: the error's message, length-prefixed
//	uvarint  Index
//	byte     1 if Object follows, else 0
//	         Object: Key, LastModified, then the shared info fields
//
// Version 2 added the tag set to the info fields; version 3 the checksum
// type and parts count after them. Older versions still decode.
const resultVersion = 3

// codeOther is any error not in wireErrors. Codes are part of the wire
// format: append, never renumber.
const codeOther = 255

var wireErrors = []error{
	1:  objstore.ErrNoSuchBucket,
	2:  objstore.ErrNoSuchKey,
	3:  objstore.ErrBucketExists,
	4:  objstore.ErrBucketNotEmpty,
	5:  objstore.ErrPreconditionFailed,
	6:  objstore.ErrUnavailable,
	7:  objstore.ErrSlowDown,
	8:  ErrInvalidCommand,
	9:  ErrStoreFailed,
	10: ErrClosed,
	11: objstore.ErrNoSuchUpload,
	12: objstore.ErrInvalidPart,
	13: objstore.ErrInvalidPartOrder,
	14: objstore.ErrEntityTooSmall,
	15: objstore.ErrBadDigest,
	16: ErrSourceChanged,
	17: objstore.ErrEntityTooLarge,
}

func errorCode(err error) byte {
	if err == nil {
		return 0
	}
	for code, sentinel := range wireErrors {
		if sentinel != nil && errors.Is(err, sentinel) {
			return byte(code)
		}
	}
	return codeOther
}

// remoteError is an error decoded from the wire that is not exactly one of
// the sentinels: it keeps the sender's message and still matches the
// sentinel (if any) with errors.Is.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// MarshalResult encodes r for the wire. Err is reduced to a code plus its
// message: the receiver gets the sentinel back (errors.Is works, and an
// exact sentinel stays ==) but not any other wrapped error chain.
func MarshalResult(r *Result) []byte {
	b := make([]byte, 0, 32+len(r.Object.Key)+infoSize(&r.Object))
	code := errorCode(r.Err)
	b = append(b, resultVersion, code)
	if code != 0 {
		b = appendString(b, r.Err.Error())
	}
	b = binary.AppendUvarint(b, r.Index)
	if r.Object.Key == "" {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendString(b, r.Object.Key)
	b = appendTime(b, r.Object.LastModified)
	b = appendInfo(b, &r.Object)
	b = appendString(b, r.Object.ChecksumType)
	return binary.AppendUvarint(b, uint64(r.Object.PartsCount))
}

// UnmarshalResult decodes bytes produced by MarshalResult. Malformed input
// yields an error wrapping ErrInvalidResult; an error code this version
// does not know decodes to a generic error carrying the sender's message,
// which matches no sentinel.
func UnmarshalResult(data []byte) (*Result, error) {
	d := decoder{b: data}
	version := d.byte()
	if d.err == nil && (version < 1 || version > resultVersion) {
		return nil, fmt.Errorf("%w: unknown encoding version %d", ErrInvalidResult, version)
	}
	r := &Result{}
	if code := d.byte(); code != 0 {
		msg := d.string()
		var sentinel error
		if int(code) < len(wireErrors) {
			sentinel = wireErrors[code]
		}
		switch {
		case sentinel == nil:
			r.Err = &remoteError{msg: fmt.Sprintf("raftfsm: remote error (code %d): %s", code, msg)}
		case msg == sentinel.Error():
			r.Err = sentinel
		default:
			r.Err = &remoteError{msg: msg, sentinel: sentinel}
		}
	}
	r.Index = d.uvarint()
	switch d.byte() {
	case 0:
	case 1:
		r.Object.Key = d.string()
		r.Object.LastModified = unixTime(d.varint())
		d.info(&r.Object, version >= 2)
		if version >= 3 {
			r.Object.ChecksumType = d.string()
			r.Object.PartsCount = d.bounded(objstore.MaxParts)
		}
	default:
		d.fail(errors.New("bad object flag"))
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidResult, err)
	}
	return r, nil
}
