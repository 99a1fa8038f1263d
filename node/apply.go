package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/raftfsm"
)

// errNotLeader means the command was definitely not appended (this node or
// the one we asked is not the leader); retrying elsewhere is safe.
var errNotLeader = errors.New("node: not the leader")

// maxForwardAttempts bounds how often one write chases a moving leader.
const maxForwardAttempts = 5

// propose runs cmd through the Raft log and returns the state machine's
// result once it is committed and applied on the leader. A follower
// forwards the command to the leader. Errors: objstore sentinels from the
// state machine (the command was applied and had no effect), or
// objstore.ErrUnavailable when the outcome is unknown or no leader could
// be reached in time.
func (n *Node) propose(ctx context.Context, cmd *raftfsm.Command) (*raftfsm.Result, error) {
	if err := n.Failure(); err != nil {
		// Forwarding would still work, but a node that cannot apply the
		// log must not look healthy to its clients (failure.go).
		return nil, err
	}
	data := cmd.Marshal()
	for attempt := 0; ; attempt++ {
		var res *raftfsm.Result
		var err error
		if n.raft.State() == raft.Leader {
			res, err = n.applyLocal(data)
		} else {
			var addr string
			if addr, err = n.waitLeader(ctx); err == nil {
				if addr == n.advertise {
					// Became leader while waiting; the transport refuses
					// a connection to ourselves.
					res, err = n.applyLocal(data)
				} else {
					res, err = n.forwardApply(ctx, addr, data)
				}
			}
		}
		if errors.Is(err, errNotLeader) && attempt+1 < maxForwardAttempts && ctx.Err() == nil {
			// The leader moved before the command was appended anywhere;
			// wait for the cluster to settle on a new one and try there.
			if werr := n.waitLeaderChange(ctx); werr != nil {
				return nil, werr
			}
			continue
		}
		if errors.Is(err, errNotLeader) {
			return nil, fmt.Errorf("%w: leader changed repeatedly", objstore.ErrUnavailable)
		}
		if err != nil {
			return nil, err
		}
		return res, res.Err
	}
}

// applyLocal stamps an encoded command with the leader's clock, in place,
// and applies it. The returned error is errNotLeader (not appended, safe to
// retry), objstore.ErrUnavailable (outcome unknown, including an entry
// committed that this node's failed state machine could not apply) or
// nil; application-level failures travel inside the Result.
func (n *Node) applyLocal(data []byte) (*raftfsm.Result, error) {
	return n.applyLocalWait(data, nil)
}

// applyLocalBackground is applyLocal for the node's own goroutines (the
// read barrier and the cluster ID of a new leader), which Close waits
// for: it stops waiting when the node closes. hashicorp/raft drops
// committed batches still queued for the state machine when it shuts
// down, and their futures are never answered; a client's write stuck so
// is ended by the HTTP server's shutdown, but Close would wait for ever.
func (n *Node) applyLocalBackground(data []byte) (*raftfsm.Result, error) {
	return n.applyLocalWait(data, n.closed)
}

func (n *Node) applyLocalWait(data []byte, closed <-chan struct{}) (*raftfsm.Result, error) {
	if err := raftfsm.SetTime(data, n.now()); err != nil {
		return nil, err
	}
	f := n.raft.Apply(data, n.cfg.ApplyTimeout)
	var err error
	if closed == nil {
		err = f.Error()
	} else {
		done := make(chan error, 1)
		go func() { done <- f.Error() }()
		select {
		case err = <-done:
		case <-closed:
			return nil, fmt.Errorf("%w: node closing", objstore.ErrUnavailable)
		}
	}
	if err != nil {
		return nil, mapRaftError(err)
	}
	res, ok := f.Response().(*raftfsm.Result)
	if !ok {
		return nil, fmt.Errorf("node: unexpected state machine response %T", f.Response())
	}
	if err := unappliedError(res); err != nil {
		return nil, err
	}
	return res, nil
}

// mapRaftError sorts raft's errors by what the caller may conclude.
func mapRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return errNotLeader
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: raft apply queue full", objstore.ErrSlowDown)
	case blobstore.Unwritable(err) != nil:
		// The leader could not append the entry to its log (raft-boltdb
		// on a full or read-only disk; the watched log store has logged
		// it) and steps down. The entry was never sent to a follower, but
		// say no more than ErrUnavailable, which the sentinel wraps.
		return fmt.Errorf("%w: raft log append on the leader: %v", diskSentinel(blobstore.Unwritable(err)), err)
	default:
		// ErrLeadershipLost, ErrRaftShutdown, ErrAbortedByRestore: the
		// entry may or may not commit later. Never report success or a
		// definite failure.
		return fmt.Errorf("%w: %v", objstore.ErrUnavailable, err)
	}
}

