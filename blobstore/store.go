package blobstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors. Callers compare with errors.Is.
var (
	// ErrNotFound: no committed blob has this ID in this store.
	ErrNotFound = errors.New("blobstore: blob not found")
	// ErrInvalidID: the string is not a blob ID (32 lowercase hex digits).
	// Nothing was read or changed.
	ErrInvalidID = errors.New("blobstore: invalid blob id")
	// ErrTooLarge: a write went past the Writer's limit. The Writer is
	// failed and must be aborted; nothing was committed.
	ErrTooLarge = errors.New("blobstore: blob exceeds size limit")
	// ErrAborted: the Writer a Follow reader was tailing was aborted; the
	// bytes read so far belong to no blob.
	ErrAborted = errors.New("blobstore: blob write aborted")
	// ErrInvalidRange: a range lies outside the blob.
	ErrInvalidRange = errors.New("blobstore: range outside blob")
)

// IDLen is the length of a blob ID: 128 random bits in lowercase hex.
const IDLen = 32

// NewID returns a fresh random blob ID.
func NewID() string {
	var b [IDLen / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ValidID reports whether id is a blob ID: exactly 32 lowercase hex digits.
// Only valid IDs ever become file names, so an ID from the network cannot
// name a path outside the store.
func ValidID(id string) bool {
	if len(id) != IDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

const tmpDirName = "tmp"

// Store is a directory of immutable blob files on one node. Blobs are
// written through a Writer (Create) and become visible atomically, under
// their ID, when the Writer commits. All methods are safe for concurrent
// use. A Store holds no open files of its own, so it needs no Close; at
// most one Store may be open on a directory at a time (Open removes the
// temporary files it finds, which would include another Store's).
type Store struct {
	dir string
	tmp string

	// mu makes "does the ID exist, then rename onto it" and "stat, then
	// unlink" atomic with respect to each other, so the counters stay
	// exact when the same ID is committed or removed concurrently. No
	// fsync runs under it.
	mu    sync.Mutex
	count atomic.Int64
	bytes atomic.Int64

	// subdirs[i] is set once fan-out directory i is known to exist
	// durably (created or found, and its parent fsynced since).
	subdirs  [256]atomic.Bool
	subdirMu sync.Mutex

	// minFree is Options.MinFree (SetMinFree); space reports free and
	// total bytes of the file system (DiskSpace, replaced in tests).
	minFree atomic.Int64
	space   func(dir string) (free, total int64, err error)

	// leftovers are temporary files whose removal failed (disk.go);
	// nLeft is their number, read without the lock on every Create.
	leftMu    sync.Mutex
	leftovers map[string]struct{}
	nLeft     atomic.Int64

	// fault, when set, fails changes to the file system as a full or
	// read-only disk would. Only this package's tests set it (injected).
	fault atomic.Pointer[faultFunc]
}

// Options configures a Store.
type Options struct {
	// MinFree is the free space, in bytes, that the store leaves on its
	// file system: Create, and a Writer every megabyte, fail with
	// ErrNoSpace once less is available (to unprivileged writers, as df
	// reports it). Other users of the file system, the node's Raft log and
	// state machine among them, keep that room after blobs have filled
	// the rest. Zero or negative: no reserve, blobs fill the file system
	// until it refuses a write (ENOSPC, also ErrNoSpace).
	MinFree int64
}

// Stats are a Store's counters.
type Stats struct {
	Blobs int64 // committed blobs
	Bytes int64 // their total size
}

// Entry describes one committed blob, as Walk and List report it.
type Entry struct {
	ID      string
	Size    int64
	ModTime time.Time // when this node committed it
}

// Open opens the store in dir with no reserve; see OpenWith.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith opens the store in dir, creating it if needed. It removes every
// temporary file left behind by a crash (a write that never committed
// belongs to no blob), and every checksum file whose blob is missing (a
// crash between Commit's two renames), and counts the committed blobs, so
// it reads every directory entry: O(blobs) directory reads, no file
// contents. The 256 fan-out directories are created as blobs first need
// them (creating them all up front costs a noticeable fraction of a
// second on some file systems, at every node start in tests). An existing store needs no free
// space to open: the temporary directory is emptied, not recreated.
func OpenWith(dir string, opts Options) (*Store, error) {
	s := &Store{dir: dir, tmp: filepath.Join(dir, tmpDirName), space: DiskSpace, leftovers: map[string]struct{}{}}
	s.minFree.Store(opts.MinFree)
	if err := os.MkdirAll(s.tmp, 0o700); err != nil {
		return nil, ioError("create "+s.tmp, err)
	}
	leftovers, err := os.ReadDir(s.tmp)
	if err != nil {
		return nil, ioError("read "+s.tmp, err)
	}
	for _, de := range leftovers {
		if err := os.RemoveAll(filepath.Join(s.tmp, de.Name())); err != nil {
			return nil, ioError("remove leftover temporary files", err)
		}
	}
	// The store's own entry in its parent: every blob's durability rests
	// on the directories above it (each blob's rename is followed by a
	// sync of its fan-out directory, each new fan-out directory by one of
	// dir).
	if err := s.syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, err
	}
	err = s.walk(func(e Entry) error {
		s.count.Add(1)
		s.bytes.Add(e.Size)
		return nil
	}, true)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// SetMinFree changes the reserve (Options.MinFree) for the writes that
// check it from now on. Safe to call at any time.
func (s *Store) SetMinFree(n int64) { s.minFree.Store(n) }

// path returns the file name of a (valid) blob ID: a fan-out directory
// named by the first two hex digits keeps directories small.
func (s *Store) path(id string) string { return filepath.Join(s.dir, id[:2], id) }

// ensureSubdir makes sure the fan-out directory of id exists and that its
// entry in the store directory is durable, before a blob is renamed into
// it; Commit then fsyncs only that directory. Once per directory and
// process: a directory found existing may have been created by a process
// that crashed before its fsync, so the parent is fsynced either way.
func (s *Store) ensureSubdir(id string) error {
	i, _ := strconv.ParseUint(id[:2], 16, 8)
	if s.subdirs[i].Load() {
		return nil
	}
	s.subdirMu.Lock()
	defer s.subdirMu.Unlock()
	if s.subdirs[i].Load() {
		return nil
	}
	sub := filepath.Join(s.dir, id[:2])
	err := s.injected("mkdir", sub)
	if err == nil {
		err = os.Mkdir(sub, 0o700)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return ioError("create fan-out directory", err)
	}
	if err := s.syncDir(s.dir); err != nil {
		return err
	}
	s.subdirs[i].Store(true)
	return nil
}

// Has reports whether a committed blob with this ID exists.
func (s *Store) Has(id string) bool {
	if !ValidID(id) {
		return false
	}
	_, err := os.Stat(s.path(id))
	return err == nil
}

// Size returns the size of a committed blob.
func (s *Store) Size(id string) (int64, error) {
	if !ValidID(id) {
		return 0, ErrInvalidID
	}
	fi, err := os.Stat(s.path(id))
	if err != nil {
		return 0, notFound(id, err)
	}
	return fi.Size(), nil
}

// Open opens a committed blob for reading and returns its size. The file
// stays readable after the blob is removed (the unlink only drops the
// name), so a reader racing with garbage collection finishes its read.
// Use io.NewSectionReader (or OpenRange) to read a range: it reads only
// the bytes asked for. Open does not verify the bytes: serve blobs through
// OpenChecked.
func (s *Store) Open(id string) (*os.File, int64, error) {
	if !ValidID(id) {
		return nil, 0, ErrInvalidID
	}
	f, err := os.Open(s.path(id))
	if err != nil {
		return nil, 0, notFound(id, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("blobstore: stat %s: %w", id, err)
	}
	return f, fi.Size(), nil
}

// RangeReader reads one range of a blob; Close closes the file.
type RangeReader struct {
	*io.SectionReader
	f *os.File
}

// Close closes the underlying file.
func (r *RangeReader) Close() error { return r.f.Close() }

// OpenRange opens bytes [off, off+length) of a committed blob; a negative
// length means "to the end". A range outside the blob is ErrInvalidRange.
func (s *Store) OpenRange(id string, off, length int64) (*RangeReader, error) {
	f, size, err := s.Open(id)
	if err != nil {
		return nil, err
	}
	if length < 0 {
		length = size - off
	}
	if off < 0 || length < 0 || off > size || length > size-off {
		f.Close()
		return nil, fmt.Errorf("%w: %d+%d of %d bytes", ErrInvalidRange, off, length, size)
	}
	return &RangeReader{SectionReader: io.NewSectionReader(f, off, length), f: f}, nil
}

// Remove deletes a committed blob and its checksum file. Removing a
// missing blob is not an error (garbage collection may race with itself
// or with a replica's removal); readers that already opened it keep
// reading. The directory is not fsynced: a removal lost in a crash is
// found again by the next collection.
func (s *Store) Remove(id string) error {
	if !ValidID(id) {
		return ErrInvalidID
	}
	p := s.path(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return s.removeSums(id)
	}
	if err != nil {
		return fmt.Errorf("blobstore: remove %s: %w", id, err)
	}
	// The blob first: OpenChecked opens the checksums first, so it never
	// mistakes a blob being removed for one that has none.
	if err := s.injected("remove", p); err != nil {
		return ioError("remove "+id, err)
	}
	if err := removeIfExists(p); err != nil {
		return ioError("remove "+id, err)
	}
	s.count.Add(-1)
	s.bytes.Add(-fi.Size())
	return s.removeSums(id)
}

func (s *Store) removeSums(id string) error {
	if err := removeIfExists(s.sumPath(id)); err != nil {
		return ioError("remove checksums of "+id, err)
	}
	return nil
}

// Stats returns the number and total size of committed blobs.
func (s *Store) Stats() Stats {
	return Stats{Blobs: s.count.Load(), Bytes: s.bytes.Load()}
}

// Walk calls fn for every committed blob, in ID order, until fn returns an
// error (which Walk returns). It reads one fan-out directory at a time, so
// its memory is bounded by the largest directory, not the store. Blobs
// committed or removed during the walk may or may not be reported.
func (s *Store) Walk(fn func(Entry) error) error { return s.walk(fn, false) }

// walk is Walk; with strays set it also removes checksum files whose
// blob is missing, which only Open may do (a Commit in progress renames
// its checksums before its blob).
func (s *Store) walk(fn func(Entry) error, strays bool) error {
	for i := 0; i < 256; i++ {
		sub := filepath.Join(s.dir, fmt.Sprintf("%02x", i))
		des, err := os.ReadDir(sub)
		if errors.Is(err, fs.ErrNotExist) {
			continue // created with its first blob
		}
		if err != nil {
			return fmt.Errorf("blobstore: read %s: %w", sub, err)
		}
		for j, de := range des {
			id := de.Name()
			if strays && strings.HasSuffix(id, sumSuffix) {
				// ReadDir sorts, and "<id>" sorts right before "<id>.crc".
				if base := strings.TrimSuffix(id, sumSuffix); j == 0 || des[j-1].Name() != base {
					// One a read-only disk keeps is harmless (a blob
					// is opened after its checksums, so it reads as
					// missing) and must not stop the store from opening.
					if err := removeIfExists(filepath.Join(sub, id)); err != nil && Unwritable(err) == nil {
						return ioError("remove stray checksums", err)
					}
				}
				continue
			}
			if !ValidID(id) || id[:2] != filepath.Base(sub) || !de.Type().IsRegular() {
				continue
			}
			fi, err := de.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			if err != nil {
				return fmt.Errorf("blobstore: stat %s: %w", id, err)
			}
			if err := fn(Entry{ID: id, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// List returns every committed blob, in ID order. Prefer Walk for large
// stores.
func (s *Store) List() ([]Entry, error) {
	var out []Entry
	err := s.Walk(func(e Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

func notFound(id string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return fmt.Errorf("blobstore: open %s: %w", id, err)
}

// syncDir fsyncs a directory, making the names created in or removed from
// it durable.
func (s *Store) syncDir(dir string) error {
	if err := s.injected("syncdir", dir); err != nil {
		return ioError("fsync directory "+dir, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return ioError("open directory "+dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ioError("fsync directory "+dir, err)
	}
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
