package linearizability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Helpers that build one operation each: client, call and return time.
func put(c int, call, ret int64, key, v string, out Outcome) Op {
	return Op{Client: c, Kind: Put, Key: key, Value: v, Outcome: out, Call: call, Return: ret}
}

func get(c int, call, ret int64, key, v string) Op {
	return Op{Client: c, Kind: Get, Key: key, Found: v != "", Result: v, Outcome: OK, Call: call, Return: ret}
}

func del(c int, call, ret int64, key string, out Outcome) Op {
	return Op{Client: c, Kind: Delete, Key: key, Outcome: out, Call: call, Return: ret}
}

func putIfAbsent(c int, call, ret int64, key, v string, out Outcome, status int) Op {
	return Op{Client: c, Kind: PutIfAbsent, Key: key, Value: v, Outcome: out, Status: status, Call: call, Return: ret}
}

func putIfMatch(c int, call, ret int64, key, expect, v string, out Outcome, status int) Op {
	return Op{Client: c, Kind: PutIfMatch, Key: key, Expect: expect, Value: v, Outcome: out, Status: status, Call: call, Return: ret}
}

func list(c int, call, ret int64, prefix string, kv ...string) Op {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return Op{Client: c, Kind: List, Key: prefix, Listed: m, Outcome: OK, Call: call, Return: ret}
}

func TestModels(t *testing.T) {
	const k = "p0/k0"
	tests := []struct {
		name string
		ops  []Op
		want Verdict
	}{
		{"read your write", []Op{
			put(0, 0, 10, k, "a", OK), get(1, 20, 30, k, "a")}, Linearizable},
		{"stale read", []Op{
			put(0, 0, 10, k, "a", OK), put(0, 20, 30, k, "b", OK), get(1, 40, 50, k, "a")}, Violation},
		{"concurrent read sees old or new", []Op{
			put(0, 0, 10, k, "a", OK), put(0, 20, 30, k, "b", OK), get(1, 25, 35, k, "a"), get(2, 25, 35, k, "b")}, Linearizable},
		{"new then old while concurrent", []Op{
			put(0, 0, 10, k, "a", OK), put(0, 20, 60, k, "b", OK), get(1, 25, 35, k, "b"), get(1, 40, 50, k, "a")}, Violation},
		{"lost write", []Op{
			put(0, 0, 10, k, "a", OK), get(1, 20, 30, k, "")}, Violation},
		{"read of a value never written", []Op{
			get(1, 20, 30, k, "zz")}, Violation},
		{"unknown write may have happened", []Op{
			put(0, 0, 10, k, "a", Unknown), get(1, 20, 30, k, "a")}, Linearizable},
		{"unknown write may not have happened", []Op{
			put(0, 0, 10, k, "a", Unknown), get(1, 20, 30, k, "")}, Linearizable},
		{"unknown write may happen late", []Op{
			put(0, 0, 10, k, "a", Unknown), get(1, 20, 30, k, ""), get(1, 40, 50, k, "a")}, Linearizable},
		{"unknown write not before its call", []Op{
			get(1, 0, 5, k, "a"), put(0, 10, 20, k, "a", Unknown)}, Violation},
		{"failed write has no effect", []Op{
			putIfAbsent(0, 0, 10, k, "a", OK, 0), putIfAbsent(1, 20, 30, k, "b", Fail, 412), get(2, 40, 50, k, "a")}, Linearizable},
		{"two winners of if-none-match", []Op{
			putIfAbsent(0, 0, 10, k, "a", OK, 0), putIfAbsent(1, 0, 10, k, "b", OK, 0)}, Violation},
		{"one winner of if-none-match", []Op{
			putIfAbsent(0, 0, 10, k, "a", OK, 0), putIfAbsent(1, 0, 10, k, "b", Fail, 412), get(2, 20, 30, k, "a")}, Linearizable},
		{"if-none-match refused on an absent key", []Op{
			putIfAbsent(1, 0, 10, k, "b", Fail, 412), get(2, 20, 30, k, "")}, Violation},
		{"412 explained by an unread unknown write", []Op{
			put(0, 0, 10, k, "a", Unknown), putIfAbsent(1, 20, 30, k, "b", Fail, 412), del(1, 40, 50, k, OK), get(1, 60, 70, k, "")}, Linearizable},
		{"violation beside a 412 an unread unknown write explains", []Op{
			put(0, 0, 10, k, "a", Unknown), putIfAbsent(1, 20, 30, k, "b", Fail, 412), put(1, 40, 50, k, "c", OK),
			put(1, 60, 70, k, "d", OK), get(2, 80, 90, k, "c")}, Violation},
		{"412 on an absent key despite an unread unknown write", []Op{
			get(1, 0, 5, k, ""), put(0, 10, 20, k, "a", Unknown), putIfAbsent(1, 0, 8, k, "b", Fail, 412)}, Violation},
		{"compare-and-set", []Op{
			put(0, 0, 10, k, "a", OK), putIfMatch(1, 20, 30, k, "a", "b", OK, 0), putIfMatch(2, 40, 50, k, "a", "c", Fail, 412), get(0, 60, 70, k, "b")}, Linearizable},
		{"two winners of compare-and-set", []Op{
			put(0, 0, 10, k, "a", OK), putIfMatch(1, 20, 30, k, "a", "b", OK, 0), putIfMatch(2, 20, 30, k, "a", "c", OK, 0)}, Violation},
		{"if-match on absent key", []Op{
			putIfMatch(2, 0, 10, k, "a", "c", Fail, 404), get(0, 20, 30, k, "")}, Linearizable},
		{"if-match 404 on a present key", []Op{
			put(0, 0, 10, k, "a", OK), putIfMatch(2, 20, 30, k, "a", "c", Fail, 404)}, Violation},
		{"unknown delete may explain absence", []Op{
			put(0, 0, 10, k, "a", OK), del(1, 15, 20, k, Unknown), get(2, 30, 40, k, "")}, Linearizable},
		{"unread unknown delete", []Op{
			put(0, 0, 10, k, "a", OK), del(1, 15, 20, k, Unknown), get(2, 30, 40, k, "a"), put(0, 50, 60, k, "b", OK), get(2, 70, 80, k, "b")}, Linearizable},
		{"unknown delete does not excuse a stale read", []Op{
			put(0, 0, 10, k, "a", OK), del(1, 15, 20, k, Unknown), put(0, 50, 60, k, "b", OK), get(2, 70, 80, k, "a")}, Violation},
		{"delete then read", []Op{
			put(0, 0, 10, k, "a", OK), del(1, 15, 20, k, OK), get(2, 30, 40, k, "a")}, Violation},
		{"failed reads are ignored", []Op{
			put(0, 0, 10, k, "a", OK), {Client: 1, Kind: Get, Key: k, Outcome: Unknown, Call: 20, Return: 30}}, Linearizable},

		{"list sees acknowledged keys", []Op{
			put(0, 0, 10, "p0/a", "1", OK), put(1, 0, 10, "p0/b", "2", OK), list(2, 20, 30, "p0/", "p0/a", "1", "p0/b", "2")}, Linearizable},
		{"list missing an acknowledged key", []Op{
			put(0, 0, 10, "p0/a", "1", OK), put(1, 0, 10, "p0/b", "2", OK), list(2, 20, 30, "p0/", "p0/a", "1")}, Violation},
		{"list with a stale value", []Op{
			put(0, 0, 10, "p0/a", "1", OK), put(0, 20, 30, "p0/a", "2", OK), list(2, 40, 50, "p0/", "p0/a", "1")}, Violation},
		{"list shows a deleted key", []Op{
			put(0, 0, 10, "p0/a", "1", OK), del(0, 20, 30, "p0/a", OK), list(2, 40, 50, "p0/", "p0/a", "1")}, Violation},
		{"list concurrent with writes", []Op{
			put(0, 0, 10, "p0/a", "1", OK), put(1, 20, 40, "p0/b", "2", OK), list(2, 25, 35, "p0/", "p0/a", "1"), list(3, 25, 35, "p0/", "p0/a", "1", "p0/b", "2")}, Linearizable},
		{"lists disagree on order", []Op{
			// b then a by one list, a then b by another: no single order.
			put(0, 0, 100, "p0/a", "1", OK), put(1, 0, 100, "p0/b", "2", OK),
			list(2, 10, 20, "p0/", "p0/a", "1"), list(3, 10, 20, "p0/", "p0/b", "2"),
			list(2, 30, 40, "p0/", "p0/a", "1"), list(3, 30, 40, "p0/", "p0/b", "2")}, Violation},
		{"other prefixes are not listed", []Op{
			put(0, 0, 10, "p1/a", "1", OK), list(2, 20, 30, "p0/")}, Linearizable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Check(tt.ops, CheckOptions{Timeout: 10 * time.Second})
			if res.Verdict != tt.want {
				var ps []*Op
				for i := range tt.ops {
					ps = append(ps, &tt.ops[i])
				}
				t.Fatalf("verdict %s, want %s\n%s%+v", res.Verdict, tt.want, describeOps(ps), res.Models)
			}
		})
	}
}

