package blobstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// CreateOptions configures a Writer.
type CreateOptions struct {
	// ID names the blob. Empty picks a fresh random ID (NewID): the node
	// that receives an upload chooses it, and its replicas are created
	// with the same ID.
	ID string
	// Limit is the largest blob accepted, in bytes: a write past it fails
	// with ErrTooLarge. Zero or negative means no limit.
	Limit int64
	// Checksums lists the S3 checksum algorithms computed besides MD5,
	// which is always computed (it is the ETag). SHA256 costs the most;
	// ask for it only when it is to be verified or stored.
	Checksums []checksum.Algorithm
	// Replace makes Commit replace a committed blob of the same ID
	// instead of keeping it: the repair of a copy found corrupt, with a
	// copy verified against the blob's MD5. The replacement is atomic:
	// a reader sees the old file or the new one, never a mix.
	Replace bool
}

// Info describes the bytes of a blob.
type Info struct {
	ID   string
	Size int64
	// MD5 is the raw MD5 digest; its hex form is a single-part ETag.
	MD5 []byte
	// Checksums holds the requested S3 checksums in wire form (base64),
	// keyed by lowercase algorithm name; nil when none was requested.
	Checksums map[string]string
}

// MD5Hex returns the lowercase hex MD5.
func (i Info) MD5Hex() string { return hex.EncodeToString(i.MD5) }

// writebackChunk is how much a Writer lets the page cache accumulate
// before it asks the kernel to start writing it out. Without the hint, a
// large blob's dirty pages all wait for Commit's fsync, which then stalls
// for the whole blob (and three nodes on one disk stall together); with
// it, writeback overlaps the upload and the fsync finds little left.
const writebackChunk = 8 << 20

type writerState uint8

const (
	stateWriting writerState = iota
	stateSealed              // Commit began: no more bytes; followers see EOF
	stateCommitted
	stateAborted
)

// Writer streams one blob to a temporary file while hashing it. Nothing is
// visible under the blob's ID until Commit returns. Write, ReadFrom, Sum,
// Commit and Abort belong to one goroutine; Follow readers may be used
// from others.
//
// Use:
//
//	w, err := store.Create(blobstore.CreateOptions{Limit: max})
//	if err != nil { ... }
//	defer w.Abort() // no-op once committed
//	if _, err := w.ReadFrom(body); err != nil { return err }
//	info, err := w.Commit()
type Writer struct {
	s     *Store
	id    string
	tmp   string
	f     *os.File
	set   *checksum.Set
	limit int64
	size  int64
	err   error // sticky: the first write failure
	// flushed is where the last writeback hint ended.
	flushed int64
	// nextCheck is the size at which Write next checks the reserve.
	nextCheck int64
	sums      *sumWriter // the chunk checksums, beside the temporary file
	replace   bool

	// mu guards what followers look at; cond wakes them when bytes
	// arrive or the state changes. Only the owner changes state, under mu.
	mu      sync.Mutex
	cond    sync.Cond
	written int64
	state   writerState
	info    Info // once sealed
}

// Create starts a new blob. The caller must end it with Commit or Abort;
// a process crash instead leaves a temporary file that the next Open
// removes.
func (s *Store) Create(opts CreateOptions) (*Writer, error) {
	id := opts.ID
	if id == "" {
		id = NewID()
	} else if !ValidID(id) {
		return nil, ErrInvalidID
	}
	if s.nLeft.Load() > 0 {
		s.retryLeftovers()
	}
	if err := s.checkFree(); err != nil {
		return nil, err
	}
	if err := s.injected("create", s.tmp); err != nil {
		return nil, ioError("create temporary file", err)
	}
	f, err := os.CreateTemp(s.tmp, id+"-*.tmp")
	if err != nil {
		return nil, ioError("create temporary file", err)
	}
	sums, err := newSumWriter(s.tmp, id+"-*.crc.tmp")
	if err != nil {
		f.Close()
		_ = s.removeTemp(f.Name())
		return nil, err
	}
	w := &Writer{s: s, id: id, tmp: f.Name(), f: f, set: checksum.NewSet(opts.Checksums...), limit: opts.Limit,
		nextCheck: spaceCheckInterval, sums: sums, replace: opts.Replace}
	w.cond.L = &w.mu
	return w, nil
}

// Put writes everything r yields as a new blob and commits it. It stops
// with ctx's error between buffers once ctx is done.
func (s *Store) Put(ctx context.Context, r io.Reader, opts CreateOptions) (Info, error) {
	w, err := s.Create(opts)
	if err != nil {
		return Info{}, err
	}
	defer w.Abort()
	if _, err := w.ReadFrom(ContextReader(ctx, r)); err != nil {
		return Info{}, err
	}
	return w.Commit()
}

