package node

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/s3api/checksum"
	"github.com/strongboxdb/strongbox/transport"
)

// blobTestConfig mirrors server/cluster_test.go's nodeConfig: Raft
// timeouts twice the production defaults, because three race-instrumented
// nodes share two cores in one process.
func blobTestConfig(tb testing.TB, id string) Config {
	out := io.Discard
	if os.Getenv("STRONGBOX_TEST_RAFT_LOG") != "" {
		out = os.Stderr
	}
	return Config{
		ID:                 id,
		DataDir:            filepath.Join(tb.TempDir(), id),
		ClusterAddr:        "127.0.0.1:0",
		Secret:             "cluster-secret",
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: time.Second,
		CommitTimeout:      5 * time.Millisecond,
		ApplyTimeout:       5 * time.Second,
		RaftLogOutput:      out,
	}
}

// startBlobCluster starts a cluster of n nodes in this process (real Raft
// on disk, real TCP on loopback): node 0 bootstraps, the others join it.
// It returns once every node sees all n voters.
func startBlobCluster(tb testing.TB, n int) []*Node {
	tb.Helper()
	return startBlobClusterWith(tb, n, nil)
}

// startBlobClusterWith is startBlobCluster with tweak applied to each
// node's configuration.
func startBlobClusterWith(tb testing.TB, n int, tweak func(*Config)) []*Node {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var nodes []*Node
	tb.Cleanup(func() {
		// Close, then wait for each node's blob work to stop before
		// t.TempDir's cleanup removes the directories under it.
		var svcs []*blobService
		for _, nd := range nodes {
			svcs = append(svcs, nd.blobs())
		}
		for _, nd := range nodes {
			if err := nd.Close(); err != nil {
				tb.Logf("close %s: %v", nd.ID(), err)
			}
		}
		for _, b := range svcs {
			if b.stopped != nil {
				<-b.stopped
			}
		}
	})
	for i := range n {
		cfg := blobTestConfig(tb, "n"+strconv.Itoa(i+1))
		if tweak != nil {
			tweak(&cfg)
		}
		if i > 0 {
			cfg.Join = []string{nodes[0].ClusterAddr()}
		}
		nd, err := Start(ctx, cfg)
		if err != nil {
			tb.Fatalf("start %s: %v", cfg.ID, err)
		}
		nodes = append(nodes, nd)
		if i == 0 {
			waitBlob(tb, "the first node to lead", func() bool { return nd.IsLeader() })
		}
	}
	waitBlob(tb, fmt.Sprintf("%d voters everywhere", n), func() bool {
		for _, nd := range nodes {
			if len(nd.voters()) != n || nd.Leader() == "" {
				return false
			}
		}
		return true
	})
	return nodes
}

