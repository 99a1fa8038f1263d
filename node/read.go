package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/raftfsm"
)

// readBarrier returns once this node's state machine reflects every write
// acknowledged before the call began, on any node (ReadIndex): learn the
// leader's commit index after the leader confirms it still leads, then
// wait for the local state machine to apply up to it.
func (n *Node) readBarrier(ctx context.Context) error {
	if err := n.Failure(); err != nil {
		return err
	}
	if n.cfg.UnsafeLocalReads {
		return nil
	}
	idx, err := n.reads.readIndex(ctx)
	if err != nil {
		return err
	}
	if err := n.fsm.WaitApplied(ctx, idx); err != nil {
		if derr := n.disk.raftLog.err(); derr != nil {
			// Behind because it cannot append what the leader sends.
			return fmt.Errorf("%w; waiting for index %d: %v", derr, idx, err)
		}
		return fmt.Errorf("%w: waiting for index %d: %v", objstore.ErrUnavailable, idx, err)
	}
	return nil
}

// readIndexRound runs one leadership confirmation on behalf of every read
// waiting in the batcher: locally when this node leads, else by asking the
// leader.
func (n *Node) readIndexRound(ctx context.Context) (uint64, error) {
	for attempt := 0; ; attempt++ {
		var idx uint64
		var err error
		if n.raft.State() == raft.Leader {
			idx, err = n.leaderReadIndex(ctx)
		} else {
			var addr string
			if addr, err = n.waitLeader(ctx); err == nil {
				if addr == n.advertise {
					// Became leader while waiting: asking ourselves over
					// the network would queue behind this very round.
					idx, err = n.leaderReadIndex(ctx)
				} else {
					idx, err = n.remoteReadIndex(ctx, addr)
				}
			}
		}
		if errors.Is(err, errNotLeader) && attempt+1 < maxForwardAttempts {
			if werr := n.waitLeaderChange(ctx); werr != nil {
				return 0, werr
			}
			continue
		}
		if errors.Is(err, errNotLeader) {
			return 0, fmt.Errorf("%w: leader changed repeatedly", objstore.ErrUnavailable)
		}
		return idx, err
	}
}

// leaderReadIndex is the leader half of ReadIndex. The commit index is
// read before VerifyLeader: any write acknowledged before this read began
// is at or below it, and the verification proves no newer leader could
// have acknowledged writes we do not know of.
func (n *Node) leaderReadIndex(ctx context.Context) (uint64, error) {
	term := n.raft.CurrentTerm()
	if err := n.ensureReady(ctx, term); err != nil {
		return 0, err
	}
	idx := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, mapRaftError(err)
	}
	if n.raft.CurrentTerm() != term {
		return 0, errNotLeader
	}
	return idx, nil
}

// ensureReady makes sure an entry of this leader's term has been applied
// before the leader serves reads in that term: raft's own leader no-op is
// invisible to the state machine, so we apply one of ours.
func (n *Node) ensureReady(ctx context.Context, term uint64) error {
	if n.readyTerm.Load() == term {
		return nil
	}
	n.readyMu.Lock()
	defer n.readyMu.Unlock()
	if n.readyTerm.Load() == term {
		return nil
	}
	if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
		return errNotLeader
	}
	if _, err := n.applyLocalBackground(raftfsm.NewNoop().Marshal()); err != nil {
		return err
	}
	if n.raft.CurrentTerm() != term {
		return errNotLeader
	}
	n.readyTerm.Store(term)
	return nil
}

type readIndexReply struct {
	Index uint64 `json:"index"`
}

func (n *Node) remoteReadIndex(ctx context.Context, addr string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/rpc/readindex", nil)
	if err != nil {
		return 0, err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: read index from leader %s: %v", objstore.ErrUnavailable, addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return 0, fmt.Errorf("%w: read index reply: %v", objstore.ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, outcomeError(resp.Header.Get(hdrOutcome), string(body))
	}
	var rep readIndexReply
	if err := json.Unmarshal(body, &rep); err != nil {
		return 0, fmt.Errorf("%w: bad read index reply: %v", objstore.ErrUnavailable, err)
	}
	return rep.Index, nil
}

// handleReadIndex serves a follower's ReadIndex request. Only the leader
// answers; it batches the request with its own reads.
func (n *Node) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	if n.raft.State() != raft.Leader {
		writeOutcome(w, errNotLeader)
		return
	}
	idx, err := n.reads.readIndex(r.Context())
	if err != nil {
		writeOutcome(w, err)
		return
	}
	_ = json.NewEncoder(w).Encode(readIndexReply{Index: idx})
}

// readBatcher lets many concurrent reads share one leadership
// confirmation. A round started before a read arrived cannot serve it (its
// commit index may predate a write the reader already saw acknowledged),
// so late arrivals join the next round, which starts as soon as the
// current one ends. Hence at most one round is in flight and at most one
// is pending.
type readBatcher struct {
	fetch   func(context.Context) (uint64, error)
	timeout time.Duration

	mu       sync.Mutex
	inflight bool
	next     *readRound
}

type readRound struct {
	done    chan struct{}
	readers int // callers sharing this round; guarded by readBatcher.mu
	index   uint64
	err     error
}

func newReadBatcher(fetch func(context.Context) (uint64, error), timeout time.Duration) *readBatcher {
	return &readBatcher{fetch: fetch, timeout: timeout}
}

// readIndex returns a commit index that is safe for a read beginning now.
func (b *readBatcher) readIndex(ctx context.Context) (uint64, error) {
	b.mu.Lock()
	if b.next == nil {
		b.next = &readRound{done: make(chan struct{})}
	}
	round := b.next
	round.readers++
	if !b.inflight {
		b.startLocked()
	}
	b.mu.Unlock()

	select {
	case <-round.done:
		return round.index, round.err
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: read index: %v", objstore.ErrUnavailable, ctx.Err())
	}
}

// startLocked launches the pending round. b.mu must be held.
func (b *readBatcher) startLocked() {
	round := b.next
	b.next = nil
	b.inflight = true
	go func() {
		// The round serves many callers, so it is bounded by its own
		// timeout rather than by any one caller's context.
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		round.index, round.err = b.fetch(ctx)
		cancel()
		close(round.done)
		b.mu.Lock()
		b.inflight = false
		if b.next != nil {
			b.startLocked()
		}
		b.mu.Unlock()
	}()
}
