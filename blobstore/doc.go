// Package blobstore keeps the bodies of large objects on one node: a
// directory of immutable blob files, written once while streaming and
// hashing, then read by range. Bodies too large for the Raft log live here
// (DESIGN.md, "Data path"); the node package replicates them between nodes
// (node/blob.go) and the state machine records which blobs an object is
// made of. This doc also describes that replication and the plan for
// wiring blobs into the state machine and the S3 layer.
//
// # Layout and durability
//
//	<dir>/tmp/<id>-<random>.tmp   blobs being written; all removed by Open
//	<dir>/<xx>/<id>               committed blobs; xx = first two hex digits of id
//
// A blob ID is 128 random bits in lowercase hex (NewID), chosen by the node
// that receives the upload; its replicas on other nodes carry the same ID.
// Only strings that pass ValidID ever become file names, so an ID from the
// network cannot name another path.
//
// Create starts a Writer on a temporary file. Write and ReadFrom append to
// it while computing MD5 (the ETag), any requested S3 checksums (through
// s3api/checksum's Set, one pass) and enforcing a size limit. Every 8 MiB
// the Writer asks the kernel to start writing back what it has (Linux
// sync_file_range), so Commit's fsync does not stall for the whole blob.
// Commit fsyncs the file, renames it to its final name and fsyncs that
// directory (a fan-out directory is created with its first blob, and the
// store directory fsynced then): a committed blob survives a crash, an
// uncommitted one is a temporary file that the next Open deletes. Abort removes the temporary
// file. Committing an ID that already exists keeps the existing file: IDs
// are unique and blobs never change, so a blob received twice is the same
// blob.
//
// Open, OpenRange, Has, Size, Remove, Walk/List and Stats read and manage
// committed blobs. A range read goes through io.SectionReader and reads
// only the bytes asked for. Removal unlinks the name; a reader that
// already opened the file finishes its read.
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
// because they were saturated). Concurrency is bounded on each side
// (uploads, replicas received, blobs served, fetches); past a bound the
// node answers ErrSlowDown at once. A peer that stops making progress
// (SIGSTOP, a wedged disk) keeps its TCP connections open, so every
// transfer runs a stall watchdog (30s without progress fails it), and a
// receiving handler moves its read deadline forward before each read.
//
// Node.OpenBlob(ctx, ref, off, length) reads a blob for GET: from the
// local file when present; otherwise from the other members, one after
// another, resuming at the byte where a broken transfer stopped (GET
// /rpc/blob/{id} with a Range). Reading a whole missing blob also stores
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
// node drains that bucket (see the plan below). Cases 3 and 4 are known to
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
// # Integration plan (state machine and S3 layer)
//
// Record format. raftfsm's object record already has a body-location byte
// (0 = inline in the b/ sub-bucket). Add location 1 = blobs: the record
// ends, after the version's usual fields, with
//
//	[n uvarint] n x { [blob id: 16 raw bytes] [size uvarint] [md5: 16 raw bytes]
//	                  [part checksums: the record's checksum-map encoding] }
//
// in part order (n = 1 for a single PutObject). The object's size is the
// sum; a byte range maps to parts through the running sum, computed when
// reading (n <= 10,000); GET/HEAD with partNumber=i is part i's range and
// x-amz-mp-parts-count is n. Existing records decode unchanged. Keep a
// second index, blobs/ (blob id -> bucket, key or upload, part), written
// in the same apply, so that referenced(id) is one bbolt lookup.
//
// Commands. The receiving node fixes everything non-deterministic (upload
// IDs, blob refs, checksums); the leader stamps the time:
//
//   - PutObject gains an optional blob ref in place of the inline body.
//     The node calls StoreBlob, verifies Content-MD5 and x-amz-checksum-*
//     (headers, or aws-chunked trailers known only after the body) against
//     the BlobRef, then proposes. ETag = BlobRef.MD5.
//   - CreateMultipartUpload{bucket, key, upload ID (random, receiving
//     node), content type, headers, user metadata, tagging, checksum
//     algorithm and type (COMPOSITE or FULL_OBJECT)}. Upload records live
//     in uploads/<bucket>/ under an order-preserving encoding of
//     (key, initiated time, upload ID): the key with 0x00 escaped as 0x00
//     0xFF and terminated by 0x00 0x01 (S3 keys may contain U+0000), then
//     the time big-endian, so ListMultipartUploads (prefix, delimiter,
//     key-marker, upload-id-marker) is a cursor walk like ListObjects.
//   - UploadPart{bucket, key, upload ID, part number, blob ref, part
//     checksums}, proposed after StoreBlob. Apply: NoSuchUpload if the
//     upload is gone (the command's blob goes to garbage); a part number
//     already present is replaced (the old blob goes to garbage). Parts
//     live under parts/<upload ID><part number, 2 bytes BE>. Part ETag =
//     the blob's MD5. UploadPartCopy reads the source range (inline body or
//     OpenBlob), StoreBlobs it and proposes the same command; its
//     x-amz-copy-source-if-* conditions are checked on the read.
//   - CompleteMultipartUpload{bucket, key, upload ID, [(part number,
//     ETag, checksums)], If-Match, If-None-Match}. Apply, in this order:
//     NoSuchUpload; InvalidPartOrder unless part numbers strictly
//     ascend; InvalidPart for a part not uploaded or whose ETag differs;
//     EntityTooSmall for any part but the last under 5 MiB; the
//     preconditions against the current object (as PutObject does), then
//     write the object record (location 1, listed parts in order), delete
//     the upload and its parts, and put unlisted parts' blobs and the
//     replaced object's blobs in the garbage bucket. ETag = hex(MD5 of the
//     concatenated binary part MD5s) + "-" + number of parts. Checksums:
//     COMPOSITE = base64(H(concatenated binary part checksums)) + "-N";
//     FULL_OBJECT (CRC types only) = the CRCs combined over part lengths
//     (crc combination is pure arithmetic). Both are deterministic
//     functions of the part records, so apply computes them. Keep a
//     completed-upload tombstone (upload ID -> bucket, key, ETag) for a
//     while, so a client retrying a Complete whose first answer was a 503
//     gets the result instead of NoSuchUpload.
//   - AbortMultipartUpload{bucket, key, upload ID}: NoSuchUpload, or delete
//     the upload and its parts, all part blobs to garbage.
//   - DeleteObject(s) and any overwrite: the old record's blobs to garbage.
//     DeleteBucket must decide about open uploads (refuse, or abort them in
//     the same apply); either way no part blob may be left referenced by
//     nothing but a dead upload.
//
// Garbage bucket. garbage/ maps (applied index 8 bytes BE, sequence)
// -> blob ID, written by apply. A node-local drainer wakes after applies,
// waits a short delay (say a minute, so a GET that read the old record
// just before the overwrite still finds the file: an open file survives
// removal, the delay covers the gap between reading the record and
// opening the file), removes the blobs from the local store and deletes
// the entries in its own local bbolt transaction. The bucket is local
// bookkeeping: replicas may differ in what they have drained, so it must
// stay out of anything that compares state; a snapshot may carry
// undrained entries, which the restored node simply drains (Remove is
// idempotent). CollectBlobs (hourly, grace one hour, referenced = the
// blobs/ index) is the backstop for everything else.
//
// Failed uploads. After StoreBlob, the node may call Node.DiscardBlob
// only when the command definitely did not and will not commit: a digest
// or checksum mismatch before proposing, or a definite apply error
// (PreconditionFailed, NoSuchBucket, NoSuchUpload: apply also lists the
// blob as garbage). After objstore.ErrUnavailable the outcome is unknown
// and the command may still commit: leave the blob to CollectBlobs.
//
// S3 layer. PutObject: a body with a Content-Length up to the inline
// threshold (tens of KiB) stays inline as today; anything larger, or of
// unknown length (aws-chunked), is read into a threshold-sized buffer and,
// if it does not end there, continues into StoreBlob(io.MultiReader(head,
// rest)), so it is never held whole. The chunk-signature verifying reader
// sits in front of StoreBlob: a bad signature fails the upload, which
// removes the blob. The Backend's GetObject must return a reader instead
// of a []byte: for location 1 it opens the parts covering the requested
// range one after another (OpenBlob per part, each opened when the
// previous is done, so one file and one fetch at a time) and copies with
// blobstore.Copy. If OpenBlob fails because no member holds a blob, the
// record may have been overwritten and collected in between: redo the
// read (barrier, record, open) once before answering 503. The object size
// cap becomes 5 GiB for blob bodies.
//
// Snapshots and restarts. Snapshots carry metadata and inline bodies
// only: the bbolt file, not the blob directory. A node that installs a
// snapshot, or that was down while blobs were written, holds records whose
// blobs it lacks. Reads heal lazily (OpenBlob). Eagerly: after Restore and
// at start, walk the blobs/ index and FetchBlob every ID the store lacks,
// a few at a time, retrying later on failure; and after each apply batch,
// hand the blob IDs the batch referenced to the same fetcher (a bounded,
// non-blocking queue: a dropped ID is found by the next walk). A restart
// needs nothing else: Open removes half-written files, and committed blobs
// are durable. A blob acknowledged by StoreBlob lives on a majority of
// voters and its command commits on a majority; the two majorities may
// differ, which is fine because any holder can serve it.
package blobstore