// waitBlob polls cond (every 10ms, up to 20s).
func waitBlob(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// blobRoles returns the leader and the followers.
func blobRoles(tb testing.TB, nodes []*Node) (leader *Node, followers []*Node) {
	tb.Helper()
	waitBlob(tb, "a leader", func() bool {
		leader, followers = nil, nil
		for _, nd := range nodes {
			if nd.IsLeader() {
				leader = nd
			} else {
				followers = append(followers, nd)
			}
		}
		return leader != nil
	})
	return leader, followers
}

func blobCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func blobBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, ^seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// blobFile reads a blob file straight from a node's store, or nil.
func blobFile(tb testing.TB, nd *Node, id string) []byte {
	tb.Helper()
	f, _, err := nd.blobs().store.Open(id)
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func blobHolders(tb testing.TB, nodes []*Node, id string, want []byte) int {
	tb.Helper()
	count := 0
	for _, nd := range nodes {
		got := blobFile(tb, nd, id)
		if got == nil {
			continue
		}
		if !bytes.Equal(got, want) {
			tb.Fatalf("%s holds different bytes for blob %s", nd.ID(), id)
		}
		count++
	}
	return count
}

// noBlobTempFiles checks that nothing is left half-written on a node. A peer
// learns that a replication stream was abandoned from its connection, a
// moment after the sender gave up, so this waits for it.
func noBlobTempFiles(tb testing.TB, nd *Node) {
	tb.Helper()
	waitBlob(tb, nd.ID()+" without temporary blob files", func() bool {
		des, err := os.ReadDir(filepath.Join(nd.blobs().store.Dir(), "tmp"))
		if err != nil {
			tb.Fatal(err)
		}
		return len(des) == 0
	})
}

func TestStoreBlobReachesMajority(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	_, followers := blobRoles(t, nodes)
	f := followers[0]
	data := blobBytes(1, 5<<20+777)

	ref, err := f.StoreBlob(blobCtx(t), bytes.NewReader(data), 64<<20, checksum.CRC32C, checksum.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if !blobstore.ValidID(ref.ID) || ref.Size != int64(len(data)) || ref.MD5 != hex.EncodeToString(sum[:]) {
		t.Fatalf("ref = %+v", ref)
	}
	if ref.Checksums["crc32c"] != checksum.CRC32C.Of(data) || ref.Checksums["sha256"] != checksum.SHA256.Of(data) {
		t.Fatalf("checksums = %v", ref.Checksums)
	}
	if blobFile(t, f, ref.ID) == nil {
		t.Fatal("the receiving node does not hold the blob")
	}
	if got := blobHolders(t, nodes, ref.ID, data); got < 2 {
		t.Fatalf("blob held by %d nodes when StoreBlob returned, want a majority", got)
	}
	// The remaining replication finishes in the background.
	waitBlob(t, "the blob on every node", func() bool { return blobHolders(t, nodes, ref.ID, data) == 3 })
	for _, nd := range nodes {
		noBlobTempFiles(t, nd)
		if st := nd.BlobStats(); st != (blobstore.Stats{Blobs: 1, Bytes: int64(len(data))}) {
			t.Fatalf("%s stats = %+v", nd.ID(), st)
		}
	}
}

func TestStoreBlobOnLeaderAndEmpty(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	leader, _ := blobRoles(t, nodes)
	ref, err := leader.StoreBlob(blobCtx(t), bytes.NewReader(nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Size != 0 || ref.MD5 != "d41d8cd98f00b204e9800998ecf8427e" || ref.Checksums != nil {
		t.Fatalf("ref = %+v", ref)
	}
	if got := blobHolders(t, nodes, ref.ID, []byte{}); got < 2 {
		t.Fatalf("empty blob held by %d nodes", got)
	}
}

func TestStoreBlobWithOnePeerCutOff(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	leader, followers := blobRoles(t, nodes)
	f, other := followers[0], followers[1]
	// Cut the follower off from the other follower only: Raft is
	// undisturbed (followers do not talk to each other), and the blob
	// can reach just the leader.
	f.Faults().Block(other.ID())
	t.Cleanup(func() { f.Faults().Heal() })

	data := blobBytes(2, 3<<20)
	ref, err := f.StoreBlob(blobCtx(t), bytes.NewReader(data), 0)
	if err != nil {
		t.Fatalf("StoreBlob with a majority reachable: %v", err)
	}
	if blobFile(t, f, ref.ID) == nil || blobFile(t, leader, ref.ID) == nil {
		t.Fatal("blob missing on the sender or the leader")
	}
	if blobFile(t, other, ref.ID) != nil {
		t.Fatal("blob reached a blocked peer")
	}
	noBlobTempFiles(t, other)
}

func TestStoreBlobWithoutMajorityFails(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	_, followers := blobRoles(t, nodes)
	f := followers[0]
	var peers []string
	for _, nd := range nodes {
		if nd != f {
			peers = append(peers, nd.ID())
		}
	}
	f.Faults().Block(peers...)
	t.Cleanup(func() { f.Faults().Heal() })

	t.Run("whole body", func(t *testing.T) {
		_, err := f.StoreBlob(blobCtx(t), bytes.NewReader(blobBytes(3, 2<<20)), 0)
		if !errors.Is(err, objstore.ErrUnavailable) {
			t.Fatalf("StoreBlob without a majority = %v, want ErrUnavailable", err)
		}
	})
	// An endless upload must stop as soon as the majority is out of
	// reach, not when the client finishes.
	t.Run("endless body", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			chunk := blobBytes(4, 64<<10)
			for {
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
		}()
		_, err := f.StoreBlob(blobCtx(t), pr, 0)
		pr.CloseWithError(errors.New("test over"))
		if !errors.Is(err, objstore.ErrUnavailable) {
			t.Fatalf("StoreBlob without a majority = %v, want ErrUnavailable", err)
		}
	})
	for _, nd := range nodes {
		if st := nd.BlobStats(); st != (blobstore.Stats{}) {
			t.Fatalf("%s keeps blobs after a failed StoreBlob: %+v", nd.ID(), st)
		}
		noBlobTempFiles(t, nd)
	}
}

func TestStoreBlobLimitsAndSlowDown(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	_, followers := blobRoles(t, nodes)
	f := followers[0]

	_, err := f.StoreBlob(blobCtx(t), bytes.NewReader(blobBytes(5, 1<<20+1)), 1<<20)
	if !errors.Is(err, blobstore.ErrTooLarge) {
		t.Fatalf("StoreBlob past the limit = %v, want ErrTooLarge", err)
	}
	// Saturate the upload slots: the next upload is shed at once.
	b := f.blobs()
	for range cap(b.stores) {
		b.stores <- struct{}{}
	}
	_, err = f.StoreBlob(blobCtx(t), bytes.NewReader([]byte("x")), 0)
	for range cap(b.stores) {
		<-b.stores
	}
	if !errors.Is(err, objstore.ErrSlowDown) {
		t.Fatalf("StoreBlob with every slot taken = %v, want ErrSlowDown", err)
	}
	// Peers that shed the replicas are busy, not gone: SlowDown again.
	var peerSlots []chan struct{}
	for _, nd := range nodes {
		if nd != f {
			peerSlots = append(peerSlots, nd.blobs().inbound)
		}
	}
	for _, sem := range peerSlots {
		for range cap(sem) {
			sem <- struct{}{}
		}
	}
	_, err = f.StoreBlob(blobCtx(t), bytes.NewReader([]byte("x")), 0)
	for _, sem := range peerSlots {
		for range cap(sem) {
			<-sem
		}
	}
	if !errors.Is(err, objstore.ErrSlowDown) {
		t.Fatalf("StoreBlob with the peers saturated = %v, want ErrSlowDown", err)
	}
	for _, nd := range nodes {
		waitBlob(t, "no blobs", func() bool { return nd.BlobStats() == (blobstore.Stats{}) })
		noBlobTempFiles(t, nd)
	}
}

// storeBlobEverywhere stores a blob and waits until all nodes hold it, so
// that no background replication is left to race with the test.
func storeBlobEverywhere(t *testing.T, nodes []*Node, via *Node, data []byte) BlobRef {
	t.Helper()
	ref, err := via.StoreBlob(blobCtx(t), bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	waitBlob(t, "the blob on every node", func() bool { return blobHolders(t, nodes, ref.ID, data) == len(nodes) })
	return ref
}

func TestOpenBlobFetchesMissingBlob(t *testing.T) {
	// Peers in configuration order, so the test knows which one serves
	// first. The cleanup, registered before the cluster's, runs after
	// every node stopped.
	order := orderBlobPeers
	t.Cleanup(func() { orderBlobPeers = order })
	orderBlobPeers = func([]raft.Server) {}
	nodes := startBlobCluster(t, 3)
	leader, followers := blobRoles(t, nodes)
	data := blobBytes(6, 3<<20+123)
	ref := storeBlobEverywhere(t, nodes, leader, data)
	lacking := followers[0]

	read := func(off, length int64) []byte {
		t.Helper()
		r, err := lacking.OpenBlob(blobCtx(t), ref, off, length)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("local range", func(t *testing.T) {
		if got := read(1000, 5000); !bytes.Equal(got, data[1000:6000]) {
			t.Fatal("wrong bytes")
		}
	})
	t.Run("whole blob heals", func(t *testing.T) {
		if err := lacking.blobs().store.Remove(ref.ID); err != nil {
			t.Fatal(err)
		}
		if got := read(0, -1); !bytes.Equal(got, data) {
			t.Fatal("fetched different bytes")
		}
		if got := blobFile(t, lacking, ref.ID); !bytes.Equal(got, data) {
			t.Fatal("the fetched blob was not kept")
		}
		noBlobTempFiles(t, lacking)
	})
	t.Run("range streams and heals in the background", func(t *testing.T) {
		if err := lacking.blobs().store.Remove(ref.ID); err != nil {
			t.Fatal(err)
		}
		if got := read(2<<20, 4096); !bytes.Equal(got, data[2<<20:2<<20+4096]) {
			t.Fatal("fetched different bytes")
		}
		waitBlob(t, "the background fetch", func() bool { return bytes.Equal(blobFile(t, lacking, ref.ID), data) })
		waitBlob(t, "no fetch in progress", func() bool { return len(lacking.blobs().fetches) == 0 })
		noBlobTempFiles(t, lacking)
	})
	t.Run("resumes on another peer", func(t *testing.T) {
		var first *Node
		for _, s := range lacking.currentServers() {
			if string(s.ID) != lacking.ID() && first == nil {
				for _, nd := range nodes {
					if nd.ID() == string(s.ID) {
						first = nd
					}
				}
			}
		}
		if err := lacking.blobs().store.Remove(ref.ID); err != nil {
			t.Fatal(err)
		}
		r, err := lacking.OpenBlob(blobCtx(t), ref, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		head := make([]byte, 1<<20)
		if _, err := io.ReadFull(r, head); err != nil {
			t.Fatal(err)
		}
		// Cut the node off from the peer serving it, mid-transfer: the
		// read must carry on from the other one where it broke off.
		lacking.Faults().Block(first.ID())
		defer lacking.Faults().Heal()
		rest, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(append(head, rest...), data) {
			t.Fatal("resumed read returned different bytes")
		}
		r.Close()
		if !bytes.Equal(blobFile(t, lacking, ref.ID), data) {
			t.Fatal("the fetched blob was not kept")
		}
	})
	t.Run("FetchBlob", func(t *testing.T) {
		if err := lacking.blobs().store.Remove(ref.ID); err != nil {
			t.Fatal(err)
		}
		if err := lacking.FetchBlob(blobCtx(t), ref); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(blobFile(t, lacking, ref.ID), data) {
			t.Fatal("FetchBlob did not store the blob")
		}
	})
}

func TestOpenBlobRejectsCorruptCopy(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	leader, followers := blobRoles(t, nodes)
	data := blobBytes(7, 1<<20+5)
	ref := storeBlobEverywhere(t, nodes, leader, data)
	lacking := followers[0]
	if err := lacking.blobs().store.Remove(ref.ID); err != nil {
		t.Fatal(err)
	}
	bad := ref
	bad.MD5 = "00000000000000000000000000000000"
	r, err := lacking.OpenBlob(blobCtx(t), bad, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err == nil || len(got) >= len(data) {
		t.Fatalf("read of a copy failing verification: %d of %d bytes, err %v; want an error before the end", len(got), len(data), err)
	}
	if lacking.HasBlob(ref.ID) {
		t.Fatal("a copy failing verification was kept")
	}
	noBlobTempFiles(t, lacking)

	// Nobody holds an unknown blob.
	unknown := BlobRef{ID: blobstore.NewID(), Size: 10}
	if _, err := lacking.OpenBlob(blobCtx(t), unknown, 0, -1); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("OpenBlob of an unknown blob = %v, want ErrUnavailable", err)
	}
	if _, err := lacking.OpenBlob(blobCtx(t), ref, 0, ref.Size+1); !errors.Is(err, blobstore.ErrInvalidRange) {
		t.Fatalf("OpenBlob past the end = %v, want ErrInvalidRange", err)
	}
}

func TestBlobRPCVerifiesReplicas(t *testing.T) {
	nodes := startBlobCluster(t, 2)
	a, b := nodes[0], nodes[1]
	data := blobBytes(8, 100_000)
	sum := md5.Sum(data)
	put := func(id string, body []byte, size, md5Hex string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(blobCtx(t), http.MethodPut, "http://"+b.ClusterAddr()+"/rpc/blob/"+id, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(hdrBlobSize, size)
		req.Header.Set(hdrBlobMD5, md5Hex)
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := hex.EncodeToString(sum[:])
	id := blobstore.NewID()
	if code := put(id, data, "100000", "0123456789abcdef0123456789abcdef"); code != http.StatusBadRequest || b.HasBlob(id) {
		t.Fatalf("wrong MD5: status %d, stored %v", code, b.HasBlob(id))
	}
	if code := put(id, data[:99_999], "100000", good); code != http.StatusBadRequest || b.HasBlob(id) {
		t.Fatalf("short body: status %d, stored %v", code, b.HasBlob(id))
	}
	if code := put("../../x", data, "100000", good); code == http.StatusOK {
		t.Fatalf("bad id accepted")
	}
	if code := put(id, data, "100000", good); code != http.StatusOK || !bytes.Equal(blobFile(t, b, id), data) {
		t.Fatalf("good replica: status %d", code)
	}
	noBlobTempFiles(t, b)
	// A blob the peer already holds is acknowledged without its body:
	// blobs never change.
	if code := put(id, blobBytes(9, 3<<20), strconv.Itoa(3<<20), "ffffffffffffffffffffffffffffffff"); code != http.StatusOK || !bytes.Equal(blobFile(t, b, id), data) {
		t.Fatalf("replica of a held blob: status %d", code)
	}

	// Ranged GET, then DELETE.
	ref := BlobRef{ID: id, Size: int64(len(data)), MD5: good}
	body, err := a.getRemoteBlob(blobCtx(t), b.ClusterAddr(), ref, 10, 20, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(got, data[10:20]) {
		t.Fatalf("ranged GET = %q, %v", got, err)
	}
	if err := a.deleteRemoteBlob(blobCtx(t), b.ClusterAddr(), id); err != nil || b.HasBlob(id) {
		t.Fatalf("DELETE: %v, still there %v", err, b.HasBlob(id))
	}
	if _, err := a.getRemoteBlob(blobCtx(t), b.ClusterAddr(), ref, 0, 10, false); err == nil {
		t.Fatal("GET of a deleted blob succeeded")
	}
}

// A peer that stops making progress (SIGSTOP, a wedged disk) keeps its
// connections open; transfers to and from it must fail after
// blobStallTimeout instead of hanging.
func TestBlobTransfersFailWhenPeerStalls(t *testing.T) {
	// Restored by a cleanup registered before the cluster's, so that it
	// runs after every node (and its blob goroutines) stopped.
	old := blobStallTimeout
	t.Cleanup(func() { blobStallTimeout = old })
	blobStallTimeout = 300 * time.Millisecond
	nodes := startBlobCluster(t, 1)
	a := nodes[0]

	// A fake member: authenticates like a node, then never answers.
	mux, err := transport.Listen("127.0.0.1:0", transport.Config{NodeID: "wedged", Secret: []byte("cluster-secret")})
	if err != nil {
		t.Fatal(err)
	}
	unwedge := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set(hdrBlobSize, "1000000")
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(make([]byte, 10))
			_ = http.NewResponseController(w).Flush()
		}
		<-unwedge // reads nothing more, answers nothing more
	})}
	go func() { _ = srv.Serve(mux.HTTPListener()) }()
	t.Cleanup(func() {
		close(unwedge)
		srv.Close()
		mux.Close()
	})
	addr := mux.Addr().String()

	t.Run("send, peer stops reading", func(t *testing.T) {
		err := a.sendBlob(blobCtx(t), addr, blobstore.NewID(), &blobPatternReader{left: 64 << 20}, 64<<20, "00", nil)
		if !errors.Is(err, errBlobStalled) {
			t.Fatalf("sendBlob = %v, want errBlobStalled", err)
		}
	})
	t.Run("send, peer never answers", func(t *testing.T) {
		err := a.sendBlob(blobCtx(t), addr, blobstore.NewID(), bytes.NewReader(make([]byte, 1000)), 1000, "00", nil)
		if !errors.Is(err, errBlobStalled) {
			t.Fatalf("sendBlob = %v, want errBlobStalled", err)
		}
	})
	t.Run("fetch, peer stops sending", func(t *testing.T) {
		body, err := a.getRemoteBlob(blobCtx(t), addr, BlobRef{ID: blobstore.NewID(), Size: 1000000}, 0, 1000, false)
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		got, err := io.ReadAll(body)
		if len(got) != 10 || !errors.Is(err, errBlobStalled) {
			t.Fatalf("read %d bytes, %v; want 10 bytes, errBlobStalled", len(got), err)
		}
	})
}

func TestParseBlobRange(t *testing.T) {
	for _, tc := range []struct {
		h           string
		off, length int64
		partial     bool
		bad         bool
	}{
		{"", 0, 100, false, false},
		{"bytes=0-99", 0, 100, true, false},
		{"bytes=10-", 10, 90, true, false},
		{"bytes=10-19", 10, 10, true, false},
		{"bytes=90-500", 90, 10, true, false},
		{"bytes=100-", 0, 0, false, true},
		{"bytes=5-4", 0, 0, false, true},
		{"bytes=-5", 0, 0, false, true},
		{"items=0-1", 0, 0, false, true},
	} {
		off, length, partial, err := parseBlobRange(tc.h, 100)
		if tc.bad != (err != nil) || (!tc.bad && (off != tc.off || length != tc.length || partial != tc.partial)) {
			t.Errorf("parseBlobRange(%q) = %d, %d, %v, %v", tc.h, off, length, partial, err)
		}
	}
}

func TestCollectBlobs(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	leader, followers := blobRoles(t, nodes)
	f := followers[0]
	var refs []BlobRef
	for i := range 3 {
		refs = append(refs, storeBlobEverywhere(t, nodes, leader, blobBytes(uint64(10+i), 1000*(i+1))))
	}
	keep := refs[0].ID
	referenced := func(id string) bool { return id == keep }

	// Young blobs survive whatever they are.
	res, err := f.CollectBlobs(blobCtx(t), referenced, time.Hour)
	if err != nil || res != (CollectResult{Scanned: 3}) {
		t.Fatalf("CollectBlobs(1h) = %+v, %v", res, err)
	}
	// Past the grace period, only referenced blobs stay.
	res, err = f.CollectBlobs(blobCtx(t), referenced, 0)
	if err != nil || res != (CollectResult{Scanned: 3, Removed: 2, RemovedBytes: 2000 + 3000}) {
		t.Fatalf("CollectBlobs(0) = %+v, %v", res, err)
	}
	if !f.HasBlob(keep) || f.HasBlob(refs[1].ID) || f.HasBlob(refs[2].ID) {
		t.Fatal("collected the wrong blobs")
	}
	// Collection is per node.
	if !leader.HasBlob(refs[1].ID) {
		t.Fatal("collection on one node removed another node's blob")
	}
}

// TestCollectBlobsHonoursReadHolds: an unreferenced blob that an open
// object read still holds survives orphan collection (and a discard),
// however old it is, and is removed as soon as the last read holding it
// ends, without waiting for the next collection.
func TestCollectBlobsHonoursReadHolds(t *testing.T) {
	nodes := startBlobCluster(t, 1)
	nd := nodes[0]
	held, free := storeBlobEverywhere(t, nodes, nd, blobBytes(20, 3000)), storeBlobEverywhere(t, nodes, nd, blobBytes(21, 4000))
	none := func(string) bool { return false }
	open := func() io.ReadCloser {
		t.Helper()
		rc, err := (&blobBody{n: nd, blobs: []BlobRef{held}}).Open(blobCtx(t), 0, held.Size)
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	r1, r2 := open(), open()
	res, err := nd.CollectBlobs(blobCtx(t), none, 0)
	if err != nil || res != (CollectResult{Scanned: 2, Removed: 1, RemovedBytes: 4000, Held: 1}) {
		t.Fatalf("CollectBlobs with one blob held = %+v, %v", res, err)
	}
	if !nd.HasBlob(held.ID) || nd.HasBlob(free.ID) {
		t.Fatalf("after collection: held blob present %v, free blob present %v", nd.HasBlob(held.ID), nd.HasBlob(free.ID))
	}
	if err := nd.DiscardBlob(blobCtx(t), held.ID); err != nil || !nd.HasBlob(held.ID) {
		t.Fatalf("DiscardBlob of a held blob: %v, still there %v", err, nd.HasBlob(held.ID))
	}
	got, err := io.ReadAll(r1)
	if err != nil || !bytes.Equal(got, blobBytes(20, 3000)) {
		t.Fatalf("read of the held blob: %d bytes, %v", len(got), err)
	}
	r1.Close()
	if !nd.HasBlob(held.ID) {
		t.Fatal("removed while a second read still holds it")
	}
	r2.Close()
	if nd.HasBlob(held.ID) {
		t.Fatal("still there after the last read holding it ended")
	}
	if st := nd.BlobStats(); st.Blobs != 0 || st.Bytes != 0 {
		t.Fatalf("store counts %+v after everything was removed", st)
	}
}

// TestCollectionLeavesListedGarbageToTheDrain: a blob released by a
// delete is the garbage drain's until its entry is drained, however old
// the file: the drain's delay covers a read that looked the record up
// just before the delete and has not taken its hold yet.
func TestCollectionLeavesListedGarbageToTheDrain(t *testing.T) {
	nodes := startBlobCluster(t, 1) // BlobGarbageDelay: the default minute
	nd := nodes[0]
	ref := storeBlobEverywhere(t, nodes, nd, blobBytes(22, 5000))
	orphan := storeBlobEverywhere(t, nodes, nd, blobBytes(23, 6000))
	if err := nd.CreateBucket(blobCtx(t), "b"); err != nil {
		t.Fatal(err)
	}
	_, err := nd.PutObject(blobCtx(t), &objstore.PutRequest{Bucket: "b", Key: "k", Blob: &ref,
		Info: objstore.ObjectInfo{Key: "k", Size: ref.Size, ETag: ref.MD5, ContentType: "application/octet-stream"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.DeleteObject(blobCtx(t), "b", "k"); err != nil {
		t.Fatal(err)
	}
	res, err := nd.CollectBlobs(blobCtx(t), nd.keepFromCollection, 0)
	if err != nil || res.Removed != 1 || !nd.HasBlob(ref.ID) || nd.HasBlob(orphan.ID) {
		t.Fatalf("collection = %+v, %v; released blob kept %v, orphan kept %v", res, err, nd.HasBlob(ref.ID), nd.HasBlob(orphan.ID))
	}
	// Once drained, the entry is gone and so is the file.
	nd.drainGarbagePass(0)
	if nd.HasBlob(ref.ID) {
		t.Fatal("the drain left the released blob")
	}
	if listed, err := nd.fsm.GarbageListed(ref.ID); err != nil || listed {
		t.Fatalf("GarbageListed after the drain = %v, %v", listed, err)
	}
}

// BenchmarkStoreBlob64MiB stores 64 MiB blobs through a follower of a
// 3-node in-process cluster. Besides MB/s it reports the peak Go heap of
// the whole process (three nodes) while uploading, sampled every 5ms, and
// the machine's own bandwidth measured in the same run, to read the
// throughput against: disk-MB/s writes and fsyncs one 64 MiB file,
// disk3-MB/s three at once (64 MiB over the time for all three, which is
// what one upload costs the shared disk of an in-process cluster).
func BenchmarkStoreBlob64MiB(b *testing.B) {
	const size = 64 << 20
	nodes := startBlobCluster(b, 3)
	_, followers := blobRoles(b, nodes)
	f := followers[0]
	disk, disk3 := diskWriteMBps(b, size, 1), diskWriteMBps(b, size, 3)

	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	ctx := context.Background()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ref, err := f.StoreBlob(ctx, &blobPatternReader{left: size}, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		// Let background replication finish, then drop the blob so the
		// disk does not fill over many iterations.
		waitBlob(b, "replication", func() bool {
			for _, nd := range nodes {
				if !nd.HasBlob(ref.ID) {
					return false
				}
			}
			return true
		})
		if err := f.DiscardBlob(ctx, ref.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(disk, "disk-MB/s")
	b.ReportMetric(disk3, "disk3-MB/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(base.HeapInuse)/(1<<20), "idle-heap-MiB")
}

// blobPatternReader yields left bytes of a fixed pseudo-random 64 KiB pattern
// without holding the blob in memory.
type blobPatternReader struct{ left int64 }

var blobPattern = blobBytes(99, 64<<10)

func (p *blobPatternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && p.left > 0 {
		m := copy(b[n:min(len(b), n+int(min(p.left, int64(len(blobPattern)))))], blobPattern)
		n += m
		p.left -= int64(m)
	}
	return n, nil
}

// diskWriteMBps measures writing size bytes to each of files files at
// once, 1 MiB at a time, and fsyncing them; it returns size (not the
// total) in MB over the time taken.
func diskWriteMBps(b *testing.B, size, files int) float64 {
	b.Helper()
	dir := b.TempDir()
	buf := blobBytes(98, 1<<20)
	errs := make([]error, files)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range files {
		wg.Go(func() {
			f, err := os.Create(filepath.Join(dir, fmt.Sprint("disk-probe-", i)))
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			for written := 0; written < size && err == nil; written += len(buf) {
				_, err = f.Write(buf)
			}
			if err == nil {
				err = f.Sync()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	return float64(size) / 1e6 / elapsed.Seconds()
}
