package raftfsm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Interfaces raft discovers by type assertion; a missing method would
// silently disable group commit, so fail the build instead.
var (
	_ raft.BatchingFSM        = (*FSM)(nil)
	_ raft.ConfigurationStore = (*FSM)(nil)
)

// Names inside fsm.db. See doc.go for the layout.
var (
	bktMeta    = []byte("meta")
	bktBuckets = []byte("buckets")
	bktData    = []byte("data")
	bktObjects = []byte("o") // per S3 bucket: key -> object record
	bktBodies  = []byte("b") // per S3 bucket: key -> inline body

	keyFormat    = []byte("format")
	keyApplied   = []byte("applied")
	keyClusterID = []byte("cluster_id")
)

// storeFormat is the version of the fsm.db layout. Open and Restore refuse
// files of another version rather than misread them.
const storeFormat = 1

const (
	dbFile = "fsm.db"

	// restoreSuffix names the file a snapshot is streamed into before it
	// replaces fsm.db. A leftover one is a crashed Restore: Open removes it.
	restoreSuffix = ".restore"

	// mmapSize is the address space bbolt maps up front. A write that grows
	// the file past the mapping must remap, which waits for every open read
	// transaction, including a snapshot being persisted. Reserving 1 GiB of
	// (virtual, not resident) address space makes that rare.
	mmapSize = 1 << 30

	// lockTimeout bounds the wait for bbolt's file lock, so a second process
	// on the same directory fails instead of hanging.
	lockTimeout = 2 * time.Second
)

// FSM is Strongbox's replicated state machine: buckets, object records and
// inline bodies in one bbolt file, changed only by applying Raft log entries.
// It implements raft.FSM, raft.BatchingFSM and raft.ConfigurationStore.
//
// Concurrency: the read methods, AppliedIndex and WaitApplied are safe to
// call from any goroutine at any time, concurrently with everything else.
// Apply, ApplyBatch, StoreConfiguration, Snapshot and Restore are meant to be
// called by raft's single FSM goroutine; they are serialised internally
// anyway, so tests and tools may call them freely.
type FSM struct {
	dir  string
	path string

	// applyMu serialises the mutating entry points (Apply, ApplyBatch,
	// StoreConfiguration, Restore, Close): the skip-replayed check and the
	// applied-index update must not interleave. It also guards term.
	applyMu sync.Mutex
	term    uint64 // term of the last applied entry (a lower bound after StoreConfiguration)

	// dbMu guards the db pointer, not the database: readers and appliers
	// hold it shared for the whole bbolt transaction, Restore and Close hold
	// it exclusively to swap or drop the handle. bbolt transactions provide
	// isolation among themselves.
	dbMu sync.RWMutex
	db   *bolt.DB // nil after Close or a failed Restore

	// applied is the index of the last entry whose effects are durably
	// committed. Written only with applyMu held, after the commit.
	applied atomic.Uint64

	// clusterID is the recorded cluster ID (nil: none), published after
	// the commit that recorded it, or by Open and Restore.
	clusterID atomic.Pointer[[ClusterIDLen]byte]

	// waitMu guards the waiter channel and stopErr.
	waitMu sync.Mutex
	// waitCh is closed (and cleared) each time applied advances or the FSM
	// stops. Waiters create it lazily, so a batch with nobody waiting costs
	// no allocation.
	waitCh chan struct{}
	// stopErr is ErrClosed after Close, or wraps ErrStoreFailed after a
	// failed commit. Once set, nothing more is applied.
	stopErr error
	// done is closed when stopErr is set.
	done chan struct{}

	// commitFault, when set, fails the next commit (InjectCommitFailure).
	commitFault atomic.Pointer[error]
}

// Open opens (creating if needed) the FSM stored in dir/fsm.db and loads its
// applied index. It does not read the rest of the store: opening is O(1) in
// its size. Open fails if another process holds the file, or if the file
// was written by an incompatible version.
func Open(dir string) (*FSM, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("raftfsm: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	if err := os.Remove(path + restoreSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("raftfsm: removing stale restore file: %w", err)
	}
	db, err := openDB(path, false)
	if err != nil {
		return nil, err
	}
	var index, term uint64
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bktMeta)
		if meta == nil {
			// A new store, or a foreign bbolt file; only the former is
			// empty, and only it may be initialised.
			if err := tx.ForEach(func([]byte, *bolt.Bucket) error {
				return errors.New("file is not an FSM store")
			}); err != nil {
				return err
			}
			return initStore(tx)
		}
		index, term, err = checkStore(tx)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftfsm: open %s: %w", path, err)
	}
	f := &FSM{dir: dir, path: path, db: db, term: term, done: make(chan struct{})}
	f.applied.Store(index)
	if err := f.loadClusterID(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftfsm: open %s: %w", path, err)
	}
	return f, nil
}