// A violation names the key and writes a visualization.
func TestCheckReportsAndVisualizesViolation(t *testing.T) {
	dir := t.TempDir()
	ops := []Op{put(0, 0, 10, "p0/x", "a", OK), put(0, 20, 30, "p0/x", "b", OK), get(1, 40, 50, "p0/x", "a"),
		put(2, 0, 10, "p0/y", "c", OK), get(2, 20, 30, "p0/y", "c")}
	res := Check(ops, CheckOptions{Dir: dir})
	if res.Verdict != Violation {
		t.Fatalf("verdict %s", res.Verdict)
	}
	reg := res.Models[0]
	if reg.Model != "register" || len(reg.Illegal) != 1 || reg.Illegal[0] != "p0/x" || reg.Visualization != "register.html" {
		t.Fatalf("register result %+v", reg)
	}
	b, err := os.ReadFile(filepath.Join(dir, "register.html"))
	if err != nil || !strings.Contains(string(b), "get(p0/x)") {
		t.Fatalf("visualization: %v (%d bytes)", err, len(b))
	}
	if res.Models[1].Result != Linearizable || res.Models[1].Visualization != "" {
		t.Fatalf("list result %+v", res.Models[1])
	}
}

// Running out of time gives unknown, never linearizable.
func TestCheckTimeoutIsUnknown(t *testing.T) {
	// Many concurrent writes, each read by a concurrent read, and one
	// final read of a value never written: refuting it means trying a
	// vast number of orders.
	var ops []Op
	const n = 40
	for i := range n {
		v := fmt.Sprintf("v%d", i)
		ops = append(ops, put(i, 0, 1000, "k", v, OK), get(n+i, 0, 1000, "k", v))
	}
	ops = append(ops, get(2*n, 0, 1000, "k", "never-written"))
	res := Check(ops, CheckOptions{Timeout: 200 * time.Millisecond})
	if res.Verdict != VerdictUnknown {
		t.Fatalf("verdict %s, want unknown (%+v)", res.Verdict, res.Models)
	}
}

// describeOps is a short human-readable rendering of a few operations,
// for error messages and tests.
func describeOps(ops []*Op) string {
	var b strings.Builder
	for _, o := range ops {
		fmt.Fprintf(&b, "  [%d..%d] c%d %s\n", o.Call, o.Return, o.Client, o)
	}
	return b.String()
}
