package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is an authenticated connection to another node, as yielded by the
// Mux's listeners and returned by its dialers. Its peer's node ID was proven
// by the handshake (see the package doc for what that does and does not
// guarantee).
//
// Every Read and Write first checks the Mux's fault rules: once the peer is
// blocked the connection is closed and the call fails with an error wrapping
// ErrBlocked. Methods have the concurrency guarantees of net.Conn.
type Conn struct {
	raw     net.Conn // the TLS connection, or tcp
	tcp     net.Conn // the TCP connection under raw
	m       *Mux
	peer    string
	typ     StreamType
	inbound bool

	// Set by the handshake before the Conn is shared.
	peerMembership Membership
	joinOnly       bool // inbound from a joining node: join RPCs only
	madeJoining    bool // outbound, made while this node was joining

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
	severed   atomic.Bool // closed because a fault rule blocked the peer
}

var _ net.Conn = (*Conn)(nil)

func newConn(m *Mux, raw, tcp net.Conn, peer string, typ StreamType, inbound bool) *Conn {
	return &Conn{raw: raw, tcp: tcp, m: m, peer: peer, typ: typ, inbound: inbound, done: make(chan struct{})}
}

// PeerID returns the authenticated node ID of the other end.
func (c *Conn) PeerID() string { return c.peer }

// StreamType returns what the connection carries.
func (c *Conn) StreamType() StreamType { return c.typ }

// Inbound reports whether the peer dialed this node.
func (c *Conn) Inbound() bool { return c.inbound }

// Peer returns what the handshake established about the other end.
func (c *Conn) Peer() Peer {
	return Peer{ID: c.peer, Membership: c.peerMembership, JoinOnly: c.joinOnly}
}

// Peer describes the other end of an authenticated connection.
type Peer struct {
	// ID is the node ID the peer proved it may claim (see the package doc).
	ID string
	// Membership is what the peer said about its cluster.
	Membership Membership
	// JoinOnly is set on connections a joining node dialed: the serving
	// node must offer only its join RPCs on them.
	JoinOnly bool
}

// PeerID returns the authenticated node ID of the peer of c, if c is (or
// wraps, through a NetConn method like *tls.Conn's) a connection made by
// this package.
func PeerID(c net.Conn) (string, bool) {
	if tc := unwrap(c); tc != nil {
		return tc.peer, true
	}
	return "", false
}

func unwrap(c net.Conn) *Conn {
	for range 8 { // bounded unwrapping
		switch v := c.(type) {
		case *Conn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

type peerKey struct{}

// ConnContext is meant for http.Server.ConnContext: it records what the
// handshake established about the calling node in the context of every
// request served on c, where PeerFromContext and PeerIDFromContext find it.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc := unwrap(c); tc != nil {
		return context.WithValue(ctx, peerKey{}, tc.Peer())
	}
	return ctx
}

// PeerFromContext returns the peer recorded by ConnContext: for a request
// served on the Mux's HTTPListener, the node that sent it.
func PeerFromContext(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// PeerIDFromContext returns the node ID recorded by ConnContext: for a
// request served on the Mux's HTTPListener, the authenticated ID of the node
// that sent it.
func PeerIDFromContext(ctx context.Context) (string, bool) {
	p, ok := PeerFromContext(ctx)
	return p.ID, ok
}

// check fails if the peer is blocked, closing the connection as a side
// effect, and returns the current rules otherwise.
func (c *Conn) check() (*faultRules, error) {
	r := c.m.faults.rules()
	if r.blocks(c.peer) {
		c.sever()
		return nil, c.blockedErr()
	}
	return r, nil
}

func (c *Conn) blockedErr() error {
	return &net.OpError{Op: "use", Net: "tcp", Source: c.raw.LocalAddr(), Addr: c.raw.RemoteAddr(),
		Err: fmt.Errorf("%w: peer %q", ErrBlocked, c.peer)}
}

// explain marks errors caused by a fault-rule close as such.
func (c *Conn) explain(err error) error {
	if err == nil || err == io.EOF || !c.severed.Load() {
		return err
	}
	return fmt.Errorf("%w: peer %q: %w", ErrBlocked, c.peer, err)
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	if _, err := c.check(); err != nil {
		return 0, err
	}
	n, err := c.raw.Read(b)
	return n, c.explain(err)
}

// Write implements net.Conn. With a delay rule in force it waits first.
func (c *Conn) Write(b []byte) (int, error) {
	r, err := c.check()
	if err != nil {
		return 0, err
	}
	if r.delay > 0 {
		t := time.NewTimer(r.delay)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return 0, c.explain(&net.OpError{Op: "write", Net: "tcp", Source: c.raw.LocalAddr(), Addr: c.raw.RemoteAddr(), Err: net.ErrClosed})
		}
		if _, err := c.check(); err != nil {
			return 0, err
		}
	}
	n, err := c.raw.Write(b)
	return n, c.explain(err)
}

// Close closes the connection and stops tracking it. It is idempotent: later
// calls return the result of the first. Over TLS it closes the TCP
// connection without a close_notify alert, which could wait seconds for a
// peer that does not read: the protocols carried frame their own messages,
// and a fault rule must cut a connection at once.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.closeErr = c.tcp.Close()
		c.m.untrack(c)
	})
	return c.closeErr
}

// sever closes the connection because a fault rule blocks its peer.
func (c *Conn) sever() {
	if c.severed.CompareAndSwap(false, true) {
		c.m.stats.faultClosed.Add(1)
	}
	_ = c.Close()
}

// CloseWrite shuts down the writing side if the underlying connection
// supports it (TCP does).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr implements net.Conn. It is the network address of the peer,
// not its node ID; see PeerID.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
