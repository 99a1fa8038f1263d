package raftfsm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Snapshot captures the current state by opening a bbolt read transaction:
// O(1), no data copied, so raft's FSM goroutine is not held up. The
// transaction sees exactly the committed state, applied index included,
// and bbolt keeps its pages from being reused until Release.
//
// Caveat (bbolt): while a read transaction is open, a write that must grow
// the memory map waits for it, so a slow Persist can stall applies once the
// file outgrows the initial mapping (1 GiB of address space; see mmapSize).
// Close and Restore also wait for outstanding snapshots to be released.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	// A stopped FSM may lag the log raft thinks it applied; a snapshot of
	// it would be labelled with an index whose effects it lacks.
	if err := f.stopped(); err != nil {
		return nil, err
	}
	if f.db == nil {
		return nil, ErrClosed
	}
	tx, err := f.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("raftfsm: snapshot: %w", err)
	}
	return &snapshot{tx: tx}, nil
}

// snapshot is a raft.FSMSnapshot over one bbolt read transaction. The
// snapshot format is the bbolt file itself, as tx.WriteTo produces it: a
// complete, compact-as-is database that Restore can open directly.
type snapshot struct {
	mu sync.Mutex // makes Release wait for a running Persist
	tx *bolt.Tx   // nil once released
}

// Persist streams the database as of Snapshot into sink and closes it, or
// cancels it on error. It runs concurrently with Apply.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx == nil {
		_ = sink.Cancel()
		return errors.New("raftfsm: persist after release")
	}
	if _, err := s.tx.WriteTo(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("raftfsm: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release ends the read transaction; safe to call more than once.
func (s *snapshot) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx != nil {
		_ = s.tx.Rollback()
		s.tx = nil
	}
}

// Restore replaces the entire state with a snapshot written by Persist and
// closes rc. Nothing of the prior state survives: the file is swapped, not
// merged. The applied index becomes the snapshot's, and WaitApplied
// waiters are woken.
//
// Steps, chosen so that a failure leaves the old store in service: stream
// rc to fsm.db.restore and fsync it; open it to check that it is complete
// (not truncated) and a store of our format; only then close the old database (waiting for in-flight reads and
// snapshots), rename the new file over fsm.db, fsync the directory, and
// reopen. Reads continue against the old state until the swap. If the
// final reopen fails, the FSM stops with ErrStoreFailed.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if err := f.stopped(); err != nil {
		return err
	}

	tmp := f.path + restoreSuffix
	index, term, err := receiveSnapshot(tmp, rc)
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("raftfsm: restore: %w", err)
	}

	f.dbMu.Lock()
	defer f.dbMu.Unlock()
	// An error closing the old handle changes nothing: it is released
	// either way and its file is about to be replaced.
	_ = f.db.Close()
	f.db = nil
	if err := os.Rename(tmp, f.path); err != nil {
		_ = os.Remove(tmp)
		// fsm.db is untouched: go back to it.
		db, rerr := openDB(f.path, false)
		if rerr != nil {
			return f.fail(fmt.Errorf("restore: %v; reopening old store: %v", err, rerr))
		}
		f.db = db
		return fmt.Errorf("raftfsm: restore: %w", err)
	}
	if err := syncDir(f.dir); err != nil {
		return f.fail(fmt.Errorf("restore: %w", err))
	}
	db, err := openDB(f.path, false)
	if err != nil {
		return f.fail(fmt.Errorf("restore: %w", err))
	}
	f.db = db
	f.term = term
	if err := f.loadClusterID(); err != nil {
		return f.fail(fmt.Errorf("restore: %w", err))
	}
	// The index may be lower than before (raft restoring an older
	// snapshot): the state was replaced, so the index follows it.
	f.setApplied(index)
	return nil
}

// receiveSnapshot writes r to path, fsyncs it, and checks that it is a
// store of our format, returning its applied index and term.
func receiveSnapshot(path string, r io.Reader) (index, term uint64, err error) {
	out, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, 0, err
	}
	size, err := io.Copy(out, r)
	if err != nil {
		_ = out.Close()
		return 0, 0, fmt.Errorf("receiving snapshot: %w", err)
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return 0, 0, err
	}
	if err := out.Close(); err != nil {
		return 0, 0, err
	}

	// Opening validates bbolt's meta pages (checksums); checkStore
	// validates our layout. bbolt does not compare the file's length with
	// the high-water mark in its meta page, and touching a page past the
	// end of a mapped file is a SIGBUS, not an error: check it first.
	db, err := openDB(path, true)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = db.Close() }()
	err = db.View(func(tx *bolt.Tx) error {
		if size < tx.Size() {
			return fmt.Errorf("truncated: %d of %d bytes", size, tx.Size())
		}
		index, term, err = checkStore(tx)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("snapshot is not a usable store: %w", err)
	}
	return index, term, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
