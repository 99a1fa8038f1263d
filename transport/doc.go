// Package transport carries all traffic between Strongbox nodes over one
// TCP port per node: hashicorp/raft's NetworkTransport traffic and the
// internal HTTP/1.1 RPC (write forwarding, read-index, join, status, blob
// replication and fetch). Every connection is authenticated in both
// directions with the shared cluster secret before a single byte of payload
// flows, and every connection passes through one fault hook, so that
// partitions injected by tests, by the Jepsen-style harness or by
// `strongbox cluster partition` behave the same in one process, across
// processes and across hosts.
//
// # Use
//
//	mux, err := transport.Listen("10.0.0.1:7000", transport.Config{NodeID: "n1", Secret: secret})
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
// A handshake is three messages. The dialer sends a hello; integers are
// big-endian:
//
//	"SBX1"      4 bytes   magic and protocol version
//	type        1 byte    1 = raft, 2 = http
//	n           1 byte    length of the sender's node ID, 1..255
//	sender ID   n bytes   UTF-8, no control characters
//	timestamp   8 bytes   sender's clock, unix nanoseconds
//	nonce Nc   16 bytes   random
//	mac        32 bytes   HMAC-SHA256(secret, all preceding bytes)
//
// The server reads exactly that many bytes (never more than 317), all
// within HandshakeTimeout, then checks in order: magic, type, ID, MAC
// (constant time), timestamp within ±MaxClockSkew of its own clock, Nc not
// seen recently. If any check fails it closes the connection without a
// word: an unauthenticated client learns nothing, not even the server's
// node ID. Otherwise it checks its fault rules for the sender and whether
// the requested stream type is being accepted, and replies:
//
//	status      1 byte    0 = ok, 1 = blocked by fault rule, 2 = stream type unavailable
//	m           1 byte    length of the server's node ID, 1..255
//	server ID   m bytes
//	nonce Ns   16 bytes   random: the server's challenge
//	mac        32 bytes   HMAC-SHA256(secret, "SBX1 reply" || Nc || status .. Ns)
//
// The client verifies the reply MAC (ErrHandshake if wrong: the peer is an
// impostor or has another secret; being bound to the client's fresh Nc, a
// recorded reply is worthless), then the status (ErrBlocked,
// ErrUnavailable), then its own fault rules for the server's ID (closing
// without a word if they block it). Finally it answers the challenge:
//
//	confirm    32 bytes   HMAC-SHA256(secret, "SBX1 confirm" || Nc || Ns)
//
// and may send payload right behind it: the client's handshake costs one
// round trip. The server reads exactly 32 bytes, verifies them in constant
// time, and only then hands the connection to Accept, after which it
// carries the stream type's protocol unchanged. The three MAC inputs start
// with different tags, so no MAC is ever valid as another kind of message.
//
// Handshakes run in one goroutine per inbound connection, so a client that
// sends nothing, or sends slowly, costs one goroutine until HandshakeTimeout
// and never delays anyone else's Accept. At most MaxPendingHandshakes run
// at once; beyond that new TCP connections are closed immediately (so a
// flood of idle connections can delay legitimate handshakes, but not grow
// the node without bound). Failed handshakes are counted (Mux.Stats) and
// logged, rate-limited.
//
// # Security properties and limits
//
// Authenticated, not encrypted. The handshake proves to each side that the
// other holds the cluster secret, right now, and authenticates the
// sender's node ID and the stream type. It does not protect what follows:
// without TLS the payload travels in clear text and an attacker on the
// network path can read it, and could inject into or hijack an established
// TCP connection. Run the cluster port on a trusted network until
// inter-node TLS is available (it slots in by wrapping the raw connection
// in tls.Server/tls.Client before the handshake, which then runs inside TLS
// unchanged).
//
// Replays. A recorded hello cannot open a connection to any node: the
// server's fresh challenge Ns must be answered with the secret. As cheap
// filters in front of that, a server also refuses hellos whose timestamp
// is more than MaxClockSkew (default 2 minutes) from its clock (so the
// clocks of all nodes must agree within that) and hellos whose nonce it
// accepted within about 2·MaxClockSkew (at most MaxRememberedNonces are
// kept; under pressure older ones are forgotten early, which is safe
// because of the challenge). A replayed hello that passes those filters,
// say against another node, gets a reply and nothing more.
//
// Node IDs are claims made by secret holders: every member, or anyone else
// holding the secret, can claim any ID. The handshake authenticates the
// cluster, not the individual node; PeerID is reliable for logging, fault
// rules and routing, not as a defence against a compromised member.
//
// The secret is used directly as the HMAC key; use at least 32 random
// bytes. Rotating it means restarting every node with the new secret;
// there is no overlap period.
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
