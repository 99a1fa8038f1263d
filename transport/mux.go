package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Errors a caller may see from dialing, reading or writing. Each is wrapped
// with the peer's address or node ID; test with errors.Is.
var (
	// ErrBlocked means a fault rule (see Faults) cut the connection or
	// refused it, on this node or on the peer. Nothing more flows between
	// the two nodes until the rule is lifted; retrying sooner is pointless.
	ErrBlocked = errors.New("transport: peer blocked by fault rule")

	// ErrHandshake means the peer could not be authenticated, or did not
	// authenticate us: it closed the connection without replying (a wrong
	// cluster secret on either side, a clock outside the allowed skew, or
	// not a Strongbox node at all; the server's log says which), its reply
	// was malformed or late, or its reply MAC was wrong (an impostor or a
	// different secret). The wrapped error gives the detail; no payload
	// was exchanged.
	ErrHandshake = errors.New("transport: handshake failed")

	// ErrUnavailable means the peer authenticated us but does not accept
	// the requested stream type now (for instance its raft transport is
	// shut down). The peer is alive; retrying later may succeed.
	ErrUnavailable = errors.New("transport: peer does not accept this stream type")
)

// Config configures a Mux. NodeID and Secret are required, and
// AdvertiseAddr is when binding all interfaces.
type Config struct {
	// NodeID is this node's ID, sent in every handshake and matched against
	// peers' fault rules. Use the node's raft.ServerID. See ValidNodeID.
	NodeID string

	// Secret is the cluster secret shared by all nodes. Required and
	// non-empty; use at least 32 random bytes. Listen copies it.
	Secret []byte

	// AdvertiseAddr is the host:port other nodes use to reach this one. The
	// raft stream layer reports it as its Addr, which raft uses as the
	// node's own address: a leader sends it in every AppendEntries, and
	// followers forward to it. Defaults to the bound address; required
	// when listening on an unspecified address such as ":7000", which no
	// peer could dial.
	AdvertiseAddr string

	// Logger receives handshake failures (rate-limited), fault rule changes
	// and listener errors. Nil discards them.
	Logger *slog.Logger

	// HandshakeTimeout bounds the whole handshake, in both directions, and
	// how long an authenticated connection waits for a listener's Accept
	// before it is dropped. Default 5s.
	HandshakeTimeout time.Duration

	// MaxClockSkew is how far a client's handshake timestamp may be from
	// this node's clock. Hello nonces are remembered for about twice as
	// long. Default 2m.
	MaxClockSkew time.Duration

	// MaxPendingHandshakes bounds inbound handshakes in progress; beyond it
	// new TCP connections are closed at once. Default 256.
	MaxPendingHandshakes int

	// MaxRememberedNonces bounds the cache of recently seen hello nonces.
	// When it is full the oldest half is forgotten early; replays still fail
	// at the challenge step. Default 1<<17.
	MaxRememberedNonces int

	now func() time.Time // tests
}

func (c Config) withDefaults() (Config, error) {
	if err := ValidNodeID(c.NodeID); err != nil {
		return c, fmt.Errorf("transport: Config.NodeID: %w", err)
	}
	if len(c.Secret) == 0 {
		return c, errors.New("transport: Config.Secret is required")
	}
	c.Secret = append([]byte(nil), c.Secret...)
	if c.AdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			return c, fmt.Errorf("transport: Config.AdvertiseAddr: %w", err)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 5 * time.Second
	}
	if c.MaxClockSkew <= 0 {
		c.MaxClockSkew = 2 * time.Minute
	}
	if c.MaxPendingHandshakes <= 0 {
		c.MaxPendingHandshakes = 256
	}
	if c.MaxRememberedNonces <= 0 {
		c.MaxRememberedNonces = 1 << 17
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Mux owns one cluster TCP port. It authenticates every connection in both
// directions and hands it to the listener for its stream type: the raft
// stream layer or the HTTP listener. It also dials other nodes, and it
// applies the fault rules of Faults to everything it tracks.
//
// All methods are safe for concurrent use.
type Mux struct {
	cfg       Config
	log       *slog.Logger
	ln        net.Listener
	advertise net.Addr
	faults    *Faults
	replay    *nonceCache
	raft      *raftLayer
	http      *listener
	client    *http.Client
	slots     chan struct{} // inbound handshake slots
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
	failLog   logLimiter

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	closed  bool
	conns   map[*Conn]struct{}    // authenticated, open
	pending map[net.Conn]struct{} // handshake in progress, either direction

	stats struct {
		accepted, dialed, failed, refused, busy, faultClosed atomic.Uint64
	}
}

// Stats are counters since Listen, for tests and metrics.
type Stats struct {
	Accepted          uint64 // inbound connections authenticated
	Dialed            uint64 // outbound connections authenticated
	HandshakeFailures uint64 // inbound handshakes that failed (bad input, bad MAC, stale, replay, bad confirmation, timeout)
	Refused           uint64 // inbound handshakes refused or abandoned after authentication (fault rule on either side, stream type unavailable)
	Busy              uint64 // inbound TCP connections closed because MaxPendingHandshakes was reached
	FaultClosed       uint64 // connections closed because a fault rule blocked their peer
	Open              int    // authenticated connections open now
}

// Listen binds addr (host:port; port 0 picks a free one) and starts
// accepting cluster connections.
func Listen(addr string, cfg Config) (*Mux, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	var advertise net.Addr = ln.Addr()
	if cfg.AdvertiseAddr != "" {
		advertise = staticAddr(cfg.AdvertiseAddr)
	} else if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		_ = ln.Close()
		return nil, fmt.Errorf("transport: listening on unspecified address %s: Config.AdvertiseAddr is required", ln.Addr())
	}
	m := &Mux{
		cfg:       cfg,
		log:       cfg.Logger,
		ln:        ln,
		advertise: advertise,
		replay:    newNonceCache(2*cfg.MaxClockSkew, cfg.MaxRememberedNonces),
		slots:     make(chan struct{}, cfg.MaxPendingHandshakes),
		done:      make(chan struct{}),
		conns:     make(map[*Conn]struct{}),
		pending:   make(map[net.Conn]struct{}),
	}
	m.faults = newFaults(m.log, m.severPeers)
	m.raft = &raftLayer{newListener(m, StreamRaft)}
	m.http = newListener(m, StreamHTTP)
	m.client = newHTTPClient(m)
	m.wg.Add(1)
	go m.acceptLoop()
	return m, nil
}

