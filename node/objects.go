package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/raftfsm"
	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// Large objects and multipart uploads (the rest of s3api.Backend). Bodies
// above the HTTP layer's inline threshold arrive as blobs already stored
// on a majority by StoreBlob; the commands below only reference them.

// inlineBody is a body the state machine stored inline, copied out of it.
type inlineBody []byte

func (b inlineBody) Open(_ context.Context, off, length int64) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b[off : off+length])), nil
}

// blobBody reads an object stored as a sequence of blobs (one per part).
type blobBody struct {
	n     *Node
	blobs []BlobRef
}

// Open opens the part holding off at once, so that a body that cannot be
// read at all fails before the caller has answered anything; later parts
// are opened one at a time as the reader reaches them, so a read holds
// one file (or one fetch from a peer) at a time.
//
// The blobs are held until Close: if the object is overwritten or deleted
// during a long read, nothing on this node removes the parts the read has
// yet to open, neither the garbage drain nor the orphan collector
// (blobgc.go, "Read holds").
func (b *blobBody) Open(ctx context.Context, off, length int64) (io.ReadCloser, error) {
	b.n.blobs().hold(b.blobs)
	r := &partsReader{ctx: ctx, body: b, off: off, left: length}
	if length > 0 {
		if err := r.next(); err != nil {
			b.n.blobs().unhold(b.blobs)
			return nil, err
		}
	}
	return r, nil
}

type partsReader struct {
	ctx    context.Context
	body   *blobBody
	off    int64 // object offset of the next byte to open
	left   int64 // bytes not yet opened
	cur    io.ReadCloser
	closed bool
}

// next opens the part containing r.off.
func (r *partsReader) next() error {
	start := int64(0)
	for _, ref := range r.body.blobs {
		if r.off < start+ref.Size {
			partOff := r.off - start
			n := min(ref.Size-partOff, r.left)
			rc, err := r.body.n.OpenBlob(r.ctx, ref, partOff, n)
			if err != nil {
				return err
			}
			r.cur, r.off, r.left = rc, r.off+n, r.left-n
			return nil
		}
		start += ref.Size
	}
	return fmt.Errorf("%w: offset %d is past the object's blobs", objstore.ErrUnavailable, r.off)
}

func (r *partsReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.left == 0 {
				return 0, io.EOF
			}
			if err := r.next(); err != nil {
				return 0, err
			}
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			err = r.cur.Close()
			r.cur = nil
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		return n, err
	}
}

func (r *partsReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	defer r.body.n.blobs().unhold(r.body.blobs)
	if r.cur == nil {
		return nil
	}
	err := r.cur.Close()
	r.cur = nil
	return err
}

// copyAttempts bounds how often CopyObject copies a blob-backed source
// that keeps changing under it before giving up with ErrSlowDown.
const copyAttempts = 3

// CopyObject copies an object in one command: the state machine reads the
// source and writes the destination at the same log position. A
// blob-backed source's bytes are first copied into a new blob (blobs are
// never shared between records), and the command carries the source ETag
// they were copied from: if the source changed meanwhile, the state machine
// refuses and the copy is redone.
func (n *Node) CopyObject(ctx context.Context, req *objstore.CopyRequest) (objstore.ObjectInfo, error) {
	// ctx may have no deadline (the S3 layer cannot bound a copy of
	// gigabytes): the barrier and the proposal get ApplyTimeout each; the
	// byte copy runs as long as ctx lives.
	bounded := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	}
	for range copyAttempts {
		bctx, cancel := bounded()
		err := n.readBarrier(bctx)
		cancel()
		if err != nil {
			return objstore.ObjectInfo{}, err
		}
		cmd := *req
		cmd.Blob, cmd.SrcETag = nil, ""
		src, err := n.fsm.HeadObject(req.SrcBucket, req.SrcKey)
		if err == nil && src.Blobs != nil {
			if src.Size > objstore.MaxSinglePut {
				return objstore.ObjectInfo{}, fmt.Errorf("%w: copy source is %d bytes", objstore.ErrEntityTooLarge, src.Size)
			}
			ref, err := n.copyBlobs(ctx, src, req.ChecksumAlgorithm)
			if err != nil {
				return objstore.ObjectInfo{}, err
			}
			cmd.Blob, cmd.SrcETag = &ref, src.ETag
		}
		// Missing sources and buckets are left to the state machine,
		// which reports them in S3's order.
		pctx, cancel := bounded()
		res, err := n.propose(pctx, raftfsm.NewCopyObject(&cmd))
		cancel()
		if errors.Is(err, raftfsm.ErrSourceChanged) {
			continue
		}
		if err != nil {
			return objstore.ObjectInfo{}, err
		}
		return res.Object, nil
	}
	return objstore.ObjectInfo{}, fmt.Errorf("%w: copy source kept changing", objstore.ErrSlowDown)
}

