package raftfsm

import "errors"

// Errors of this package. Client-level outcomes (no such bucket, failed
// precondition, ...) are the objstore sentinels and travel in Result.Err;
// the errors below describe the command bytes or the local store itself.
var (
	// ErrInvalidCommand: the bytes are not a command this version can apply
	// (unknown encoding version or type, truncated or corrupt payload) or a
	// field is out of range for the store (empty or over-long bucket or key,
	// Size not matching Body). When it appears in Result.Err the entry was
	// consumed and its index applied, but nothing else changed, identically
	// on every node. Retrying the same bytes gives the same answer.
	ErrInvalidCommand = errors.New("raftfsm: invalid command")

	// ErrInvalidResult: UnmarshalResult was given bytes that are not an
	// encoded Result. The outcome of the write it describes is unknown.
	ErrInvalidResult = errors.New("raftfsm: invalid result")

	// ErrStoreFailed: a local bbolt operation failed while applying (disk
	// full, I/O error, or a broken invariant in the file). To stay in step
	// with the Raft log the FSM stops applying: every later Apply returns it,
	// Snapshot refuses, WaitApplied returns it, Done is closed and Err
	// returns it. Nothing of the failed batch was applied, yet its entries
	// are committed, so to a client the outcome is unknown, not a failure.
	// Reads keep serving the last committed state. The node takes itself
	// out of service; after a restart the entries past the last durably
	// applied index are replayed from the Raft log.
	ErrStoreFailed = errors.New("raftfsm: local store failed")

	// ErrClosed: the FSM was closed. Nothing was read or changed.
	ErrClosed = errors.New("raftfsm: closed")

	// ErrSourceChanged: a CopyObject whose bytes the node copied into a
	// blob found, at apply, that the source is no longer the version it
	// copied (or that its body location changed). Nothing was changed and
	// the copied blob is garbage; the node copies again and re-proposes.
	ErrSourceChanged = errors.New("raftfsm: copy source changed")
)
