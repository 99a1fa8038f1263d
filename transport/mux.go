package transport

import (
	"context"
	"crypto/rand"
	"crypto/tls"
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
	// authenticate us: the TLS handshake failed (no certificate from the
	// cluster CA on either side, or TLS on one side only), the peer closed
	// the connection without replying (a wrong cluster secret on either
	// side, a clock outside the allowed skew, our own node ID, or not a
	// Strongbox node at all; the server's log says which), its reply was
	// malformed or late, its reply MAC was wrong (an impostor or a
	// different secret), or it claimed our own node ID (a reflection, or
	// two nodes with one ID). The wrapped error gives the detail; no
	// payload was exchanged.
	ErrHandshake = errors.New("transport: handshake failed")

	// ErrUnavailable means the peer authenticated us but does not accept
	// the requested stream type now (for instance its raft transport is
	// shut down). The peer is alive; retrying later may succeed.
	ErrUnavailable = errors.New("transport: peer does not accept this stream type")

	// ErrOtherCluster means the peer authenticated us, but it belongs to
	// another cluster (its cluster ID differs from ours): typically a
	// leftover node of an earlier cluster that shares the secret and an
	// address. Retrying is pointless; both sides log the other's node ID,
	// address and cluster ID.
	ErrOtherCluster = errors.New("transport: peer belongs to another cluster")

	// ErrNotMember means the connection needs membership that one side
	// lacks: a joining node asked for a raft connection, or dialed a node
	// that is itself still joining (see Membership).
	ErrNotMember = errors.New("transport: not a member of the peer's cluster")
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
	// followers forward to it. Every hello carries it, so that a refused
	// peer's log can say where this node listens. Defaults to the bound
	// address; required when listening on an unspecified address such as
	// ":7000", which no peer could dial. At most 255 bytes.
	AdvertiseAddr string

	// Membership is the cluster this node belongs to when Listen returns;
	// Mux.SetMembership changes it later (a joining node that joined, a
	// member that learned its cluster's ID). The zero value, a member
	// without a cluster ID, accepts every peer that holds the secret.
	Membership Membership

	// TLS, if set, runs every connection, dialed or accepted, over TLS 1.3
	// with certificates required and verified on both sides (see TLS).
	// The cluster-secret handshake runs inside it. A node with TLS and a
	// node without cannot talk to each other.
	TLS *TLS

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
		if err := validLabel(c.AdvertiseAddr, maxAddrLen); err != nil {
			return c, fmt.Errorf("transport: Config.AdvertiseAddr: %w", err)
		}
	}
	if c.TLS != nil {
		if err := c.TLS.validate(); err != nil {
			return c, err
		}
	}
	c.Membership = c.Membership.normal()
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
	tlsServer *tls.Config // nil without TLS
	tlsClient *tls.Config
	slots     chan struct{} // inbound handshake slots
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
	failLog   logLimiter
	peerLog   keyedLimiter // refusals of peers of other clusters, per peer

	// membership is what this node says in handshakes (see SetMembership).
	membership atomic.Pointer[Membership]

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	closed  bool
	conns   map[*Conn]struct{}    // authenticated, open
	pending map[net.Conn]struct{} // handshake in progress, either direction

	stats struct {
		accepted, dialed, failed, refused, busy, faultClosed, otherCluster atomic.Uint64
	}
}

