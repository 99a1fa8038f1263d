package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/strongboxdb/strongbox/raftfsm"
	"github.com/strongboxdb/strongbox/transport"
)

// clusterIDFile holds the cluster ID in the data directory: 32 hex digits
// and a newline. It is written when the node bootstraps a cluster, when a
// joining node learns the ID from a member (before it asks to be added),
// and when the state machine records one. The state machine's record
// (raftfsm SetClusterID, replicated through the log) is authoritative; the
// file is what the node knows before its state machine does.
const clusterIDFile = "cluster-id"

// readClusterIDFile returns the ID stored in dir, or the zero ID if there
// is no file.
func readClusterIDFile(dir string) (transport.ClusterID, error) {
	b, err := os.ReadFile(filepath.Join(dir, clusterIDFile))
	if errors.Is(err, os.ErrNotExist) {
		return transport.ClusterID{}, nil
	}
	if err != nil {
		return transport.ClusterID{}, fmt.Errorf("node: read cluster ID: %w", err)
	}
	id, err := transport.ParseClusterID(strings.TrimSpace(string(b)))
	if err != nil {
		return id, fmt.Errorf("node: %s: %w", filepath.Join(dir, clusterIDFile), err)
	}
	return id, nil
}

// writeClusterIDFile stores id in dir durably: written to a temporary
// file, synced, renamed into place, and the directory synced.
func writeClusterIDFile(dir string, id transport.ClusterID) error {
	path := filepath.Join(dir, clusterIDFile)
	tmp, err := os.CreateTemp(dir, clusterIDFile+".tmp*")
	if err != nil {
		return fmt.Errorf("node: write cluster ID: %w", err)
	}
	_, err = tmp.WriteString(id.String() + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("node: write cluster ID: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("node: write cluster ID: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("node: write cluster ID: sync %s: %w", dir, err)
	}
	return nil
}

// initialMembership decides what the node says about its cluster at start,
// from the cluster ID file, the state machine's record and whether the
// node has Raft state:
//
//   - the file or the state machine names an ID: a member of that cluster
//     (if both name one, they must agree);
//   - Raft state but no ID anywhere: a member of a cluster created before
//     cluster IDs existed; its leader will assign one (proposeClusterID);
//   - no state, no Join: a new cluster, with a new random ID;
//   - no state, Join: a joining node, until join learns the ID.
func initialMembership(cfg Config, fsm *raftfsm.FSM, hasState bool) (transport.Membership, error) {
	fileID, err := readClusterIDFile(cfg.DataDir)
	if err != nil {
		return transport.Membership{}, err
	}
	var fsmID transport.ClusterID
	if id, ok := fsm.ClusterID(); ok {
		fsmID = id
	}
	switch {
	case !fileID.IsZero() && !fsmID.IsZero() && fileID != fsmID:
		return transport.Membership{}, fmt.Errorf("node: %s says cluster %s but the state machine in %s belongs to cluster %s: this data directory mixes two clusters' data; restore it from one cluster, or remove it to join afresh",
			filepath.Join(cfg.DataDir, clusterIDFile), fileID, cfg.DataDir, fsmID)
	case !fileID.IsZero():
		return transport.Membership{ClusterID: fileID}, nil
	case !fsmID.IsZero():
		if err := writeClusterIDFile(cfg.DataDir, fsmID); err != nil {
			return transport.Membership{}, err
		}
		return transport.Membership{ClusterID: fsmID}, nil
	case hasState:
		cfg.Logger.Warn("this data directory has no cluster ID (created by an older version); the cluster's leader will assign one, until then this node accepts any peer that holds the cluster secret", "dir", cfg.DataDir)
		return transport.Membership{}, nil
	case len(cfg.Join) == 0:
		if cfg.noClusterID {
			return transport.Membership{}, nil
		}
		id := transport.NewClusterID()
		if err := writeClusterIDFile(cfg.DataDir, id); err != nil {
			return transport.Membership{}, err
		}
		return transport.Membership{ClusterID: id}, nil
	default:
		return transport.Membership{Joining: true}, nil
	}
}

// clusterInfo is the answer of GET /rpc/cluster, the one RPC besides join
// that a joining node may call.
type clusterInfo struct {
	// ClusterID is the member's cluster ID, "" if it has none yet.
	ClusterID string `json:"cluster_id"`
}

func (n *Node) handleCluster(w http.ResponseWriter, _ *http.Request) {
	var info clusterInfo
	if id := n.mux.Membership().ClusterID; !id.IsZero() {
		info.ClusterID = id.String()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}

// fetchClusterID asks the member at addr for its cluster ID; zero means
// the member has none (its cluster predates cluster IDs).
func (n *Node) fetchClusterID(ctx context.Context, addr string) (transport.ClusterID, error) {
	var none transport.ClusterID
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/rpc/cluster", nil)
	if err != nil {
		return none, err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return none, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return none, err
	}
	if resp.StatusCode != http.StatusOK {
		return none, fmt.Errorf("cluster ID from %s: %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	var info clusterInfo
	if err := json.Unmarshal(body, &info); err != nil {
		return none, fmt.Errorf("cluster ID from %s: %w", addr, err)
	}
	if info.ClusterID == "" {
		return none, nil
	}
	return transport.ParseClusterID(info.ClusterID)
}

// adoptClusterID makes id this node's cluster ID: stored in the data
// directory first, so that a restart keeps it, then announced in every
// handshake. Adopting the ID the node already has is a no-op.
func (n *Node) adoptClusterID(id transport.ClusterID, source string) error {
	n.identityMu.Lock()
	defer n.identityMu.Unlock()
	cur := n.mux.Membership().ClusterID
	if cur == id {
		return nil
	}
	if !cur.IsZero() {
		return fmt.Errorf("node: this node belongs to cluster %s, not %s (%s)", cur, id, source)
	}
	if err := writeClusterIDFile(n.cfg.DataDir, id); err != nil {
		return err
	}
	if err := n.mux.SetMembership(transport.Membership{ClusterID: id}); err != nil {
		return err
	}
	n.cfg.Logger.Info("cluster ID adopted", "cluster", id.String(), "from", source)
	return nil
}

// noteClusterID runs after the state machine applied entries or restored
// a snapshot: if it now records a cluster ID this node did not have, the
// node adopts it. A record that contradicts the node's own ID cannot arise
// from one cluster's log; it is logged, and the node keeps its ID.
func (n *Node) noteClusterID() {
	id, ok := n.fsm.ClusterID()
	if !ok || n.mux.Membership().ClusterID == id {
		return
	}
	if err := n.adoptClusterID(id, "the replicated log"); err != nil {
		if n.idConflictLogged.CompareAndSwap(false, true) {
			n.cfg.Logger.Error("the state machine records another cluster ID than this node's", "err", err)
		}
	}
}

// proposeClusterID runs on a leader whose state machine records no cluster
// ID: it proposes the node's own (a new cluster's, from bootstrap) or, in
// a cluster created before cluster IDs, a new random one. The first
// committed SetClusterID wins, so racing leaders cannot split the cluster.
func (n *Node) proposeClusterID() {
	if _, ok := n.fsm.ClusterID(); ok || n.cfg.noClusterID {
		return
	}
	id := n.mux.Membership().ClusterID
	if id.IsZero() {
		id = transport.NewClusterID()
		n.cfg.Logger.Info("assigning this cluster an ID", "cluster", id.String())
	}
	if _, err := n.applyLocalBackground(raftfsm.NewSetClusterID(id).Marshal()); err != nil {
		n.cfg.Logger.Warn("could not record the cluster ID; the next leader will try again", "err", err)
	}
}

// joinOnly restricts requests from joining nodes (transport.Peer.JoinOnly)
// to the RPCs a node needs to join: learning the cluster ID and asking to
// be added. Everything else, such as apply, read index and blobs, is
// refused until the node has joined and reconnected as a member.
func joinOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := transport.PeerFromContext(r.Context()); ok && p.JoinOnly {
			switch {
			case r.Method == http.MethodGet && r.URL.Path == "/rpc/cluster":
			case r.Method == http.MethodPost && r.URL.Path == "/rpc/join":
			default:
				http.Error(w, "node "+p.ID+" is not a member of this cluster yet: only join is allowed", http.StatusForbidden)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// fsmHooks is the state machine as raft sees it: raftfsm's, plus a check
// for a newly recorded cluster ID after every apply and restore.
type fsmHooks struct {
	*raftfsm.FSM
	n *Node
}

var (
	_ raft.BatchingFSM        = fsmHooks{}
	_ raft.ConfigurationStore = fsmHooks{}
)

func (h fsmHooks) Apply(l *raft.Log) any {
	out := h.FSM.Apply(l)
	h.n.noteClusterID()
	return out
}

func (h fsmHooks) ApplyBatch(logs []*raft.Log) []any {
	out := h.FSM.ApplyBatch(logs)
	h.n.noteClusterID()
	return out
}

func (h fsmHooks) Restore(rc io.ReadCloser) error {
	err := h.FSM.Restore(rc)
	h.n.noteClusterID()
	return err
}
