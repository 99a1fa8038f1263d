package transport

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var testSecret = []byte("strongbox-test-secret-0123456789abcdef")

// tWriter forwards to t.Log until the test ends, then drops writes, so
// goroutines that outlive the test (raft's, net/http's) cannot make it fail.
type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func newTWriter(t testing.TB) *tWriter {
	w := &tWriter{t: t}
	t.Cleanup(func() { // registered first, so it runs last
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(newTWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestMux starts a Mux on 127.0.0.1:0, closed when the test ends.
func newTestMux(t testing.TB, id string, mod ...func(*Config)) *Mux {
	t.Helper()
	cfg := Config{NodeID: id, Secret: testSecret, Logger: testLogger(t)}
	for _, f := range mod {
		f(&cfg)
	}
	m, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func withSecret(s string) func(*Config) { return func(c *Config) { c.Secret = []byte(s) } }

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// acceptOne accepts one connection from l within timeout.
func acceptOne(t testing.TB, l net.Listener, timeout time.Duration) *Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("accept: %v", r.err)
		}
		return r.c.(*Conn)
	case <-time.After(timeout):
		// The goroutine ends when the listener is closed at cleanup.
		t.Fatalf("accept: nothing within %s", timeout)
		return nil
	}
}

func dialRaft(t testing.TB, from, to *Mux) *Conn {
	t.Helper()
	c, err := from.RaftStreamLayer().Dial(raftAddr(to), 5*time.Second)
	if err != nil {
		t.Fatalf("%s dial raft %s: %v", from.NodeID(), to.NodeID(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*Conn)
}

func dialHTTP(t testing.TB, from, to *Mux) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := from.DialContext(ctx, "tcp", to.Addr().String())
	if err != nil {
		t.Fatalf("%s dial http %s: %v", from.NodeID(), to.NodeID(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*Conn)
}

// rawDial opens a plain TCP connection to m, bypassing the handshake.
func rawDial(t testing.TB, m *Mux) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", m.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// expectClosedByPeer reads from c until the peer closes it, failing the
// test if that takes longer than timeout. It returns what was read.
func expectClosedByPeer(t testing.TB, c net.Conn, timeout time.Duration) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c)
	if err != nil && !isConnReset(err) {
		t.Fatalf("expected the peer to close the connection, got %v", err)
	}
	return b
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// echo serves c by echoing everything back until it fails.
func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// ping writes msg to c and reads it back.
func ping(c net.Conn, msg string) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func raftAddr(m *Mux) raft.ServerAddress { return raft.ServerAddress(m.Addr().String()) }

// logBuffer collects log lines so a test can look for one.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
	tw *tWriter
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	return l.tw.Write(p)
}

// lines returns the collected lines that contain every one of subs.
func (l *logBuffer) lines(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range strings.Split(l.b.String(), "\n") {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// withLogBuffer logs to t and to the returned buffer.
func withLogBuffer(t testing.TB) (func(*Config), *logBuffer) {
	lb := &logBuffer{tw: newTWriter(t)}
	return func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}, lb
}

func withMembership(mb Membership) func(*Config) {
	return func(c *Config) { c.Membership = mb }
}

// proxy forwards every connection it accepts to target, recording the
// bytes in each direction: a network observer, and with target set to the
// dialer's own address, a mirror that reflects a node's handshakes back
// to it.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  []*proxied
	open   []net.Conn
	closed bool
}

type proxied struct {
	mu       sync.Mutex
	c2s, s2c []byte
}

func (p *proxied) bytes() (c2s, s2c []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.c2s...), append([]byte(nil), p.s2c...)
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		p.closed = true
		for _, c := range p.open {
			_ = c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			rec := &proxied{}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				_ = c.Close()
				_ = s.Close()
				return
			}
			p.conns = append(p.conns, rec)
			p.open = append(p.open, c, s)
			p.mu.Unlock()
			pipe := func(dst, src net.Conn, buf *[]byte) {
				defer wg.Done()
				b := make([]byte, 4096)
				for {
					n, err := src.Read(b)
					if n > 0 {
						rec.mu.Lock()
						*buf = append(*buf, b[:n]...)
						rec.mu.Unlock()
						if _, werr := dst.Write(b[:n]); werr != nil {
							err = werr
						}
					}
					if err != nil {
						_ = c.Close()
						_ = s.Close()
						return
					}
				}
			}
			wg.Add(2)
			go pipe(s, c, &rec.c2s)
			go pipe(c, s, &rec.s2c)
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) conn(i int) *proxied {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i >= len(p.conns) {
		return nil
	}
	return p.conns[i]
}
