package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strongboxdb/strongbox/node"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// adminCall sends a SigV4-signed admin request to node i and decodes a
// JSON reply into out (if not nil).
func (c *testCluster) adminCall(i int, method, path string, body []byte, out any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.nodes[i].S3URL()+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	sigv4.Sign(req, testAccessKey, testSecretKey, "us-east-1", hex.EncodeToString(sum[:]), time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s on node %d: %v", method, path, i+1, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s on node %d: %s %s", method, path, i+1, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// partition sets, through the admin API of every node, the rules that
// split the cluster into the given groups of node indexes.
func (c *testCluster) partition(groups ...[]int) {
	c.t.Helper()
	var ids []string
	for _, n := range c.nodes {
		ids = append(ids, n.Node.ID())
	}
	var named [][]string
	for _, g := range groups {
		var ng []string
		for _, i := range g {
			ng = append(ng, ids[i])
		}
		named = append(named, ng)
	}
	rules, err := node.PartitionRules(ids, named)
	if err != nil {
		c.t.Fatal(err)
	}
	for i, id := range ids {
		body, _ := json.Marshal(node.FaultState{Blocked: rules[id]})
		var st node.FaultState
		c.adminCall(i, http.MethodPut, "/_strongbox/faults", body, &st)
		if !slices.Equal(st.Blocked, rules[id]) {
			c.t.Fatalf("node %s blocks %v after PUT, want %v", id, st.Blocked, rules[id])
		}
	}
}

// Isolating the leader through the admin API: the majority elects a new
// leader and keeps serving, the old leader refuses writes with 503 (never
// a false success), and after heal the cluster converges on one leader
// and the old leader serves the majority's writes.
func TestAdminPartitionIsolatesLeader(t *testing.T) {
	c := startCluster(t, 3, nil)
	old := c.waitLeader()
	mustCreateBucket(t, c.client(old), "part")
	mustPut(t, c.client(old), "part", "k", "before")

	var majority []int
	for i := range c.nodes {
		if i != old {
			majority = append(majority, i)
		}
	}
	c.partition([]int{old}, majority)

	newLeader := -1
	waitFor(t, "the majority to elect a new leader", 20*time.Second, func() bool {
		for _, i := range majority {
			if c.nodes[i].Node.IsLeader() {
				newLeader = i
				return true
			}
		}
		return false
	})
	if got := c.nodes[old].Node.Faults().Blocked(); len(got) != 2 {
		t.Fatalf("old leader blocks %v, want both peers", got)
	}

	// A write through the isolated old leader must not succeed.
	isolated := newClient(c.nodes[old].S3URL(), testAccessKey, testSecretKey, noRetries)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_, err := isolated.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("part"), Key: aws.String("k"), Body: stringsReader("isolated")})
	cancel()
	if err == nil {
		t.Fatal("write through the isolated old leader succeeded")
	}
	if !isHTTPStatus(err, http.StatusServiceUnavailable) {
		t.Fatalf("write through the isolated old leader: %v, want 503", err)
	}

	// The majority side accepts writes meanwhile.
	mustPut(t, c.client(majority[0]), "part", "k", "majority")
	if got := mustGet(t, c.client(newLeader), "part", "k"); got != "majority" {
		t.Fatalf("read on new leader: %q", got)
	}

	for i := range c.nodes {
		var st node.FaultState
		c.adminCall(i, http.MethodPost, "/_strongbox/faults/heal", nil, &st)
		if len(st.Blocked) != 0 {
			t.Fatalf("node %d still blocks %v after heal", i+1, st.Blocked)
		}
	}
	c.waitLeader()
	// Converged: the old leader now serves the majority's write, and the
	// isolated write never surfaces.
	waitFor(t, "the old leader to serve the majority's write", 20*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := isolated.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("part"), Key: aws.String("k")})
		if err != nil {
			return false
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		if string(b) == "isolated" {
			t.Fatal("the write refused by the isolated leader became visible")
		}
		return string(b) == "majority"
	})
}

// The granular fault endpoints block, unblock, delay and heal, and GET
// reports the rules.
func TestAdminFaultEndpoints(t *testing.T) {
	c := startCluster(t, 1, nil)
	var st node.FaultState
	c.adminCall(0, http.MethodPost, "/_strongbox/faults/block?peer=x&peer=y", nil, &st)
	if !slices.Equal(st.Blocked, []string{"x", "y"}) || st.Node != "n1" {
		t.Fatalf("after block: %+v", st)
	}
	c.adminCall(0, http.MethodPost, "/_strongbox/faults/unblock?peer=x", nil, &st)
	c.adminCall(0, http.MethodPost, "/_strongbox/faults/delay?d=5ms", nil, &st)
	c.adminCall(0, http.MethodGet, "/_strongbox/faults", nil, &st)
	if !slices.Equal(st.Blocked, []string{"y"}) || st.Delay != "5ms" {
		t.Fatalf("after unblock and delay: %+v", st)
	}
	// PUT replaces the rules and keeps the member directory.
	body, _ := json.Marshal(node.FaultState{Blocked: []string{"z"}, Members: map[string]string{"n1": "http://n1"}})
	c.adminCall(0, http.MethodPut, "/_strongbox/faults", body, &st)
	if !slices.Equal(st.Blocked, []string{"z"}) || st.Delay != "0s" || st.Members["n1"] != "http://n1" {
		t.Fatalf("after PUT: %+v", st)
	}
	c.adminCall(0, http.MethodPost, "/_strongbox/faults/heal", nil, &st)
	if len(st.Blocked) != 0 || st.Delay != "0s" {
		t.Fatalf("after heal: %+v", st)
	}
	// Unsigned requests are refused like every admin call.
	resp, err := http.Post(c.nodes[0].S3URL()+"/_strongbox/faults/heal", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous fault call: %s", resp.Status)
	}
}
