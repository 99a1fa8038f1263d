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
	helloMagic = "SBX1"
	// replyTag and confirmTag prefix the MAC inputs of the reply and the
	// confirmation, so that no MAC of one message kind is ever valid for
	// another (a hello MAC input starts with helloMagic).
	replyTag   = "SBX1 reply"
	confirmTag = "SBX1 confirm"

	// MaxNodeIDLen is the longest node ID the handshake carries.
	MaxNodeIDLen = 255

	nonceLen = 16
	macLen   = sha256.Size
	tsLen    = 8

	helloHeaderLen = len(helloMagic) + 1 + 1 // magic, type, ID length
	helloTailLen   = tsLen + nonceLen + macLen
	maxHelloLen    = helloHeaderLen + MaxNodeIDLen + helloTailLen

	replyHeaderLen = 1 + 1 // status, ID length
	replyTailLen   = nonceLen + macLen
	maxReplyLen    = replyHeaderLen + MaxNodeIDLen + replyTailLen

	confirmLen = macLen
)

// Reply status bytes.
const (
	statusOK          byte = 0
	statusBlocked     byte = 1 // the server's fault rules block the client
	statusUnavailable byte = 2 // the server does not accept this stream type now
)

var (
	errBadMagic  = errors.New("bad magic (not a strongbox cluster connection)")
	errBadType   = errors.New("unknown stream type")
	errBadNodeID = errors.New("invalid node ID")
	errBadMAC    = errors.New("MAC mismatch (wrong cluster secret or tampered handshake)")
	errBadStatus = errors.New("unknown reply status")
)

// ValidNodeID reports whether id can be carried by the handshake: 1 to
// MaxNodeIDLen bytes of valid UTF-8 without control characters (IDs end up
// in logs).
func ValidNodeID(id string) error {
	if len(id) == 0 || len(id) > MaxNodeIDLen {
		return fmt.Errorf("%w: length %d not in 1..%d", errBadNodeID, len(id), MaxNodeIDLen)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: not valid UTF-8", errBadNodeID)
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: contains control character %U", errBadNodeID, r)
		}
	}
	return nil
}

// hello is the client's first message.
type hello struct {
	typ    StreamType
	nodeID string
	ts     int64 // unix nanoseconds on the client's clock
	nonce  [nonceLen]byte
}

// appendHello appends the signed encoding of h to dst. h.nodeID must satisfy
// ValidNodeID.
func appendHello(dst []byte, secret []byte, h hello) []byte {
	start := len(dst)
	dst = append(dst, helloMagic...)
	dst = append(dst, byte(h.typ), byte(len(h.nodeID)))
	dst = append(dst, h.nodeID...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.ts))
	dst = append(dst, h.nonce[:]...)
	mac := hmac.New(sha256.New, secret)
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
	if string(buf[:len(helloMagic)]) != helloMagic {
		return h, nil, errBadMagic
	}
	h.typ = StreamType(buf[4])
	if !h.typ.valid() {
		return h, nil, fmt.Errorf("%w %d", errBadType, buf[4])
	}
	idLen := int(buf[5])
	if idLen == 0 {
		return h, nil, fmt.Errorf("%w: empty", errBadNodeID)
	}
	total := helloHeaderLen + idLen + helloTailLen
	if _, err := io.ReadFull(r, buf[helloHeaderLen:total]); err != nil {
		return h, nil, noEOF(err)
	}
	buf = buf[:total]
	p := helloHeaderLen
	h.nodeID = string(buf[p : p+idLen])
	if err := ValidNodeID(h.nodeID); err != nil {
		return h, nil, err
	}
	p += idLen
	h.ts = int64(binary.BigEndian.Uint64(buf[p:]))
	p += tsLen
	copy(h.nonce[:], buf[p:p+nonceLen])
	return h, buf, nil
}

// verifyHello reports whether raw (as returned by readHello) carries a valid
// MAC under secret. The comparison is constant-time.
func verifyHello(secret, raw []byte) bool {
	if len(raw) < macLen {
		return false
	}
	body, got := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), got)
}

// reply is the server's answer to a hello.
type reply struct {
	status byte
	nodeID string
	nonce  [nonceLen]byte // the server's challenge, answered by the confirmation
}

func replyMAC(secret []byte, nonce [nonceLen]byte, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(replyTag))
	mac.Write(nonce[:])
	mac.Write(body)
	return mac.Sum(nil)
}

// appendReply appends the signed encoding of rp, bound to the client's
// nonce, to dst.
func appendReply(dst []byte, secret []byte, nonce [nonceLen]byte, rp reply) []byte {
	start := len(dst)
	dst = append(dst, rp.status, byte(len(rp.nodeID)))
	dst = append(dst, rp.nodeID...)
	dst = append(dst, rp.nonce[:]...)
	return append(dst, replyMAC(secret, nonce, dst[start:])...)
}

// readReply reads exactly one reply from r, bounded like readHello.
func readReply(r io.Reader) (reply, []byte, error) {
	var rp reply
	buf := make([]byte, maxReplyLen)
	if _, err := io.ReadFull(r, buf[:replyHeaderLen]); err != nil {
		return rp, nil, err
	}
	rp.status = buf[0]
	idLen := int(buf[1])
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
	copy(rp.nonce[:], buf[p:p+nonceLen])
	return rp, buf, nil
}

// verifyReply reports whether raw (as returned by readReply) carries a valid
// MAC under secret for the given client nonce. Constant-time.
func verifyReply(secret []byte, nonce [nonceLen]byte, raw []byte) bool {
	if len(raw) < macLen {
		return false
	}
	body, got := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	return hmac.Equal(replyMAC(secret, nonce, body), got)
}

// confirmMAC is the client's answer to the server's challenge: proof of the
// secret bound to a nonce the server just chose, so a recorded hello
// replayed to any node cannot complete a handshake.
func confirmMAC(secret []byte, clientNonce, serverNonce [nonceLen]byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(confirmTag))
	mac.Write(clientNonce[:])
	mac.Write(serverNonce[:])
	return mac.Sum(nil)
}

// verifyConfirm reports, in constant time, whether got is the confirmation
// for the two nonces.
func verifyConfirm(secret []byte, clientNonce, serverNonce [nonceLen]byte, got []byte) bool {
	return hmac.Equal(confirmMAC(secret, clientNonce, serverNonce), got)
}

// noEOF turns an EOF in the middle of a message into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
