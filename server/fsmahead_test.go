package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strongboxdb/strongbox/server"
)

// A node whose raft/ directory was lost while fsm/ survived must not
// start: its state machine would skip the first entries of the new log as
// already applied, acknowledging writes it never stores. The error names
// both directories and the way out, which works.
func TestStateMachineAheadOfRaftLogRefusesToStart(t *testing.T) {
	c := startCluster(t, 1, nil)
	mustCreateBucket(t, c.client(0), "ahead")
	for i := 0; i < 5; i++ {
		mustPut(t, c.client(0), "ahead", fmt.Sprintf("k%d", i), "v")
	}
	c.stop(0)
	dataDir := c.cfgs[0].Node.DataDir
	raftDir, fsmDir := filepath.Join(dataDir, "raft"), filepath.Join(dataDir, "fsm")
	if err := os.RemoveAll(raftDir); err != nil {
		t.Fatal(err)
	}

	err := startExpectingRefusal(t, c.cfgs[0], "ahead")
	for _, want := range []string{raftDir, fsmDir, "--join", "restore"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("refusal %q does not mention %q", err, want)
		}
	}

	// The advice holds: without fsm/ too, the node starts empty.
	if err := os.RemoveAll(fsmDir); err != nil {
		t.Fatal(err)
	}
	c.restart(0)
	c.waitLeader()
	cl := c.client(0)
	if _, err := cl.HeadBucket(ctxT(t), &s3.HeadBucketInput{Bucket: aws.String("ahead")}); !isHTTPStatus(err, http.StatusNotFound) {
		t.Fatalf("HeadBucket on the emptied node: %v, want 404", err)
	}
	mustCreateBucket(t, cl, "ahead")
	mustPut(t, cl, "ahead", "k0", "new")
	if got := mustGet(t, cl, "ahead", "k0"); got != "new" {
		t.Fatalf("k0 = %q", got)
	}
}

// startExpectingRefusal starts a node that must refuse to start. If it
// starts anyway, it fails the test with what a client would then see (a
// PUT into bucket answered 200 whose object is not there).
func startExpectingRefusal(t *testing.T, cfg server.Config, bucket string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer inst.Close()
	cl := newClient(inst.S3URL(), testAccessKey, testSecretKey, noRetries)
	var putErr, getErr error
	waitFor(t, "the node to answer", 20*time.Second, func() bool {
		_, putErr = cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("lost"), Body: stringsReader("data")})
		return !isHTTPStatus(putErr, http.StatusServiceUnavailable)
	})
	_, getErr = cl.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("lost")})
	t.Fatalf("node started with its state machine ahead of its Raft log; PUT answered %v, then GET of it answered %v", putErr, getErr)
	return nil
}

// A cluster member that lost raft/ is refused too; removing its fsm/ and
// starting it with join addresses brings it back with every object.
func TestMemberWithLostRaftLogRejoinsEmpty(t *testing.T) {
	c := startCluster(t, 3, nil)
	l := c.waitLeader()
	mustCreateBucket(t, c.client(l), "rejoin")
	for i := 0; i < 5; i++ {
		mustPut(t, c.client(l), "rejoin", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	f := c.follower()
	waitFor(t, "the follower to apply", 10*time.Second, func() bool {
		return c.nodes[f].Node.AppliedIndex() >= c.nodes[l].Node.AppliedIndex()
	})
	c.stop(f)
	dataDir := c.cfgs[f].Node.DataDir
	if err := os.RemoveAll(filepath.Join(dataDir, "raft")); err != nil {
		t.Fatal(err)
	}
	c.cfgs[f].Node.Join = []string{c.nodes[l].Node.ClusterAddr()}
	err := startExpectingRefusal(t, c.cfgs[f], "rejoin")
	if !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("start error: %v", err)
	}

	if err := os.RemoveAll(filepath.Join(dataDir, "fsm")); err != nil {
		t.Fatal(err)
	}
	c.restart(f)
	c.waitMembers(3)
	cf := c.client(f)
	for i := 0; i < 5; i++ {
		if got := mustGet(t, cf, "rejoin", fmt.Sprintf("k%d", i)); got != fmt.Sprintf("v%d", i) {
			t.Fatalf("k%d on the rejoined node = %q", i, got)
		}
	}
	mustPut(t, cf, "rejoin", "after", "a")
	if got := mustGet(t, c.client(l), "rejoin", "after"); got != "a" {
		t.Fatalf("after = %q", got)
	}
}
