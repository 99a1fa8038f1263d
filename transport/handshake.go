package transport

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// StreamType says what a connection carries once the handshake is done. It
// is chosen by the dialer, authenticated by the handshake MAC, and decides
// which of the Mux's listeners yields the connection.
type StreamType byte

const (
	// StreamRaft carries hashicorp/raft NetworkTransport traffic.
	StreamRaft StreamType = 1
	// StreamHTTP carries internal HTTP/1.1 RPC between nodes.
	StreamHTTP StreamType = 2
)

func (t StreamType) String() string {
	switch t {
	case StreamRaft:
		return "raft"
	case StreamHTTP:
		return "http"
	default:
		return fmt.Sprintf("StreamType(%d)", byte(t))
	}
}

func (t StreamType) valid() bool { return t == StreamRaft || t == StreamHTTP }

// Wire constants. See doc.go for the layout.
const (
	helloMagic = "SBX2"
	// oldMagic is the first protocol version's magic: a node that sends it
	// runs an older Strongbox, which this version cannot talk to.
	oldMagic = "SBX1"

	// The MAC of each message kind starts with its own tag, so that no MAC
	// is ever valid for another kind. Each ends in a NUL so that no tag is
	// a prefix of another.
	helloTag   = "SBX2 hello\x00"
	replyTag   = "SBX2 reply\x00"
	confirmTag = "SBX2 confirm\x00"

	// MaxNodeIDLen is the longest node ID the handshake carries.
	MaxNodeIDLen = 255
	// maxAddrLen is the longest advertised address the hello carries.
	maxAddrLen = 255

	nonceLen = 16
	macLen   = sha256.Size
	tsLen    = 8
	// bindLen is the length of the channel binding mixed into every MAC:
	// TLS keying material when the connection runs over TLS, zeros
	// otherwise.
	bindLen = 32

	helloHeaderLen = len(helloMagic) + 1 + 1 + 1 // magic, type, flags, ID length
	helloTailLen   = tsLen + nonceLen + macLen
	maxHelloLen    = helloHeaderLen + MaxNodeIDLen + clusterIDLen + 1 + maxAddrLen + helloTailLen

	replyHeaderLen = 1 + 1 + 1 // status, flags, ID length
	replyTailLen   = clusterIDLen + nonceLen + macLen
	maxReplyLen    = replyHeaderLen + MaxNodeIDLen + replyTailLen

	confirmLen = macLen
)

// Flag bits of hello and reply.
const (
	// flagJoining: the sender has no cluster ID because it is not a member
	// of any cluster yet (Membership.Joining).
	flagJoining byte = 1 << 0

	knownFlags = flagJoining
)

// Reply status bytes.
const (
	statusOK           byte = 0
	statusBlocked      byte = 1 // the server's fault rules block the client
	statusUnavailable  byte = 2 // the server does not accept this stream type now
	statusOtherCluster byte = 3 // the client belongs to another cluster
	statusNotMember    byte = 4 // a joining node asked for more than join, or the server is joining
)

var (
	errBadMagic   = errors.New("bad magic (not a strongbox cluster connection)")
	errOldVersion = errors.New("the peer speaks handshake version 1 (an older Strongbox); every node of a cluster must run the same version")
	errTLSPeer    = errors.New("the peer speaks TLS but this node has no cluster TLS configured (set --cluster-tls-* on every node or on none)")
	errBadType    = errors.New("unknown stream type")
	errBadFlags   = errors.New("unknown or inconsistent flags")
	errBadNodeID  = errors.New("invalid node ID")
	errBadAddr    = errors.New("invalid advertised address")
	errBadMAC     = errors.New("MAC mismatch (wrong cluster secret or tampered handshake)")
	errBadStatus  = errors.New("unknown reply status")
	errOwnID      = errors.New("the peer claims this node's own ID (a reflected handshake, or another node configured with the same ID)")
)

// ValidNodeID reports whether id can be carried by the handshake: 1 to
// MaxNodeIDLen bytes of valid UTF-8 without control characters (IDs end up
// in logs).
func ValidNodeID(id string) error {
	if err := validLabel(id, MaxNodeIDLen); err != nil {
		return fmt.Errorf("%w: %w", errBadNodeID, err)
	}
	return nil
}

