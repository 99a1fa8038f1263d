package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/strongboxdb/strongbox/raftfsm"
	"github.com/strongboxdb/strongbox/transport"
)

// Node is one cluster member: it owns the Raft instance, the replicated
// state machine, the cluster transport and the internal RPC server. All
// methods are safe for concurrent use. Create it with Start; stop it with
// Close.
type Node struct {
	cfg       Config
	advertise string
	raft      *raft.Raft
	fsm       *raftfsm.FSM
	mux       *transport.Mux
	logStore  *raftboltdb.BoltStore
	rpc       *http.Server
	client    *http.Client
	reads     *readBatcher
	blob      *blobService
	disk      disks      // writability of the data directory's parts (disk.go)
	faultDir  faultAdmin // member directory of the fault admin API (faults.go)

	// readyTerm is the term in which this node, as leader, has applied a
	// no-op of its own. Until then its commit index may predate entries
	// committed by an earlier leader, so it must not serve reads.
	readyTerm atomic.Uint64
	readyMu   sync.Mutex

	clockMu  sync.Mutex
	lastTime int64

	// failure is set, and failed closed, when the state machine's store
	// failed and the node took itself out of service (failure.go).
	failure atomic.Pointer[error]
	failed  chan struct{}
	// identityMu serialises cluster ID adoption (identity.go).
	identityMu       sync.Mutex
	idConflictLogged atomic.Bool

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

// Start opens (or creates) the node's data directory, starts Raft and the
// cluster listener, and bootstraps or joins a cluster when the directory is
// new. With Join set on a new directory, Start returns once a member has
// added this node, or with ctx's error.
func Start(ctx context.Context, c Config) (*Node, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: create data dir: %w", err)
	}
	n := &Node{cfg: cfg, closed: make(chan struct{}), failed: make(chan struct{})}
	n.disk = disks{
		blobs: newDiskWatch("blob store", filepath.Join(cfg.DataDir, "blobs"),
			"meanwhile uploads stored as blobs (objects over 64 KiB, parts) and replicas from peers fail with 503", cfg.Logger, cfg.ID),
		raftLog: newDiskWatch("raft log", raftDir,
			"meanwhile this node cannot append entries: as leader it steps down, as follower it falls behind and answers reads with 503", cfg.Logger, cfg.ID),
		fsm: newDiskWatch("state machine", filepath.Join(cfg.DataDir, "fsm"),
			"meanwhile drained blob garbage stays listed", cfg.Logger, cfg.ID),
	}
	ok := false
	defer func() {
		if !ok {
			n.closeResources()
		}
	}()

	fsmDir := filepath.Join(cfg.DataDir, "fsm")
	if n.fsm, err = raftfsm.Open(fsmDir); err != nil {
		return nil, fmt.Errorf("node: open state machine: %w", err)
	}
	// The log store is append-and-truncate: skipping the freelist write on
	// every commit saves I/O on the write path, at the price of a freelist
	// rebuild (a scan) when the file is opened.
	logOpts := &bbolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}
	if n.logStore, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db"), BoltOptions: logOpts}); err != nil {
		return nil, fmt.Errorf("node: open raft log: %w", err)
	}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Output: cfg.RaftLogOutput, Level: hclog.LevelFromString(cfg.RaftLogLevel)})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, hlog)
	if err != nil {
		return nil, fmt.Errorf("node: snapshot store: %w", err)
	}
	if err := refuseStateMachineAhead(n.fsm, n.logStore, snaps, fsmDir, raftDir); err != nil {
		return nil, err
	}
	if err := catchUpFromSnapshot(n.fsm, snaps, cfg); err != nil {
		return nil, err
	}
	// The files are synced on every commit, but a new file's directory
	// entry is durable only once its directory is: without this a power
	// loss soon after a node's first start could take its log and state
	// machine files with it, entries acknowledged to peers included.
	if err := syncDirs(filepath.Dir(filepath.Clean(cfg.DataDir)), cfg.DataDir, raftDir, filepath.Join(raftDir, "snapshots"), fsmDir); err != nil {
		return nil, err
	}
	hasState, err := raft.HasExistingState(n.logStore, n.logStore, snaps)
	if err != nil {
		return nil, fmt.Errorf("node: inspect raft state: %w", err)
	}
	membership, err := initialMembership(cfg, n.fsm, hasState)
	if err != nil {
		return nil, err
	}
	n.mux, err = transport.Listen(cfg.ClusterAddr, transport.Config{
		NodeID:        cfg.ID,
		Secret:        []byte(cfg.Secret),
		AdvertiseAddr: cfg.AdvertiseAddr,
		Membership:    membership,
		TLS:           cfg.TLS,
		Logger:        cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("node: cluster listener: %w", err)
	}
	n.advertise = n.mux.AdvertiseAddr().String()
	n.client = n.mux.HTTPClient()
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  n.mux.RaftStreamLayer(),
		MaxPool: 4,
		Timeout: 10 * time.Second,
		Logger:  hlog,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.Logger = hlog
	// The state machine is persistent and records the last index it
	// applied in the same transaction as the effects, so a restart need not
	// rebuild it from the snapshot: it resumes in constant time and skips
	// replayed entries it already holds (see raftfsm's package doc).
	rc.NoSnapshotRestoreOnStart = true
	// BatchApplyCh stays off: futures waiting in raft's buffered apply
	// channel are never answered when raft shuts down, which hung Close
	// (seen in CI). Unbuffered, raft still batches what is ready.

	logs := watchedLogStore{BoltStore: n.logStore, w: n.disk.raftLog}
	if n.raft, err = raft.NewRaft(rc, fsmHooks{n.fsm, n}, logs, logs, snaps, trans); err != nil {
		return nil, fmt.Errorf("node: start raft: %w", err)
	}
	n.reads = newReadBatcher(n.readIndexRound, cfg.ApplyTimeout)
	n.blob = newBlobService(n)

	n.rpc = &http.Server{Handler: joinOnly(n.rpcHandler()), ReadHeaderTimeout: 10 * time.Second, ConnContext: transport.ConnContext}
	n.wg.Add(3)
	go func() {
		defer n.wg.Done()
		_ = n.rpc.Serve(n.mux.HTTPListener())
	}()
	go func() {
		defer n.wg.Done()
		n.watchLeadership()
	}()
	go func() {
		defer n.wg.Done()
		n.watchStateMachine()
	}()

	switch {
	case hasState:
		cfg.Logger.Info("resuming node from existing state", "id", cfg.ID, "dir", cfg.DataDir, "cluster", membership.ClusterID.String())
	case len(cfg.Join) == 0:
		cfg.Logger.Info("bootstrapping a new single-node cluster", "id", cfg.ID, "addr", n.advertise, "cluster", membership.ClusterID.String())
		f := n.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: raft.ServerAddress(n.advertise)}}})
		if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, fmt.Errorf("node: bootstrap: %w", err)
		}
	default:
		if err := n.join(ctx); err != nil {
			return nil, err
		}
	}
	n.startBlobMaintenance()
	ok = true
	return n, nil
}

