package transport

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// acceptQueueLen is how many authenticated connections of one stream type
// may wait for Accept; further ones wait up to HandshakeTimeout for room.
const acceptQueueLen = 64

// listener yields the authenticated connections of one stream type. Closing
// it stops only that stream type: the Mux and its other listener go on.
type listener struct {
	m    *Mux
	typ  StreamType
	ch   chan *Conn
	done chan struct{}
	once sync.Once
}

var _ net.Listener = (*listener)(nil)

func newListener(m *Mux, typ StreamType) *listener {
	return &listener{m: m, typ: typ, ch: make(chan *Conn, acceptQueueLen), done: make(chan struct{})}
}

// Accept waits for the next authenticated connection of this stream type
// (a *Conn). After Close, or after the Mux is closed, it returns an error
// wrapping net.ErrClosed.
func (l *listener) Accept() (net.Conn, error) {
	if l.isClosed() {
		return nil, l.closedErr()
	}
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, l.closedErr()
	case <-l.m.done:
		return nil, l.closedErr()
	}
}

func (l *listener) closedErr() error {
	return &net.OpError{Op: "accept", Net: "tcp", Addr: l.m.advertise,
		Err: fmt.Errorf("transport: %s listener closed: %w", l.typ, net.ErrClosed)}
}

// Close stops this listener: pending Accept calls return, queued
// connections are closed, and peers dialing this stream type get
// ErrUnavailable. Connections already accepted stay open. A closed
// listener cannot be reopened. Idempotent.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	l.drain()
	return nil
}

// Addr returns the Mux's advertised address.
func (l *listener) Addr() net.Addr { return l.m.advertise }

func (l *listener) isClosed() bool {
	select {
	case <-l.done:
		return true
	case <-l.m.done:
		return true
	default:
		return false
	}
}

func (l *listener) drain() {
	for {
		select {
		case c := <-l.ch:
			_ = c.Close()
		default:
			return
		}
	}
}

// deliver queues c for Accept, waiting at most timeout for room; c is closed
// if it cannot be delivered.
func (l *listener) deliver(c *Conn, timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l.ch <- c:
		// Close may have drained before our send: drain again.
		if l.isClosed() {
			l.drain()
		}
	case <-l.done:
		_ = c.Close()
	case <-l.m.done:
		_ = c.Close()
	case <-t.C:
		l.m.log.Warn("transport: connection not accepted in time, closing it", "stream", l.typ, "peer", c.peer)
		_ = c.Close()
	}
}

// raftLayer adapts the raft listener to raft.StreamLayer.
type raftLayer struct{ *listener }

var _ raft.StreamLayer = (*raftLayer)(nil)

// Dial implements raft.StreamLayer: an authenticated raft-type connection to
// the node at address, connect and handshake both within timeout.
func (r *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := r.m.dial(ctx, "tcp", string(address), StreamRaft)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// RaftStreamLayer returns the stream layer to build raft's NetworkTransport
// on (raft.NewNetworkTransportWithConfig). Its Accept yields authenticated
// raft-type connections, its Dial opens them, and its Addr is the advertised
// address. Closing it (NetworkTransport.Close does) stops raft traffic only;
// the HTTP side keeps running. Every call returns the same layer.
func (m *Mux) RaftStreamLayer() raft.StreamLayer { return m.raft }

// HTTPListener returns the listener to serve internal HTTP on
// (http.Server.Serve). It yields authenticated http-type *Conn values; set
// http.Server.ConnContext to ConnContext to see the caller's node ID in
// handlers. Closing it (http.Server.Shutdown does) stops HTTP only. Every
// call returns the same listener.
func (m *Mux) HTTPListener() net.Listener { return m.http }

// DialContext opens an authenticated http-type connection to the node at
// addr. It has the signature of http.Transport.DialContext; network must be
// a TCP network. The result is a *Conn.
func (m *Mux) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := m.dial(ctx, network, addr, StreamHTTP)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// HTTPClient returns the Mux's pooled keep-alive HTTP/1.1 client, which
// dials through DialContext: URLs look like http://<cluster-addr>/path.
// It has no overall timeout, because it also carries long blob streams:
// bound each request with its context. Every call returns the same client;
// Close closes its idle connections.
func (m *Mux) HTTPClient() *http.Client { return m.client }

func newHTTPClient(m *Mux) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 nil, // never route cluster traffic via HTTP_PROXY
		DialContext:           m.DialContext,
		ForceAttemptHTTP2:     false,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // bodies are mostly object data; no gzip round trip
	}}
}
