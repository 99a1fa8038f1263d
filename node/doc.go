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
// the store (see raftfsm). Start restores the newest snapshot first when
// the state machine is behind it, and refuses to start when the state
// machine is ahead of the Raft log and snapshots (raft/ lost or replaced):
// the error names both directories and the remedies (restore raft/, or
// remove fsm/ too and rejoin or bootstrap empty).
//
// Store failure: when the state machine's store fails
// (raftfsm.ErrStoreFailed: disk full, I/O error) the node takes itself out
// of service (failure.go). Every request it receives, pending or new,
// answers objstore.ErrUnavailable, a retryable 503: a write that was
// committed but could not be applied here has an unknown outcome on this
// node, never a definite failure. It hands leadership to a peer, shuts
// Raft down so the other members go on without it, reports unhealthy and
// logs one error line saying a restart is needed; Failed and Failure let
// the process exit (cmd/strongbox does, non-zero, for a supervisor to
// restart it). A restart resumes from the last durably applied entry.
//
// Full or read-only disk (disk.go): the node writes in three places under
// DataDir, the blob store, the Raft log and the state machine, and a write
// refused for lack of space (ENOSPC, EDQUOT, or the blob store's reserve)
// or because the directory is read-only (EROFS, EACCES, EPERM) becomes
// objstore.ErrNoSpace or ErrReadOnly: a retryable 503 ServiceUnavailable
// whose message says why. Each place logs one error line when such an
// episode starts (naming the directory and the errno, or the reserve) and
// one when a write succeeds again, never one per request; status and
// health list the places in trouble.
//
//   - Blob store (objects over 64 KiB, parts, replicas): it keeps a
//     reserve, Config.MinFreeSpace (default 1% of the file system, at most
//     1 GiB), so blobs stop before the disk is full. An upload through a
//     node whose store refuses fails at once with nothing left behind on
//     any node; a peer whose store refuses a replica answers 503 with an
//     outcome saying why, and the upload succeeds if a majority still
//     stores it (else it fails with that reason). A node whose store is
//     full still serves a blob it lacks from a peer, without keeping a
//     copy, and reads a copy of its own found corrupt from a peer the
//     same way (the repair waits for space); its background sync stops
//     its pass at the first refusal. As soon as space is back the next
//     write succeeds: no restart.
//   - Raft log (raft-boltdb): hashicorp/raft reports a failed append only
//     in its own log, so the log store is wrapped to watch it. A leader
//     that cannot append answers the write 503 (the entry was never sent
//     to a follower) and steps down; a follower that cannot append falls
//     behind, its reads answer 503 saying why, and health reports 503.
//     Other nodes carry on. When space is back the leader's retries
//     succeed and the node catches up by itself. raft panics if it cannot
//     persist a new term or vote; bbolt writes those small records in
//     pages it has freed, so that needs a disk full to the last page, and
//     the process then exits for its supervisor to restart it.
//   - State machine (bbolt): a failed commit takes the node out of service
//     ("Store failure" above; its 503 then says the disk is full) and the
//     process exits; the supervisor restarts it (`strongbox dev` does, and
//     in production use systemd's Restart=on-failure or the like) and it
//     resumes once the commit fits. Retrying the commit in place would
//     also be possible, but the batch's effects would have to be rebuilt
//     from scratch with nothing cached, for a case the reserve already
//     makes rare; a restart is the proven path.
//
// bbolt rolls a failed transaction back and rereads its free list, and
// blob files are written once to temporary names: a full disk damages
// nothing already stored.
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
// it as a voter.
//
// Cluster identity (identity.go): bootstrap makes a random cluster ID and
// stores it in <data-dir>/cluster-id before the cluster exists; the first
// leader records it in the state machine (raftfsm SetClusterID, first
// committed wins), which makes it durable on every member and carries it
// in snapshots. A joining node presents no ID and is served only GET
// /rpc/cluster and POST /rpc/join; it learns the ID from the member it
// joins and stores it before asking to be added, so the leader's first
// Raft connection to it already finds it a member. From then on the
// transport refuses nodes of other clusters, logging them. A data
// directory made before cluster IDs starts as a member without one (it
// accepts any secret holder, as before); its leader proposes a random ID,
// and every member adopts the committed one as it applies it. A node whose
// file and state machine name different IDs refuses to start. The
// transport refuses connections to the node's own ID, so a node never
// dials itself: when it turns out to be the leader while relaying,
// forwarding or removing, it acts locally.
//
// TLS: Config.TLS runs all inter-node traffic over mutual TLS (see
// transport.TLS); every member must use it, with certificates from one CA. Status and removal are offered to operators through
// AdminHandler, and so are the transport's fault rules (faults.go: block,
// unblock, delay, heal; `strongbox cluster partition` sets them on every
// member). The fault API refuses a delay over transport.MaxFaultDelay and
// rule sets naming more than 1024 peers, with 400 and a message.
package node