// refuseStateMachineAhead fails when the state machine has applied
// entries that neither the Raft log nor a snapshot holds. The state
// machine's applied index can never pass the local log's last index, so
// this means raft's directory was lost or replaced (by an older backup, or
// a fresh one). Started like that, the node would bootstrap or join with a
// log whose first entries the state machine skips as already applied:
// writes acknowledged but never stored.
func refuseStateMachineAhead(fsm *raftfsm.FSM, logs raft.LogStore, snaps raft.SnapshotStore, fsmDir, raftDir string) error {
	last, err := logs.LastIndex()
	if err != nil {
		return fmt.Errorf("node: read raft log: %w", err)
	}
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("node: list snapshots: %w", err)
	}
	if len(metas) > 0 {
		last = max(last, metas[0].Index)
	}
	applied := fsm.AppliedIndex()
	if applied <= last {
		return nil
	}
	return fmt.Errorf("node: refusing to start: the state machine in %s has applied the Raft log up to index %d, "+
		"but the Raft log and snapshots in %s end at index %d (lost, or restored from an older backup); "+
		"starting would silently skip the first %d entries of the log from now on. "+
		"Either restore %s from the same backup as %s, or remove %s as well to start this node empty: "+
		"if it is a member of a cluster, start it with join addresses (--join) so it catches up from the other members; "+
		"otherwise it bootstraps a new, empty cluster",
		fsmDir, applied, raftDir, last, applied-last, raftDir, fsmDir, fsmDir)
}