// Addr returns the address the Mux is bound to.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// AdvertiseAddr returns Config.AdvertiseAddr, or the bound address if it
// was not set.
func (m *Mux) AdvertiseAddr() net.Addr { return m.advertise }

// NodeID returns this node's ID.
func (m *Mux) NodeID() string { return m.cfg.NodeID }

// Faults returns the fault rules of this node.
func (m *Mux) Faults() *Faults { return m.faults }

// Stats returns a snapshot of the counters.
func (m *Mux) Stats() Stats {
	m.mu.Lock()
	open := len(m.conns)
	m.mu.Unlock()
	return Stats{
		Accepted:          m.stats.accepted.Load(),
		Dialed:            m.stats.dialed.Load(),
		HandshakeFailures: m.stats.failed.Load(),
		Refused:           m.stats.refused.Load(),
		Busy:              m.stats.busy.Load(),
		FaultClosed:       m.stats.faultClosed.Load(),
		Open:              open,
	}
}

// Close stops the Mux: it closes the TCP listener, both stream listeners
// (their Accept then fails with net.ErrClosed), every connection in
// handshake and every authenticated connection, dialed or accepted, and
// the HTTP client's idle connections. Later dials fail with net.ErrClosed.
// Close waits for the Mux's own goroutines and is idempotent.
func (m *Mux) Close() error {
	m.closeOnce.Do(func() {
		close(m.done)
		m.closeErr = m.ln.Close()
		m.mu.Lock()
		m.closed = true
		conns := make([]*Conn, 0, len(m.conns))
		for c := range m.conns {
			conns = append(conns, c)
		}
		pending := make([]net.Conn, 0, len(m.pending))
		for c := range m.pending {
			pending = append(pending, c)
		}
		m.mu.Unlock()
		for _, c := range pending {
			_ = c.Close()
		}
		for _, c := range conns {
			_ = c.Close()
		}
		_ = m.raft.Close()
		_ = m.http.Close()
		m.client.CloseIdleConnections()
		m.wg.Wait()
	})
	return m.closeErr
}

// trackPending records a connection whose handshake is starting, so Close
// can interrupt it. It fails if the Mux is closed.
func (m *Mux) trackPending(raw net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.pending[raw] = struct{}{}
	return true
}

func (m *Mux) untrackPending(raw net.Conn) {
	m.mu.Lock()
	delete(m.pending, raw)
	m.mu.Unlock()
}