// loadClusterID publishes the cluster ID recorded in the store. Callers
// hold applyMu or own f exclusively, and f.db is open.
func (f *FSM) loadClusterID() error {
	var id *[ClusterIDLen]byte
	err := f.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktMeta).Get(keyClusterID)
		if v == nil {
			return nil
		}
		if len(v) != ClusterIDLen {
			return fmt.Errorf("%d-byte cluster ID in the store", len(v))
		}
		id = new([ClusterIDLen]byte)
		copy(id[:], v)
		return nil
	})
	if err != nil {
		return err
	}
	f.clusterID.Store(id)
	return nil
}

// ClusterID returns the cluster ID recorded by a committed SetClusterID
// command (or by the snapshot last restored), and whether there is one.
// Lock-free; safe to call at any time.
func (f *FSM) ClusterID() ([ClusterIDLen]byte, bool) {
	if id := f.clusterID.Load(); id != nil {
		return *id, true
	}
	return [ClusterIDLen]byte{}, false
}

func openDB(path string, readOnly bool) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         lockTimeout,
		InitialMmapSize: mmapSize,
		// The hashmap freelist stays fast on large, fragmented files. The
		// freelist is still synced (NoFreelistSync is false): rebuilding it
		// on open would scan the whole file and make restart O(size).
		FreelistType: bolt.FreelistMapType,
		ReadOnly:     readOnly,
	})
	if err != nil {
		return nil, fmt.Errorf("raftfsm: open %s: %w", path, err)
	}
	return db, nil
}

