package blobstore

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// Full and read-only file systems (see the package doc, "Full or
// read-only disk").
var (
	// ErrNoSpace: the file system has no room for the write (ENOSPC,
	// EDQUOT), or less free space than the store's reserve
	// (Options.MinFree). The write failed cleanly: nothing was committed
	// and the temporary file was removed. The same write succeeds once
	// space has been freed; the store needs no reopening.
	ErrNoSpace = errors.New("blobstore: out of disk space")
	// ErrReadOnly: the file system refused the write because it is
	// mounted read-only or the directory is not writable (EROFS, EACCES,
	// EPERM). As with ErrNoSpace, nothing was committed, and writes
	// succeed again once the directory is writable.
	ErrReadOnly = errors.New("blobstore: data directory not writable")
)

// Unwritable classifies a file-system error: it returns ErrNoSpace when
// err is (or wraps) ErrNoSpace, ENOSPC or EDQUOT, ErrReadOnly for
// ErrReadOnly, EROFS, EACCES or EPERM, and nil for anything else (EIO
// included: a failing disk is not a full one). It works on any error
// that carries a syscall.Errno, not only the store's: the node classifies
// its Raft log's and state machine's errors with it, so that a full disk
// is reported the same way wherever it bites.
func Unwritable(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoSpace):
		return ErrNoSpace
	case errors.Is(err, ErrReadOnly):
		return ErrReadOnly
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return nil
	}
	switch errno {
	case syscall.ENOSPC, syscall.EDQUOT:
		return ErrNoSpace
	case syscall.EROFS, syscall.EACCES, syscall.EPERM:
		return ErrReadOnly
	}
	return nil
}

// ioError names what failed and, when the file system is full or
// read-only, marks the error with ErrNoSpace or ErrReadOnly while keeping
// the errno in the chain.
func ioError(what string, err error) error {
	if kind := Unwritable(err); kind != nil {
		return fmt.Errorf("%w: %s: %w", kind, what, err)
	}
	return fmt.Errorf("blobstore: %s: %w", what, err)
}

// spaceCheckInterval is how many bytes a Writer writes between two checks
// of the reserve: a statfs costs a few microseconds (3.4 µs measured),
// writing a megabyte hundreds, so the check costs under 1%, and concurrent
// writers can overshoot the reserve by at most this much each.
const spaceCheckInterval = 1 << 20

// checkFree fails with ErrNoSpace when the file system holding the store
// has less than MinFree bytes available. A file system that cannot tell
// (statfs failed, or a platform without it) passes: the write itself then
// finds out.
func (s *Store) checkFree() error {
	minFree := s.minFree.Load()
	if minFree <= 0 {
		return nil
	}
	free, _, err := s.space(s.dir)
	if err != nil || free >= minFree {
		return nil
	}
	return fmt.Errorf("%w: %s: %d bytes available, below the %d-byte reserve", ErrNoSpace, s.dir, free, minFree)
}

// faultFunc is the signature of the test-only fault hook (Store.fault).
type faultFunc func(op, path string) error

// injected consults the test-only fault hook before a change to the file
// system. op is "create", "write", "sync", "mkdir", "rename", "syncdir"
// or "remove"; path the file or directory changed. A non-nil result fails
// the change as the OS would (a *fs.PathError around the errno), and
// nothing is done.
func (s *Store) injected(op, path string) error {
	f := s.fault.Load()
	if f == nil {
		return nil
	}
	if err := (*f)(op, path); err != nil {
		return &fs.PathError{Op: op, Path: path, Err: err}
	}
	return nil
}

// removeTemp removes a temporary file. One that cannot be removed (the
// file system turned read-only under a write) is remembered and removed
// by a later Create, so it does not wait for the next Open.
func (s *Store) removeTemp(path string) error {
	err := s.injected("remove", path)
	if err == nil {
		err = removeIfExists(path)
	}
	if err != nil {
		s.leftMu.Lock()
		s.leftovers[path] = struct{}{}
		s.nLeft.Store(int64(len(s.leftovers)))
		s.leftMu.Unlock()
	}
	return err
}

// retryLeftovers removes the temporary files whose removal failed.
func (s *Store) retryLeftovers() {
	s.leftMu.Lock()
	defer s.leftMu.Unlock()
	for p := range s.leftovers {
		if s.injected("remove", p) == nil && removeIfExists(p) == nil {
			delete(s.leftovers, p)
		}
	}
	s.nLeft.Store(int64(len(s.leftovers)))
}
