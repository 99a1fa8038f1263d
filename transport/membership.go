package transport

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

const clusterIDLen = 16

// ClusterID names one cluster: random, chosen once when the cluster is
// created, and carried in every handshake so that nodes of two clusters
// that happen to share a secret and an address refuse each other. The zero
// value means "no cluster ID".
type ClusterID [clusterIDLen]byte

// NewClusterID returns a random cluster ID.
func NewClusterID() ClusterID {
	var id ClusterID
	for id.IsZero() {
		_, _ = rand.Read(id[:]) // never fails (crypto/rand crashes the program instead)
	}
	return id
}

// ParseClusterID parses the 32 hexadecimal digits String returns. The zero
// ID is refused: it means "none" and is never written.
func ParseClusterID(s string) (ClusterID, error) {
	var id ClusterID
	if len(s) != 2*clusterIDLen {
		return id, fmt.Errorf("transport: cluster ID %q: want %d hexadecimal digits", s, 2*clusterIDLen)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("transport: cluster ID %q: %w", s, err)
	}
	if id.IsZero() {
		return id, errors.New("transport: cluster ID is all zeros")
	}
	return id, nil
}

// IsZero reports whether id is the zero value, "no cluster ID".
func (id ClusterID) IsZero() bool { return id == ClusterID{} }

// String returns id as 32 lowercase hexadecimal digits, or "none" for the
// zero value.
func (id ClusterID) String() string {
	if id.IsZero() {
		return "none"
	}
	return hex.EncodeToString(id[:])
}

// Membership is what a node says in its handshakes about the cluster it
// belongs to. There are three kinds of node:
//
//   - a member of an identified cluster: ClusterID set. It talks only to
//     nodes with the same ClusterID, to members without one, and (join
//     only, see below) to joining nodes.
//   - a member without a cluster ID: ClusterID zero, Joining false. Its
//     data was created by a version that had no cluster IDs, and it has
//     not yet learned the ID its cluster's leader assigns. It talks to
//     everyone, as before cluster IDs existed.
//   - a joining node: ClusterID zero, Joining true. It belongs to no
//     cluster yet. Members accept its HTTP connections but mark them
//     join-only (see PeerMembershipFromContext; the node package serves
//     only the join RPCs on them) and refuse its raft connections; it
//     accepts no connections itself.
//
// The zero Membership is a member without a cluster ID, so a Config that
// does not set one behaves as the transport did before cluster IDs.
type Membership struct {
	// ClusterID is the node's cluster, zero if it has none (yet).
	ClusterID ClusterID
	// Joining marks a node that is not a member of any cluster yet.
	// Ignored when ClusterID is set.
	Joining bool
}

func (m Membership) normal() Membership {
	if !m.ClusterID.IsZero() {
		m.Joining = false
	}
	return m
}

func (m Membership) String() string {
	switch {
	case !m.ClusterID.IsZero():
		return "cluster " + m.ClusterID.String()
	case m.Joining:
		return "joining, no cluster yet"
	default:
		return "member without cluster ID"
	}
}

// admit decides whether this node (local) and a peer may talk over a
// stream of type typ, from the side that is serving (inbound) or dialing.
// It returns a reply status, and for an accepted inbound connection
// whether the peer may only use the join RPCs.
func admit(local, peer Membership, typ StreamType, inbound bool) (status byte, joinOnly bool) {
	switch {
	case !local.ClusterID.IsZero() && !peer.ClusterID.IsZero() && local.ClusterID != peer.ClusterID:
		return statusOtherCluster, false
	case inbound && local.Joining:
		// Nothing needs to reach a node before it has joined; whoever tries
		// is most likely a stray member of some other cluster.
		return statusNotMember, false
	case !inbound && peer.Joining:
		return statusNotMember, false
	case inbound && peer.Joining:
		if typ != StreamHTTP {
			return statusNotMember, false
		}
		return statusOK, true
	}
	return statusOK, false
}
