package blobstore

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Chunk checksums. Every committed blob has a checksum file beside it,
// <dir>/<xx>/<id>.crc, holding the CRC-32C of each ChunkSize chunk of the
// blob as it was written:
//
//	"SBC1"  chunk size (uint32 BE)  blob size (uint64 BE)
//	one CRC-32C (uint32 BE) per chunk; the last chunk may be short
//
// A CheckedReader verifies every chunk it reads before it hands out any
// byte of it, so a flipped bit, a torn write or a truncated file is found
// on the read that meets it and no bad byte is returned. Chunks keep the
// cost local: a range read verifies only the chunks it touches, and a
// stream verifies as it goes instead of reading the whole blob before its
// first byte (which would cost a second full read of every GET). A
// checksum file that is itself damaged shows up as a mismatch, which is
// safe: the copy is then treated as corrupt and replaced.

// ChunkSize is the granularity of the chunk checksums: a range read
// reads and verifies whole chunks, so at most 2*ChunkSize bytes more than
// it returns.
const ChunkSize = 64 << 10

const (
	sumMagic     = "SBC1"
	sumHeaderLen = 16
	sumSuffix    = ".crc"
	// sumFlush is how many encoded checksums a writer gathers before it
	// writes them out (1024 chunks, 64 MiB of blob).
	sumFlush = 4096
	// sumWindow is how many encoded checksums a reader reads at once.
	sumWindow = 1024
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrCorrupt: the blob's bytes do not match the checksums recorded
	// when it was written, the file is shorter or longer than recorded,
	// or its checksum file is damaged or cannot be read. No byte of a
	// chunk that failed was returned. The copy must be replaced with a
	// good one (another node's); nothing in this store can repair it.
	ErrCorrupt = errors.New("blobstore: blob is corrupt")
	// ErrNoChecksums: the blob has no checksum file: it was committed by
	// a version that did not write them (or the file was deleted).
	// AddChecksums computes them after checking the whole blob against
	// its known size and MD5.
	ErrNoChecksums = errors.New("blobstore: blob has no chunk checksums")
)

// sumPath is the checksum file of a (valid) blob ID.
func (s *Store) sumPath(id string) string { return s.path(id) + sumSuffix }

func chunkCount(size int64) int64 { return (size + ChunkSize - 1) / ChunkSize }

func sumFileSize(size int64) int64 { return sumHeaderLen + 4*chunkCount(size) }

// sumWriter computes the chunk checksums of bytes written in order and
// streams them to a temporary file, so its memory does not grow with the
// blob.
type sumWriter struct {
	f    *os.File
	path string
	crc  uint32 // of the current chunk so far
	fill int    // bytes in the current chunk
	buf  []byte // encoded checksums not yet written
	off  int64  // where buf goes in f
	err  error  // sticky
}

func newSumWriter(dir, pattern string) (*sumWriter, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, ioError("create temporary checksum file", err)
	}
	return &sumWriter{f: f, path: f.Name(), off: sumHeaderLen, buf: make([]byte, 0, 64)}, nil
}

func (w *sumWriter) write(p []byte) {
	for len(p) > 0 {
		k := min(len(p), ChunkSize-w.fill)
		w.crc = crc32.Update(w.crc, castagnoli, p[:k])
		w.fill += k
		p = p[k:]
		if w.fill == ChunkSize {
			w.endChunk()
		}
	}
}

func (w *sumWriter) endChunk() {
	w.buf = binary.BigEndian.AppendUint32(w.buf, w.crc)
	w.crc, w.fill = 0, 0
	if len(w.buf) >= sumFlush {
		w.flush()
	}
}

func (w *sumWriter) flush() {
	if w.err == nil && len(w.buf) > 0 {
		if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
			w.err = ioError("write checksums", err)
		}
		w.off += int64(len(w.buf))
	}
	w.buf = w.buf[:0]
}

// finish ends the last chunk, writes the header for a blob of size bytes,
// fsyncs and closes the file.
func (w *sumWriter) finish(size int64) error {
	if w.fill > 0 {
		w.endChunk()
	}
	w.flush()
	var h [sumHeaderLen]byte
	copy(h[:4], sumMagic)
	binary.BigEndian.PutUint32(h[4:8], ChunkSize)
	binary.BigEndian.PutUint64(h[8:], uint64(size))
	if w.err == nil {
		if _, err := w.f.WriteAt(h[:], 0); err != nil {
			w.err = ioError("write checksums", err)
		}
	}
	if w.err == nil && w.off != sumFileSize(size) {
		w.err = fmt.Errorf("blobstore: %d bytes of checksums for %d bytes of blob", w.off, size)
	}
	if w.err == nil {
		if err := w.f.Sync(); err != nil {
			w.err = ioError("fsync checksums", err)
		}
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = ioError("close checksums", err)
	}
	w.f = nil
	return w.err
}

