package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/node"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// The fault-injection API refuses, with 400 and a message, a delay longer
// than a minute and rule sets naming more peers than any cluster has,
// and leaves the rules as they were.
func TestFaultAPIBounds(t *testing.T) {
	c := startCluster(t, 1, nil)
	call := func(method, path string, body []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, c.nodes[0].S3URL()+path, strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		sigv4.Sign(req, testAccessKey, testSecretKey, "us-east-1", hex.EncodeToString(sum[:]), time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		what, method, path string
		body               any
		want               string
	}{
		{"POST delay of 2h", http.MethodPost, "/_strongbox/faults/delay?d=2h", nil, "longer than the maximum, 1m0s"},
		{"POST delay of 1m1s", http.MethodPost, "/_strongbox/faults/delay?d=1m1s", nil, "longer than the maximum"},
		{"POST delay beyond int64", http.MethodPost, "/_strongbox/faults/delay?d=9999999999h", nil, "bad or missing delay"},
		{"PUT delay of 24h", http.MethodPut, "/_strongbox/faults", node.FaultState{Delay: "24h"}, "longer than the maximum"},
		{"PUT 2000 blocked peers", http.MethodPut, "/_strongbox/faults", node.FaultState{Blocked: manyIDs(2000)}, "at most 1024"},
		{"PUT 2000 members", http.MethodPut, "/_strongbox/faults", node.FaultState{Members: manyMembers(2000)}, "at most 1024"},
		{"POST block of 2000 peers", http.MethodPost, "/_strongbox/faults/block?" + peerQuery(2000), nil, "at most 1024"},
	} {
		var body []byte
		if tt.body != nil {
			body, _ = json.Marshal(tt.body)
		}
		if st, msg := call(tt.method, tt.path, body); st != http.StatusBadRequest || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %d %q, want 400 %q", tt.what, st, msg, tt.want)
		}
	}
	// Blocking in steps cannot grow the rules past the bound either.
	for i := 0; i < 2; i++ {
		q := url.Values{}
		for j := 0; j < 600; j++ {
			q.Add("peer", fmt.Sprintf("step%d-%d", i, j))
		}
		st, msg := call(http.MethodPost, "/_strongbox/faults/block?"+q.Encode(), nil)
		if want := []int{http.StatusOK, http.StatusBadRequest}[i]; st != want {
			t.Fatalf("block step %d: %d %s, want %d", i, st, msg, want)
		}
	}
	var st node.FaultState
	c.adminCall(0, http.MethodGet, "/_strongbox/faults", nil, &st)
	if st.Delay != "0s" || len(st.Blocked) != 600 {
		t.Fatalf("rules after refused calls: delay %s, %d blocked", st.Delay, len(st.Blocked))
	}
	// The largest delay allowed is accepted.
	c.adminCall(0, http.MethodPost, "/_strongbox/faults/delay?d=1m", nil, &st)
	if st.Delay != "1m0s" {
		t.Fatalf("delay 1m: %s", st.Delay)
	}
	c.adminCall(0, http.MethodPost, "/_strongbox/faults/heal", nil, &st)
}

func manyIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("peer%d", i)
	}
	return ids
}

func manyMembers(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("m%d", i)] = "http://127.0.0.1:1"
	}
	return m
}

func peerQuery(n int) string {
	q := url.Values{}
	for _, id := range manyIDs(n) {
		q.Add("peer", id)
	}
	return q.Encode()
}
