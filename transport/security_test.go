package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func dialCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A mirror that connects a node's outbound connection back to its own
// port must not let the node authenticate itself: the hello it receives
// carries its own ID. Before the fix, both the raft and the HTTP dial
// succeeded, and the node held a "peer" connection to itself.
func TestReflectedHandshakeRefused(t *testing.T) {
	m := newTestMux(t, "n1")
	mirror := startProxy(t, m.Addr().String())

	if c, err := m.DialContext(dialCtx(t), "tcp", mirror.addr()); !errors.Is(err, ErrHandshake) {
		if c != nil {
			_ = c.Close()
		}
		t.Fatalf("http dial through a mirror: %v, want ErrHandshake", err)
	}
	if c, err := m.RaftStreamLayer().Dial(raft.ServerAddress(mirror.addr()), 5*time.Second); !errors.Is(err, ErrHandshake) {
		if c != nil {
			_ = c.Close()
		}
		t.Fatalf("raft dial through a mirror: %v, want ErrHandshake", err)
	}
	waitFor(t, 5*time.Second, "both reflections counted as failures", func() bool {
		return m.Stats().HandshakeFailures == 2
	})
	if st := m.Stats(); st.Accepted != 0 || st.Dialed != 0 || st.Open != 0 {
		t.Fatalf("a reflected handshake was accepted: %+v", st)
	}

	// Another node configured with the same ID is refused the same way, in
	// both directions.
	twin := newTestMux(t, "n1")
	if _, err := twin.DialContext(dialCtx(t), "tcp", m.Addr().String()); !errors.Is(err, ErrHandshake) {
		t.Fatalf("twin → n1: %v, want ErrHandshake", err)
	}
	if _, err := m.DialContext(dialCtx(t), "tcp", twin.Addr().String()); !errors.Is(err, ErrHandshake) {
		t.Fatalf("n1 → twin: %v, want ErrHandshake", err)
	}
}

// A real handshake, recorded on the wire, is worthless afterwards: replayed
// to the same node, to another node, or (the server's half) to the client.
func TestRecordedHandshakeCannotBeReplayed(t *testing.T) {
	a, b, c := newTestMux(t, "a"), newTestMux(t, "b"), newTestMux(t, "c")
	p := startProxy(t, b.Addr().String())

	// The genuine exchange, with payload, through the recording proxy.
	conn, err := a.DialContext(dialCtx(t), "tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	srv := acceptOne(t, b.HTTPListener(), 5*time.Second)
	go echo(srv)
	if err := ping(conn, "payload"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	rec := p.conn(0)
	c2s, s2c := rec.bytes()
	if !bytes.HasSuffix(c2s, []byte("payload")) || len(s2c) <= len("payload") {
		t.Fatalf("recorded %d bytes client→server, %d server→client", len(c2s), len(s2c))
	}

	// 1. The client's bytes replayed to the same node: the hello's nonce
	// was seen, so it is dropped without a reply.
	r := rawDial(t, b)
	if _, err := r.Write(c2s); err != nil {
		t.Fatal(err)
	}
	if got := expectClosedByPeer(t, r, 10*time.Second); len(got) != 0 {
		t.Fatalf("replay to the same node got %d bytes back", len(got))
	}

	// 2. Replayed to another node holding the secret: the hello passes its
	// filters and gets a reply with a fresh challenge, which the recorded
	// confirmation does not answer.
	r = rawDial(t, c)
	if _, err := r.Write(c2s); err != nil {
		t.Fatal(err)
	}
	expectClosedByPeer(t, r, 10*time.Second)
	waitFor(t, 5*time.Second, "both replays counted", func() bool {
		return b.Stats().HandshakeFailures == 1 && c.Stats().HandshakeFailures == 1
	})
	if sb, sc := b.Stats(), c.Stats(); sb.Accepted != 1 || sc.Accepted != 0 {
		t.Fatalf("a replay was accepted: b %+v, c %+v", sb, sc)
	}

	// 3. The server's bytes replayed to the client by an impostor: the
	// reply is bound to the hello it answered, not to the new one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		if _, _, err := readHello(s); err == nil {
			_, _ = s.Write(s2c)
			_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = s.Read(make([]byte, 1))
		}
	}()
	if _, err := a.DialContext(dialCtx(t), "tcp", ln.Addr().String()); !errors.Is(err, ErrHandshake) {
		t.Fatalf("replayed reply: %v, want ErrHandshake", err)
	}
}

func TestAdmit(t *testing.T) {
	x, y := Membership{ClusterID: ClusterID{1}}, Membership{ClusterID: ClusterID{2}}
	legacy, joining := Membership{}, Membership{Joining: true}
	for _, tc := range []struct {
		name        string
		local, peer Membership
		typ         StreamType
		inbound     bool
		status      byte
		joinOnly    bool
	}{
		{"same cluster", x, x, StreamRaft, true, statusOK, false},
		{"other cluster in", x, y, StreamRaft, true, statusOtherCluster, false},
		{"other cluster out", x, y, StreamHTTP, false, statusOtherCluster, false},
		{"member without ID in", x, legacy, StreamRaft, true, statusOK, false},
		{"member without ID out", x, legacy, StreamRaft, false, statusOK, false},
		{"legacy sees identified", legacy, x, StreamRaft, true, statusOK, false},
		{"joiner http", x, joining, StreamHTTP, true, statusOK, true},
		{"joiner raft", x, joining, StreamRaft, true, statusNotMember, false},
		{"joiner to legacy", legacy, joining, StreamHTTP, true, statusOK, true},
		{"dialing a joiner", x, joining, StreamHTTP, false, statusNotMember, false},
		{"joiner serves nobody", joining, x, StreamRaft, true, statusNotMember, false},
		{"joiner dials", joining, x, StreamHTTP, false, statusOK, false},
	} {
		status, joinOnly := admit(tc.local, tc.peer, tc.typ, tc.inbound)
		if status != tc.status || joinOnly != tc.joinOnly {
			t.Errorf("%s: status %d joinOnly %v, want %d %v", tc.name, status, joinOnly, tc.status, tc.joinOnly)
		}
	}
}

