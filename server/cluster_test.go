package server_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strongboxdb/strongbox/node"
	"github.com/strongboxdb/strongbox/server"
)

const (
	testAccessKey = "test-access"
	testSecretKey = "test-secret"
)

// testCluster is a cluster of real nodes in this process: real Raft on
// disk under t.TempDir(), real TCP on loopback, real HTTP.
type testCluster struct {
	t     *testing.T
	nodes []*server.Instance // nil while stopped
	cfgs  []server.Config
}

// nodeConfig uses Raft timeouts twice the production defaults: three nodes
// in one race-instrumented process on two shared cores stall for hundreds
// of milliseconds at times, and a leader that steps down mid-test turns
// definite answers into 503s.
func nodeConfig(t *testing.T, id string) server.Config {
	return server.Config{
		Node: node.Config{
			ID:                 id,
			DataDir:            filepath.Join(t.TempDir(), id),
			ClusterAddr:        "127.0.0.1:0",
			Secret:             "cluster-secret",
			HeartbeatTimeout:   time.Second,
			ElectionTimeout:    time.Second,
			LeaderLeaseTimeout: time.Second,
			CommitTimeout:      5 * time.Millisecond,
			ApplyTimeout:       5 * time.Second,
			RaftLogOutput:      raftLogOutput(),
		},
		S3Addr:    "127.0.0.1:0",
		AccessKey: testAccessKey,
		SecretKey: testSecretKey,
	}
}

// startCluster bootstraps node 1 and joins the others to it.
func startCluster(t *testing.T, n int, tweak func(*server.Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	for i := 0; i < n; i++ {
		cfg := nodeConfig(t, "n"+strconv.Itoa(i+1))
		if tweak != nil {
			tweak(&cfg)
		}
		if i > 0 {
			cfg.Node.Join = []string{c.nodes[0].Node.ClusterAddr()}
		}
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, c.start(i))
		if i == 0 {
			c.waitLeader()
		}
	}
	c.waitMembers(n)
	t.Cleanup(c.stopAll)
	return c
}

func (c *testCluster) start(i int) *server.Instance {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := server.Start(ctx, c.cfgs[i])
	if err != nil {
		c.t.Fatalf("start node %d: %v", i+1, err)
	}
	// Pin the addresses the node actually bound, so a restart comes back
	// where the Raft configuration says it lives and S3 clients keep working.
	c.cfgs[i].Node.ClusterAddr = inst.Node.ClusterAddr()
	c.cfgs[i].S3Addr = inst.S3URL()[len("http://"):]
	c.cfgs[i].Node.Join = nil
	return inst
}

func (c *testCluster) stop(i int) {
	c.t.Helper()
	if c.nodes[i] == nil {
		return
	}
	if err := c.nodes[i].Close(); err != nil {
		c.t.Logf("stop node %d: %v", i+1, err)
	}
	c.nodes[i] = nil
}

func (c *testCluster) restart(i int) {
	c.t.Helper()
	c.nodes[i] = c.start(i)
}

func (c *testCluster) stopAll() {
	for i := range c.nodes {
		c.stop(i)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// waitLeader waits until every running node agrees on one leader and
// returns its index.
func (c *testCluster) waitLeader() int {
	c.t.Helper()
	leader := -1
	waitFor(c.t, "an agreed leader", 20*time.Second, func() bool {
		id := ""
		for _, n := range c.nodes {
			if n == nil {
				continue
			}
			l := n.Node.Leader()
			if l == "" || (id != "" && l != id) {
				return false
			}
			id = l
		}
		for i, n := range c.nodes {
			if n != nil && n.Node.ID() == id && n.Node.IsLeader() {
				leader = i
				return true
			}
		}
		return false
	})
	return leader
}

func (c *testCluster) waitMembers(n int) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("%d members", n), 20*time.Second, func() bool {
		l := c.waitLeader()
		return len(c.nodes[l].Node.Status(context.Background()).Members) == n
	})
}

// follower returns the index of a running node other than the leader and
// the excluded ones.
func (c *testCluster) follower(exclude ...int) int {
	l := c.waitLeader()
	for i, n := range c.nodes {
		if n == nil || i == l || contains(exclude, i) {
			continue
		}
		return i
	}
	c.t.Fatal("no follower available")
	return -1
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// client returns an aws-sdk-go-v2 S3 client for node i with the SDK's
// default settings (checksums included), path-style addressing.
func (c *testCluster) client(i int) *s3.Client {
	return newClient(c.nodes[i].S3URL(), testAccessKey, testSecretKey)
}

// newClient builds the client the way applications do (LoadDefaultConfig),
// so the SDK's current defaults apply: request checksums "when supported"
// and response checksum validation on.
func newClient(endpoint, ak, sk string, opts ...func(*s3.Options)) *s3.Client {
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, sk, "")),
	)
	if err != nil {
		panic(err) // only static inputs; cannot fail
	}
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}}, opts...)...)
}

// noRetries makes every SDK call a single attempt, for tests that classify
// outcomes: a retried write whose first attempt was applied answers 412 to
// its own retry.
func noRetries(o *s3.Options) { o.RetryMaxAttempts = 1 }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustCreateBucket(t *testing.T, cl *s3.Client, bucket string) {
	t.Helper()
	if _, err := cl.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
}

func mustPut(t *testing.T, cl *s3.Client, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: stringsReader(body)})
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
	return out
}

func mustGet(t *testing.T, cl *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := cl.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	return string(b)
}

// raftLogOutput sends hashicorp/raft's log to stderr when STRONGBOX_TEST_RAFT_LOG
// is set, for debugging elections.
func raftLogOutput() io.Writer {
	if os.Getenv("STRONGBOX_TEST_RAFT_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