// promote moves a connection from pending to authenticated, atomically with
// respect to Close.
func (m *Mux) promote(c *Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, c.raw)
	if m.closed {
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

func (m *Mux) untrack(c *Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// severPeers closes every tracked connection with one of peers. Called by
// Faults.Block after it published the new rules.
func (m *Mux) severPeers(peers []string) {
	set := make(map[string]struct{}, len(peers))
	for _, p := range peers {
		set[p] = struct{}{}
	}
	var victims []*Conn
	m.mu.Lock()
	for c := range m.conns {
		if _, ok := set[c.peer]; ok {
			victims = append(victims, c)
		}
	}
	m.mu.Unlock()
	for _, c := range victims {
		c.sever()
	}
	if len(victims) > 0 {
		m.log.Info("transport: closed connections to blocked peers", "peers", peers, "conns", len(victims))
	}
}

func (m *Mux) isClosed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	var backoff time.Duration
	for {
		raw, err := m.ln.Accept()
		if err != nil {
			if m.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Probably out of file descriptors: back off, like net/http.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			m.log.Error("transport: accept failed", "err", err, "retry_in", backoff)
			select {
			case <-m.done:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		select {
		case m.slots <- struct{}{}:
		default:
			m.stats.busy.Add(1)
			m.logFailure(raw.RemoteAddr(), errors.New("too many handshakes in progress"))
			_ = raw.Close()
			continue
		}
		m.wg.Add(1)
		go m.handleInbound(raw)
	}
}

// handleInbound runs the server side of one handshake and delivers the
// connection to its listener. One goroutine per connection, so a slow or
// hostile client never holds up Accept.
func (m *Mux) handleInbound(raw net.Conn) {
	defer m.wg.Done()
	if !m.trackPending(raw) {
		<-m.slots
		_ = raw.Close()
		return
	}
	c, l, err := m.serverHandshake(raw)
	m.untrackPending(raw) // no-op if promoted
	<-m.slots
	if err != nil {
		// Count before closing, so that a client that sees the close also
		// sees the count.
		if errors.Is(err, errRefused) {
			m.stats.refused.Add(1)
			m.log.Debug("transport: refused connection", "remote", raw.RemoteAddr(), "err", err)
		} else if !m.isClosed() {
			m.stats.failed.Add(1)
			m.logFailure(raw.RemoteAddr(), err)
		}
		if c != nil {
			_ = c.Close()
		}
		_ = raw.Close()
		return
	}
	m.stats.accepted.Add(1)
	l.deliver(c, m.cfg.HandshakeTimeout)
}

var errRefused = errors.New("refused")

// serverHandshake authenticates an inbound connection. On error it may
// still return the tracked *Conn, which the caller must close.
func (m *Mux) serverHandshake(raw net.Conn) (*Conn, *listener, error) {
	now := m.cfg.now()
	if err := raw.SetDeadline(now.Add(m.cfg.HandshakeTimeout)); err != nil {
		return nil, nil, err
	}
	h, msg, err := readHello(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("read hello: %w", err)
	}
	if !verifyHello(m.cfg.Secret, msg) {
		return nil, nil, fmt.Errorf("hello from %q: %w", h.nodeID, errBadMAC)
	}
	// Compare without subtracting, which could overflow on hostile input.
	skew := m.cfg.MaxClockSkew.Nanoseconds()
	if nowNS := now.UnixNano(); h.ts < nowNS-skew || h.ts > nowNS+skew {
		return nil, nil, fmt.Errorf("hello from %q: timestamp %s outside ±%s of local clock",
			h.nodeID, time.Unix(0, h.ts).UTC().Format(time.RFC3339Nano), m.cfg.MaxClockSkew)
	}
	if err := m.replay.add(h.nonce, now); err != nil {
		return nil, nil, fmt.Errorf("hello from %q: %w", h.nodeID, err)
	}
	l := m.listenerFor(h.typ)
	rp := reply{status: statusOK, nodeID: m.cfg.NodeID}
	if _, err := rand.Read(rp.nonce[:]); err != nil {
		return nil, nil, fmt.Errorf("nonce: %w", err)
	}
	c := newConn(m, raw, h.nodeID, h.typ, true)
	if !m.promote(c) {
		return nil, nil, net.ErrClosed
	}
	// Checked only now that c is tracked: a concurrent Block either sees c
	// in its sweep or has already published the rules read here.
	switch {
	case m.faults.rules().blocks(h.nodeID):
		rp.status = statusBlocked
	case l.isClosed():
		rp.status = statusUnavailable
	}
	if _, err := raw.Write(appendReply(nil, m.cfg.Secret, h.nonce, rp)); err != nil {
		return c, nil, fmt.Errorf("write reply to %q: %w", h.nodeID, err)
	}
	switch rp.status {
	case statusBlocked:
		return c, nil, fmt.Errorf("%w: %s from %q: %w", errRefused, h.typ, h.nodeID, ErrBlocked)
	case statusUnavailable:
		return c, nil, fmt.Errorf("%w: %s from %q: %w", errRefused, h.typ, h.nodeID, ErrUnavailable)
	}
	// The client answers our challenge; a replayed hello stops here.
	confirm := make([]byte, confirmLen)
	if _, err := io.ReadFull(raw, confirm); err != nil {
		if err == io.EOF && !c.severed.Load() {
			// The client hung up after our reply, typically because its own
			// fault rules block us.
			return c, nil, fmt.Errorf("%w: %s from %q: client closed before confirming", errRefused, h.typ, h.nodeID)
		}
		return c, nil, fmt.Errorf("read confirmation from %q: %w", h.nodeID, noEOF(err))
	}
	if !verifyConfirm(m.cfg.Secret, h.nonce, rp.nonce, confirm) {
		return c, nil, fmt.Errorf("confirmation from %q: %w", h.nodeID, errBadMAC)
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return c, nil, err
	}
	return c, l, nil
}

func (m *Mux) listenerFor(t StreamType) *listener {
	if t == StreamRaft {
		return m.raft.listener
	}
	return m.http
}

// dial connects to the node at addr and runs the client side of the
// handshake for stream type t. ctx bounds the whole dial; the handshake is
// further bounded by HandshakeTimeout.
func (m *Mux) dial(ctx context.Context, network, addr string, t StreamType) (*Conn, error) {
	if m.isClosed() {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, net.ErrClosed)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	if !m.trackPending(raw) {
		_ = raw.Close()
		return nil, fmt.Errorf("transport: dial %s: %w", addr, net.ErrClosed)
	}
	c, err := m.clientHandshake(ctx, raw, addr, t)
	m.untrackPending(raw) // no-op if promoted
	if err != nil {
		_ = raw.Close()
		return nil, err
	}
	m.stats.dialed.Add(1)
	return c, nil
}

func (m *Mux) clientHandshake(ctx context.Context, raw net.Conn, addr string, t StreamType) (*Conn, error) {
	now := m.cfg.now()
	deadline := now.Add(m.cfg.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := raw.SetDeadline(deadline); err != nil {
		return nil, err
	}
	// Cancelling ctx interrupts the handshake's blocking I/O.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	h := hello{typ: t, nodeID: m.cfg.NodeID, ts: now.UnixNano()}
	if _, err := rand.Read(h.nonce[:]); err != nil {
		stop()
		return nil, fmt.Errorf("transport: nonce: %w", err)
	}
	_, werr := raw.Write(appendHello(nil, m.cfg.Secret, h))
	var (
		rp  reply
		msg []byte
		err = werr
	)
	if err == nil {
		rp, msg, err = readReply(raw)
	}
	if !stop() {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("%w with %s: %w", ErrHandshake, addr, err)
	}
	if !verifyReply(m.cfg.Secret, h.nonce, msg) {
		return nil, fmt.Errorf("%w with %s (claims node %q): reply %w", ErrHandshake, addr, rp.nodeID, errBadMAC)
	}
	switch rp.status {
	case statusOK:
	case statusBlocked:
		return nil, fmt.Errorf("transport: dial %s: node %q refused us: %w", addr, rp.nodeID, ErrBlocked)
	case statusUnavailable:
		return nil, fmt.Errorf("transport: dial %s: node %q: %w: %s", addr, rp.nodeID, ErrUnavailable, t)
	default:
		return nil, fmt.Errorf("%w with %s: %w %d", ErrHandshake, addr, errBadStatus, rp.status)
	}
	c := newConn(m, raw, rp.nodeID, t, false)
	if !m.promote(c) {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, net.ErrClosed)
	}
	// Our own rules, checked once c is tracked (see serverHandshake).
	if m.faults.rules().blocks(rp.nodeID) {
		_ = c.Close()
		return nil, fmt.Errorf("transport: dial %s: node %q: %w", addr, rp.nodeID, ErrBlocked)
	}
	// Answer the server's challenge. Payload may follow at once: the server
	// reads exactly confirmLen bytes before handing the connection on.
	if _, err := raw.Write(confirmMAC(m.cfg.Secret, h.nonce, rp.nonce)); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%w with %s: %w", ErrHandshake, addr, err)
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	return c, nil
}

// logFailure logs a failed inbound handshake, at most about once a second
// at Warn so that a port scan cannot flood the log; the rest go to Debug.
func (m *Mux) logFailure(remote net.Addr, err error) {
	if n, ok := m.failLog.allow(m.cfg.now()); ok {
		m.log.Warn("transport: inbound handshake failed", "remote", remote.String(), "err", err, "suppressed", n)
		return
	}
	m.log.Debug("transport: inbound handshake failed", "remote", remote.String(), "err", err)
}

// logLimiter lets one event through per second and counts the others.
type logLimiter struct {
	last       atomic.Int64 // unix nanos of the last event let through
	suppressed atomic.Uint64
}

func (l *logLimiter) allow(now time.Time) (suppressed uint64, ok bool) {
	last := l.last.Load()
	if now.UnixNano()-last < int64(time.Second) || !l.last.CompareAndSwap(last, now.UnixNano()) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

type staticAddr string

func (a staticAddr) Network() string { return "tcp" }
func (a staticAddr) String() string  { return string(a) }
