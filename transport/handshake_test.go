package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// noBind is the channel binding of a plain (non-TLS) connection.
var noBind = new([bindLen]byte)

func testHello() hello {
	h := hello{typ: StreamHTTP, nodeID: "node-1", addr: "127.0.0.1:7000", ts: 1_700_000_000_000_000_000}
	copy(h.membership.ClusterID[:], "cluster-id-01234")
	copy(h.nonce[:], "0123456789abcdef")
	return h
}

func TestHelloRoundTrip(t *testing.T) {
	h := testHello()
	msg := appendHello(nil, testSecret, noBind, h)
	if len(msg) != helloHeaderLen+len(h.nodeID)+clusterIDLen+1+len(h.addr)+helloTailLen {
		t.Fatalf("len %d", len(msg))
	}
	// Bytes after the hello belong to the stream and must not be consumed.
	r := bytes.NewReader(append(append([]byte(nil), msg...), "payload"...))
	got, raw, err := readHello(r)
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Fatalf("got %+v, want %+v", got, h)
	}
	if !bytes.Equal(raw, msg) || r.Len() != len("payload") {
		t.Fatalf("readHello consumed %d bytes, want %d", int(r.Size())-r.Len(), len(msg))
	}
	if !verifyHello(testSecret, noBind, raw) {
		t.Fatal("valid MAC rejected")
	}
	if verifyHello([]byte("other secret"), noBind, raw) {
		t.Fatal("MAC accepted under another secret")
	}
	otherBind := new([bindLen]byte)
	otherBind[0] = 1
	if verifyHello(testSecret, otherBind, raw) {
		t.Fatal("MAC accepted under another channel binding")
	}
	// Any flipped bit is detected, by the parser or by the MAC.
	for i := range msg {
		bad := append([]byte(nil), msg...)
		bad[i] ^= 0x01
		_, raw, err := readHello(bytes.NewReader(bad))
		if err == nil && verifyHello(testSecret, noBind, raw) {
			t.Fatalf("bit flip at byte %d not detected", i)
		}
	}
}