// ID returns the blob's ID.
func (w *Writer) ID() string { return w.id }

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Sum describes the bytes written so far: size, MD5 and the requested
// checksums. Use it to verify a blob before committing it.
func (w *Writer) Sum() Info {
	return Info{ID: w.id, Size: w.size, MD5: w.set.MD5(), Checksums: w.set.Checksums()}
}

// Write appends p to the blob. Past the limit it fails with ErrTooLarge
// and writes nothing; on a full or read-only file system, or below the
// store's reserve, it fails with ErrNoSpace or ErrReadOnly. After any
// failure the Writer only accepts Abort.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.state != stateWriting {
		return 0, errors.New("blobstore: write after commit or abort")
	}
	if w.limit > 0 && int64(len(p)) > w.limit-w.size {
		w.err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, w.limit)
		return 0, w.err
	}
	if w.size >= w.nextCheck {
		if err := w.s.checkFree(); err != nil {
			w.err = err
			return 0, err
		}
		w.nextCheck = w.size + spaceCheckInterval
	}
	if err := w.s.injected("write", w.tmp); err != nil {
		w.err = ioError("write "+w.id, err)
		return 0, w.err
	}
	n, err := w.f.Write(p)
	_, _ = w.set.Write(p[:n])
	w.sums.write(p[:n])
	w.size += int64(n)
	if w.size-w.flushed >= writebackChunk {
		startWriteback(w.f, w.flushed, w.size-w.flushed)
		w.flushed = w.size
	}
	w.mu.Lock()
	w.written = w.size
	w.cond.Broadcast()
	w.mu.Unlock()
	if err != nil {
		w.err = ioError("write "+w.id, err)
		return n, w.err
	}
	return n, nil
}

// ReadFrom copies r to the blob until r reports io.EOF, through a pooled
// buffer of BufferSize bytes that it fills before each write, so the file
// sees few large writes whatever sizes r returns. Any other error from r
// (io.ErrUnexpectedEOF from a truncated request body included) is
// returned: a blob is only complete at a clean EOF.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	bp := getBuffer()
	defer putBuffer(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := fill(r, buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// fill reads from r until buf is full or r fails; io.EOF is returned only
// as an error, never converted.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Commit makes the blob durable and visible under its ID: it seals it
// (Follow readers reach EOF), fsyncs the file and its chunk checksums,
// renames the checksums and then the blob into place and fsyncs the
// directory. If a blob with this ID already exists (a replica received
// twice), the existing one is kept and this copy discarded: blob IDs are
// random and a blob never changes, so they hold the same bytes; unless
// the Writer was created with Replace, which replaces it (a repair).
// On failure the temporary files are removed and the error returned;
// Abort is then a no-op.
func (w *Writer) Commit() (Info, error) {
	if w.state != stateWriting {
		return Info{}, errors.New("blobstore: commit after commit or abort")
	}
	if w.err != nil {
		err := w.err
		w.fail()
		return Info{}, err
	}
	info := w.Sum()
	w.setState(stateSealed, &info)
	// The checksum file's fsync runs beside the blob's, so that it adds
	// no second wait for the disk.
	sumsDone := make(chan error, 1)
	go func() { sumsDone <- w.sums.finish(info.Size) }()
	err := w.s.injected("sync", w.tmp)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		// Never retried: after a failed fsync the kernel may have dropped
		// the dirty pages, so only a fresh write can be trusted.
		err = ioError("fsync "+w.id, err)
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = ioError("close "+w.id, cerr)
	}
	w.f = nil
	if serr := <-sumsDone; serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		w.fail()
		return Info{}, err
	}
	final := w.s.path(w.id)
	s := w.s
	if err := s.ensureSubdir(w.id); err != nil {
		w.fail()
		return Info{}, err
	}
	s.mu.Lock()
	old, statErr := os.Lstat(final)
	existed := statErr == nil
	switch {
	case existed && !w.replace:
		err = errors.Join(s.removeTemp(w.tmp), s.removeTemp(w.sums.path))
	default:
		// The checksums go first: a blob is never visible without them,
		// and a crash between the two renames leaves a checksum file
		// without its blob, which Open removes (or, replacing, the new
		// checksums beside the old blob, which then reads as corrupt and
		// is repaired again).
		if err = s.injected("rename", s.sumPath(w.id)); err == nil {
			err = os.Rename(w.sums.path, s.sumPath(w.id))
		}
		if err == nil {
			if err = s.injected("rename", final); err == nil {
				err = os.Rename(w.tmp, final)
			}
			if err != nil && !existed {
				_ = removeIfExists(s.sumPath(w.id))
			}
		}
		if err == nil && existed {
			s.bytes.Add(info.Size - old.Size())
		} else if err == nil {
			s.count.Add(1)
			s.bytes.Add(info.Size)
		}
	}
	s.mu.Unlock()
	if err != nil && existed && !w.replace {
		// The blob is there; only our copy could not be removed, and
		// removeTemp retries that.
		err = nil
	}
	if err != nil {
		w.fail()
		return Info{}, ioError("commit "+w.id, err)
	}
	// Also when the blob existed: a concurrent Commit of the same ID may
	// have renamed it without having fsynced the directory yet.
	if err := s.syncDir(filepath.Dir(final)); err != nil {
		if !existed { // (a replacement stays: the old copy was worse)
			// Visible but perhaps not durable: take it back rather than
			// let a caller count a copy that a crash may lose.
			_ = s.Remove(w.id)
		}
		w.setState(stateAborted, nil)
		return Info{}, err
	}
	w.setState(stateCommitted, nil)
	return info, nil
}