// copyBlobs copies a blob-backed object's bytes into one new blob, with
// the checksums the copy will carry (the source's algorithms, or alg).
func (n *Node) copyBlobs(ctx context.Context, src objstore.ObjectInfo, alg string) (BlobRef, error) {
	var algs []checksum.Algorithm
	names := []string{alg}
	for name := range src.Checksums {
		names = append(names, name)
	}
	for _, name := range names {
		if a, err := checksum.ParseAlgorithm(name); err == nil {
			algs = append(algs, a)
		}
	}
	rc, err := (&blobBody{n: n, blobs: src.Blobs}).Open(ctx, 0, src.Size)
	if err != nil {
		return BlobRef{}, err
	}
	defer rc.Close()
	ref, err := n.StoreBlob(ctx, rc, src.Size, algs...)
	if err != nil {
		return BlobRef{}, err
	}
	if ref.Size != src.Size {
		_ = n.DiscardBlob(ctx, ref.ID)
		return BlobRef{}, fmt.Errorf("%w: copied %d of %d bytes", objstore.ErrUnavailable, ref.Size, src.Size)
	}
	return ref, nil
}

// newUploadID returns a fresh upload ID: the clock in hex, so one key's
// uploads list in creation order, then 64 random bits.
func newUploadID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// CreateMultipartUpload starts an upload under a new ID.
//
// A bucket holds at most MaxOpenUploads open uploads; past that the
// request is shed with ErrSlowDown until some are completed or aborted.
// The count is this node's view, checked before proposing: a soft bound
// that concurrent creations may overshoot by a few, which is all a bound
// against unbounded growth needs.
func (n *Node) CreateMultipartUpload(ctx context.Context, u *objstore.Upload) (objstore.Upload, error) {
	open, err := n.fsm.OpenUploads(u.Bucket, n.cfg.MaxOpenUploads)
	if err != nil {
		return objstore.Upload{}, err
	}
	if open >= n.cfg.MaxOpenUploads {
		return objstore.Upload{}, fmt.Errorf("%w: bucket %s has %d open multipart uploads; complete or abort some", objstore.ErrSlowDown, u.Bucket, open)
	}
	up := *u
	up.UploadID = newUploadID()
	res, err := n.propose(ctx, raftfsm.NewCreateMultipartUpload(&up))
	if err != nil {
		return objstore.Upload{}, err
	}
	up.Initiated = res.Object.LastModified
	return up, nil
}

// UploadPart records a part whose blob is stored. On ErrNoSuchUpload (or
// any other definite failure) the state machine lists the blob as garbage.
func (n *Node) UploadPart(ctx context.Context, req *objstore.UploadPartRequest) (objstore.PartInfo, error) {
	res, err := n.propose(ctx, raftfsm.NewUploadPart(req))
	if err != nil {
		return objstore.PartInfo{}, err
	}
	return objstore.PartInfo{PartNumber: req.PartNumber, LastModified: res.Object.LastModified, Blob: req.Blob}, nil
}

// CompleteMultipartUpload writes the object from the listed parts.
func (n *Node) CompleteMultipartUpload(ctx context.Context, req *objstore.CompleteRequest) (objstore.ObjectInfo, error) {
	res, err := n.propose(ctx, raftfsm.NewCompleteMultipartUpload(req))
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	return res.Object, nil
}

// AbortMultipartUpload deletes an upload; its part blobs become garbage.
func (n *Node) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	_, err := n.propose(ctx, raftfsm.NewAbortMultipartUpload(bucket, key, uploadID))
	return err
}

// ListParts returns an upload and one page of its parts.
func (n *Node) ListParts(ctx context.Context, bucket, key, uploadID string, marker, maxParts int) (objstore.ListPartsResult, error) {
	if err := n.readBarrier(ctx); err != nil {
		return objstore.ListPartsResult{}, err
	}
	return n.fsm.ListParts(bucket, key, uploadID, marker, maxParts)
}

// ListMultipartUploads returns one page of a bucket's uploads.
func (n *Node) ListMultipartUploads(ctx context.Context, bucket string, opts objstore.ListUploadsOptions) (objstore.ListUploadsResult, error) {
	if err := n.readBarrier(ctx); err != nil {
		return objstore.ListUploadsResult{}, err
	}
	return n.fsm.ListUploads(bucket, opts)
}