// Stats are counters since Listen, for tests and metrics.
type Stats struct {
	Accepted          uint64 // inbound connections authenticated
	Dialed            uint64 // outbound connections authenticated
	HandshakeFailures uint64 // inbound handshakes that failed (bad input, bad MAC, stale, replay, bad confirmation, timeout)
	Refused           uint64 // inbound handshakes refused or abandoned after authentication (fault rule on either side, stream type unavailable, membership)
	OtherCluster      uint64 // inbound handshakes refused because the peer belongs to another cluster (also counted in Refused)
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
	if cfg.TLS != nil {
		m.tlsServer, m.tlsClient = cfg.TLS.serverConfig(), cfg.TLS.clientConfig()
	}
	ms := cfg.Membership
	m.membership.Store(&ms)
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

// Membership returns what this node currently says about its cluster.
func (m *Mux) Membership() Membership { return *m.membership.Load() }

// SetMembership changes what this node says about its cluster in the
// handshakes that start from now on. A cluster ID, once set, cannot be
// changed or removed: SetMembership fails if mb names another one.
//
// When a joining node stops joining, its peers had marked its connections
// join-only, so SetMembership closes them (pooled HTTP connections
// included); new ones are made on demand. Other connections stay open.
func (m *Mux) SetMembership(mb Membership) error {
	mb = mb.normal()
	m.mu.Lock()
	old := *m.membership.Load()
	if !old.ClusterID.IsZero() && old.ClusterID != mb.ClusterID {
		m.mu.Unlock()
		return fmt.Errorf("transport: cluster ID is %s, cannot change it to %s", old.ClusterID, mb.ClusterID)
	}
	m.membership.Store(&mb)
	var stale []*Conn
	if old.Joining && !mb.Joining {
		for c := range m.conns {
			if c.madeJoining {
				stale = append(stale, c)
			}
		}
	}
	m.mu.Unlock()
	for _, c := range stale {
		_ = c.Close()
	}
	if old != mb {
		m.client.CloseIdleConnections()
		m.log.Info("transport: membership changed", "from", old.String(), "to", mb.String())
	}
	return nil
}

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
		OtherCluster:      m.stats.otherCluster.Load(),
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
		var oc *otherClusterError
		switch {
		case errors.As(err, &oc):
			m.stats.refused.Add(1)
			m.stats.otherCluster.Add(1)
			m.logOtherCluster(oc, raw.RemoteAddr().String())
		case errors.Is(err, ErrNotMember):
			// A joining node asking for raft, or anyone dialing a node
			// that has not joined yet: a bug, or a stray node of some
			// other cluster. Worth a line, once a minute per peer.
			m.stats.refused.Add(1)
			if n, ok := m.peerLog.allow(err.Error(), m.cfg.now()); ok {
				m.log.Warn("transport: refused connection: not a member", "remote", raw.RemoteAddr().String(), "err", err, "suppressed", n)
			}
		case errors.Is(err, errRefused):
			m.stats.refused.Add(1)
			m.log.Debug("transport: refused connection", "remote", raw.RemoteAddr(), "err", err)
		case !m.isClosed():
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

// otherClusterError describes a peer refused because it belongs to another
// cluster; it wraps errRefused (inbound) or ErrOtherCluster (outbound).
type otherClusterError struct {
	peerID, peerAddr string
	peer, ours       ClusterID
	inbound          bool
}

func (e *otherClusterError) Error() string {
	return fmt.Sprintf("node %q (advertising %s) belongs to cluster %s, this node to cluster %s", e.peerID, e.peerAddr, e.peer, e.ours)
}

func (e *otherClusterError) Unwrap() error {
	if e.inbound {
		return errRefused
	}
	return ErrOtherCluster
}

// logOtherCluster logs a peer of another cluster, once a minute per peer:
// a stray node retries every election timeout.
func (m *Mux) logOtherCluster(e *otherClusterError, remote string) {
	key := e.peerID + "\x00" + e.peerAddr + "\x00" + e.peer.String()
	n, ok := m.peerLog.allow(key, m.cfg.now())
	if !ok {
		return
	}
	dir := "inbound"
	if !e.inbound {
		dir = "outbound"
	}
	m.log.Warn("transport: refused a node of another cluster (a leftover node that shares the cluster secret? stop it, or give it another secret)",
		"peer", e.peerID, "peer_addr", e.peerAddr, "remote", remote, "peer_cluster", e.peer.String(),
		"cluster", e.ours.String(), "direction", dir, "suppressed", n)
}

// serverHandshake authenticates an inbound connection: TLS first if
// configured, then the cluster-secret handshake. On error it may still
// return the tracked *Conn, which the caller must close.
func (m *Mux) serverHandshake(raw net.Conn) (*Conn, *listener, error) {
	now := m.cfg.now()
	if err := raw.SetDeadline(now.Add(m.cfg.HandshakeTimeout)); err != nil {
		return nil, nil, err
	}
	nc := raw
	if m.tlsServer != nil {
		tc, err := tlsServer(raw, m.tlsServer)
		if err != nil {
			return nil, nil, err
		}
		nc = tc
	}
	bind, err := channelBinding(nc)
	if err != nil {
		return nil, nil, err
	}
	h, msg, err := readHello(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("read hello: %w", err)
	}
	if !verifyHello(m.cfg.Secret, bind, msg) {
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
	local := m.Membership()
	rp := reply{membership: local, nodeID: m.cfg.NodeID}
	_, _ = rand.Read(rp.nonce[:])
	status, joinOnly := admit(local, h.membership, h.typ, true)
	// A reflected hello carries our own cluster ID; a node of another
	// cluster that happens to have our ID is better reported as such.
	if h.nodeID == m.cfg.NodeID && status != statusOtherCluster {
		return nil, nil, fmt.Errorf("hello from %q (advertising %s, %s): %w", h.nodeID, h.addr, h.membership, errOwnID)
	}
	c := newConn(m, nc, raw, h.nodeID, h.typ, true)
	c.peerMembership, c.joinOnly = h.membership, joinOnly
	if !m.promote(c) {
		return nil, nil, net.ErrClosed
	}
	// Checked only now that c is tracked: a concurrent Block either sees c
	// in its sweep or has already published the rules read here.
	switch {
	case status != statusOK:
	case m.faults.rules().blocks(h.nodeID):
		status = statusBlocked
	case l.isClosed():
		status = statusUnavailable
	}
	rp.status = status
	rmsg := appendReply(nil, m.cfg.Secret, bind, msg, rp)
	if _, err := nc.Write(rmsg); err != nil {
		return c, nil, fmt.Errorf("write reply to %q: %w", h.nodeID, err)
	}
	switch rp.status {
	case statusBlocked:
		return c, nil, fmt.Errorf("%w: %s from %q: %w", errRefused, h.typ, h.nodeID, ErrBlocked)
	case statusUnavailable:
		return c, nil, fmt.Errorf("%w: %s from %q: %w", errRefused, h.typ, h.nodeID, ErrUnavailable)
	case statusOtherCluster:
		return c, nil, &otherClusterError{peerID: h.nodeID, peerAddr: h.addr, peer: h.membership.ClusterID, ours: local.ClusterID, inbound: true}
	case statusNotMember:
		return c, nil, fmt.Errorf("%w: %s from node %q (advertising %s, %s) while this node is %s: %w", errRefused, h.typ, h.nodeID, h.addr, h.membership, local, ErrNotMember)
	}
	// The client answers our challenge; a replayed hello stops here.
	confirm := make([]byte, confirmLen)
	if _, err := io.ReadFull(nc, confirm); err != nil {
		if err == io.EOF && !c.severed.Load() {
			// The client hung up after our reply, typically because its own
			// fault rules block us.
			return c, nil, fmt.Errorf("%w: %s from %q: client closed before confirming", errRefused, h.typ, h.nodeID)
		}
		return c, nil, fmt.Errorf("read confirmation from %q: %w", h.nodeID, noEOF(err))
	}
	if !verifyConfirm(m.cfg.Secret, bind, msg, rmsg, confirm) {
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
		var oc *otherClusterError
		if errors.As(err, &oc) {
			m.logOtherCluster(oc, addr)
		}
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
	local := m.Membership()
	h := hello{typ: t, membership: local, nodeID: m.cfg.NodeID, addr: m.advertise.String(), ts: now.UnixNano()}
	_, _ = rand.Read(h.nonce[:])
	var (
		nc   = raw
		bind *[bindLen]byte
		msg  []byte
		rp   reply
		rmsg []byte
		err  error
	)
	if m.tlsClient != nil {
		var tc *tls.Conn
		if tc, err = tlsClient(ctx, raw, m.tlsClient); err == nil {
			nc = tc
		}
	}
	if err == nil {
		bind, err = channelBinding(nc)
	}
	if err == nil {
		msg = appendHello(nil, m.cfg.Secret, bind, h)
		_, err = nc.Write(msg)
	}
	if err == nil {
		rp, rmsg, err = readReply(nc)
	}
	if !stop() {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("%w with %s: %w", ErrHandshake, addr, err)
	}
	if !verifyReply(m.cfg.Secret, bind, msg, rmsg) {
		return nil, fmt.Errorf("%w with %s (claims node %q): reply %w", ErrHandshake, addr, rp.nodeID, errBadMAC)
	}
	if rp.nodeID == m.cfg.NodeID && rp.status != statusOtherCluster {
		return nil, fmt.Errorf("%w with %s: %w", ErrHandshake, addr, errOwnID)
	}
	otherCluster := func() error {
		return &otherClusterError{peerID: rp.nodeID, peerAddr: addr, peer: rp.membership.ClusterID, ours: local.ClusterID}
	}
	switch rp.status {
	case statusOK:
	case statusBlocked:
		return nil, fmt.Errorf("transport: dial %s: node %q refused us: %w", addr, rp.nodeID, ErrBlocked)
	case statusUnavailable:
		return nil, fmt.Errorf("transport: dial %s: node %q: %w: %s", addr, rp.nodeID, ErrUnavailable, t)
	case statusOtherCluster:
		return nil, otherCluster()
	case statusNotMember:
		return nil, fmt.Errorf("transport: dial %s: node %q (%s) refused %s from this node (%s): %w", addr, rp.nodeID, rp.membership, t, local, ErrNotMember)
	default:
		return nil, fmt.Errorf("%w with %s: %w %d", ErrHandshake, addr, errBadStatus, rp.status)
	}
	// The server checked our membership; check its, so that a server that
	// would accept anyone (a member without cluster ID, or one that does
	// not check) is not trusted blindly.
	switch status, _ := admit(local, rp.membership, t, false); status {
	case statusOtherCluster:
		return nil, otherCluster()
	case statusNotMember:
		return nil, fmt.Errorf("transport: dial %s: node %q is not a member of any cluster yet: %w", addr, rp.nodeID, ErrNotMember)
	}
	c := newConn(m, nc, raw, rp.nodeID, t, false)
	c.peerMembership, c.madeJoining = rp.membership, local.Joining
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
	if _, err := nc.Write(confirmMAC(m.cfg.Secret, bind, msg, rmsg)); err != nil {
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

// keyedLimiter lets one event per key through per minute and counts the
// others. It remembers at most keyedLimiterMax keys and forgets them all
// when full: only secret holders create keys, so the bound is generous.
type keyedLimiter struct {
	mu   sync.Mutex
	seen map[string]*keyedEntry
}

type keyedEntry struct {
	last       time.Time
	suppressed uint64
}

const keyedLimiterMax = 1024

func (l *keyedLimiter) allow(key string, now time.Time) (suppressed uint64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil || len(l.seen) >= keyedLimiterMax {
		l.seen = make(map[string]*keyedEntry)
	}
	e := l.seen[key]
	if e == nil {
		l.seen[key] = &keyedEntry{last: now}
		return 0, true
	}
	if now.Sub(e.last) < time.Minute {
		e.suppressed++
		return 0, false
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return n, true
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