// Headers of the internal apply RPC.
const (
	hdrOutcome        = "X-Strongbox-Outcome"
	outcomeNotLeader  = "not-leader"
	outcomeUnknown    = "unknown"
	outcomeSlowDown   = "slow-down"
	outcomeNoSpace    = "no-space"  // objstore.ErrNoSpace
	outcomeReadOnly   = "read-only" // objstore.ErrReadOnly
	maxInternalResult = 64 << 20
)

// forwardApply sends an encoded command to the leader at addr. A transport
// failure after the request may have been sent is an unknown outcome.
func (n *Node) forwardApply(ctx context.Context, addr string, cmd []byte) (*raftfsm.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/rpc/apply", bytes.NewReader(cmd))
	if err != nil {
		return nil, err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: forwarding to leader %s: %v", objstore.ErrUnavailable, addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxInternalResult))
	if err != nil {
		return nil, fmt.Errorf("%w: reading leader reply: %v", objstore.ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, outcomeError(resp.Header.Get(hdrOutcome), string(body))
	}
	return raftfsm.UnmarshalResult(body)
}

func outcomeError(outcome, msg string) error {
	switch outcome {
	case outcomeNotLeader:
		return errNotLeader
	case outcomeSlowDown:
		return fmt.Errorf("%w: %s", objstore.ErrSlowDown, msg)
	case outcomeNoSpace:
		return fmt.Errorf("%w: %s", objstore.ErrNoSpace, msg)
	case outcomeReadOnly:
		return fmt.Errorf("%w: %s", objstore.ErrReadOnly, msg)
	default:
		return fmt.Errorf("%w: %s", objstore.ErrUnavailable, msg)
	}
}

func writeOutcome(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errNotLeader):
		w.Header().Set(hdrOutcome, outcomeNotLeader)
	case errors.Is(err, objstore.ErrSlowDown):
		w.Header().Set(hdrOutcome, outcomeSlowDown)
	case errors.Is(err, objstore.ErrNoSpace):
		w.Header().Set(hdrOutcome, outcomeNoSpace)
	case errors.Is(err, objstore.ErrReadOnly):
		w.Header().Set(hdrOutcome, outcomeReadOnly)
	default:
		w.Header().Set(hdrOutcome, outcomeUnknown)
	}
	http.Error(w, err.Error(), http.StatusServiceUnavailable)
}

// handleApply is the leader side of write forwarding.
func (n *Node) handleApply(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxInternalResult+1))
	if err != nil {
		// Nothing was appended, so the sender may retry: report it with
		// the "not leader" outcome, the one that means exactly that.
		writeOutcome(w, fmt.Errorf("%w: read: %v", errNotLeader, err))
		return
	}
	// Decode once to reject garbage before it reaches the log; the FSM
	// would record it as a failed entry, but it has no business there.
	if _, err := raftfsm.UnmarshalCommand(data); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if n.raft.State() != raft.Leader {
		writeOutcome(w, errNotLeader)
		return
	}
	res, err := n.applyLocal(data)
	if err != nil {
		writeOutcome(w, err)
		return
	}
	_, _ = w.Write(raftfsm.MarshalResult(res))
}

// waitLeader returns the current leader's cluster address, waiting (until
// ctx is done) while an election is in progress.
func (n *Node) waitLeader(ctx context.Context) (string, error) {
	for {
		if addr, _ := n.raft.LeaderWithID(); addr != "" {
			return string(addr), nil
		}
		if err := n.pause(ctx); err != nil {
			return "", fmt.Errorf("%w: no leader", objstore.ErrUnavailable)
		}
	}
}

// waitLeaderChange gives an election a moment to conclude before a retry.
func (n *Node) waitLeaderChange(ctx context.Context) error {
	if err := n.pause(ctx); err != nil {
		return fmt.Errorf("%w: no leader", objstore.ErrUnavailable)
	}
	return nil
}

// pause waits a short, fixed interval, or returns early when ctx or the
// node is done. Raft exposes no "leader known" event that covers every
// state we wait on, so waiting for a leader is a bounded poll.
func (n *Node) pause(ctx context.Context) error {
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-n.closed:
		return errors.New("node closed")
	case <-t.C:
		return nil
	}
}
