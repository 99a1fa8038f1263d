// Package transport carries all traffic between Strongbox nodes over one
// TCP port per node: hashicorp/raft's NetworkTransport traffic and the
// internal HTTP/1.1 RPC (write forwarding, read-index, join, status, blob
// replication and fetch). Every connection is authenticated in both
// directions with the shared cluster secret before a single byte of payload
// flows, optionally inside mutually authenticated TLS; nodes of different
// clusters refuse each other; and every connection passes through one
// fault hook, so that partitions injected by tests, by the Jepsen-style
// harness or by `strongbox cluster partition` behave the same in one
// process, across processes and across hosts.
//
// # Use
//
//	tlsCfg, err := transport.LoadTLS("n1.crt", "n1.key", "ca.crt") // optional
//	mux, err := transport.Listen("10.0.0.1:7000", transport.Config{NodeID: "n1", Secret: secret,
//		Membership: transport.Membership{ClusterID: id}, TLS: tlsCfg})
//	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
//		Stream: mux.RaftStreamLayer(), MaxPool: 3, Timeout: 10 * time.Second})
//	srv := &http.Server{Handler: h, ConnContext: transport.ConnContext}
//	go srv.Serve(mux.HTTPListener())
//	resp, err := mux.HTTPClient().Get("http://10.0.0.2:7000/_internal/status")
//	// in h: caller, _ := transport.PeerIDFromContext(r.Context())
//	mux.Faults().Block("n2", "n3") // partition n1 away
//	...
//	mux.Close()
//
// Closing the raft stream layer (raft's NetworkTransport.Close does) or the
// HTTP listener (http.Server.Shutdown does) stops only that stream type;
// Mux.Close stops everything.
//
// # Wire format
//
// With Config.TLS set, the TCP connection first carries a TLS 1.3
// handshake in which both sides present a certificate and verify the
// other's against the cluster CA (see TLS); everything below then runs
// inside TLS. Without it, it runs on the bare TCP connection.
//
// A handshake is three messages. The dialer sends a hello; integers are
// big-endian:
//
//	"SBX2"      4 bytes   magic and protocol version
//	type        1 byte    1 = raft, 2 = http
//	flags       1 byte    bit 0: joining (no cluster yet); other bits zero
//	n           1 byte    length of the sender's node ID, 1..255
//	sender ID   n bytes   UTF-8, no control characters
//	cluster    16 bytes   the sender's cluster ID, zeros if none
//	a           1 byte    length of the sender's advertised address, 1..255
//	address     a bytes   where the sender listens (for the receiver's logs)
//	timestamp   8 bytes   sender's clock, unix nanoseconds
//	nonce Nc   16 bytes   random
//	mac        32 bytes   HMAC-SHA256(secret, "SBX2 hello\0" || B || all preceding bytes)
//
// B is the channel binding: 32 bytes of TLS keying material exported from
// the session (RFC 8446 section 7.5, label EXPORTER-strongbox-cluster-
// handshake), or 32 zero bytes without TLS. It is in every MAC, so a relay
// that terminates TLS on both sides with certificates of its own cannot
// pass a genuine handshake through without the secret.
//
// The server reads exactly that many bytes (never more than 590), all
// within HandshakeTimeout, then checks in order: magic (an "SBX1" hello,
// from an older Strongbox, and a TLS ClientHello sent to a node without
// TLS are named as such in the log), type, flags, ID, address, MAC
// (constant time), timestamp within ±MaxClockSkew of its own clock, Nc not
// seen recently, then that the sender does not claim the server's own
// node ID (unless it belongs to another cluster, which is reported as
// such). If any check fails it closes the connection without a word: an
// unauthenticated client learns nothing, not even the server's node ID.
// Otherwise it decides whether the two nodes' memberships allow the
// connection (below), checks its fault rules for the sender and whether
// the requested stream type is being accepted, and replies:
//
//	status      1 byte    0 ok, 1 blocked by fault rule, 2 stream type unavailable,
//	                      3 other cluster, 4 not a member
//	flags       1 byte    as in the hello, for the server
//	m           1 byte    length of the server's node ID, 1..255
//	server ID   m bytes
//	cluster    16 bytes   the server's cluster ID, zeros if none
//	nonce Ns   16 bytes   random: the server's challenge
//	mac        32 bytes   HMAC-SHA256(secret, "SBX2 reply\0" || B || hello || status .. Ns)
//
// where hello is the complete hello as received, MAC included. The client
// verifies the reply MAC (ErrHandshake if wrong: the peer is an impostor or
// has another secret; bound to the client's own fresh hello, a recorded
// reply is worthless), that the server does not claim the client's own
// ID, then the status (ErrBlocked, ErrUnavailable, ErrOtherCluster,
// ErrNotMember), the memberships from its side, and its own fault rules
// for the server's ID (closing without a word if they block it). Finally
// it answers the challenge:
//
//	confirm    32 bytes   HMAC-SHA256(secret, "SBX2 confirm\0" || B || hello || reply)
//
// and may send payload right behind it: the client's handshake costs one
// round trip (plus TLS's). The server reads exactly 32 bytes, verifies
// them in constant time, and only then hands the connection to Accept,
// after which it carries the stream type's protocol unchanged. The three
// MAC inputs start with different tags, so no MAC is ever valid as another
// kind of message, and each covers everything sent before it.
//
// Handshakes run in one goroutine per inbound connection, so a client that
// sends nothing, or sends slowly, costs one goroutine until HandshakeTimeout
// and never delays anyone else's Accept. At most MaxPendingHandshakes run
// at once; beyond that new TCP connections are closed immediately (so a
// flood of idle connections can delay legitimate handshakes, but not grow
// the node without bound). Failed handshakes are counted (Mux.Stats) and
// logged, rate-limited.
//
// # Cluster identity
//
// Each node presents a Membership: the ID of its cluster (random, made
// when the cluster is created; the node package keeps it), or none, either
// because the node is joining or because its cluster predates cluster IDs.
// Two nodes with different cluster IDs refuse each other (status 3,
// ErrOtherCluster), and each logs the other's node ID, advertised address
// and cluster ID, once a minute per peer: typically a leftover node of an
// earlier cluster that shares the secret and is configured with an
// address now used by this one. A joining node may open HTTP connections
// only, which the server marks join-only (Peer.JoinOnly; the node package
// then serves just its join RPCs), and accepts no connections itself
// (status 4, ErrNotMember, logged): nothing needs to reach it before it has
// joined, and whatever tries is most likely a stray. A member without a
// cluster ID talks to everyone, as before cluster IDs. SetMembership moves
// a node from joining to member, or gives it its cluster's ID; an ID,
// once set, never changes.
//
// # Security properties and limits
//
// Without TLS: authenticated, not encrypted. The handshake proves to each
// side that the other holds the cluster secret, right now, and
// authenticates the sender's node ID, cluster ID and the stream type. It
// does not protect what follows: the payload travels in clear text and an
// attacker on the network path can read it, and could inject into or
// hijack an established TCP connection. Run the cluster port on a trusted
// network, or use TLS.
//
// With TLS: the payload is encrypted and integrity-protected, and a peer
// needs both a certificate from the cluster CA and the secret; the
// channel binding ties the two together. Certificates are checked for
// their chain to the CA and their key usage, not for a host name or node
// ID: any certificate the CA signed is as good as any other, so the CA
// should sign only this cluster's nodes.
//
// Replays. A recorded hello cannot open a connection to any node: the
// server's fresh challenge Ns must be answered with the secret, and the
// confirmation covers the whole exchange. As cheap filters in front of
// that, a server also refuses hellos whose timestamp is more than
// MaxClockSkew (default 2 minutes) from its clock (so the clocks of all
// nodes must agree within that) and hellos whose nonce it accepted within
// about 2·MaxClockSkew (at most MaxRememberedNonces are kept; under
// pressure older ones are forgotten early, which is safe because of the
// challenge). A replayed hello that passes those filters, say against
// another node, gets a reply and nothing more. A recorded reply, replayed
// to a client, fails its MAC check: it answers another hello.
//
// Reflection. A relay that connects a node's outbound connection back to
// the node's own port would otherwise let the node authenticate itself
// (both halves of the exchange are made with the same secret). Each side
// refuses a peer that claims its own node ID, which stops that and also
// catches two nodes configured with the same ID. Consequently a node never
// dials itself; the node package handles "the leader is me" locally.
//
// Node IDs are claims made by secret holders: every member, or anyone else
// holding the secret, can claim any ID and any cluster ID. The handshake
// authenticates the cluster secret, not the individual node; PeerID and the
// cluster ID are reliable for logging, fault rules, routing and keeping
// apart clusters that share a secret by accident, not as a defence against
// a compromised member.
//
// The secret is used directly as the HMAC key; use at least 32 random
// bytes. Rotating it, like turning TLS on or off or changing the CA, means
// restarting every node; there is no overlap period. Nodes speaking the
// first protocol version ("SBX1") cannot connect to this one.
//
// # Fault model
//
// Faults holds this node's rules, keyed by peer node ID. Block(ids...)
// stops all traffic between this node and those peers in both directions,
// with no help from the peers: new handshakes from them are refused
// (status 1), new handshakes to them are abandoned (unconfirmed) once the
// reply reveals the peer's ID, every open connection with them (raft's pooled connections
// and HTTP keep-alive connections included) is closed before Block returns,
// and any Read or Write that races with that close fails with ErrBlocked
// because every Read and Write checks the rules first (one atomic load).
// Rules are checked after a connection is registered with the Mux, so a
// connection being set up while Block runs cannot slip through. Unblock and
// Heal lift rules; what was closed stays closed and peers reconnect on
// their own (raft and net/http both redial).
//
// A partition seen from a blocked peer looks like a peer whose connections
// are reset and whose handshakes are refused: dials fail fast rather than
// time out. One-directional blocks are not modelled: traffic is cut in both
// directions or not at all, because each connection carries requests and
// responses both ways.
//
// SetDelay adds latency before every Write on every connection of the node,
// at most MaxFaultDelay (a minute).
// Further rules (per-peer delay, drop rate) fit into the same immutable
// rules value checked in Conn.Read and Conn.Write.
package transport
