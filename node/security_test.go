package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/raftfsm"
	"github.com/strongboxdb/strongbox/transport"
)

// logBuffer keeps a node's log lines for a test to search, and passes them
// on to t.Log while the test runs.
type logBuffer struct {
	mu   sync.Mutex
	b    strings.Builder
	t    testing.TB
	done bool
}

func newLogBuffer(tb testing.TB) *logBuffer {
	l := &logBuffer{t: tb}
	tb.Cleanup(func() { l.mu.Lock(); l.done = true; l.mu.Unlock() })
	return l
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// has reports whether one line contains all of subs.
func (l *logBuffer) has(subs ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range strings.Split(l.b.String(), "\n") {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		return true
	}
	return false
}

// testNodes is a set of nodes started by startNodes, closed at cleanup.
type testNodes struct {
	tb    testing.TB
	nodes []*Node
	cfgs  []Config
	logs  []*logBuffer
}

// startNodes starts n nodes named prefix1..prefixN: the first bootstraps,
// the others join it. tweak adjusts each node's Config.
func startNodes(tb testing.TB, n int, prefix string, tweak func(i int, c *Config)) *testNodes {
	tb.Helper()
	c := &testNodes{tb: tb}
	tb.Cleanup(c.closeAll)
	for i := range n {
		cfg := blobTestConfig(tb, prefix+strconv.Itoa(i+1))
		lb := newLogBuffer(tb)
		cfg.Logger = lb.logger()
		if i > 0 {
			cfg.Join = []string{c.nodes[0].ClusterAddr()}
		}
		if tweak != nil {
			tweak(i, &cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.logs = append(c.logs, lb)
		c.nodes = append(c.nodes, nil)
		c.start(i)
		if i == 0 {
			waitBlob(tb, "the first node to lead", func() bool { return c.nodes[0].IsLeader() })
		}
	}
	c.waitVoters(n)
	return c
}

func (c *testNodes) start(i int) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd, err := Start(ctx, c.cfgs[i])
	if err != nil {
		c.tb.Fatalf("start %s: %v", c.cfgs[i].ID, err)
	}
	c.nodes[i] = nd
	// Restarts come back where the Raft configuration says the node is.
	c.cfgs[i].ClusterAddr = nd.ClusterAddr()
	c.cfgs[i].Join = nil
}

func (c *testNodes) stop(i int) {
	if c.nodes[i] == nil {
		return
	}
	svc := c.nodes[i].blobs()
	if err := c.nodes[i].Close(); err != nil {
		c.tb.Logf("close %s: %v", c.cfgs[i].ID, err)
	}
	if svc.stopped != nil {
		<-svc.stopped
	}
	c.nodes[i] = nil
}

func (c *testNodes) closeAll() {
	for i := range c.nodes {
		c.stop(i)
	}
}

func (c *testNodes) waitVoters(n int) {
	c.tb.Helper()
	waitBlob(c.tb, fmt.Sprintf("%d voters and a leader everywhere", n), func() bool {
		for _, nd := range c.nodes {
			if nd != nil && (len(nd.voters()) != n || nd.Leader() == "") {
				return false
			}
		}
		return true
	})
}

func (c *testNodes) leader() *Node {
	c.tb.Helper()
	var l *Node
	waitBlob(c.tb, "a leader", func() bool {
		for _, nd := range c.nodes {
			if nd != nil && nd.IsLeader() {
				l = nd
				return true
			}
		}
		return false
	})
	return l
}

// addrs returns the cluster addresses of the running nodes.
func (c *testNodes) addrs() map[string]bool {
	out := map[string]bool{}
	for _, nd := range c.nodes {
		if nd != nil {
			out[nd.ClusterAddr()] = true
		}
	}
	return out
}

// probe is a bare transport endpoint that speaks the cluster protocol
// with whatever secret and membership a test gives it: a stand-in for an
// intruder, a joining node or a member tool.
func probe(tb testing.TB, id, secret string, mb transport.Membership) *transport.Mux {
	tb.Helper()
	m, err := transport.Listen("127.0.0.1:0", transport.Config{NodeID: id, Secret: []byte(secret), Membership: mb})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// call makes one internal RPC from m to addr and returns the status and
// body, or the transport error.
func call(tb testing.TB, m *transport.Mux, method, addr, path string, body []byte) (int, []byte, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := m.HTTPClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// A node or tool with the wrong secret can neither join, nor get a write
// or a Raft RPC accepted, nor read a blob. The same requests with the
// right secret succeed, so it is the secret that stops them.
func TestWrongSecretCannotJoinApplyOrFetch(t *testing.T) {
	c := startNodes(t, 2, "n", nil)
	leader := c.leader()
	ctx := blobCtx(t)
	data := []byte("blob only members may read")
	ref, err := leader.StoreBlob(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	applyCmd := func(bucket string) []byte { return raftfsm.NewCreateBucket(bucket).Marshal() }
	termBefore := leader.raft.CurrentTerm()

	// Join: the intruder never gets in, and the configuration is unchanged.
	cfg := blobTestConfig(t, "intruder")
	cfg.Secret = "not-the-cluster-secret"
	cfg.Join = []string{leader.ClusterAddr()}
	jctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if nd, err := Start(jctx, cfg); err == nil {
		_ = nd.Close()
		t.Fatal("a node with the wrong secret joined")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("join with the wrong secret: %v", err)
	}

	wrong := probe(t, "intruder", "not-the-cluster-secret", transport.Membership{ClusterID: leader.ClusterID()})
	right := probe(t, "member-tool", "cluster-secret", transport.Membership{ClusterID: leader.ClusterID()})

	// Apply through the forwarding RPC.
	if _, _, err := call(t, wrong, http.MethodPost, leader.ClusterAddr(), "/rpc/apply", applyCmd("intruded")); !errors.Is(err, transport.ErrHandshake) {
		t.Fatalf("apply with the wrong secret: %v, want ErrHandshake", err)
	}
	// Raft RPCs: an AppendEntries from a higher term with an entry, and a
	// vote request.
	rt := raft.NewNetworkTransport(wrong.RaftStreamLayer(), 1, 5*time.Second, io.Discard)
	defer rt.Close()
	var aer raft.AppendEntriesResponse
	err = rt.AppendEntries(raft.ServerID(leader.ID()), raft.ServerAddress(leader.ClusterAddr()), &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ID: []byte("intruder"), Addr: []byte(wrong.AdvertiseAddr().String())},
		Term:      termBefore + 10, PrevLogEntry: leader.raft.LastIndex(), PrevLogTerm: termBefore,
		Entries:           []*raft.Log{{Index: leader.raft.LastIndex() + 1, Term: termBefore + 10, Type: raft.LogCommand, Data: applyCmd("intruded-raft")}},
		LeaderCommitIndex: leader.raft.LastIndex() + 1,
	}, &aer)
	if !errors.Is(err, transport.ErrHandshake) {
		t.Fatalf("AppendEntries with the wrong secret: %v, want ErrHandshake", err)
	}
	var rvr raft.RequestVoteResponse
	err = rt.RequestVote(raft.ServerID(leader.ID()), raft.ServerAddress(leader.ClusterAddr()), &raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ID: []byte("intruder"), Addr: []byte(wrong.AdvertiseAddr().String())},
		Term:      termBefore + 10, LastLogIndex: 1 << 40, LastLogTerm: termBefore + 10,
	}, &rvr)
	if !errors.Is(err, transport.ErrHandshake) {
		t.Fatalf("RequestVote with the wrong secret: %v, want ErrHandshake", err)
	}
	// Blob fetch.
	if _, _, err := call(t, wrong, http.MethodGet, leader.ClusterAddr(), "/rpc/blob/"+ref.ID, nil); !errors.Is(err, transport.ErrHandshake) {
		t.Fatalf("blob fetch with the wrong secret: %v, want ErrHandshake", err)
	}

	for _, b := range []string{"intruded", "intruded-raft"} {
		if _, err := leader.HeadBucket(ctx, b); !errors.Is(err, objstore.ErrNoSuchBucket) {
			t.Fatalf("bucket %s: %v, want ErrNoSuchBucket", b, err)
		}
	}
	if got := leader.raft.CurrentTerm(); got != termBefore || !leader.IsLeader() || len(leader.voters()) != 2 {
		t.Fatalf("the leader changed: term %d (was %d), leading %v, %d voters", got, termBefore, leader.IsLeader(), len(leader.voters()))
	}

	// The control: the right secret gets the blob and the write.
	status, got, err := call(t, right, http.MethodGet, leader.ClusterAddr(), "/rpc/blob/"+ref.ID, nil)
	if err != nil || status != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("blob fetch with the right secret: %d %q %v", status, got, err)
	}
	if status, body, err := call(t, right, http.MethodPost, leader.ClusterAddr(), "/rpc/apply", applyCmd("allowed")); err != nil || status != http.StatusOK {
		t.Fatalf("apply with the right secret: %d %s %v", status, body, err)
	}
	if _, err := leader.HeadBucket(ctx, "allowed"); err != nil {
		t.Fatal(err)
	}
}

