package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStreamsFlowBothTypes(t *testing.T) {
	m1, m2 := newTestMux(t, "n1"), newTestMux(t, "n2")

	// raft: n1 dials n2.
	cr := dialRaft(t, m1, m2)
	sr := acceptOne(t, m2.RaftStreamLayer(), 5*time.Second)
	go echo(sr)
	if err := ping(cr, "raft hello"); err != nil {
		t.Fatal(err)
	}
	if cr.PeerID() != "n2" || sr.PeerID() != "n1" || sr.StreamType() != StreamRaft || !sr.Inbound() || cr.Inbound() {
		t.Fatalf("raft conn: client sees %q, server sees %q %s", cr.PeerID(), sr.PeerID(), sr.StreamType())
	}

	// http: n2 dials n1, on the same ports.
	ch := dialHTTP(t, m2, m1)
	sh := acceptOne(t, m1.HTTPListener(), 5*time.Second)
	go echo(sh)
	if err := ping(ch, "http hello"); err != nil {
		t.Fatal(err)
	}
	if id, ok := PeerID(sh); !ok || id != "n2" || sh.StreamType() != StreamHTTP {
		t.Fatalf("http conn: server sees %q %v %s", id, ok, sh.StreamType())
	}
	if id, ok := PeerID(ch); !ok || id != "n1" {
		t.Fatalf("http conn: client sees %q %v", id, ok)
	}
	if _, ok := PeerID(&net.TCPConn{}); ok {
		t.Fatal("PeerID of a foreign conn")
	}

	// Each stream type went to its own listener, and the counters agree.
	st := m2.Stats()
	if st.Accepted != 1 || st.Dialed != 1 || st.HandshakeFailures != 0 || st.Open != 2 {
		t.Fatalf("n2 stats %+v", st)
	}
	if got := m1.RaftStreamLayer().Addr().String(); got != m1.Addr().String() {
		t.Fatalf("raft layer Addr %s, want %s", got, m1.Addr())
	}
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no node ID":  {Secret: testSecret},
		"no secret":   {NodeID: "n1"},
		"bad ID":      {NodeID: "a\nb", Secret: testSecret},
		"bad address": {NodeID: "n1", Secret: testSecret, AdvertiseAddr: "nohost"},
	} {
		if m, err := Listen("127.0.0.1:0", cfg); err == nil {
			_ = m.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	if m, err := Listen("0.0.0.0:0", Config{NodeID: "n1", Secret: testSecret}); err == nil {
		_ = m.Close()
		t.Error("unspecified address without AdvertiseAddr accepted")
	}
	m, err := Listen("0.0.0.0:0", Config{NodeID: "n1", Secret: testSecret, AdvertiseAddr: "10.1.2.3:7000"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.RaftStreamLayer().Addr().String(); got != "10.1.2.3:7000" {
		t.Fatalf("advertised %s", got)
	}
}

func TestWrongSecretFailsBothSides(t *testing.T) {
	a1 := newTestMux(t, "a1", withSecret("secret A"))
	a2 := newTestMux(t, "a2", withSecret("secret A"))
	b1 := newTestMux(t, "b1", withSecret("secret B"))
	b2 := newTestMux(t, "b2", withSecret("secret B"))

	// a1 → b1 and b1 → a1, both stream types: the dialer gets ErrHandshake.
	ctx := context.Background()
	if _, err := a1.RaftStreamLayer().Dial(raftAddr(b1), 5*time.Second); !errors.Is(err, ErrHandshake) {
		t.Fatalf("a1→b1 raft: %v, want ErrHandshake", err)
	}
	if _, err := b1.DialContext(ctx, "tcp", a1.Addr().String()); !errors.Is(err, ErrHandshake) {
		t.Fatalf("b1→a1 http: %v, want ErrHandshake", err)
	}
	waitFor(t, 5*time.Second, "failures counted", func() bool {
		return b1.Stats().HandshakeFailures == 1 && a1.Stats().HandshakeFailures == 1
	})

	// Neither server yields the bad connection: the first thing each
	// listener yields is the next good client.
	dialRaft(t, b2, b1)
	if c := acceptOne(t, b1.RaftStreamLayer(), 5*time.Second); c.PeerID() != "b2" {
		t.Fatalf("b1 accepted %q", c.PeerID())
	}
	dialHTTP(t, a2, a1)
	if c := acceptOne(t, a1.HTTPListener(), 5*time.Second); c.PeerID() != "a2" {
		t.Fatalf("a1 accepted %q", c.PeerID())
	}
	if st := a1.Stats(); st.Accepted != 1 || st.Dialed != 0 {
		t.Fatalf("a1 stats %+v", st)
	}
}

// An impostor that does not hold the secret but answers the hello anyway
// (with a MAC under another key) is detected by the client, which sends it
// nothing more: no confirmation, no payload.
func TestClientRejectsImpostor(t *testing.T) {
	m := newTestMux(t, "n1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	after := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			after <- nil
			return
		}
		defer c.Close()
		_, hmsg, err := readHello(c)
		if err != nil {
			after <- nil
			return
		}
		_, _ = c.Write(appendReply(nil, []byte("not the secret"), noBind, hmsg, reply{status: statusOK, nodeID: "n2"}))
		b, _ := io.ReadAll(c)
		after <- b
	}()
	_, err = m.DialContext(context.Background(), "tcp", ln.Addr().String())
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "MAC") {
		t.Fatalf("dial impostor: %v, want ErrHandshake (MAC)", err)
	}
	if b := <-after; len(b) != 0 {
		t.Fatalf("client sent %d bytes to the impostor after its reply", len(b))
	}
}

func TestHostileClientsDoNotBlockAccept(t *testing.T) {
	m1 := newTestMux(t, "n1")
	m2 := newTestMux(t, "n2", func(c *Config) { c.HandshakeTimeout = time.Minute })

	silent := rawDial(t, m2)
	slow := rawDial(t, m2)
	if _, err := slow.Write([]byte("SBX2\x01\x00\xc8partial")); err != nil { // promises a 200-byte ID
		t.Fatal(err)
	}
	validNoConfirm := rawDial(t, m2)
	h := hello{typ: StreamRaft, nodeID: "n9", addr: "127.0.0.1:1", ts: time.Now().UnixNano()}
	_, _ = rand.Read(h.nonce[:])
	if _, err := validNoConfirm.Write(appendHello(nil, testSecret, noBind, h)); err != nil {
		t.Fatal(err)
	}
	_ = validNoConfirm.SetReadDeadline(time.Now().Add(10 * time.Second))
	if rp, _, err := readReply(validNoConfirm); err != nil || rp.status != statusOK {
		t.Fatalf("valid hello: %+v %v", rp, err)
	}

	inputs := map[string][]byte{
		"http":      []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"zero ID":   []byte("SBX2\x01\x00\x00"),
		"bad type":  []byte("SBX2\x09\x00\x01x"),
		"oversize":  append([]byte("SBX2\x01\x00\xff"), make([]byte, 4096)...),
		"version 1": append([]byte("SBX1\x01\x02n9"), make([]byte, 56)...),
		"bad MAC":   append(appendHello(nil, []byte("wrong"), noBind, hello{typ: StreamHTTP, nodeID: "x", addr: "x:1", ts: time.Now().UnixNano()}), "GET /"...),
	}
	for name, in := range inputs {
		c := rawDial(t, m2)
		if _, err := c.Write(in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Rejected at once with no reply (long before the handshake timeout).
		if b := expectClosedByPeer(t, c, 10*time.Second); len(b) != 0 {
			t.Fatalf("%s: server replied %q", name, b)
		}
	}

	// Meanwhile a well-behaved client connects at once, well within the
	// one-minute handshake timeout the hostile ones are holding on to.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := m1.DialContext(ctx, "tcp", m2.Addr().String())
	if err != nil {
		t.Fatalf("good client: %v", err)
	}
	defer c.Close()
	if got := acceptOne(t, m2.HTTPListener(), 5*time.Second); got.PeerID() != "n1" {
		t.Fatalf("accepted %q", got.PeerID())
	}
	if st := m2.Stats(); st.HandshakeFailures != uint64(len(inputs)) {
		t.Fatalf("failures %d, want %d", st.HandshakeFailures, len(inputs))
	}

	// The silent and slow clients are still waiting; the client that did
	// not answer the challenge got a reply but was never yielded. Close
	// interrupts them all.
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	expectClosedByPeer(t, silent, 10*time.Second)
	expectClosedByPeer(t, slow, 10*time.Second)
	expectClosedByPeer(t, validNoConfirm, 10*time.Second)
}

func TestHandshakeTimeout(t *testing.T) {
	m := newTestMux(t, "n1", func(c *Config) { c.HandshakeTimeout = 100 * time.Millisecond })
	c := rawDial(t, m)
	if _, err := c.Write([]byte("SBX2\x01")); err != nil {
		t.Fatal(err)
	}
	expectClosedByPeer(t, c, 10*time.Second)
	waitFor(t, 5*time.Second, "failure counted", func() bool { return m.Stats().HandshakeFailures == 1 })
}

func TestTooManyPendingHandshakes(t *testing.T) {
	m1 := newTestMux(t, "n1")
	m2 := newTestMux(t, "n2", func(c *Config) { c.MaxPendingHandshakes = 1 })
	hog := rawDial(t, m2)
	waitFor(t, 5*time.Second, "slot taken", func() bool { return len(m2.slots) == 1 })
	extra := rawDial(t, m2)
	expectClosedByPeer(t, extra, 10*time.Second)
	if st := m2.Stats(); st.Busy != 1 {
		t.Fatalf("busy %d", st.Busy)
	}
	_ = hog.Close()
	waitFor(t, 5*time.Second, "slot freed", func() bool { return len(m2.slots) == 0 })
	dialHTTP(t, m1, m2)
}

func TestReplayedHelloRejected(t *testing.T) {
	m2, m3 := newTestMux(t, "n2"), newTestMux(t, "n3")
	h := hello{typ: StreamRaft, nodeID: "n1", addr: "127.0.0.1:1", ts: time.Now().UnixNano()}
	_, _ = rand.Read(h.nonce[:])
	msg := appendHello(nil, testSecret, noBind, h)

	// The genuine handshake, done by hand.
	c := rawDial(t, m2)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	rp, raw, err := readReply(c)
	if err != nil || rp.status != statusOK || !verifyReply(testSecret, noBind, msg, raw) {
		t.Fatalf("reply %+v %v", rp, err)
	}
	if _, err := c.Write(confirmMAC(testSecret, noBind, msg, raw)); err != nil {
		t.Fatal(err)
	}
	if got := acceptOne(t, m2.RaftStreamLayer(), 5*time.Second); got.PeerID() != "n1" {
		t.Fatalf("accepted %q", got.PeerID())
	}

	// Replayed to the same node: refused by the nonce cache, no reply.
	c = rawDial(t, m2)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if b := expectClosedByPeer(t, c, 10*time.Second); len(b) != 0 {
		t.Fatalf("replay got a reply")
	}

	// Replayed to another node: it replies with a fresh challenge, which
	// the replayer cannot answer without the secret.
	c = rawDial(t, m3)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readReply(c); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(confirmMAC([]byte("guess"), noBind, msg, msg)); err != nil {
		t.Fatal(err)
	}
	expectClosedByPeer(t, c, 10*time.Second)
	waitFor(t, 5*time.Second, "failures counted", func() bool {
		return m2.Stats().HandshakeFailures == 1 && m3.Stats().HandshakeFailures == 1
	})
	if st := m3.Stats(); st.Accepted != 0 {
		t.Fatalf("n3 accepted a replay: %+v", st)
	}

	// A stale timestamp is refused too.
	h.ts = time.Now().Add(-time.Hour).UnixNano()
	h.nonce[0] ^= 1
	c = rawDial(t, m3)
	if _, err := c.Write(appendHello(nil, testSecret, noBind, h)); err != nil {
		t.Fatal(err)
	}
	if b := expectClosedByPeer(t, c, 10*time.Second); len(b) != 0 {
		t.Fatal("stale hello got a reply")
	}
}

func TestCloseStopsEverything(t *testing.T) {
	m1, m2 := newTestMux(t, "n1"), newTestMux(t, "n2")
	out := dialRaft(t, m1, m2)
	in := acceptOne(t, m2.RaftStreamLayer(), 5*time.Second)
	back := dialHTTP(t, m2, m1)

	accepting := make(chan error, 2)
	for _, l := range []net.Listener{m2.RaftStreamLayer(), m2.HTTPListener()} {
		go func() { _, err := l.Accept(); accepting <- err }()
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-accepting; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	}
	if _, err := in.Read(make([]byte, 1)); err == nil {
		t.Fatal("accepted conn still readable")
	}
	if _, err := back.Write([]byte("x")); err == nil {
		t.Fatal("dialed conn still writable")
	}
	expectClosedByPeer(t, out, 10*time.Second)
	if _, err := m2.RaftStreamLayer().Dial(raftAddr(m1), time.Second); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Dial after Close: %v", err)
	}
	if _, err := m1.RaftStreamLayer().Dial(raftAddr(m2), time.Second); err == nil {
		t.Fatal("dial to closed mux succeeded")
	}
	if st := m2.Stats(); st.Open != 0 {
		t.Fatalf("open conns after Close: %d", st.Open)
	}
	if err := m2.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Closing one stream listener (as raft's NetworkTransport.Close does) leaves
// the other working, and peers learn the stream type is unavailable.
func TestStreamListenerCloseIsIndependent(t *testing.T) {
	m1, m2 := newTestMux(t, "n1"), newTestMux(t, "n2")
	if err := m2.RaftStreamLayer().Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.RaftStreamLayer().Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on closed layer: %v", err)
	}
	if _, err := m1.RaftStreamLayer().Dial(raftAddr(m2), 5*time.Second); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("dial raft: %v, want ErrUnavailable", err)
	}
	c := dialHTTP(t, m1, m2)
	s := acceptOne(t, m2.HTTPListener(), 5*time.Second)
	go echo(s)
	if err := ping(c, "still here"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "refusal counted", func() bool { return m2.Stats().Refused == 1 })
}

// Connections nobody accepts are closed after HandshakeTimeout instead of
// piling up.
func TestUnacceptedConnIsDropped(t *testing.T) {
	m1 := newTestMux(t, "n1")
	m2 := newTestMux(t, "n2", func(c *Config) { c.HandshakeTimeout = 200 * time.Millisecond })
	for range acceptQueueLen { // nobody accepts: these fill the queue
		dialHTTP(t, m1, m2)
	}
	waitFor(t, 10*time.Second, "queue full", func() bool { return len(m2.http.ch) == acceptQueueLen })
	c := dialHTTP(t, m1, m2)
	expectClosedByPeer(t, c, 10*time.Second)
	if got := len(m2.http.ch); got != acceptQueueLen {
		t.Fatalf("queue holds %d", got)
	}
}

func TestConcurrentDialsAndClose(t *testing.T) {
	m1, m2 := newTestMux(t, "n1"), newTestMux(t, "n2")
	go func() {
		for {
			c, err := m2.HTTPListener().Accept()
			if err != nil {
				return
			}
			go echo(c)
		}
	}()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				c, err := m1.DialContext(context.Background(), "tcp", m2.Addr().String())
				if err != nil {
					return // m2 closed
				}
				_ = ping(c, "x")
				_ = c.Close()
			}
		}()
	}
	waitFor(t, 10*time.Second, "some traffic", func() bool { return m2.Stats().Accepted >= 10 })
	_ = m2.Close()
	wg.Wait()
	waitFor(t, 5*time.Second, "m1 conns closed", func() bool { return m1.Stats().Open == 0 })
}
