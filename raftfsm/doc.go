// Package raftfsm is Strongbox's replicated state machine: the deterministic
// code that turns committed Raft log entries into buckets and objects, and
// the local storage that holds them. The node package proposes Commands
// through hashicorp/raft and reads through the query methods; s3api never
// sees this package.
//
// # Commands
//
// A log entry's Data is one Command in a versioned envelope:
//
//	[version=5][type][time: 8 bytes big-endian unix ns][payload]
//
// Version 2 added the object tag set to PutObject's payload and the types
// CopyObject, DeleteObjects, PutObjectTagging and PutBucketCors. Version 3
// added an optional blob reference to PutObject and CopyObject and the
// multipart types (CreateMultipartUpload, UploadPart,
// CompleteMultipartUpload, AbortMultipartUpload). Version 4 added
// CompleteMultipartUpload's DefaultChecksum flag. Version 5 added
// SetClusterID, which records the cluster's identity once (the first
// committed wins; see the node package). Older entries still
// decode, so an existing log replays; the leader writes version 5. (A
// mixed-version cluster is not supported: a node running older code
// cannot apply newer entries.)
//
// The payload is a hand-written sequence of uvarint-length-prefixed fields
// (codec.go): no reflection, no JSON, because a 4 KiB PUT body rides inside
// the entry and the CPU budget is small. Maps are written in key order so
// the encoding is canonical. Decoding checks every length against the
// remaining input and refuses unknown versions and types. The PUT body is
// the last field and is decoded without copying. Fuzz targets hold the
// command, Result and record decoders to that: any input is either refused
// with an error or decodes to a value that, encoded and decoded again,
// comes back the same (a Result's error as the same sentinel, its message
// kept) (FuzzUnmarshalCommand, FuzzUnmarshalResult, FuzzDecodeRecord).
//
// Everything non-deterministic is decided by the leader before proposing:
// the Time field (bucket Created, object LastModified), the ETag and
// checksums. Time sits at a fixed offset so the leader can stamp a command
// forwarded by a follower in place (SetTime). The FSM itself never reads a
// clock, random source or network, so every replica computes the same
// state and the same Result for each entry.
//
// Client-level outcomes (objstore.ErrNoSuchBucket, ErrPreconditionFailed,
// ...) are values in the Result, never Raft errors. Preconditions
// (If-Match, If-None-Match, bucket emptiness) are evaluated against the
// state at the entry's position in the log, which makes a conditional PUT
// an atomic compare-and-set: of two racing writers exactly one wins.
//
// CopyObject is one command, not a read followed by a PUT: the FSM reads
// the source, evaluates the x-amz-copy-source-if-* conditions and the
// destination's If-Match/If-None-Match, and writes the destination in the
// same step, so a copy always copies one committed version and a
// conditional copy is a compare-and-set too. When the request names a
// checksum algorithm the source lacks, the FSM computes it from the body
// (deterministic, so every replica stores the same value). DeleteObjects
// is one command for the whole batch.
//
// Multipart uploads are four commands. The receiving node picks the upload
// ID (clock plus random bits) and stores each part as a blob before
// proposing UploadPart; re-uploading a part number releases the old blob.
// CompleteMultipartUpload checks, in S3's order, that the upload exists
// (a retried Complete whose object is already in place succeeds again),
// that part numbers ascend (InvalidPartOrder), that each listed part
// exists with the listed ETag and checksums (InvalidPart), that every part
// but the last has at least 5 MiB (EntityTooSmall), and the If-Match /
// If-None-Match conditions; then it writes the object (ETag = MD5 of the
// part MD5s + "-N"; a COMPOSITE or FULL_OBJECT checksum computed from the
// part checksums, a deterministic function of the records) and drops the
// upload, releasing parts that were not listed.
// MarshalResult/UnmarshalResult carry a Result from the leader back to a
// follower that forwarded the write.
//
// # Storage layout
//
// One bbolt file, <dir>/fsm.db:
//
//	meta/                     format -> 1; applied -> index, term (2 x uint64 BE); cluster_id -> 16 bytes, once set
//	buckets/                  <bucket name> -> bucket record (version, created ns, CORS rules)
//	data/<bucket name>/o/     <object key> -> object record
//	data/<bucket name>/b/     <object key> -> inline body bytes
//	data/<bucket name>/u/     <escaped key><upload id> -> upload record (multipart.go)
//	data/<bucket name>/p/     <upload id><part number> -> part record
//	blobs/                    <blob id> -> size, md5: every referenced blob (blobs.go)
//	garbage/                  <index><seq> -> blob id: released blobs, drained per node
//	garbage-ids/              <blob id> -> <index><seq>: garbage/ by blob, for the collector
//
// Keys are the raw object key bytes, so bbolt's order is S3's UTF-8 byte
// order and a listing is a cursor walk. Records and bodies live in separate
// sub-buckets so a listing page reads only small record pages and never
// pulls body pages into memory. An object record is
//
//	[record version=3][body location][last-modified ns][size][etag]
//	[content type][headers][user meta][checksums][tags]
//	[checksum type][parts count][blobs, if location 1]
//
// Version 1 records (no tags), version 2 records (no checksum type, parts
// count or blobs) and version 1 bucket records (no CORS rules) are still
// read; every write produces the newest. Changing an object's tags
// rewrites its record only, never its body.
//
// The body-location byte is 0 for a body inline in the b/ sub-bucket and 1
// for a body stored in blob files outside the log (DESIGN.md, "Data
// path"): the record then lists the blobs, one per part, each with its
// ID, size, MD5 and checksums. Blobs are written and replicated by the
// node before the command that references them is proposed; this package
// only records references. Every blob is referenced by at most one record,
// and an apply that drops a reference lists the blob in garbage/, which
// each node drains on its own (blobs.go). A CopyObject of a blob-backed
// source carries a fresh copy of the bytes and the source ETag it was
// made from; if the source has changed the apply fails with
// ErrSourceChanged and the node copies again.
//
// # Group commit
//
// FSM implements raft.BatchingFSM: raft hands over every entry committed
// since the last call, and ApplyBatch applies them all in one read-write
// transaction, so N client writes cost one bbolt commit (one fsync pair).
// bbolt has no savepoints, so each command is fully checked before its
// first write; only a storage fault can fail after that, and it aborts the
// whole batch and stops the FSM (ErrStoreFailed) rather than let this
// replica diverge from the log. Done and Err tell the owner, which must
// stop serving (the node does). InjectCommitFailure fails the next commit
// on purpose, for tests.
//
// # Restart strategy
//
// The node runs raft with NoSnapshotRestoreOnStart = true. The last applied
// index (and term) is written in the same transaction as the effects of
// the entries, so after a crash the file's state and its index agree. On
// start raft does not call Restore; it replays the log entries after its
// last snapshot, and ApplyBatch skips every entry at or below the persisted
// index. A restart therefore costs O(1) in the store's size instead of a
// full rebuild from a snapshot, and replaying cannot apply anything twice
// (a replayed If-None-Match PUT cannot flip its original outcome).
//
// This relies on the FSM never being behind raft's latest snapshot, which
// holds because snapshots are taken from the FSM, and never ahead of
// raft's last log entry or snapshot, which holds because only entries in
// the local log are applied. The node must treat fsm.db and raft's log
// and snapshot stores as one unit: if fsm.db is lost while raft's data
// survives, it restores the latest snapshot into the FSM (Restore) before
// starting raft; if raft's data is lost (the FSM is ahead of it), it
// refuses to start, because the new log's first entries would be skipped
// as replayed, and fsm.db must be discarded or raft's data restored.
//
// # Snapshots
//
// Snapshot opens a bbolt read transaction (O(1), consistent with the
// applied index it contains) and Persist streams the database file as of
// that transaction with tx.WriteTo: the snapshot format is a bbolt file of
// this layout. Persist runs concurrently with applies. Restore streams the
// snapshot to fsm.db.restore, fsyncs and validates it (bbolt meta checksums,
// length against the meta high-water mark, our format), then swaps it in by
// rename and reopens; all prior state is discarded and the applied index
// becomes the snapshot's. A failed transfer or validation leaves the old
// store in service. Snapshots carry inline bodies and the blob index, not
// blob files: a node restored from one fetches the blobs it lacks.
//
// # Reads
//
// AppliedIndex and WaitApplied let the node implement linearizable reads:
// obtain a read index from the leader, wait until the FSM has applied it,
// then read. The read methods run in bbolt read transactions and may be
// called concurrently with everything else; the database handle is behind
// a RWMutex only so that Restore can swap it.
package raftfsm