func TestReadHelloRejects(t *testing.T) {
	valid := appendHello(nil, testSecret, noBind, testHello())
	noAddr := testHello()
	noAddr.addr = ""
	cases := map[string][]byte{
		"empty":           nil,
		"http":            []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"tls":             {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00},
		"version 1":       append([]byte("SBX1\x01\x06node-1"), make([]byte, 56)...),
		"bad type":        append([]byte("SBX2\x07\x00\x06"), valid[7:]...),
		"unknown flag":    append([]byte("SBX2\x01\x80\x06"), valid[7:]...),
		"joining with ID": append([]byte("SBX2\x01\x01\x06"), valid[7:]...),
		"empty id":        append([]byte("SBX2\x01\x00\x00"), valid[7:]...),
		"control id":      appendHello(nil, testSecret, noBind, hello{typ: StreamRaft, nodeID: "a\nb", addr: "x:1"}),
		"no address":      appendHello(nil, testSecret, noBind, noAddr),
		"truncated":       valid[:len(valid)-1],
		"header only":     valid[:helloHeaderLen],
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := readHello(bytes.NewReader(in)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, _, err := readHello(bytes.NewReader(valid[:10])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated: %v, want ErrUnexpectedEOF", err)
	}
	if _, _, err := readHello(bytes.NewReader(cases["version 1"])); !errors.Is(err, errOldVersion) {
		t.Fatalf("version 1: %v, want errOldVersion", err)
	}
	if _, _, err := readHello(bytes.NewReader(cases["tls"])); !errors.Is(err, errTLSPeer) {
		t.Fatalf("TLS: %v, want errTLSPeer", err)
	}
}

func TestReplyRoundTrip(t *testing.T) {
	h := testHello()
	hmsg := appendHello(nil, testSecret, noBind, h)
	rp := reply{status: statusBlocked, nodeID: "server-2", membership: Membership{Joining: true}}
	copy(rp.nonce[:], "fedcba9876543210")
	msg := appendReply(nil, testSecret, noBind, hmsg, rp)
	got, raw, err := readReply(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if got != rp || !bytes.Equal(raw, msg) {
		t.Fatalf("got %+v", got)
	}
	if !verifyReply(testSecret, noBind, hmsg, raw) {
		t.Fatal("valid reply MAC rejected")
	}
	// The reply is bound to the whole hello: another nonce, another
	// sender or another stream type makes it worthless.
	for name, mod := range map[string]func(*hello){
		"nonce":   func(h *hello) { h.nonce[0] ^= 1 },
		"node ID": func(h *hello) { h.nodeID = "node-2" },
		"type":    func(h *hello) { h.typ = StreamRaft },
		"cluster": func(h *hello) { h.membership.ClusterID[0] ^= 1 },
	} {
		other := testHello()
		mod(&other)
		if verifyReply(testSecret, noBind, appendHello(nil, testSecret, noBind, other), raw) {
			t.Fatalf("reply MAC accepted for a hello with another %s", name)
		}
	}
	// A hello MAC is never a valid reply MAC and vice versa: distinct tags.
	if verifyHello(testSecret, noBind, msg) {
		t.Fatal("reply verified as hello")
	}
	if verifyReply(testSecret, noBind, nil, hmsg) {
		t.Fatal("hello verified as reply")
	}
	c := confirmMAC(testSecret, noBind, hmsg, msg)
	if !verifyConfirm(testSecret, noBind, hmsg, msg, c) || verifyConfirm(testSecret, noBind, msg, hmsg, c) {
		t.Fatal("confirmation not bound to the transcript order")
	}
	if bytes.Equal(c, msg[len(msg)-macLen:]) || bytes.Equal(c, hmsg[len(hmsg)-macLen:]) {
		t.Fatal("confirmation equals another message's MAC")
	}
}

func TestValidNodeID(t *testing.T) {
	for _, ok := range []string{"n1", "node-α", strings.Repeat("x", MaxNodeIDLen)} {
		if err := ValidNodeID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxNodeIDLen+1), "a\x00b", "tab\t", "\xff"} {
		if ValidNodeID(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNonceCache(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newNonceCache(time.Minute, 100)
	n := func(b byte) (x [nonceLen]byte) { x[0] = b; return }
	if err := c.add(n(1), t0); err != nil {
		t.Fatal(err)
	}
	if err := c.add(n(1), t0.Add(time.Second)); !errors.Is(err, errReplay) {
		t.Fatalf("replay in same generation: %v", err)
	}
	// Rotated once: still remembered.
	if err := c.add(n(2), t0.Add(61*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.add(n(1), t0.Add(62*time.Second)); !errors.Is(err, errReplay) {
		t.Fatalf("replay after one rotation: %v", err)
	}
	// Rotated twice: forgotten (it is at least one period old).
	if err := c.add(n(3), t0.Add(122*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.add(n(1), t0.Add(123*time.Second)); err != nil {
		t.Fatalf("expired nonce: %v", err)
	}
	// Never more than max entries.
	small := newNonceCache(time.Hour, 10)
	for i := range 100 {
		if err := small.add(n(byte(i)), t0); err != nil {
			t.Fatal(err)
		}
		if l := len(small.cur) + len(small.prev); l > 10 {
			t.Fatalf("cache holds %d > 10", l)
		}
	}
}

func FuzzReadHello(f *testing.F) {
	valid := appendHello(nil, testSecret, noBind, testHello())
	f.Add(valid)
	f.Add(valid[:20])
	f.Add([]byte("SBX2\x01\x00\xff"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add(append(append([]byte(nil), valid...), valid...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		h, raw, err := readHello(r)
		if err != nil {
			return
		}
		if len(raw) > maxHelloLen || !bytes.Equal(raw, data[:len(raw)]) || r.Len() != len(data)-len(raw) {
			t.Fatalf("parser read past the hello or returned foreign bytes")
		}
		if ValidNodeID(h.nodeID) != nil || !h.typ.valid() {
			t.Fatalf("parser accepted invalid fields %+v", h)
		}
		// The parse is faithful: re-encoding yields the same bytes exactly
		// when the MAC is valid.
		enc := appendHello(nil, testSecret, noBind, h)
		if bytes.Equal(enc, raw) != verifyHello(testSecret, noBind, raw) {
			t.Fatalf("encode/verify disagree")
		}
	})
}

func FuzzReadReply(f *testing.F) {
	hmsg := appendHello(nil, testSecret, noBind, testHello())
	f.Add(appendReply(nil, testSecret, noBind, hmsg, reply{status: statusOK, nodeID: "n2"}))
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 255, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		rp, raw, err := readReply(r)
		if err != nil {
			return
		}
		if len(raw) > maxReplyLen || !bytes.Equal(raw, data[:len(raw)]) || r.Len() != len(data)-len(raw) {
			t.Fatalf("parser read past the reply")
		}
		enc := appendReply(nil, testSecret, noBind, hmsg, rp)
		if bytes.Equal(enc, raw) != verifyReply(testSecret, noBind, hmsg, raw) {
			t.Fatalf("encode/verify disagree")
		}
	})
}

// FuzzServerHandshake drives the whole server side of the handshake with
// arbitrary client bytes: it must never panic, never hang past its
// deadline, and never authenticate a client that does not know the secret.
func FuzzServerHandshake(f *testing.F) {
	// Logging is off: the fuzz engine runs this in worker processes.
	m := newTestMux(f, "server", func(c *Config) {
		c.HandshakeTimeout = 200 * time.Millisecond
		c.Logger = nil
	})
	h := hello{typ: StreamRaft, nodeID: "client", addr: "127.0.0.1:1", ts: time.Now().UnixNano()}
	f.Add(appendHello(nil, testSecret, noBind, h))
	h.nonce[0] = 1 // a fresh nonce, or the replay check stops it early
	f.Add(append(appendHello(nil, testSecret, noBind, h), make([]byte, confirmLen)...))
	f.Add([]byte("SBX2\x02\x00\x05hello"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		done := make(chan struct{}, 2)
		go func() {
			_, _ = client.Write(data)
			_ = client.Close() // the server sees EOF, not a hang
			done <- struct{}{}
		}()
		go func() { _, _ = io.Copy(io.Discard, client); done <- struct{}{} }()
		c, _, err := m.serverHandshake(server)
		if c != nil {
			_ = c.Close()
		}
		if err == nil {
			t.Fatalf("authenticated a client without a valid confirmation: % x", data)
		}
		_ = server.Close()
		<-done
		<-done
	})
}