// Abort discards the blob: followers fail with ErrAborted and the
// temporary file is removed. It is a no-op after Commit (successful or
// not) or a previous Abort, so `defer w.Abort()` is always safe.
func (w *Writer) Abort() error {
	if w.state == stateCommitted || w.state == stateAborted {
		return nil
	}
	return w.fail()
}

func (w *Writer) fail() error {
	var errs []error
	if w.f != nil {
		errs = append(errs, w.f.Close())
		w.f = nil
	}
	if err := w.s.removeTemp(w.tmp); err != nil {
		errs = append(errs, err)
	}
	if err := w.sums.discard(w.s); err != nil {
		errs = append(errs, err)
	}
	w.setState(stateAborted, nil)
	return errors.Join(errs...)
}

func (w *Writer) setState(s writerState, info *Info) {
	w.mu.Lock()
	w.state = s
	if info != nil {
		w.info = *info
	}
	w.cond.Broadcast()
	w.mu.Unlock()
}

// Sealed returns the final Info once Commit has begun, and false before.
// Safe to call from any goroutine, e.g. by a Follow reader's consumer at
// EOF to learn the size and MD5 of what it read.
func (w *Writer) Sealed() (Info, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == stateSealed || w.state == stateCommitted {
		return w.info, true
	}
	return Info{}, false
}

// Follow returns a reader of the blob's bytes that tails the Writer: it
// yields what has been written so far, blocks for more, and reports io.EOF
// once Commit has sealed the blob and every byte was read; if the Writer
// aborts (or fails to commit) before that, it fails with ErrAborted. Each
// reader has its own file descriptor and reads the file (mostly the page
// cache), so readers never hold the Writer back and need no buffering
// beyond what the caller passes to Read. Replication streams a blob to
// peers this way while it is still being received.
//
// Follow must be called before Commit. Close the reader when done; Close
// may be called concurrently with Read and wakes a blocked Read.
func (w *Writer) Follow() (io.ReadCloser, error) {
	if w.state != stateWriting {
		return nil, errors.New("blobstore: follow after commit or abort")
	}
	f, err := os.Open(w.tmp)
	if err != nil {
		return nil, fmt.Errorf("blobstore: follow %s: %w", w.id, err)
	}
	return &follower{w: w, f: f}, nil
}

type follower struct {
	w      *Writer
	f      *os.File
	off    int64 // only the reading goroutine touches it
	closed bool  // guarded by w.mu
}

var errFollowerClosed = errors.New("blobstore: follower closed")

func (fo *follower) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w := fo.w
	w.mu.Lock()
	for !fo.closed && w.state == stateWriting && fo.off >= w.written {
		w.cond.Wait()
	}
	closed, state, avail := fo.closed, w.state, w.written-fo.off
	w.mu.Unlock()
	switch {
	case closed:
		return 0, errFollowerClosed
	case state == stateAborted:
		return 0, ErrAborted
	case avail == 0:
		return 0, io.EOF // sealed and caught up
	}
	n := int(min(int64(len(p)), avail))
	m, err := fo.f.ReadAt(p[:n], fo.off)
	fo.off += int64(m)
	if m == n {
		return m, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return m, err
}

func (fo *follower) Close() error {
	w := fo.w
	w.mu.Lock()
	if fo.closed {
		w.mu.Unlock()
		return nil
	}
	fo.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	return fo.f.Close()
}