// A joining node (no cluster ID yet) may learn the cluster ID and ask to
// join, nothing else: no writes, no reads of state, no blobs, no Raft.
func TestJoiningNodeMayOnlyJoin(t *testing.T) {
	c := startNodes(t, 1, "n", nil)
	a := c.nodes[0]
	j := probe(t, "newcomer", "cluster-secret", transport.Membership{Joining: true})
	addr := a.ClusterAddr()

	status, body, err := call(t, j, http.MethodGet, addr, "/rpc/cluster", nil)
	if err != nil || status != http.StatusOK || !strings.Contains(string(body), a.ClusterID().String()) {
		t.Fatalf("GET /rpc/cluster: %d %s %v", status, body, err)
	}
	for _, rq := range []struct{ method, path string }{
		{http.MethodPost, "/rpc/apply"},
		{http.MethodPost, "/rpc/readindex"},
		{http.MethodGet, "/rpc/status"},
		{http.MethodGet, "/rpc/blob/0123456789abcdef0123456789abcdef"},
		{http.MethodPost, "/rpc/remove"},
	} {
		status, body, err := call(t, j, rq.method, addr, rq.path, raftfsm.NewCreateBucket("nope").Marshal())
		if err != nil || status != http.StatusForbidden {
			t.Fatalf("%s %s from a joining node: %d %s %v, want 403", rq.method, rq.path, status, body, err)
		}
	}
	if _, err := j.RaftStreamLayer().Dial(raft.ServerAddress(addr), 5*time.Second); !errors.Is(err, transport.ErrNotMember) {
		t.Fatalf("raft from a joining node: %v, want ErrNotMember", err)
	}
	if _, err := a.HeadBucket(blobCtx(t), "nope"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("bucket created by a joining node: %v", err)
	}
}