// discard closes and removes the temporary file (through s.removeTemp,
// so one that cannot be removed now is removed later).
func (w *sumWriter) discard(s *Store) error {
	var errs []error
	if w.f != nil {
		errs = append(errs, w.f.Close())
		w.f = nil
	}
	if err := s.removeTemp(w.path); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, ChunkSize)
	return &b
}}

// CheckedReader reads one range of a committed blob and verifies every
// chunk it reads against the blob's checksum file before returning any
// byte of it. A chunk that does not match fails the Read with ErrCorrupt
// (after the verified bytes before it were returned), and every later
// Read fails the same way. Reads go straight into the caller's buffer
// when it holds whole chunks; otherwise through one pooled ChunkSize
// buffer. Read and Close must not be called concurrently. The blob's
// files stay readable after a Remove or a replacing Commit: the reader
// finishes on the copy it opened.
type CheckedReader struct {
	id       string
	f, sums  *os.File
	size     int64 // of the blob
	off, end int64 // next byte to return, end of the range

	chunk   *[]byte // pooled, once needed
	pending []byte  // verified bytes of *chunk not yet returned

	window      [sumWindow]byte // encoded checksums of chunks winFirst...
	winFirst    int64
	winN        int64 // checksums in window
	err         error // sticky
	closeCalled bool
}

// OpenChecked opens bytes [off, off+length) of a committed blob for a
// verified read; a negative length means "to the end". Errors: ErrNotFound,
// ErrNoChecksums (the blob exists but has no checksum file), ErrCorrupt
// (the blob's size does not match its checksum file, or that file is
// malformed), ErrInvalidRange, ErrInvalidID.
func (s *Store) OpenChecked(id string, off, length int64) (*CheckedReader, error) {
	if !ValidID(id) {
		return nil, ErrInvalidID
	}
	// The checksum file first: Commit renames it into place before the
	// blob and Remove unlinks it after, so a blob found after its
	// checksum file was missing is one written without (or racing a
	// commit, which AddChecksums then settles).
	sums, err := os.Open(s.sumPath(id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: open checksums: %v", ErrCorrupt, id, err)
	}
	f, size, ferr := s.Open(id)
	if ferr != nil {
		if sums != nil {
			sums.Close()
		}
		return nil, ferr
	}
	if sums == nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrNoChecksums, id)
	}
	r := &CheckedReader{id: id, f: f, sums: sums, size: size}
	if err := r.checkHeader(); err != nil {
		r.Close()
		return nil, err
	}
	if length < 0 {
		length = size - off
	}
	if off < 0 || length < 0 || off > size || length > size-off {
		r.Close()
		return nil, fmt.Errorf("%w: %d+%d of %d bytes", ErrInvalidRange, off, length, size)
	}
	r.off, r.end = off, off+length
	return r, nil
}

func (r *CheckedReader) checkHeader() error {
	var h [sumHeaderLen]byte
	if _, err := r.sums.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("%w: %s: checksum header: %v", ErrCorrupt, r.id, err)
	}
	chunk, size := binary.BigEndian.Uint32(h[4:8]), int64(binary.BigEndian.Uint64(h[8:]))
	if string(h[:4]) != sumMagic || chunk != ChunkSize {
		return fmt.Errorf("%w: %s: malformed checksum header", ErrCorrupt, r.id)
	}
	if size != r.size {
		return fmt.Errorf("%w: %s: file holds %d bytes, %d were written", ErrCorrupt, r.id, r.size, size)
	}
	fi, err := r.sums.Stat()
	if err != nil {
		return fmt.Errorf("%w: %s: stat checksums: %v", ErrCorrupt, r.id, err)
	}
	if fi.Size() != sumFileSize(size) {
		return fmt.Errorf("%w: %s: checksum file of %d bytes, want %d", ErrCorrupt, r.id, fi.Size(), sumFileSize(size))
	}
	return nil
}

// Size returns the size of the whole blob.
func (r *CheckedReader) Size() int64 { return r.size }

