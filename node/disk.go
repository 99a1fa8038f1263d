package node

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"golang.org/x/sys/unix"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/objstore"
)

// Full and read-only disks. A node writes to three places under DataDir:
// the blob store (large bodies and parts), the Raft log (raft-boltdb) and
// the state machine (bbolt). Each is watched by a diskWatch that turns a
// write refused for lack of space (ENOSPC, EDQUOT, the blob store's
// reserve) or because the directory is read-only (EROFS, EACCES, EPERM)
// into objstore.ErrNoSpace or ErrReadOnly (503 ServiceUnavailable with a
// message saying so), and logs one line when such an episode starts and
// one when a write succeeds again, never one per request. What happens to
// the request and how the node recovers depends on the place; see the
// package doc ("Full or read-only disk").

// diskLogQuiet is the shortest interval between two "disk refuses writes"
// lines of one watch: a disk with a few free pages can refuse a large
// write, accept a small one and refuse the next, and that must not turn
// into a line per request.
const diskLogQuiet = time.Minute

// diskWatch follows whether one data directory accepts writes. Safe for
// concurrent use; ok costs one atomic load while the directory is fine.
type diskWatch struct {
	what   string // "blob store", "raft log", "state machine"
	dir    string
	effect string // what a refused write means meanwhile, for the log line
	log    *slog.Logger
	node   string
	now    func() time.Time // time.Now; tests replace it

	failing atomic.Bool
	mu      sync.Mutex
	cause   error     // the episode's latest error, nil when healthy
	kind    error     // blobstore.ErrNoSpace or ErrReadOnly
	since   time.Time // start of the episode
	count   int       // refused writes in this episode
	logged  bool      // this episode's start was logged
	lastLog time.Time // when a start was last logged
	lastMsg string    // reason of that line
}

func newDiskWatch(what, dir, effect string, log *slog.Logger, node string) *diskWatch {
	return &diskWatch{what: what, dir: dir, effect: effect, log: log, node: node, now: time.Now}
}

// failed checks whether err is a full or read-only disk. If it is, it
// records it (logging per the rules above) and returns err wrapped in
// objstore.ErrNoSpace or ErrReadOnly, naming this node; otherwise it
// returns nil and records nothing.
func (d *diskWatch) failed(err error) error {
	kind := blobstore.Unwritable(err)
	if kind == nil {
		return nil
	}
	d.mu.Lock()
	now := d.now()
	if !d.failing.Load() {
		d.since, d.count, d.logged = now, 0, false
		d.failing.Store(true)
	}
	d.count++
	d.cause, d.kind = err, kind
	reason := diskReason(err)
	if !d.logged && (now.Sub(d.lastLog) >= diskLogQuiet || reason != d.lastMsg) ||
		d.logged && reason != d.lastMsg {
		d.logged, d.lastLog, d.lastMsg = true, now, reason
		d.log.Error(fmt.Sprintf("%s cannot write to disk (%s): %s; free space (or make the directory writable) and it resumes by itself, no restart needed",
			d.what, kindText(kind), d.effect),
			"node", d.node, "dir", d.dir, "errno", reason, "err", err)
	}
	d.mu.Unlock()
	return wrapDisk(kind, d.node, d.what, err)
}

// ok records a successful write: it ends an episode, logging that it did
// if its start was logged.
func (d *diskWatch) ok() {
	if !d.failing.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.failing.Load() {
		return
	}
	d.failing.Store(false)
	if d.logged {
		d.log.Info(d.what+" writes to disk again", "node", d.node, "dir", d.dir,
			"refused_writes", d.count, "after", d.now().Sub(d.since).Round(time.Millisecond))
	}
	d.cause, d.kind = nil, nil
}

// err returns the current episode's error (wrapping objstore.ErrNoSpace
// or ErrReadOnly), or nil when the last write succeeded.
func (d *diskWatch) err() error {
	if !d.failing.Load() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cause == nil {
		return nil
	}
	return wrapDisk(d.kind, d.node, d.what, d.cause)
}

// wrapDisk wraps err, of the blobstore disk kind, in the objstore
// sentinel for it.
func wrapDisk(kind error, node, what string, err error) error {
	return fmt.Errorf("%w: node %s: %s: %w", diskSentinel(kind), node, what, err)
}

// diskSentinel maps blobstore.ErrNoSpace and ErrReadOnly to objstore's.
func diskSentinel(kind error) error {
	if kind == blobstore.ErrReadOnly {
		return objstore.ErrReadOnly
	}
	return objstore.ErrNoSpace
}

func kindText(kind error) string {
	if kind == blobstore.ErrReadOnly {
		return "read-only or not writable"
	}
	return "out of space"
}

// diskReason names the errno ("ENOSPC"), or says that the blob store's
// reserve was reached.
func diskReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
		return errno.Error()
	}
	if errors.Is(err, blobstore.ErrNoSpace) {
		return "below reserve"
	}
	return "unknown"
}

// disks are the node's three watches.
type disks struct {
	blobs, raftLog, fsm *diskWatch
}

// watchedLogStore is the Raft log and stable store with its writes
// watched. hashicorp/raft logs a failed append only to its own log
// (discarded by default) and retries it; this makes a full disk visible
// in the node's log and to readers, and notices when it is over.
type watchedLogStore struct {
	*raftboltdb.BoltStore
	w *diskWatch
}

var (
	_ raft.LogStore    = watchedLogStore{}
	_ raft.StableStore = watchedLogStore{}
)

// watch records the outcome of a log append. Only appends end an
// episode: a small stable-store write (term, vote) or a truncation can
// succeed on a full disk, because bbolt reuses pages it freed, while the
// next append still needs room.
func (s watchedLogStore) watch(err error) error {
	if err == nil {
		s.w.ok()
	} else {
		s.w.failed(err)
	}
	return err // unchanged: raft decides what a failed write means
}

// watchFailure records only a failure.
func (s watchedLogStore) watchFailure(err error) error {
	if err != nil {
		s.w.failed(err)
	}
	return err
}

func (s watchedLogStore) StoreLog(l *raft.Log) error { return s.watch(s.BoltStore.StoreLog(l)) }
func (s watchedLogStore) StoreLogs(l []*raft.Log) error {
	return s.watch(s.BoltStore.StoreLogs(l))
}
func (s watchedLogStore) DeleteRange(lo, hi uint64) error {
	return s.watchFailure(s.BoltStore.DeleteRange(lo, hi))
}
func (s watchedLogStore) Set(k, v []byte) error { return s.watchFailure(s.BoltStore.Set(k, v)) }
func (s watchedLogStore) SetUint64(k []byte, v uint64) error {
	return s.watchFailure(s.BoltStore.SetUint64(k, v))
}