func initStore(tx *bolt.Tx) error {
	for _, name := range [][]byte{bktMeta, bktBuckets, bktData} {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return tx.Bucket(bktMeta).Put(keyFormat, []byte{storeFormat})
}

// checkStore verifies that tx sees a store of our format and returns its
// applied index and term.
func checkStore(tx *bolt.Tx) (index, term uint64, err error) {
	meta := tx.Bucket(bktMeta)
	if meta == nil || tx.Bucket(bktBuckets) == nil || tx.Bucket(bktData) == nil {
		return 0, 0, errors.New("file is not an FSM store")
	}
	if v := meta.Get(keyFormat); len(v) != 1 || v[0] != storeFormat {
		return 0, 0, fmt.Errorf("unsupported store format %v", v)
	}
	return decodeApplied(meta.Get(keyApplied))
}

// Close closes the store. It waits for running reads and for open
// snapshots to be released. Afterwards reads and applies fail with
// ErrClosed and WaitApplied waiters return ErrClosed. Close is idempotent.
func (f *FSM) Close() error {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	f.dbMu.Lock()
	defer f.dbMu.Unlock()
	f.stop(ErrClosed)
	if f.db == nil {
		return nil
	}
	err := f.db.Close()
	f.db = nil
	return err
}

// AppliedIndex returns the index of the last log entry whose effects are
// durably committed to the store. Lock-free.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// WaitApplied blocks until the FSM has applied (and durably committed) the
// entry at index or a later one, and returns nil; a read started afterwards
// observes that entry. It returns ctx.Err() if ctx ends first, and the stop
// error if the FSM is closed or failed first. It never polls: waiters sleep
// on a channel that each commit closes, so thousands of waiters cost one
// wake-up each per commit.
//
// Raft never hands LogNoop and LogBarrier entries to the FSM, so they do
// not advance AppliedIndex. A read index that lands on one (for instance a
// leader's commit index right after election) is reached only when a later
// FSM-visible entry is applied. The node therefore proposes a Noop command
// after winning an election and serves reads only once it is applied.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) error {
	for {
		if f.applied.Load() >= index {
			return nil
		}
		f.waitMu.Lock()
		// Re-check under the lock: advance stores the index before taking
		// waitMu, so either we see it now or our channel gets closed.
		if f.applied.Load() >= index {
			f.waitMu.Unlock()
			return nil
		}
		if f.stopErr != nil {
			err := f.stopErr
			f.waitMu.Unlock()
			return err
		}
		if f.waitCh == nil {
			f.waitCh = make(chan struct{})
		}
		ch := f.waitCh
		f.waitMu.Unlock()

		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setApplied publishes a new applied index and wakes all waiters. Callers
// hold applyMu and have committed the transaction that wrote index.
func (f *FSM) setApplied(index uint64) {
	f.applied.Store(index)
	f.waitMu.Lock()
	f.wakeLocked()
	f.waitMu.Unlock()
}

func (f *FSM) wakeLocked() {
	if f.waitCh != nil {
		close(f.waitCh)
		f.waitCh = nil
	}
}

// stop records why the FSM stopped (the first reason wins) and wakes the
// waiters so they can return it.
func (f *FSM) stop(err error) {
	f.waitMu.Lock()
	if f.stopErr == nil {
		f.stopErr = err
		close(f.done)
	}
	f.wakeLocked()
	f.waitMu.Unlock()
}

// Done returns a channel that is closed when the FSM stops applying: on
// Close, or when its store fails. Err then says which. The node watches it
// to take itself out of service after a store failure.
func (f *FSM) Done() <-chan struct{} { return f.done }

// Err returns nil while the FSM is applying entries; once it has stopped,
// ErrClosed or an error wrapping ErrStoreFailed. Safe to call at any time.
func (f *FSM) Err() error { return f.stopped() }

// InjectCommitFailure is a fault-injection hook for tests, which cannot
// make a disk fail on demand; nothing else calls it. The next ApplyBatch
// that has effects to commit fails as if bbolt's commit had returned err:
// nothing of that batch is applied and the FSM stops with ErrStoreFailed,
// exactly as after a real I/O error.
func (f *FSM) InjectCommitFailure(err error) { f.commitFault.Store(&err) }

func (f *FSM) stopped() error {
	f.waitMu.Lock()
	defer f.waitMu.Unlock()
	return f.stopErr
}

// fail stops the FSM after a storage error.
func (f *FSM) fail(err error) error {
	// %w for both: the node tells a full disk (its errno) from other
	// failures.
	f.stop(fmt.Errorf("%w: %w", ErrStoreFailed, err))
	return f.stopped()
}

// Apply applies one committed log entry; see ApplyBatch. It returns a
// *Result.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed log entries in one bbolt read-write
// transaction, so the whole batch costs a single commit (one fsync pair):
// this is the group commit that makes small writes cheap. It returns one
// *Result per entry, in order.
//
// Entries at or below the persisted applied index are skipped and get an
// empty Result: with raft's NoSnapshotRestoreOnStart, a restart replays the
// log after the last snapshot, and this skip makes the replay harmless.
// LogCommand entries are decoded and executed; an undecodable one gets a
// Result wrapping ErrInvalidCommand. Other entry types (configuration
// changes) only advance the index. The applied index and term are written
// in the same transaction as the effects, so they can never disagree.
//
// If the transaction fails, nothing of the batch is applied, every Result
// carries ErrStoreFailed, and the FSM stops applying (see ErrStoreFailed).
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	if len(logs) == 0 {
		return nil
	}
	out := make([]any, len(logs))
	results := make([]Result, len(logs)) // one allocation for the batch
	for i, l := range logs {
		results[i].Index = l.Index
		out[i] = &results[i]
	}
	failAll := func(err error) []any {
		for i := range results {
			results[i] = Result{Err: err, Index: results[i].Index}
		}
		return out
	}

	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	if err := f.stopped(); err != nil {
		return failAll(err)
	}
	if f.db == nil {
		return failAll(ErrClosed)
	}

	last, lastTerm := f.applied.Load(), f.term
	start := last
	tx, err := f.db.Begin(true)
	if err != nil {
		return failAll(f.fail(err))
	}
	a := newApplier(tx)
	for i, l := range logs {
		if l.Index <= last {
			continue // already applied before a restart (or a duplicate)
		}
		if l.Type == raft.LogCommand {
			if err := a.apply(l.Index, l.Data, &results[i]); err != nil {
				_ = tx.Rollback()
				return failAll(f.fail(fmt.Errorf("entry %d: %w", l.Index, err)))
			}
		}
		last, lastTerm = l.Index, l.Term
	}
	if last == start {
		_ = tx.Rollback() // all replayed: nothing to write
		return out
	}
	if err := tx.Bucket(bktMeta).Put(keyApplied, appendApplied(nil, last, lastTerm)); err != nil {
		_ = tx.Rollback()
		return failAll(f.fail(err))
	}
	if injected := f.commitFault.Swap(nil); injected != nil {
		_ = tx.Rollback()
		return failAll(f.fail(fmt.Errorf("commit: %w", *injected)))
	}
	if err := tx.Commit(); err != nil {
		return failAll(f.fail(fmt.Errorf("commit: %w", err)))
	}
	if a.clusterID != nil {
		f.clusterID.Store(a.clusterID)
	}
	f.term = lastTerm
	f.setApplied(last)
	return out
}

// StoreConfiguration records that the configuration entry at index was
// committed. Raft calls it only for FSMs without ApplyBatch (ours receives
// configuration entries in ApplyBatch); it is implemented for completeness
// with the same effect: the applied index advances, monotonically, and is
// persisted. The entry's term is not passed in, so the stored term is left
// at that of the previous entry.
func (f *FSM) StoreConfiguration(index uint64, _ raft.Configuration) {
	f.applyMu.Lock()
	term := f.term
	f.applyMu.Unlock()
	f.ApplyBatch([]*raft.Log{{Index: index, Term: term, Type: raft.LogConfiguration}})
}