// Read reads verified bytes of the range; see CheckedReader.
func (r *CheckedReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		r.off += int64(n)
		return n, nil
	}
	if r.off >= r.end {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	start := r.off / ChunkSize * ChunkSize
	if r.off == start {
		// Whole chunks that end within the range and fit in p are read
		// and verified in place.
		stop := start
		for stop < r.end {
			next := min(stop+ChunkSize, r.size)
			if next > r.end || next-start > int64(len(p)) {
				break
			}
			stop = next
		}
		if stop > start {
			n, err := r.readChunks(p[:stop-start], start)
			r.off += int64(n)
			if err != nil {
				r.err = err
				if n > 0 {
					return n, nil
				}
				return 0, err
			}
			return n, nil
		}
	}
	if r.chunk == nil {
		r.chunk = chunkPool.Get().(*[]byte)
	}
	cend := min(start+ChunkSize, r.size)
	buf := (*r.chunk)[:cend-start]
	if _, err := r.readChunks(buf, start); err != nil {
		r.err = err
		return 0, err
	}
	r.pending = buf[r.off-start : min(cend, r.end)-start]
	return r.Read(p)
}

// readChunks fills dst with the blob's bytes from start (a chunk
// boundary; dst ends at a chunk boundary or the blob's end) and verifies
// them chunk by chunk. It returns how many leading bytes are verified.
func (r *CheckedReader) readChunks(dst []byte, start int64) (int, error) {
	m, err := r.f.ReadAt(dst, start)
	if m < len(dst) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank under the reader
		}
		return 0, fmt.Errorf("%w: %s: read at byte %d: %v", ErrCorrupt, r.id, start, err)
	}
	for done := 0; done < len(dst); {
		k := min(len(dst)-done, ChunkSize)
		c := (start + int64(done)) / ChunkSize
		want, err := r.sum(c)
		if err != nil {
			return done, err
		}
		if crc32.Checksum(dst[done:done+k], castagnoli) != want {
			return done, fmt.Errorf("%w: %s: chunk at byte %d does not match its checksum", ErrCorrupt, r.id, c*ChunkSize)
		}
		done += k
	}
	return len(dst), nil
}

// sum returns the recorded checksum of chunk c.
func (r *CheckedReader) sum(c int64) (uint32, error) {
	if c < r.winFirst || c >= r.winFirst+r.winN {
		n := min(int64(sumWindow/4), chunkCount(r.size)-c)
		b := r.window[:4*n]
		if _, err := r.sums.ReadAt(b, sumHeaderLen+4*c); err != nil {
			r.winN = 0
			return 0, fmt.Errorf("%w: %s: read checksums: %v", ErrCorrupt, r.id, err)
		}
		r.winFirst, r.winN = c, n
	}
	i := 4 * (c - r.winFirst)
	return binary.BigEndian.Uint32(r.window[i : i+4]), nil
}

// Close closes the files; later Reads fail.
func (r *CheckedReader) Close() error {
	if r.closeCalled {
		return nil
	}
	r.closeCalled = true
	if r.err == nil {
		r.err = errors.New("blobstore: read after close")
	}
	if r.chunk != nil {
		chunkPool.Put(r.chunk)
		r.chunk, r.pending = nil, nil
	}
	return errors.Join(r.f.Close(), r.sums.Close())
}

// AddChecksums writes the checksum file of a blob that has none (see
// ErrNoChecksums), after reading the whole blob and checking it against
// size and md5, the values its record holds. It fails with ErrCorrupt on
// a mismatch (writing nothing) and ErrNotFound if the blob is gone. A
// checksum file written meanwhile by someone else is replaced by an
// identical one.
func (s *Store) AddChecksums(id string, size int64, md5sum []byte) error {
	f, got, err := s.Open(id)
	if err != nil {
		return err
	}
	defer f.Close()
	if got != size {
		return fmt.Errorf("%w: %s: file holds %d bytes, want %d", ErrCorrupt, id, got, size)
	}
	sw, err := newSumWriter(s.tmp, id+"-*.crc.tmp")
	if err != nil {
		return err
	}
	defer sw.discard(s)
	h := md5.New()
	bp := getBuffer()
	defer putBuffer(bp)
	var n int64
	for {
		k, rerr := f.Read(*bp)
		h.Write((*bp)[:k])
		sw.write((*bp)[:k])
		n += int64(k)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("%w: %s: read: %v", ErrCorrupt, id, rerr)
		}
	}
	if sum := h.Sum(nil); n != size || string(sum) != string(md5sum) {
		return fmt.Errorf("%w: %s: %d bytes, md5 %x; want %d bytes, md5 %x", ErrCorrupt, id, n, sum, size, md5sum)
	}
	if err := sw.finish(size); err != nil {
		return err
	}
	// Under mu, so that a Remove cannot slip in between and leave a
	// checksum file without its blob.
	s.mu.Lock()
	_, err = os.Lstat(s.path(id))
	if err != nil {
		err = notFound(id, err)
	} else if err = os.Rename(sw.path, s.sumPath(id)); err != nil {
		err = ioError("install checksums of "+id, err)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.syncDir(filepath.Dir(s.path(id)))
}