// Every member of a cluster carries the same cluster ID: in its handshake,
// in its data directory and in the replicated state machine; it survives a
// restart; a data directory whose file and state machine disagree is
// refused.
func TestClusterIDSharedAndDurable(t *testing.T) {
	c := startNodes(t, 3, "n", nil)
	id := c.nodes[0].ClusterID()
	if id.IsZero() {
		t.Fatal("the bootstrapped cluster has no ID")
	}
	waitBlob(t, "every node's state machine records the ID", func() bool {
		for _, nd := range c.nodes {
			if fid, ok := nd.fsm.ClusterID(); !ok || fid != id {
				return false
			}
		}
		return true
	})
	for i, nd := range c.nodes {
		fileID, err := readClusterIDFile(c.cfgs[i].DataDir)
		if err != nil || nd.ClusterID() != id || fileID != id {
			t.Fatalf("%s: node %s, file %s (%v), want %s", nd.ID(), nd.ClusterID(), fileID, err, id)
		}
	}
	st := c.nodes[1].Status(blobCtx(t))
	for _, m := range st.Members {
		if m.ClusterID != id.String() {
			t.Fatalf("status of %s: cluster_id %q", m.ID, m.ClusterID)
		}
	}

	c.stop(2)
	c.start(2)
	if got := c.nodes[2].ClusterID(); got != id {
		t.Fatalf("after restart: %s, want %s", got, id)
	}

	// The file lost: the state machine's record restores it.
	c.stop(2)
	if err := os.Remove(filepath.Join(c.cfgs[2].DataDir, clusterIDFile)); err != nil {
		t.Fatal(err)
	}
	c.start(2)
	if got := c.nodes[2].ClusterID(); got != id {
		t.Fatalf("after losing the file: %s, want %s", got, id)
	}

	// A file naming another cluster than the state machine: refused.
	c.stop(2)
	if err := writeClusterIDFile(c.cfgs[2].DataDir, transport.NewClusterID()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if nd, err := Start(ctx, c.cfgs[2]); err == nil {
		_ = nd.Close()
		t.Fatal("started with a data directory that mixes two clusters")
	} else if !strings.Contains(err.Error(), "mixes two clusters") {
		t.Fatalf("start: %v", err)
	}
}

// A node of another cluster that shares the secret and is configured with
// a member's address (a leftover node of an earlier cluster) is refused at
// the handshake; the member logs its node ID, address and cluster ID, and
// the cluster carries on undisturbed.
func TestNodeOfAnotherClusterRefused(t *testing.T) {
	a := startNodes(t, 3, "a", nil)
	b := startNodes(t, 1, "b", nil)
	b1, aLeader := b.nodes[0], a.leader()
	var victim int
	for i, nd := range a.nodes {
		if nd != aLeader {
			victim = i
			break
		}
	}
	target := a.nodes[victim]

	// b1 believes target belongs to its cluster and replicates to it.
	go func() {
		_ = b1.raft.AddVoter(raft.ServerID(target.ID()), raft.ServerAddress(target.ClusterAddr()), 0, 30*time.Second).Error()
	}()
	waitBlob(t, "the member to log the refused node", func() bool {
		return a.logs[victim].has("another cluster", "peer=b1", "peer_addr="+b1.ClusterAddr(), "peer_cluster="+b1.ClusterID().String())
	})
	if st := target.mux.Stats(); st.OtherCluster == 0 {
		t.Fatalf("stats %+v", st)
	}
	waitBlob(t, "b1 to log the refusal too", func() bool {
		return b.logs[0].has("another cluster", "peer="+target.ID(), "peer_cluster="+target.ClusterID().String())
	})

	// Cluster A still works, with a leader of its own, through the target.
	ctx := blobCtx(t)
	if err := target.CreateBucket(ctx, "still-fine"); err != nil {
		t.Fatal(err)
	}
	addr, _ := target.raft.LeaderWithID()
	if !a.addrs()[string(addr)] {
		t.Fatalf("the target follows %s, not a member of its cluster", addr)
	}
}

// The `make run` report reproduced: an old three-node cluster is stopped
// except for one node, and a new cluster with the same node IDs and secret
// starts on the freed addresses. The stray (old node3) keeps asking for
// votes at the addresses where it expects node1 and node2, which now
// belong to new nodes, one of them a joining node3 with the stray's own
// ID. It is refused at every handshake, the new cluster forms and works,
// and the new nodes log the stray's address and cluster ID.
//
// Before cluster IDs the stray's requests were accepted; hashicorp/raft's
// pre-vote happened to keep this candidate from disrupting the new
// cluster in this test, but nothing in the transport did.
func TestStrayNodeOfEarlierClusterDoesNotStopANewOne(t *testing.T) {
	old := startNodes(t, 3, "node", nil)
	stray := old.nodes[2]
	for i := range 5 { // give the old cluster a longer log than the new one
		if err := stray.CreateBucket(blobCtx(t), "old-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	freed := []string{old.nodes[0].ClusterAddr(), old.nodes[1].ClusterAddr()}
	old.stop(0)
	old.stop(1)

	fresh := startNodes(t, 3, "node", func(i int, c *Config) {
		if i > 0 {
			c.ClusterAddr = freed[i-1] // where the stray expects its peers
		}
	})
	freshID := fresh.nodes[0].ClusterID()
	waitBlob(t, "a new node to log the stray", func() bool {
		for _, lb := range fresh.logs[1:] {
			if lb.has(stray.ClusterAddr(), stray.ClusterID().String()) {
				return true
			}
		}
		return false
	})
	fresh.waitVoters(3)
	ctx := blobCtx(t)
	if err := fresh.nodes[2].CreateBucket(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	for _, nd := range fresh.nodes {
		addr, _ := nd.raft.LeaderWithID()
		if !fresh.addrs()[string(addr)] || nd.ClusterID() != freshID {
			t.Fatalf("%s follows %s in cluster %s", nd.ClusterAddr(), addr, nd.ClusterID())
		}
		if _, err := nd.HeadBucket(ctx, "old-0"); !errors.Is(err, objstore.ErrNoSuchBucket) {
			t.Fatalf("%s holds the old cluster's data: %v", nd.ClusterAddr(), err)
		}
	}
	if stray.IsLeader() {
		t.Fatal("the stray leads")
	}
}

// A cluster created before cluster IDs (no ID file, none in the state
// machine) gets one after the upgrade: its leader proposes one, every
// member adopts the committed ID, and from then on nodes of other
// clusters are refused.
func TestUpgradeAssignsClusterID(t *testing.T) {
	c := startNodes(t, 3, "n", func(_ int, c *Config) { c.noClusterID = true })
	for i, nd := range c.nodes {
		if !nd.ClusterID().IsZero() {
			t.Fatalf("%s has cluster ID %s before the upgrade", nd.ID(), nd.ClusterID())
		}
		if _, err := os.Stat(filepath.Join(c.cfgs[i].DataDir, clusterIDFile)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: cluster ID file: %v", nd.ID(), err)
		}
	}
	if err := c.leader().CreateBucket(blobCtx(t), "before"); err != nil {
		t.Fatal(err)
	}
	c.closeAll()
	// The upgrade: every node restarts with code that knows cluster IDs.
	for i := range c.cfgs {
		c.cfgs[i].noClusterID = false
		c.start(i)
	}
	var id transport.ClusterID
	waitBlob(t, "every node to adopt one committed cluster ID", func() bool {
		id = c.nodes[0].ClusterID()
		if id.IsZero() {
			return false
		}
		for _, nd := range c.nodes {
			if fid, ok := nd.fsm.ClusterID(); !ok || fid != id || nd.ClusterID() != id {
				return false
			}
		}
		return true
	})
	for i := range c.cfgs {
		if fileID, err := readClusterIDFile(c.cfgs[i].DataDir); err != nil || fileID != id {
			t.Fatalf("%s: file %s %v", c.cfgs[i].ID, fileID, err)
		}
	}
	ctx := blobCtx(t)
	if _, err := c.nodes[1].HeadBucket(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	other := probe(t, "stranger", "cluster-secret", transport.Membership{ClusterID: transport.NewClusterID()})
	if _, _, err := call(t, other, http.MethodGet, c.nodes[1].ClusterAddr(), "/rpc/status", nil); !errors.Is(err, transport.ErrOtherCluster) {
		t.Fatalf("a node of another cluster after the upgrade: %v, want ErrOtherCluster", err)
	}
}

// testCA signs node certificates in memory.
type testCA struct {
	tb   testing.TB
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	n    int64
}

func newTestCA(tb testing.TB) *testCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test cluster CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{tb: tb, cert: cert, key: key, pool: pool, n: 1}
}

func (ca *testCA) nodeTLS(name string) *transport.TLS {
	ca.tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.tb.Fatal(err)
	}
	ca.n++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.n), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.tb.Fatal(err)
	}
	return &transport.TLS{Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, CA: ca.pool}
}

// Three nodes with certificates from one CA form a cluster over TLS and
// replicate writes and blobs; nodes with a certificate from another CA, or
// without TLS, cannot join it.
func TestTLSClusterReplicates(t *testing.T) {
	ca := newTestCA(t)
	c := startNodes(t, 3, "n", func(i int, cfg *Config) { cfg.TLS = ca.nodeTLS(cfg.ID) })
	leader := c.leader()
	var follower *Node
	for _, nd := range c.nodes {
		if nd != leader {
			follower = nd
		}
	}
	ctx := blobCtx(t)
	if err := follower.CreateBucket(ctx, "over-tls"); err != nil { // forwarded to the leader
		t.Fatal(err)
	}
	data := []byte("replicated over TLS")
	ref, err := follower.StoreBlob(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	waitBlob(t, "the write and the blob on every node", func() bool {
		held := 0
		for _, nd := range c.nodes {
			if nd.HasBlob(ref.ID) {
				held++
			}
		}
		for _, nd := range c.nodes {
			if _, err := nd.HeadBucket(ctx, "over-tls"); err != nil {
				return false
			}
		}
		return held >= 2
	})

	for name, tweak := range map[string]func(*Config){
		"another CA": func(cfg *Config) { cfg.TLS = newTestCA(t).nodeTLS(cfg.ID) },
		"no TLS":     func(cfg *Config) { cfg.TLS = nil },
	} {
		cfg := blobTestConfig(t, "outsider")
		cfg.Join = []string{leader.ClusterAddr()}
		tweak(&cfg)
		jctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		nd, err := Start(jctx, cfg)
		cancel()
		if err == nil {
			_ = nd.Close()
			t.Fatalf("%s: joined a TLS cluster", name)
		}
		if len(leader.voters()) != 3 {
			t.Fatalf("%s: %d voters", name, len(leader.voters()))
		}
	}
}
