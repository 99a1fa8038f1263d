// Package node runs one Strongbox cluster member: hashicorp/raft with its
// log and stable store in raft-boltdb/v2 and raft's file snapshot store,
// the replicated state machine from raftfsm, and the internal RPCs that
// make any member able to serve any request.
//
// Writes: a command is applied through Raft on the leader; a follower
// forwards the encoded command to the leader over the authenticated
// cluster transport and relays the result. The leader stamps the command's
// time before proposing, so the state machine stays deterministic. A write
// returns only after it is committed and applied; when leadership is lost
// mid-write the caller gets objstore.ErrUnavailable (outcome unknown),
// never a false success.
//
// Reads: linearizable on every node by ReadIndex. The leader records its
// commit index, confirms it still leads (VerifyLeader), and the reading
// node waits until its state machine has applied that index. A new leader
// first applies a no-op of its own term, because raft's internal no-op is
// invisible to the state machine and the commit index alone may lag
// entries committed by the previous leader. Concurrent reads share one
// leadership confirmation (readBatcher), on the leader and, per follower,
// for the round trip to the leader.
//
// Restart: the state machine persists its applied index with its data, so
// raft runs with NoSnapshotRestoreOnStart and a restart does not rebuild
// the store (see raftfsm).
//
// Large objects (blob.go, blobcheck.go, blobgc.go; the design is in
// blobstore's package doc): bodies too large for the log are blob files
// replicated to a majority before their command is proposed. Every read
// of a blob file, for a GET or for a peer's fetch, verifies each chunk
// against the checksums recorded when it was written; a corrupt or torn
// copy is never served but read from another member and replaced by a
// verified copy, and when no member has a good copy the read fails
// (objstore.ErrUnavailable). Blob files are removed by the garbage drain
// (blobs released by a delete or overwrite) and the orphan collector
// (blobs nothing refers to); neither removes a blob that an open GET on
// this node still needs (a read hold): a held blob is removed when the
// last read holding it ends.
//
// Membership: a new data directory without Join bootstraps a single-node
// cluster; with Join it asks a member (which relays to the leader) to add
// it as a voter. Status and removal are offered to operators through
// AdminHandler, and so are the transport's fault rules (faults.go: block,
// unblock, delay, heal; `strongbox cluster partition` sets them on every
// member).
package node
