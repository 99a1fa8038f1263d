package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/strongboxdb/strongbox/node"
	"github.com/strongboxdb/strongbox/server"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// A write acknowledged through one follower is visible at once through the
// other follower: reads wait for the leader's commit index (ReadIndex).
func TestWriteThroughFollowerReadThroughOtherFollower(t *testing.T) {
	c := startCluster(t, 3, nil)
	f1 := c.follower()
	f2 := c.follower(f1)
	w, r := c.client(f1), c.client(f2)
	mustCreateBucket(t, w, "rw-bucket")
	for i := 0; i < 20; i++ {
		key, val := fmt.Sprintf("k%02d", i), fmt.Sprintf("value-%d", i)
		mustPut(t, w, "rw-bucket", key, val)
		if got := mustGet(t, r, "rw-bucket", key); got != val {
			t.Fatalf("read after write through other follower: got %q want %q", got, val)
		}
		// Listings are linearizable too.
		out, err := r.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String("rw-bucket")})
		if err != nil {
			t.Fatal(err)
		}
		if int(*out.KeyCount) != i+1 {
			t.Fatalf("listing after write %d shows %d keys", i, *out.KeyCount)
		}
	}
	// A delete through the other follower is likewise visible at once.
	if _, err := r.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String("rw-bucket"), Key: aws.String("k00")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("rw-bucket"), Key: aws.String("k00")}); !isHTTPStatus(err, 404) {
		t.Fatalf("HeadObject after delete: %v, want 404", err)
	}
}

func isHTTPStatus(err error, status int) bool {
	var re interface{ HTTPStatusCode() int }
	return err != nil && errors.As(err, &re) && re.HTTPStatusCode() == status
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Stopping the leader elects a new one; every acknowledged write survives
// and the cluster keeps accepting writes.
func TestLeaderFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	c := startCluster(t, 3, nil)
	l := c.waitLeader()
	f := c.follower()
	cl := c.client(f)
	mustCreateBucket(t, cl, "failover")

	// Concurrent writers through every node while the leader is stopped.
	var mu sync.Mutex
	acked := map[string]string{}
	var wg sync.WaitGroup
	stopWriters := make(chan struct{})
	for w := 0; w < 3; w++ {
		if w == l {
			continue
		}
		wcl := c.client(w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopWriters:
					return
				default:
				}
				key, val := fmt.Sprintf("w%d-%04d", w, i), fmt.Sprintf("v%d", i)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := wcl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("failover"), Key: aws.String(key), Body: stringsReader(val)})
				cancel()
				if err == nil {
					mu.Lock()
					acked[key] = val
					mu.Unlock()
				}
			}
		}()
	}
	waitFor(t, "some acknowledged writes", 20*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 20 })
	c.stop(l)
	newLeader := c.waitLeader()
	if newLeader == l {
		t.Fatal("stopped node still leader")
	}
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	waitFor(t, "writes to resume under the new leader", 20*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= before+20 })
	close(stopWriters)
	wg.Wait()

	for _, i := range []int{newLeader, c.follower()} {
		cl := c.client(i)
		for k, v := range acked {
			if got := mustGet(t, cl, "failover", k); got != v {
				t.Fatalf("node %d: %s = %q, want %q", i+1, k, got, v)
			}
		}
	}
	// The stopped node comes back and serves everything, including writes
	// made while it was down.
	c.restart(l)
	cl = c.client(l)
	for k, v := range acked {
		if got := mustGet(t, cl, "failover", k); got != v {
			t.Fatalf("restarted node: %s = %q, want %q", k, got, v)
		}
	}
}

// Stopping and restarting every node keeps all data and membership.
func TestRestartAllNodesKeepsData(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := c.client(0)
	mustCreateBucket(t, cl, "durable")
	want := map[string]string{}
	for i := 0; i < 50; i++ {
		k, v := fmt.Sprintf("obj/%03d", i), strings.Repeat(string(rune('a'+i%26)), 100+i)
		mustPut(t, c.client(i%3), "durable", k, v)
		want[k] = v
	}
	// Take a snapshot on one node so restart covers snapshot + log replay.
	if err := c.nodes[c.waitLeader()].Node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, cl, "durable", "after-snapshot", "x")
	want["after-snapshot"] = "x"

	c.stopAll()
	// Restart all at once: none can elect alone, so they must start together.
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); c.nodes[i] = c.start(i) }()
	}
	wg.Wait()
	c.waitMembers(3)
	for i := range c.nodes {
		cl := c.client(i)
		for k, v := range want {
			if got := mustGet(t, cl, "durable", k); got != v {
				t.Fatalf("node %d after restart: %s = %q, want %q", i+1, k, got, v)
			}
		}
		out, err := cl.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String("durable")})
		if err != nil {
			t.Fatal(err)
		}
		if int(*out.KeyCount) != len(want) {
			t.Fatalf("node %d lists %d keys, want %d", i+1, *out.KeyCount, len(want))
		}
	}
}

