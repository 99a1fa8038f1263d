package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/transport"
)

// joinAttemptTimeout bounds one join request to one member.
const joinAttemptTimeout = 5 * time.Second

type joinRequest struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

// join asks the members in cfg.Join, in turn and repeatedly, to add this
// node as a voter, until one succeeds or ctx is done.
func (n *Node) join(ctx context.Context) error {
	body, _ := json.Marshal(joinRequest{ID: n.cfg.ID, Addr: n.advertise})
	var lastErr error
	for {
		for _, addr := range n.cfg.Join {
			if addr == n.advertise {
				continue // the transport refuses connections to ourselves
			}
			// Bound each attempt: a member that accepted the connection but
			// cannot answer (mid-election, or relaying to a leader that is
			// going away) must not stall the join; the next attempt may
			// reach a member that can.
			actx, cancel := context.WithTimeout(ctx, joinAttemptTimeout)
			err := n.learnClusterID(actx, addr)
			if err == nil {
				err = n.postJSON(actx, addr, "/rpc/join", body)
			}
			cancel()
			if err != nil {
				lastErr = err
				n.cfg.Logger.Warn("join attempt failed", "member", addr, "err", err)
				continue
			}
			n.cfg.Logger.Info("joined cluster", "via", addr, "id", n.cfg.ID)
			return nil
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("node: join %v: %w (last error: %v)", n.cfg.Join, ctx.Err(), lastErr)
		case <-t.C:
		}
	}
}

// learnClusterID makes a joining node a member of the cluster of the
// member at addr before it asks to be added: the leader starts replicating
// to a new voter at once, and a joining node accepts no connections. The
// ID is stored before it is used, so the node never takes part in the
// cluster without it. A node that already has an ID keeps it; the
// handshake refuses members of other clusters.
func (n *Node) learnClusterID(ctx context.Context, addr string) error {
	if !n.mux.Membership().Joining {
		return nil
	}
	id, err := n.fetchClusterID(ctx, addr)
	if err != nil {
		return err
	}
	if id.IsZero() {
		// A cluster created before cluster IDs: join it as a member
		// without one; its leader assigns one through the log.
		return n.mux.SetMembership(transport.Membership{})
	}
	return n.adoptClusterID(id, "member "+addr)
}

// postJSON calls an internal RPC and turns a non-200 reply into an error.
func (n *Node) postJSON(ctx context.Context, addr, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", objstore.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusServiceUnavailable {
			return outcomeError(resp.Header.Get(hdrOutcome), string(bytes.TrimSpace(msg)))
		}
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// handleJoin adds a voter; a non-leader relays the request to the leader.
func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	var jr joinRequest
	if err == nil {
		err = json.Unmarshal(body, &jr)
	}
	if err != nil || jr.ID == "" || jr.Addr == "" {
		http.Error(w, "bad join request", http.StatusBadRequest)
		return
	}
	addVoter := func() {
		n.cfg.Logger.Info("adding voter", "id", jr.ID, "addr", jr.Addr)
		if err := n.raft.AddVoter(raft.ServerID(jr.ID), raft.ServerAddress(jr.Addr), 0, n.cfg.ApplyTimeout).Error(); err != nil {
			writeOutcome(w, mapRaftError(err))
		}
	}
	if n.raft.State() != raft.Leader {
		n.relay(w, r, "/rpc/join", body, addVoter)
		return
	}
	addVoter()
}

// RemoveMember removes a server from the cluster configuration. It may be
// called on any member; the leader carries it out.
func (n *Node) RemoveMember(ctx context.Context, id string) error {
	body, _ := json.Marshal(joinRequest{ID: id, Addr: "-"})
	if n.raft.State() == raft.Leader {
		return n.removeLocal(id)
	}
	addr, err := n.waitLeader(ctx)
	if err != nil {
		return err
	}
	if addr == n.advertise { // became leader while waiting
		return n.removeLocal(id)
	}
	return n.postJSON(ctx, addr, "/rpc/remove", body)
}

var errUnknownMember = errors.New("no such member")

