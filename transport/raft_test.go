package transport

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// listFSM records applied commands in order, ignoring repeats, so a test
// can retry a write whose outcome was ambiguous.
type listFSM struct {
	mu      sync.Mutex
	applied []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.applied, string(l.Data)) {
		f.applied = append(f.applied, string(l.Data))
	}
	return len(f.applied)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return listSnapshot(slices.Clone(f.applied)), nil
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var applied []string
	if err := json.NewDecoder(rc).Decode(&applied); err != nil {
		return err
	}
	f.mu.Lock()
	f.applied = applied
	f.mu.Unlock()
	return nil
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.applied)
}

type listSnapshot []string

func (s listSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode([]string(s)); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s listSnapshot) Release() {}

type raftNode struct {
	id  string
	mux *Mux
	r   *raft.Raft
	fsm *listFSM
}

func startRaftCluster(t *testing.T, ids ...string) []*raftNode {
	t.Helper()
	var nodes []*raftNode
	var servers []raft.Server
	for _, id := range ids {
		m := newTestMux(t, id)
		nodes = append(nodes, &raftNode{id: id, mux: m, fsm: &listFSM{}})
		servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(m.RaftStreamLayer().Addr().String())})
	}
	w := newTWriter(t)
	for _, n := range nodes {
		logger := hclog.New(&hclog.LoggerOptions{Name: n.id, Output: w, Level: hclog.Info})
		cfg := raft.DefaultConfig()
		cfg.LocalID = raft.ServerID(n.id)
		cfg.HeartbeatTimeout = 100 * time.Millisecond
		cfg.ElectionTimeout = 100 * time.Millisecond
		cfg.LeaderLeaseTimeout = 100 * time.Millisecond
		cfg.CommitTimeout = 5 * time.Millisecond
		cfg.Logger = logger
		trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream:  n.mux.RaftStreamLayer(),
			MaxPool: 3,
			Timeout: time.Second,
			Logger:  logger,
		})
		logs, stable, snaps := raft.NewInmemStore(), raft.NewInmemStore(), raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(cfg, logs, stable, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
		r, err := raft.NewRaft(cfg, n.fsm, logs, stable, snaps, trans)
		if err != nil {
			t.Fatal(err)
		}
		n.r = r
		t.Cleanup(func() {
			if err := r.Shutdown().Error(); err != nil {
				t.Errorf("%s shutdown: %v", n.id, err)
			}
			_ = trans.Close()
		})
	}
	return nodes
}

// leaderAmong returns the node all of nodes agree is leader, if they do
// and it is one of them and it knows it.
func leaderAmong(nodes []*raftNode) *raftNode {
	var agreed raft.ServerID
	for i, n := range nodes {
		_, id := n.r.LeaderWithID()
		if id == "" || (i > 0 && id != agreed) {
			return nil
		}
		agreed = id
	}
	for _, n := range nodes {
		if raft.ServerID(n.id) == agreed && n.r.State() == raft.Leader {
			return n
		}
	}
	return nil
}

func waitLeader(t *testing.T, nodes []*raftNode, what string) *raftNode {
	t.Helper()
	var l *raftNode
	waitFor(t, 20*time.Second, what, func() bool { l = leaderAmong(nodes); return l != nil })
	return l
}

// apply commits cmd through whichever of nodes leads, retrying when
// leadership moves (short timeouts on a loaded machine make that happen).
// It returns the leader that committed it.
func apply(t *testing.T, nodes []*raftNode, cmd string) *raftNode {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := waitLeader(t, nodes, "a leader to apply "+cmd)
		err := l.r.Apply([]byte(cmd), 5*time.Second).Error()
		if err == nil {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("apply %q: %v", cmd, err)
		}
		t.Logf("apply %q on %s: %v; retrying", cmd, l.id, err)
	}
}

func waitApplied(t *testing.T, nodes []*raftNode, want []string) {
	t.Helper()
	for _, n := range nodes {
		waitFor(t, 20*time.Second, fmt.Sprintf("%s to apply %v", n.id, want), func() bool {
			return slices.Equal(n.fsm.list(), want)
		})
	}
}

func without(nodes []*raftNode, x *raftNode) []*raftNode {
	return slices.DeleteFunc(slices.Clone(nodes), func(n *raftNode) bool { return n == x })
}

// Real hashicorp/raft over the stream layer: elect, replicate, partition the
// leader away with a fault rule on the leader alone, watch the majority
// elect a new leader while the old one cannot commit, heal, converge.
func TestRaftPartitionAndHeal(t *testing.T) {
	nodes := startRaftCluster(t, "n1", "n2", "n3")
	apply(t, nodes, "a")
	waitApplied(t, nodes, []string{"a"})

	old := waitLeader(t, nodes, "leader to partition")
	rest := without(nodes, old)
	old.mux.Faults().Block(rest[0].id, rest[1].id)

	// The old leader cannot commit: it loses its lease and steps down.
	lost := old.r.Apply([]byte("lost"), time.Second)
	errc := make(chan error, 1)
	go func() { errc <- lost.Error() }()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the partitioned leader committed a write")
		}
		t.Logf("apply on partitioned leader: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("apply on the partitioned leader neither failed nor succeeded")
	}

	// The majority elects one of its own and keeps committing.
	next := apply(t, rest, "b")
	t.Logf("majority leader: %s", next.id)
	waitApplied(t, rest, []string{"a", "b"})
	if got := old.fsm.list(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("partitioned node applied %v", got)
	}
	if old.r.State() == raft.Leader {
		t.Fatal("partitioned node still believes it leads")
	}

	// Heal: everyone agrees on one leader and the old leader catches up;
	// its uncommitted entry is gone.
	old.mux.Faults().Heal()
	apply(t, nodes, "c")
	waitApplied(t, nodes, []string{"a", "b", "c"})
	waitFor(t, 20*time.Second, "same last index everywhere", func() bool {
		i := nodes[0].r.AppliedIndex()
		return nodes[1].r.AppliedIndex() == i && nodes[2].r.AppliedIndex() == i
	})
}
