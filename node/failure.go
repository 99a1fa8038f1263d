package node

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/raftfsm"
)

// A node whose state machine store fails (raftfsm.ErrStoreFailed: disk
// full, I/O error) can no longer apply the log, so it must not go on as a
// member that looks healthy: as leader it would keep committing writes
// that it then reports as failed, and as any member it would answer reads
// from a state that no longer advances. It takes itself out of service:
// it answers every request with objstore.ErrUnavailable (503, retryable),
// hands leadership to a peer, shuts Raft down so the others carry on
// without it, reports unhealthy, and closes Failed so that the process
// can exit and be restarted. A restart resumes: the state machine holds
// everything up to its last durable applied index and re-applies the rest
// from the Raft log.

// watchStateMachine waits for the state machine to stop and, if its
// store failed, takes the node out of service.
func (n *Node) watchStateMachine() {
	select {
	case <-n.closed:
		return
	case <-n.fsm.Done():
	}
	cause := n.fsm.Err()
	if !errors.Is(cause, raftfsm.ErrStoreFailed) {
		return // closed
	}
	n.failStop(cause)
}

// failStop takes the node out of service after its state machine failed.
// A full or read-only disk is named as such, in the log line and in the
// 503 every request then gets.
func (n *Node) failStop(cause error) {
	sentinel, errno := objstore.ErrUnavailable, ""
	if kind := blobstore.Unwritable(cause); kind != nil {
		sentinel, errno = diskSentinel(kind), diskReason(cause)
	}
	err := fmt.Errorf("%w: node %s is out of service until restarted: %w", sentinel, n.cfg.ID, cause)
	n.failure.Store(&err)
	n.cfg.Logger.Error("state machine store failed: this node stops serving and leaves Raft until it is restarted; "+
		"fix the cause (disk space, I/O errors) and restart it: it resumes from its last durably applied entry",
		"id", n.cfg.ID, "applied_index", n.fsm.AppliedIndex(), "errno", errno, "err", cause)
	n.handOffLeadership()
	// Shutdown stops Raft at once; its future waits for raft's goroutines,
	// and a replication goroutine blocked on a stalled peer can hold that
	// wait indefinitely. The node is out of Raft either way, so Failed is
	// not held back by it: Close finishes the job.
	f := n.raft.Shutdown()
	shut := make(chan struct{})
	go func() {
		_ = f.Error()
		close(shut)
	}()
	t := time.NewTimer(raftShutdownWait)
	defer t.Stop()
	select {
	case <-shut:
	case <-t.C:
		n.cfg.Logger.Warn("raft is slow to shut down after the state machine failure; carrying on", "id", n.cfg.ID)
	}
	close(n.failed)
}

// raftShutdownWait bounds how long failStop waits for raft's goroutines.
const raftShutdownWait = 10 * time.Second

// handOffLeadership asks a peer to take over when this node leads, so the
// cluster does not wait an election timeout for a leader; it gives up
// after two election timeouts.
func (n *Node) handOffLeadership() {
	if n.raft.State() != raft.Leader || len(n.voters()) < 2 {
		return
	}
	f := n.raft.LeadershipTransfer()
	done := make(chan struct{})
	go func() { _ = f.Error(); close(done) }()
	t := time.NewTimer(2 * n.cfg.ElectionTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// Failed returns a channel that is closed once the node has taken itself
// out of service because its state machine's store failed: it no longer
// leads or votes and answers every request with objstore.ErrUnavailable.
// Failure says why. The process should then exit (cmd/strongbox does) so
// that a supervisor restarts it; a restart resumes where the state
// machine's durable state ends. Close does not close the channel.
func (n *Node) Failed() <-chan struct{} { return n.failed }

// Failure returns nil while the node is in service, and the reason (an
// error wrapping objstore.ErrUnavailable) once its state machine has
// failed. It is set as soon as the failure is noticed, before Failed is
// closed.
func (n *Node) Failure() error {
	if p := n.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// InjectStoreFailure is a fault-injection hook for tests: the next commit
// of this node's state machine fails with err, as a disk error would
// (raftfsm.FSM.InjectCommitFailure). Nothing but tests calls it.
func (n *Node) InjectStoreFailure(err error) { n.fsm.InjectCommitFailure(err) }

// unappliedError turns a state machine Result that says the entry was not
// applied on this node (its store failed or closed) into an unknown
// outcome: the entry is committed, so the cluster applies it, and
// reporting a definite failure for it would be a lie.
func unappliedError(res *raftfsm.Result) error {
	if errors.Is(res.Err, raftfsm.ErrStoreFailed) || errors.Is(res.Err, raftfsm.ErrClosed) {
		return fmt.Errorf("%w: entry %d committed but not applied on this node: %v", objstore.ErrUnavailable, res.Index, res.Err)
	}
	return nil
}