func validLabel(s string, maxLen int) error {
	if len(s) == 0 || len(s) > maxLen {
		return fmt.Errorf("length %d not in 1..%d", len(s), maxLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains control character %U", r)
		}
	}
	return nil
}

// hello is the client's first message.
type hello struct {
	typ        StreamType
	membership Membership
	nodeID     string
	addr       string // the sender's advertised address, for logs
	ts         int64  // unix nanoseconds on the client's clock
	nonce      [nonceLen]byte
}

func membershipFlags(m Membership) byte {
	if m.Joining && m.ClusterID.IsZero() {
		return flagJoining
	}
	return 0
}

// parseMembership checks flags against the cluster ID: a node with a
// cluster ID is never joining.
func parseMembership(flags byte, id ClusterID) (Membership, error) {
	if flags&^knownFlags != 0 || (flags&flagJoining != 0 && !id.IsZero()) {
		return Membership{}, fmt.Errorf("%w %#02x", errBadFlags, flags)
	}
	return Membership{ClusterID: id, Joining: flags&flagJoining != 0}, nil
}

func newMAC(secret []byte, tag string, bind *[bindLen]byte) interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
} {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(tag))
	mac.Write(bind[:])
	return mac
}

// appendHello appends the signed encoding of h to dst. h.nodeID must satisfy
// ValidNodeID and h.addr must be at most maxAddrLen bytes.
func appendHello(dst []byte, secret []byte, bind *[bindLen]byte, h hello) []byte {
	start := len(dst)
	dst = append(dst, helloMagic...)
	dst = append(dst, byte(h.typ), membershipFlags(h.membership), byte(len(h.nodeID)))
	dst = append(dst, h.nodeID...)
	dst = append(dst, h.membership.ClusterID[:]...)
	dst = append(dst, byte(len(h.addr)))
	dst = append(dst, h.addr...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.ts))
	dst = append(dst, h.nonce[:]...)
	mac := newMAC(secret, helloTag, bind)
	mac.Write(dst[start:])
	return mac.Sum(dst)
}

// readHello reads exactly one hello from r and returns it with its raw bytes
// (MAC included). It never reads past the hello and never reads more than
// maxHelloLen bytes. The MAC is not checked here: see verifyHello.
func readHello(r io.Reader) (hello, []byte, error) {
	var h hello
	buf := make([]byte, maxHelloLen)
	if _, err := io.ReadFull(r, buf[:helloHeaderLen]); err != nil {
		return h, nil, err
	}
	switch string(buf[:len(helloMagic)]) {
	case helloMagic:
	case oldMagic:
		return h, nil, errOldVersion
	default:
		if buf[0] == 0x16 && buf[1] == 0x03 { // a TLS handshake record
			return h, nil, errTLSPeer
		}
		return h, nil, errBadMagic
	}
	h.typ = StreamType(buf[4])
	if !h.typ.valid() {
		return h, nil, fmt.Errorf("%w %d", errBadType, buf[4])
	}
	flags := buf[5]
	idLen := int(buf[6])
	if idLen == 0 {
		return h, nil, fmt.Errorf("%w: empty", errBadNodeID)
	}
	p := helloHeaderLen
	// ID, cluster ID and the address length byte.
	if _, err := io.ReadFull(r, buf[p:p+idLen+clusterIDLen+1]); err != nil {
		return h, nil, noEOF(err)
	}
	h.nodeID = string(buf[p : p+idLen])
	if err := ValidNodeID(h.nodeID); err != nil {
		return h, nil, err
	}
	p += idLen
	var cid ClusterID
	copy(cid[:], buf[p:p+clusterIDLen])
	p += clusterIDLen
	m, err := parseMembership(flags, cid)
	if err != nil {
		return h, nil, err
	}
	h.membership = m
	addrLen := int(buf[p])
	p++
	total := p + addrLen + helloTailLen
	if _, err := io.ReadFull(r, buf[p:total]); err != nil {
		return h, nil, noEOF(err)
	}
	buf = buf[:total]
	h.addr = string(buf[p : p+addrLen])
	if err := validLabel(h.addr, maxAddrLen); err != nil {
		return h, nil, fmt.Errorf("%w: %w", errBadAddr, err)
	}
	p += addrLen
	h.ts = int64(binary.BigEndian.Uint64(buf[p:]))
	p += tsLen
	copy(h.nonce[:], buf[p:p+nonceLen])
	return h, buf, nil
}