func (n *Node) removeLocal(id string) error {
	found := false
	for _, s := range n.currentServers() {
		if string(s.ID) == id {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%w: %q", errUnknownMember, id)
	}
	n.cfg.Logger.Info("removing member", "id", id)
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout).Error(); err != nil {
		return mapRaftError(err)
	}
	return nil
}

func (n *Node) handleRemove(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	var jr joinRequest
	if err == nil {
		err = json.Unmarshal(body, &jr)
	}
	if err != nil || jr.ID == "" {
		http.Error(w, "bad remove request", http.StatusBadRequest)
		return
	}
	remove := func() {
		if err := n.removeLocal(jr.ID); err != nil {
			if errors.Is(err, errUnknownMember) {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			writeOutcome(w, err)
		}
	}
	if n.raft.State() != raft.Leader {
		n.relay(w, r, "/rpc/remove", body, remove)
		return
	}
	remove()
}

// relay passes a membership request on to the leader and copies back its
// answer; if this node became the leader meanwhile, it runs local instead
// (the transport refuses a connection to ourselves).
func (n *Node) relay(w http.ResponseWriter, r *http.Request, path string, body []byte, local func()) {
	ctx, cancel := context.WithTimeout(r.Context(), n.cfg.ApplyTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	addr, err := n.waitLeader(ctx)
	if err != nil {
		writeOutcome(w, err)
		return
	}
	if addr == n.advertise {
		local()
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		writeOutcome(w, err)
		return
	}
	resp, err := n.client.Do(req)
	if err != nil {
		writeOutcome(w, fmt.Errorf("%w: %v", objstore.ErrUnavailable, err))
		return
	}
	defer resp.Body.Close()
	if v := resp.Header.Get(hdrOutcome); v != "" {
		w.Header().Set(hdrOutcome, v)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 4096))
}

func (n *Node) currentServers() []raft.Server {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	return f.Configuration().Servers
}

// MemberStatus is one member's view of itself, as reported by status.
type MemberStatus struct {
	ID           string `json:"id"`
	ClusterAddr  string `json:"cluster_addr"`
	S3URL        string `json:"s3_url,omitempty"`
	Suffrage     string `json:"suffrage"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LastIndex    uint64 `json:"last_index"`
	// LastSnapshotIndex is the index of the newest snapshot this node
	// holds, taken locally or installed from the leader.
	LastSnapshotIndex uint64 `json:"last_snapshot_index"`
	Leader            string `json:"leader"`
	// ClusterID is the member's cluster ID, empty while it has none.
	ClusterID string `json:"cluster_id,omitempty"`
	Error     string `json:"error,omitempty"`
	// Disk lists the parts of the data directory (blob store, raft log,
	// state machine) whose last write was refused for lack of space or
	// because the directory is read-only, with the error.
	Disk []string `json:"disk,omitempty"`
}

// ClusterStatus is the cluster as seen from the node that was asked.
type ClusterStatus struct {
	Leader  string         `json:"leader"`
	Members []MemberStatus `json:"members"`
}

// selfStatus reports this node's own Raft state. AppliedIndex is the state
// machine's, which is what reads wait on. Error is set once the node is
// out of service (Failure).
func (n *Node) selfStatus() MemberStatus {
	_, leader := n.raft.LeaderWithID()
	var failure string
	if err := n.Failure(); err != nil {
		failure = err.Error()
	}
	s := MemberStatus{
		Error:             failure,
		Disk:              n.diskProblems(),
		ID:                n.cfg.ID,
		ClusterAddr:       n.advertise,
		S3URL:             n.cfg.S3URL,
		State:             n.raft.State().String(),
		Term:              n.raft.CurrentTerm(),
		CommitIndex:       n.raft.CommitIndex(),
		AppliedIndex:      n.fsm.AppliedIndex(),
		LastIndex:         n.raft.LastIndex(),
		LastSnapshotIndex: parseUint(n.raft.Stats()["last_snapshot_index"]),
		Leader:            string(leader),
	}
	if id := n.ClusterID(); !id.IsZero() {
		s.ClusterID = id.String()
	}
	return s
}

func parseUint(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

func (n *Node) handleStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(n.selfStatus())
}

// Status asks every member in this node's configuration for its state, in
// parallel. A member that does not answer within the timeout is listed
// with State "unreachable" and the error.
func (n *Node) Status(ctx context.Context) ClusterStatus {
	servers := n.currentServers()
	out := ClusterStatus{Leader: n.Leader(), Members: make([]MemberStatus, len(servers))}
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ms MemberStatus
			if string(s.ID) == n.cfg.ID {
				ms = n.selfStatus()
			} else {
				ms = n.fetchStatus(ctx, string(s.Address))
				ms.ID = string(s.ID)
			}
			ms.ClusterAddr = string(s.Address)
			ms.Suffrage = s.Suffrage.String()
			out.Members[i] = ms
		}()
	}
	wg.Wait()
	sort.Slice(out.Members, func(i, j int) bool { return out.Members[i].ID < out.Members[j].ID })
	return out
}

func (n *Node) fetchStatus(ctx context.Context, addr string) MemberStatus {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	fail := func(err error) MemberStatus { return MemberStatus{State: "unreachable", Error: err.Error()} }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/rpc/status", nil)
	if err != nil {
		return fail(err)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(errors.New(resp.Status))
	}
	var ms MemberStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ms); err != nil {
		return fail(err)
	}
	return ms
}

// rpcHandler serves the internal endpoints. Every connection reaching it
// has passed the transport's cluster-secret handshake.
func (n *Node) rpcHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /rpc/apply", n.handleApply)
	m.HandleFunc("POST /rpc/readindex", n.handleReadIndex)
	m.HandleFunc("POST /rpc/join", n.handleJoin)
	m.HandleFunc("POST /rpc/remove", n.handleRemove)
	m.HandleFunc("GET /rpc/status", n.handleStatus)
	m.HandleFunc("GET /rpc/cluster", n.handleCluster)
	n.registerBlobRoutes(m) // PUT, GET, DELETE /rpc/blob/{id} (blob.go)
	return m
}

// AdminHandler serves the admin API mounted under /_strongbox/ by the S3
// server, which authenticates the caller first:
//
//	GET  /_strongbox/cluster/status        cluster members and their Raft state (JSON)
//	POST /_strongbox/cluster/remove?id=ID  remove a member
//	/_strongbox/faults...                  fault injection (see registerFaultRoutes)
func (n *Node) AdminHandler() http.Handler {
	m := http.NewServeMux()
	n.registerFaultRoutes(m)
	m.HandleFunc("GET /_strongbox/cluster/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(n.Status(r.Context()))
	})
	m.HandleFunc("POST /_strongbox/cluster/remove", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		if id == "" {
			http.Error(w, "missing id", http.StatusBadRequest)
			return
		}
		if err := n.RemoveMember(r.Context(), id); err != nil {
			status := http.StatusServiceUnavailable
			if errors.Is(err, errUnknownMember) {
				status = http.StatusNotFound
			}
			http.Error(w, err.Error(), status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"removed":` + strconv.Quote(id) + "}\n"))
	})
	return m
}

// HealthHandler answers unauthenticated liveness probes: 200 with this
// node's state when it knows a leader, 503 while it does not, with the
// reason in "error" once its state machine has failed (Failed), and while
// its Raft log cannot be written (a full or read-only disk: it falls
// behind and cannot serve reads). Every disk problem is listed in "disk";
// a blob store that refuses uploads alone keeps the node healthy, since
// it still serves reads and small writes.
func (n *Node) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := n.selfStatus()
		w.Header().Set("Content-Type", "application/json")
		if s.Leader == "" || s.Error != "" || n.disk.raftLog.err() != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(struct {
			ID      string   `json:"id"`
			State   string   `json:"state"`
			Leader  string   `json:"leader"`
			Applied uint64   `json:"applied_index"`
			Error   string   `json:"error,omitempty"`
			Disk    []string `json:"disk,omitempty"`
		}{s.ID, s.State, s.Leader, s.AppliedIndex, s.Error, s.Disk})
	})
}

// diskProblems describes each watched directory whose last write failed.
func (n *Node) diskProblems() []string {
	var out []string
	for _, d := range []*diskWatch{n.disk.blobs, n.disk.raftLog, n.disk.fsm} {
		if err := d.err(); err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}