// catchUpFromSnapshot restores the state machine from the newest Raft
// snapshot when the state machine is behind it. With
// NoSnapshotRestoreOnStart raft would otherwise resume after the snapshot
// and never replay the entries it covers: this happens when the node died
// while installing a snapshot sent by the leader (the snapshot was saved,
// the state machine not yet replaced) or when fsm.db was lost.
func catchUpFromSnapshot(fsm *raftfsm.FSM, snaps raft.SnapshotStore, cfg Config) error {
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("node: list snapshots: %w", err)
	}
	if len(metas) == 0 || metas[0].Index <= fsm.AppliedIndex() {
		return nil
	}
	cfg.Logger.Warn("state machine is behind the newest snapshot; restoring it", "applied", fsm.AppliedIndex(), "snapshot", metas[0].Index)
	_, rc, err := snaps.Open(metas[0].ID)
	if err != nil {
		return fmt.Errorf("node: open snapshot %s: %w", metas[0].ID, err)
	}
	if err := fsm.Restore(rc); err != nil {
		return fmt.Errorf("node: restore snapshot %s: %w", metas[0].ID, err)
	}
	return nil
}

// ID returns the node's Raft server ID.
func (n *Node) ID() string { return n.cfg.ID }

// ClusterID returns the ID of the cluster this node belongs to, or the zero
// ID while it has none (joining, or a cluster created before cluster IDs
// whose leader has not assigned one yet).
func (n *Node) ClusterID() transport.ClusterID { return n.mux.Membership().ClusterID }

// ClusterAddr returns the address peers use to reach this node; pass it as
// Join to new members.
func (n *Node) ClusterAddr() string { return n.advertise }

// Faults returns the node's transport fault hook, for tests and the
// partition admin API.
func (n *Node) Faults() *transport.Faults { return n.mux.Faults() }

// IsLeader reports whether this node currently believes it leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the current leader's ID as this node knows it, or "".
func (n *Node) Leader() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// AppliedIndex is the last log index applied by this node's state machine.
func (n *Node) AppliedIndex() uint64 { return n.fsm.AppliedIndex() }

// Snapshot forces a Raft snapshot (and log compaction per TrailingLogs).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// Close stops the node: if it leads, it first tries to hand leadership to
// a peer so the cluster does not wait for an election timeout. Close is
// idempotent.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		n.handOffLeadership()
		close(n.closed)
		err = n.closeResources()
		n.wg.Wait()
	})
	return err
}

// closeResources releases whatever Start managed to open, in dependency
// order: Raft first (it uses everything else), then the listeners, then
// the stores.
func (n *Node) closeResources() error {
	var errs []error
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	if n.rpc != nil {
		errs = append(errs, n.rpc.Close())
	}
	if n.blob != nil {
		n.blob.stop()
	}
	if n.mux != nil {
		errs = append(errs, n.mux.Close())
	}
	if n.logStore != nil {
		errs = append(errs, n.logStore.Close())
	}
	if n.fsm != nil {
		errs = append(errs, n.fsm.Close())
	}
	return errors.Join(errs...)
}

func (n *Node) voters() []raft.Server {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	var out []raft.Server
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			out = append(out, s)
		}
	}
	return out
}

// watchLeadership makes a newly elected leader ready for reads at once
// instead of on the first read.
func (n *Node) watchLeadership() {
	for {
		select {
		case <-n.closed:
			return
		case isLeader := <-n.raft.LeaderCh():
			if !isLeader {
				continue
			}
			term := n.raft.CurrentTerm()
			n.cfg.Logger.Info("became leader", "id", n.cfg.ID, "term", term)
			ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
			if err := n.ensureReady(ctx, term); err != nil {
				n.cfg.Logger.Warn("leader not ready for reads", "term", term, "err", err)
			} else {
				n.proposeClusterID()
			}
			cancel()
		}
	}
}

// now returns a strictly increasing timestamp for the commands this node
// proposes as leader, so LastModified never runs backwards within one
// leader's tenure.
func (n *Node) now() int64 {
	n.clockMu.Lock()
	defer n.clockMu.Unlock()
	t := time.Now().UnixNano()
	if t <= n.lastTime {
		t = n.lastTime + 1
	}
	n.lastTime = t
	return t
}

// syncDirs fsyncs each directory, making the entries in it durable.
func syncDirs(dirs ...string) error {
	for _, dir := range dirs {
		d, err := os.Open(dir)
		if err != nil {
			return fmt.Errorf("node: sync %s: %w", dir, err)
		}
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("node: sync %s: %w", dir, err)
		}
	}
	return nil
}