// verifyHello reports whether raw (as returned by readHello) carries a valid
// MAC under secret and channel binding. The comparison is constant-time.
func verifyHello(secret []byte, bind *[bindLen]byte, raw []byte) bool {
	if len(raw) < macLen {
		return false
	}
	body, got := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	mac := newMAC(secret, helloTag, bind)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), got)
}

// reply is the server's answer to a hello.
type reply struct {
	status     byte
	membership Membership
	nodeID     string
	nonce      [nonceLen]byte // the server's challenge, answered by the confirmation
}

// replyMAC binds the reply to the whole hello it answers (the client's
// fresh nonce included), so that a recorded reply is worthless to anyone
// but the client that sent that very hello.
func replyMAC(secret []byte, bind *[bindLen]byte, helloRaw, body []byte) []byte {
	mac := newMAC(secret, replyTag, bind)
	mac.Write(helloRaw)
	mac.Write(body)
	return mac.Sum(nil)
}

// appendReply appends the signed encoding of rp, bound to the raw hello it
// answers, to dst.
func appendReply(dst []byte, secret []byte, bind *[bindLen]byte, helloRaw []byte, rp reply) []byte {
	start := len(dst)
	dst = append(dst, rp.status, membershipFlags(rp.membership), byte(len(rp.nodeID)))
	dst = append(dst, rp.nodeID...)
	dst = append(dst, rp.membership.ClusterID[:]...)
	dst = append(dst, rp.nonce[:]...)
	return append(dst, replyMAC(secret, bind, helloRaw, dst[start:])...)
}

// readReply reads exactly one reply from r, bounded like readHello.
func readReply(r io.Reader) (reply, []byte, error) {
	var rp reply
	buf := make([]byte, maxReplyLen)
	if _, err := io.ReadFull(r, buf[:replyHeaderLen]); err != nil {
		return rp, nil, err
	}
	rp.status = buf[0]
	flags := buf[1]
	idLen := int(buf[2])
	if idLen == 0 {
		return rp, nil, fmt.Errorf("%w: empty", errBadNodeID)
	}
	total := replyHeaderLen + idLen + replyTailLen
	if _, err := io.ReadFull(r, buf[replyHeaderLen:total]); err != nil {
		return rp, nil, noEOF(err)
	}
	buf = buf[:total]
	p := replyHeaderLen
	rp.nodeID = string(buf[p : p+idLen])
	if err := ValidNodeID(rp.nodeID); err != nil {
		return rp, nil, err
	}
	p += idLen
	var cid ClusterID
	copy(cid[:], buf[p:p+clusterIDLen])
	p += clusterIDLen
	m, err := parseMembership(flags, cid)
	if err != nil {
		return rp, nil, err
	}
	rp.membership = m
	copy(rp.nonce[:], buf[p:p+nonceLen])
	return rp, buf, nil
}

// verifyReply reports whether raw (as returned by readReply) carries a valid
// MAC under secret for the given raw hello. Constant-time.
func verifyReply(secret []byte, bind *[bindLen]byte, helloRaw, raw []byte) bool {
	if len(raw) < macLen {
		return false
	}
	body, got := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	return hmac.Equal(replyMAC(secret, bind, helloRaw, body), got)
}

// confirmMAC is the client's answer to the server's challenge: proof of the
// secret bound to the whole exchange, including a nonce the server just
// chose, so a recorded hello replayed to any node cannot complete a
// handshake.
func confirmMAC(secret []byte, bind *[bindLen]byte, helloRaw, replyRaw []byte) []byte {
	mac := newMAC(secret, confirmTag, bind)
	mac.Write(helloRaw)
	mac.Write(replyRaw)
	return mac.Sum(nil)
}

// verifyConfirm reports, in constant time, whether got is the confirmation
// for the exchange.
func verifyConfirm(secret []byte, bind *[bindLen]byte, helloRaw, replyRaw, got []byte) bool {
	return hmac.Equal(confirmMAC(secret, bind, helloRaw, replyRaw), got)
}

// noEOF turns an EOF in the middle of a message into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