// A fourth node joins after the log was compacted, so it must catch up
// from a snapshot; it then serves every object.
func TestJoinFourthNodeCatchesUpFromSnapshot(t *testing.T) {
	compact := func(cfg *server.Config) {
		cfg.Node.SnapshotThreshold = 16
		cfg.Node.TrailingLogs = 4
		cfg.Node.SnapshotInterval = time.Hour // only explicit snapshots
	}
	c := startCluster(t, 3, compact)
	cl := c.client(0)
	mustCreateBucket(t, cl, "catchup")
	for i := 0; i < 40; i++ {
		mustPut(t, cl, "catchup", fmt.Sprintf("k%02d", i), fmt.Sprintf("v%02d", i))
	}
	l := c.waitLeader()
	if err := c.nodes[l].Node.Snapshot(); err != nil {
		t.Fatal(err)
	}

	cfg := nodeConfig(t, "n4")
	compact(&cfg)
	cfg.Node.Join = []string{c.nodes[c.follower()].Node.ClusterAddr()} // joining via a follower relays to the leader
	c.cfgs = append(c.cfgs, cfg)
	c.nodes = append(c.nodes, c.start(3))
	c.waitMembers(4)

	n4 := c.nodes[3]
	waitFor(t, "node 4 to catch up", 20*time.Second, func() bool {
		return n4.Node.AppliedIndex() >= c.nodes[l].Node.AppliedIndex()-1
	})
	if snap := memberStatus(t, c.nodes[l].Node.Status(context.Background()), "n4").LastSnapshotIndex; snap == 0 {
		t.Fatal("node 4 did not catch up through a snapshot")
	}
	cl4 := c.client(3)
	for i := 0; i < 40; i++ {
		if got := mustGet(t, cl4, "catchup", fmt.Sprintf("k%02d", i)); got != fmt.Sprintf("v%02d", i) {
			t.Fatalf("node 4: k%02d = %q", i, got)
		}
	}
	// And it takes part: a write through it is readable elsewhere.
	mustPut(t, cl4, "catchup", "from-n4", "hello")
	if got := mustGet(t, c.client(0), "catchup", "from-n4"); got != "hello" {
		t.Fatalf("write through node 4 read back %q", got)
	}
	snaps, _ := filepath.Glob(filepath.Join(c.cfgs[3].Node.DataDir, "raft", "snapshots", "*"))
	if len(snaps) == 0 {
		t.Fatal("node 4 holds no snapshot on disk")
	}
}

func memberStatus(t *testing.T, st node.ClusterStatus, id string) node.MemberStatus {
	t.Helper()
	for _, m := range st.Members {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("member %s not in status %+v", id, st)
	return node.MemberStatus{}
}

// Removing a member shrinks the configuration; the rest keep serving.
func TestRemoveMember(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := c.client(0)
	mustCreateBucket(t, cl, "rm-bucket")
	victim := c.follower()
	other := c.follower(victim)
	if err := c.nodes[other].Node.RemoveMember(ctxT(t), c.nodes[victim].Node.ID()); err != nil {
		t.Fatalf("remove: %v", err)
	}
	c.stop(victim)
	waitFor(t, "2 members", 10*time.Second, func() bool {
		return len(c.nodes[c.waitLeader()].Node.Status(context.Background()).Members) == 2
	})
	mustPut(t, c.client(other), "rm-bucket", "k", "v")
	if got := mustGet(t, c.client(c.waitLeader()), "rm-bucket", "k"); got != "v" {
		t.Fatalf("got %q", got)
	}
	if err := c.nodes[other].Node.RemoveMember(ctxT(t), "no-such-node"); err == nil {
		t.Fatal("removing an unknown member succeeded")
	}
}

// A node whose state machine is behind its newest snapshot (it died while
// installing one from the leader, or lost fsm.db) restores the snapshot
// before Raft resumes after it; otherwise the entries the snapshot covers
// would never be applied on that node.
func TestNodeRestoresStateMachineBehindItsSnapshot(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := c.client(0)
	mustCreateBucket(t, cl, "behind")
	for i := 0; i < 10; i++ {
		mustPut(t, cl, "behind", fmt.Sprintf("before-%d", i), "x")
	}
	f := c.follower()
	waitFor(t, "follower to apply", 10*time.Second, func() bool {
		return c.nodes[f].Node.AppliedIndex() >= c.nodes[c.waitLeader()].Node.AppliedIndex()
	})
	if err := c.nodes[f].Node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, cl, "behind", "after", "y")
	c.stop(f)
	if err := os.RemoveAll(filepath.Join(c.cfgs[f].Node.DataDir, "fsm")); err != nil {
		t.Fatal(err)
	}
	c.restart(f)
	cf := c.client(f)
	for i := 0; i < 10; i++ {
		if got := mustGet(t, cf, "behind", fmt.Sprintf("before-%d", i)); got != "x" {
			t.Fatalf("before-%d = %q", i, got)
		}
	}
	if got := mustGet(t, cf, "behind", "after"); got != "y" {
		t.Fatalf("after = %q", got)
	}
}