func TestClusterIDParse(t *testing.T) {
	id := NewClusterID()
	got, err := ParseClusterID(id.String())
	if err != nil || got != id {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "none", id.String()[1:], id.String() + "0", "zz" + id.String()[2:], ClusterID{}.String(), "00000000000000000000000000000000"} {
		if _, err := ParseClusterID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Two clusters share a secret; their nodes refuse each other at the
// handshake, in both directions and for both stream types, and the
// refusing node's log names the stranger: node ID, advertised address and
// cluster ID.
func TestOtherClusterRefused(t *testing.T) {
	x, y := Membership{ClusterID: NewClusterID()}, Membership{ClusterID: NewClusterID()}
	logA, bufA := withLogBuffer(t)
	a1 := newTestMux(t, "a1", withMembership(x), logA)
	a2 := newTestMux(t, "a2", withMembership(x))
	logB, bufB := withLogBuffer(t)
	b1 := newTestMux(t, "b1", withMembership(y), logB)

	dialRaft(t, a2, a1)
	acceptOne(t, a1.RaftStreamLayer(), 5*time.Second)

	if _, err := b1.RaftStreamLayer().Dial(raftAddr(a1), 5*time.Second); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("b1 → a1 raft: %v, want ErrOtherCluster", err)
	}
	if _, err := b1.DialContext(dialCtx(t), "tcp", a1.Addr().String()); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("b1 → a1 http: %v, want ErrOtherCluster", err)
	}
	if _, err := a1.DialContext(dialCtx(t), "tcp", b1.Addr().String()); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("a1 → b1 http: %v, want ErrOtherCluster", err)
	}
	waitFor(t, 5*time.Second, "refusals counted", func() bool {
		return a1.Stats().OtherCluster == 2 && b1.Stats().OtherCluster == 1
	})
	if st := a1.Stats(); st.Accepted != 1 || st.HandshakeFailures != 0 {
		t.Fatalf("a1 stats %+v", st)
	}
	// One line per stranger, not one per attempt, each naming it.
	if l := bufA.lines("another cluster", `peer=b1`, "peer_addr="+b1.Addr().String(), "peer_cluster="+y.ClusterID.String(), "cluster="+x.ClusterID.String(), "direction=inbound"); len(l) != 1 {
		t.Fatalf("a1 logged %d lines naming b1: %q", len(l), bufA.lines("another cluster"))
	}
	// b1 met a1 twice (refused by it, then refusing it): one line.
	if l := bufB.lines("another cluster", `peer=a1`, "peer_cluster="+x.ClusterID.String()); len(l) != 1 {
		t.Fatalf("b1 logged %d lines naming a1: %q", len(l), bufB.lines("another cluster"))
	}
}

// Members without a cluster ID (data from before cluster IDs) talk to
// everyone; joining nodes may only use HTTP, marked join-only, until they
// have a cluster ID; nobody may dial a joining node.
func TestJoiningAndUnidentifiedPeers(t *testing.T) {
	x := Membership{ClusterID: NewClusterID()}
	a := newTestMux(t, "a", withMembership(x))
	legacy := newTestMux(t, "legacy")
	j := newTestMux(t, "j", withMembership(Membership{Joining: true}))
	peers := make(chan Peer, 4)
	srv := &http.Server{ConnContext: ConnContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PeerFromContext(r.Context())
		peers <- p
	})}
	go func() { _ = srv.Serve(a.HTTPListener()) }()
	t.Cleanup(func() { _ = srv.Close() })

	dialRaft(t, legacy, a)
	acceptOne(t, a.RaftStreamLayer(), 5*time.Second)
	dialRaft(t, a, legacy)
	acceptOne(t, legacy.RaftStreamLayer(), 5*time.Second)

	if _, err := j.RaftStreamLayer().Dial(raftAddr(a), 5*time.Second); !errors.Is(err, ErrNotMember) {
		t.Fatalf("joining → a raft: %v, want ErrNotMember", err)
	}
	if _, err := a.DialContext(dialCtx(t), "tcp", j.Addr().String()); !errors.Is(err, ErrNotMember) {
		t.Fatalf("a → joining: %v, want ErrNotMember", err)
	}
	if _, err := get(context.Background(), j, a, "/join"); err != nil {
		t.Fatal(err)
	}
	if p := <-peers; p.ID != "j" || !p.JoinOnly || !p.Membership.Joining {
		t.Fatalf("a saw %+v, want a join-only joining peer", p)
	}

	// Once j has joined, its join-only connection is gone and it is a
	// full member.
	if err := j.SetMembership(x); err != nil {
		t.Fatal(err)
	}
	if _, err := get(context.Background(), j, a, "/after"); err != nil {
		t.Fatal(err)
	}
	if p := <-peers; p.ID != "j" || p.JoinOnly || p.Membership != x {
		t.Fatalf("a saw %+v after j joined", p)
	}
	dialRaft(t, j, a)
	if err := j.SetMembership(Membership{ClusterID: NewClusterID()}); err == nil {
		t.Fatal("cluster ID changed")
	}
	if err := j.SetMembership(Membership{}); err == nil {
		t.Fatal("cluster ID removed")
	}
	if j.Membership() != x {
		t.Fatalf("membership %v", j.Membership())
	}
}
