// Package blobstore keeps the bodies of large objects on one node: a
// directory of immutable blob files, written once while streaming and
// hashing, then read by range. Bodies too large for the Raft log live here
// (DESIGN.md, "Data path"); the node package replicates them between nodes
// (node/blob.go) and the state machine records which blobs an object is
// made of. This doc also describes that replication and how blobs are
// wired into the state machine and the S3 layer.
//
// # Layout and durability
//
//	<dir>/tmp/<id>-<random>.tmp   blobs being written (and .crc.tmp, their checksums); all removed by Open
//	<dir>/<xx>/<id>               committed blobs; xx = first two hex digits of id
//	<dir>/<xx>/<id>.crc           each one's chunk checksums (see "Integrity")
//
// A blob ID is 128 random bits in lowercase hex (NewID), chosen by the node
// that receives the upload; its replicas on other nodes carry the same ID.
// Only strings that pass ValidID ever become file names, so an ID from the
// network cannot name another path.
//
// Create starts a Writer on a temporary file. Write and ReadFrom append to
// it while computing MD5 (the ETag), any requested S3 checksums (through
// s3api/checksum's Set, one pass), the CRC-32C of every 64 KiB chunk, and
// enforcing a size limit. Every 8 MiB
// the Writer asks the kernel to start writing back what it has (Linux
// sync_file_range), so Commit's fsync does not stall for the whole blob.
// Commit fsyncs the file and its checksums, renames the checksums and
// then the file to their final names and fsyncs that directory (a fan-out
// directory is created with its first blob, and the store directory
// fsynced then): a committed blob survives a crash, an uncommitted one is
// a temporary file that the next Open deletes, as it deletes checksums
// whose blob never got its name. Abort removes the temporary files.
// Committing an ID that already exists keeps the existing file: IDs are
// unique and blobs never change, so a blob received twice is the same
// blob. A Writer created with Replace replaces it instead, atomically: the
// repair of a copy found corrupt.
//
// # Full or read-only disk
//
// Every change the store makes to the file system (creating a temporary
// file, writing, fsync, creating a fan-out directory, the rename, the
// directory fsync) that fails because the file system is full or over
// quota (ENOSPC, EDQUOT) fails with ErrNoSpace, and one refused because it
// is read-only or not writable (EROFS, EACCES, EPERM) with ErrReadOnly;
// the errno stays in the chain, and Unwritable classifies any error the
// same way (the node uses it for its Raft log and state machine too). The
// write fails cleanly: nothing is committed, Follow readers see ErrAborted,
// and the temporary files (the blob's and its checksums') are removed. If
// even that removal fails (the file system turned read-only mid-write),
// the name is kept and removed by a later Create, or by the next Open. A
// failed fsync is never retried on the same file, since the kernel may
// have dropped its dirty pages: the next write starts afresh. Committed blobs are never written again, so a
// full disk cannot damage them. Nothing needs reopening when space comes
// back: each write looks at the disk anew, and Open itself needs no free
// space (it empties tmp/ rather than recreating it).
//
// The reserve (Options.MinFree, SetMinFree): Create, and a Writer before
// every megabyte it writes, check the space available to unprivileged
// writers (statfs, as df shows it) and fail with ErrNoSpace once it is
// below the reserve. Concurrent writers overshoot it by at most a megabyte
// each. The node sets it so that blobs, which are what fills a disk, stop
// while its Raft log and state machine still have room: deletes, which
// free space, and small writes keep working.
//
// OpenChecked, Open, OpenRange, Has, Size, Remove, Walk/List and Stats
// read and manage committed blobs. Blobs are served through OpenChecked,
// which verifies what it reads (see "Integrity"); Open and OpenRange read
// the file as it is. Removal unlinks the blob and its checksums; a reader
// that already opened the file finishes its read.
//
// # Integrity
//
// Disks flip bits and crashes tear files; a blob must never be served
// wrong. Every blob's chunk checksums (CRC-32C per 64 KiB, ChunkSize) are
// written beside it at Commit. A CheckedReader verifies each chunk it
// reads before returning any byte of it, and fails with ErrCorrupt at
// the first chunk that does not match, or at open when the file's size
// differs from the one recorded or the checksum file is damaged. Per-chunk
// rather than whole-file verification keeps the cost where the read is: a
// GET streams from its first verified chunk instead of reading the whole
// blob first, and a range read verifies only the chunks it touches (at
// most 128 KiB beyond the range). The price, measured by
// BenchmarkRead64MiB (a 64 MiB blob from the page cache, 256 KiB reads,
// on a shared two-core machine): about 14 ms of CPU per 64 MiB checked
// against 8 ms unchecked (CRC-32C runs at about 10 GB/s where the CPU
// has an instruction for it), that is still over 3 GB/s per core, more
// than a 10 Gbit/s link carries. Writing the checksums costs a few ms per
// 64 MiB next to MD5's hundred, and their fsync runs beside the blob's.
// A blob committed before checksums existed has none (ErrNoChecksums);
// AddChecksums computes them once the whole file matched the size and
// MD5 its record holds.
//
// A corrupt copy is never repaired from itself: the node fetches a good
// copy from a peer, verified against the record's size and MD5, and
// commits it with Replace (node/blobcheck.go; see "Replication" below).
//
// Memory is bounded per stream, never per blob: ReadFrom and Copy use one
// pooled 1 MiB buffer (BufferSize) each, and Follow readers use the
// caller's buffer. The caller bounds the number of streams.
//
// # Replication (node/blob.go)
//
// Node.StoreBlob(ctx, r, limit, algs...) writes the upload to a local
// Writer and, at the same time, streams it to every other voter with
// Writer.Follow: a reader with its own file descriptor that tails the
// temporary file, blocking for bytes not yet written and ending at
// Commit. Each stream is one PUT /rpc/blob/{id} over the cluster
// transport (so the transport's authentication and fault hook apply),
// chunked, with the size and MD5 as HTTP trailers. The peer writes its own
// temporary file, checks size and MD5, commits (fsync) and only then
// answers 200. StoreBlob returns a BlobRef{ID, Size, MD5, Checksums} once
// a majority of the current voters, itself included, hold the blob; the
// other replications continue in the background (bounded in time and
// cancelled at shutdown), so usually every node holds every blob.
//
// Why tail the file rather than the alternatives:
//   - Replicating from the file after the local Commit is simplest, but
//     doubles the latency of every large upload (receive, then send).
//   - A tee into per-peer pipes replicates at the client's pace, but ties
//     the client to the slowest peer (the pipe blocks) or needs unbounded
//     buffering, and a peer that fails must be detached mid-write.
//   - Tailing the file replicates at the client's pace too, reads from
//     the page cache, lets each peer fall behind independently without any
//     memory held for it, and turns "detach a failed peer" into closing
//     one reader. Size and MD5 are known only at the end, hence trailers.
//
// If enough peers fail that a majority is out of reach, StoreBlob stops
// receiving at once (it does not read a 5 GiB body to then fail), removes
// its copy and, best-effort, the peers' (DELETE /rpc/blob/{id}), and
// returns objstore.ErrUnavailable (ErrSlowDown if peers shed the replica
// because they were saturated, objstore.ErrNoSpace or ErrReadOnly if their
// disks refused it: a peer answers those with 503 and an outcome header
// saying so). A full or read-only local disk fails StoreBlob the same way,
// at once; see node's package doc, "Full or read-only disk". Concurrency is bounded on each side
// (uploads, replicas received, blobs served, fetches); past a bound the
// node answers ErrSlowDown at once. A peer that stops making progress
// (SIGSTOP, a wedged disk) keeps its TCP connections open, so every
// transfer runs a stall watchdog (30s without progress fails it), and a
// receiving handler moves its read deadline forward before each read.
//
// Node.OpenBlob(ctx, ref, off, length) reads a blob for GET: from the
// local file when present, through its checksums; otherwise, or when the
// local copy is corrupt, from the other members, one after another,
// resuming at the byte where a broken transfer stopped (GET
// /rpc/blob/{id} with a Range). A local copy found corrupt mid-read
// hands over to the members at the first bad chunk, so the reader gets
// only verified bytes, and the copy is replaced in the background; with
// no good copy on any member the read fails (objstore.ErrUnavailable).
// A member serving a fetch verifies its own copy the same way: it refuses
// a corrupt copy (500), or breaks the transfer off before the bad chunk,
// and repairs its copy from the others. Reading a whole missing blob also stores
// it locally as it streams (the node heals itself); the final bytes are
// released to the reader only after the copy matched ref's size and MD5,
// so a corrupt copy fails the read rather than completing it. A range
// read of a missing blob streams just that range and heals in the
// background. OpenBlob takes the BlobRef, not just the ID, because the
// size and MD5 from the object record are what verifies a fetched copy.
// Node.FetchBlob(ctx, ref) fetches without reading, for eager catch-up.
//
// # Garbage
//
// Every blob is referenced by at most one record: an object or a part of
// a multipart upload. Copies (CopyObject, UploadPartCopy) copy the bytes
// into a new blob rather than share one, so no reference counting is
// needed: when a record goes away, its blobs are garbage. Blobs become
// garbage when
//
//  1. an applied command replaces or deletes the record referring to them
//     (PutObject or CompleteMultipartUpload over an existing object,
//     DeleteObject(s), UploadPart replacing a part number, Complete
//     leaving out uploaded parts, AbortMultipartUpload);
//  2. a command carrying a blob fails at apply (NoSuchBucket,
//     NoSuchUpload, PreconditionFailed): its blob is never referenced;
//  3. an upload fails before its command commits (client gone, checksum
//     mismatch, proposal lost): an orphan, on disk but never referenced;
//  4. a replica lands after its blob was already collected elsewhere
//     (background replication or a heal racing a delete).
//
// Cases 1 and 2 are known to the state machine, deterministically: the
// apply that orphans a blob records its ID in a garbage bucket, and each
// node drains that bucket (see "Garbage (node/blobgc.go)" below). Cases 3 and 4 are known to
// nobody, so Node.CollectBlobs(ctx, referenced, olderThan) scans the local
// store and removes every blob older than a grace period that referenced
// reports unknown; it catches cases 1 and 2 too if a drain was lost. The
// grace period protects blobs whose command is still on its way: a blob
// is written, then its command proposed. CollectBlobs first notes the time
// and runs a linearizable read barrier, so referenced sees every command
// committed before the pass began; a blob older than olderThan whose
// command had not committed by then was proposed more than olderThan ago.
// A proposal outlives ApplyTimeout only in pathological cases, so a grace
// period of an hour is safe by a wide margin and costs only disk space.
//
// # Integration with the state machine and the S3 layer
//
// Record format (raftfsm). An object record's body-location byte is 0 for
// an inline body and 1 for blobs, in which case the record lists them in
// part order (n = 1 for a single PutObject or a copy), each with ID, size,
// MD5 and checksums. The object's size is the sum; a byte range maps to
// parts through the running sum; GET/HEAD with partNumber=i is part i's
// range. A second index, blobs/ (blob ID -> size, MD5), is written in the
// same apply, so "is this blob referenced" is one lookup and a node can
// list what it must hold.
//
// Commands. The receiving node fixes everything non-deterministic (upload
// IDs, blob refs, checksums); the leader stamps the time. PutObject
// carries an optional blob ref instead of the inline body. Multipart
// uploads are CreateMultipartUpload, UploadPart (after StoreBlob; a part
// number present already releases its old blob), CompleteMultipartUpload
// and AbortMultipartUpload; see raftfsm's package doc for the checks and
// their order. A retried Complete whose object is already in place
// succeeds with it (the request's part ETags determine the multipart ETag,
// so no tombstone is needed). DeleteBucket of a bucket without objects
// drops its open uploads, releasing their parts. CopyObject and
// UploadPartCopy copy the bytes into a new blob (no sharing, no reference
// counts); a copy records the source ETag it was made from and fails with
// raftfsm.ErrSourceChanged if the source changed, and the node copies
// again.
//
// Garbage (node/blobgc.go). An apply that releases a blob, or a command
// carrying a blob that fails (NoSuchBucket, NoSuchUpload,
// PreconditionFailed), lists it in garbage/ with the command's time. Each
// node polls that list and removes a listed blob Config.BlobGarbageDelay
// (default a minute) after that time, so that a GET that read the old
// record just before still finds the file. garbage/ is local bookkeeping
// written deterministically: replicas differ only in how much they have
// drained. CollectBlobs runs every BlobCollectInterval with a grace period
// of BlobOrphanAge (both an hour by default) and removes what nothing
// refers to: blobs whose upload failed after StoreBlob, and replicas that
// arrived after their blob was drained. It leaves blobs still listed in
// garbage/ to the drain (whose delay, unlike a file's age, covers the
// read that just looked the record up).
//
// Read holds. A read of a blob-backed object holds its blobs on the node
// serving it until it ends, so a long download survives an overwrite or
// delete. Every path that removes a blob file honours holds: the drain
// skips a held blob and retries it on its next pass; the orphan
// collector, a discard and a peer's DELETE leave it and remove it the
// moment its last hold ends. Holds are local: a node that lacks a part
// and fetches it from a peer relies on the peer's drain delay.
//
// Failed uploads. After StoreBlob, the S3 layer calls DiscardBlob only
// when the command will not be proposed (a Content-MD5 or checksum
// mismatch). After a definite apply error the state machine has listed
// the blob as garbage; after objstore.ErrUnavailable the outcome is
// unknown and the command may still commit, so the blob is left to
// CollectBlobs.
//
// S3 layer. A PutObject body up to the inline threshold (64 KiB) stays in
// the log entry; a larger one, or one of unknown length that does not end
// within the threshold, streams into StoreBlob, so it is never held whole.
// Parts are always blobs. The chunk-signature and trailer verification
// sits in front of StoreBlob: a bad signature or checksum fails the upload,
// which removes the blob. GetObject returns an objstore.Body: for a
// blob-backed object it opens the parts covering the requested range one
// after another (OpenBlob per part), so one file and one fetch at a time.
//
// Snapshots and restarts. Snapshots carry metadata, inline bodies and the
// blobs/ index, not the blob files. Reads heal lazily (OpenBlob). Eagerly,
// every node walks the blobs/ index at start and every BlobSyncInterval
// and fetches what it lacks, a few at a time. A restart needs nothing
// else: Open removes half-written files, and committed blobs are durable.
// A blob acknowledged by StoreBlob lives on a majority of voters and its
// command commits on a majority; the two majorities may differ, which is
// fine because any holder can serve it.
package blobstore
