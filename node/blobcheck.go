package node

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/strongboxdb/strongbox/blobstore"
)

// Blob integrity: a blob file is read only through its chunk checksums
// (blobstore.OpenChecked), by OpenBlob for a GET and by the blob RPC for a
// peer's fetch, so a flipped bit, a torn write or a truncated file is
// found on the read that meets it and never served.
//
//   - Found when the read opens (wrong size, damaged checksum file): the
//     read is served from the other members as if the blob were missing,
//     and the fetched copy, verified against the record's size and MD5,
//     replaces the local one atomically (inline for a whole-blob read, in
//     the background for a range).
//   - Found mid-stream (a chunk that does not match): the bytes before it
//     were verified and are already sent; the read carries on from a peer
//     at that byte, and a background fetch replaces the local copy.
//   - A peer asked for a blob whose copy is corrupt answers 500, or breaks
//     off the transfer at the bad chunk, so the fetching node moves on to
//     the next member; the peer repairs its own copy from the others
//     (unless the fetch was itself a repair: see hdrBlobRepair).
//   - When no member has a good copy the read fails with
//     objstore.ErrUnavailable (503: a member that is down may hold one),
//     and the corrupt local file is kept for an operator.
//
// A blob written before chunk checksums existed gets them on its first
// read, after its whole file matched the record's size and MD5.

// openLocal opens a verified read of bytes [off, off+length) of the local
// copy of ref. Errors: blobstore.ErrNotFound, blobstore.ErrCorrupt (the
// copy must be replaced), or another error of the store.
func (b *blobService) openLocal(ref BlobRef, off, length int64) (*blobstore.CheckedReader, error) {
	r, err := b.store.OpenChecked(ref.ID, off, length)
	if errors.Is(err, blobstore.ErrNoChecksums) {
		sum, derr := hex.DecodeString(ref.MD5)
		if derr != nil || len(sum) != md5.Size {
			return nil, fmt.Errorf("%w: %s has no checksums, and no MD5 to check it against", blobstore.ErrCorrupt, ref.ID)
		}
		if err = b.store.AddChecksums(ref.ID, ref.Size, sum); err == nil {
			b.log("computed chunk checksums of a blob written without them", "blob", ref.ID)
			r, err = b.store.OpenChecked(ref.ID, off, length)
		}
	}
	if err != nil {
		return nil, err
	}
	if r.Size() != ref.Size {
		r.Close()
		return nil, fmt.Errorf("%w: %s: local copy holds %d bytes, want %d", blobstore.ErrCorrupt, ref.ID, r.Size(), ref.Size)
	}
	return r, nil
}

// localBlob reads a range of a local blob through its checksums. At a
// chunk that fails it switches to the other members, resuming at that
// byte, and has the local copy repaired in the background: the reader gets
// only verified bytes and, if any member holds a good copy, all of them.
type localBlob struct {
	n        *Node
	b        *blobService
	ctx      context.Context // the read's
	ref      BlobRef
	off, end int64 // next byte to deliver, end of the range
	r        io.ReadCloser
	fetching bool
}

func (l *localBlob) Read(p []byte) (int, error) {
	k, err := l.r.Read(p)
	l.off += int64(k)
	if l.fetching || !errors.Is(err, blobstore.ErrCorrupt) {
		return k, err
	}
	// A CheckedReader returns the verified bytes before a bad chunk
	// first (k > 0, no error), so here k is 0.
	l.fetching = true
	l.r.Close()
	l.r = failedReader{err}
	l.b.logError("local blob copy is corrupt; continuing the read from a peer and repairing the copy",
		"blob", l.ref.ID, "at", l.off, "err", err)
	l.n.healBlob(l.b, l.ref, true)
	select {
	case l.b.fetches <- struct{}{}:
	case <-l.ctx.Done():
		return 0, l.ctx.Err()
	}
	fr, ferr := l.n.newBlobFetch(l.ctx, l.b, l.ref, l.off, l.end-l.off, fetchOpts{})
	if ferr != nil {
		l.b.logError("blob is corrupt on this node and no member could serve a good copy", "blob", l.ref.ID, "err", ferr)
		l.r = failedReader{ferr}
		return 0, ferr
	}
	l.r = fr
	return fr.Read(p)
}

func (l *localBlob) Close() error { return l.r.Close() }

type failedReader struct{ err error }

func (f failedReader) Read([]byte) (int, error) { return 0, f.err }
func (f failedReader) Close() error             { return nil }

// requestedRef is the BlobRef a peer's fetch names in its headers (size
// and MD5, from its object record), false when it sent none (a node of an
// earlier version).
func requestedRef(r *http.Request, id string) (BlobRef, bool) {
	size, err := strconv.ParseInt(r.Header.Get(hdrBlobSize), 10, 64)
	md5Hex := r.Header.Get(hdrBlobMD5)
	if err != nil || size < 0 || size > maxBlobSize || len(md5Hex) != 2*md5.Size || !blobstore.ValidID(md5Hex) {
		return BlobRef{}, false // (ValidID checks 32 lowercase hex digits, the form of an MD5 too)
	}
	return BlobRef{ID: id, Size: size, MD5: md5Hex}, true
}

// openServed opens the range of a blob that handleGetBlob sends: verified
// when the blob has checksums or the requester named its MD5 (then a blob
// without checksums gets them first), unverified only for a blob without
// checksums asked for by a node of an earlier version, which checks the
// MD5 of whole copies itself. A corrupt copy is reported and repaired.
func (n *Node) openServed(b *blobService, r *http.Request, id string, off, length int64) (io.ReadCloser, error) {
	ref, known := requestedRef(r, id)
	var rc io.ReadCloser
	var err error
	if known {
		rc, err = b.openLocal(ref, off, length)
	} else if rc, err = b.store.OpenChecked(id, off, length); errors.Is(err, blobstore.ErrNoChecksums) {
		rc, err = b.store.OpenRange(id, off, length)
	}
	if errors.Is(err, blobstore.ErrCorrupt) {
		n.corruptServed(b, r, id, err)
	}
	return rc, err
}

// corruptServed logs a corrupt copy found while serving a peer and starts
// its repair when the peer's request said what the blob should be, unless
// the peer is itself repairing (hdrBlobRepair).
func (n *Node) corruptServed(b *blobService, r *http.Request, id string, err error) {
	ref, known := requestedRef(r, id)
	repair := known && r.Header.Get(hdrBlobRepair) == ""
	b.logError("local blob copy is corrupt; refusing to send it to a peer", "blob", id, "repairing", repair, "err", err)
	if repair {
		n.healBlob(b, ref, true)
	}
}
