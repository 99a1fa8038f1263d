package raftfsm

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/strongboxdb/strongbox/objstore"
	bolt "go.etcd.io/bbolt"
)

func openFSM(tb testing.TB) *FSM {
	tb.Helper()
	f, err := Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f
}

// logSeq hands out consecutive raft log entries, as a leader would.
type logSeq struct {
	index, term uint64
}

func (s *logSeq) next(typ raft.LogType, data []byte) *raft.Log {
	s.index++
	if s.term == 0 {
		s.term = 1
	}
	return &raft.Log{Index: s.index, Term: s.term, Type: typ, Data: data}
}

// cmd wraps c in the next entry, stamping Time with the entry index so
// every command has a distinct, reproducible time.
func (s *logSeq) cmd(c *Command) *raft.Log {
	c.Time = int64(s.index+1) * 1e9
	return s.next(raft.LogCommand, c.Marshal())
}

func putReq(bucket, key, body string) *objstore.PutRequest {
	sum := md5.Sum([]byte(body))
	return &objstore.PutRequest{
		Bucket: bucket,
		Key:    key,
		Body:   []byte(body),
		Info: objstore.ObjectInfo{
			Key:         key,
			Size:        int64(len(body)),
			ETag:        hex.EncodeToString(sum[:]),
			ContentType: "text/plain",
		},
	}
}

func etagOf(body string) string {
	sum := md5.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}

// applyOne applies a single command as the next entry and returns its result.
func applyOne(tb testing.TB, f *FSM, s *logSeq, c *Command) *Result {
	tb.Helper()
	l := s.cmd(c)
	r, ok := f.Apply(l).(*Result)
	if !ok {
		tb.Fatalf("Apply returned %T", f.Apply(l))
	}
	if r.Index != l.Index {
		tb.Fatalf("result index %d, want %d", r.Index, l.Index)
	}
	return r
}

func applyBatch(tb testing.TB, f *FSM, logs []*raft.Log) []*Result {
	tb.Helper()
	out := f.ApplyBatch(logs)
	if len(out) != len(logs) {
		tb.Fatalf("ApplyBatch returned %d results for %d logs", len(out), len(logs))
	}
	rs := make([]*Result, len(out))
	for i, o := range out {
		rs[i] = o.(*Result)
		if rs[i].Index != logs[i].Index {
			tb.Fatalf("result %d has index %d, want %d", i, rs[i].Index, logs[i].Index)
		}
	}
	return rs
}

// dump renders the entire bbolt file (every nested bucket, key and value,
// the applied index included) as sorted lines: two FSMs with equal dumps
// hold identical state.
func dump(tb testing.TB, f *FSM) string {
	tb.Helper()
	var sb strings.Builder
	var walk func(path string, b *bolt.Bucket) error
	walk = func(path string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(path+"/"+hex.EncodeToString(k), b.Bucket(k))
			}
			fmt.Fprintf(&sb, "%s %x=%x\n", path, k, v)
			return nil
		})
	}
	err := f.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return walk(string(name), b)
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(&sb, "applied=%d\n", f.AppliedIndex())
	return sb.String()
}

// memSink is a raft.SnapshotSink into memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

func snapshotBytes(tb testing.TB, f *FSM) []byte {
	tb.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		tb.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		tb.Fatal(err)
	}
	if !sink.closed || sink.cancelled {
		tb.Fatalf("sink closed=%v cancelled=%v", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

var objectsPage = objstore.ListOptions{Delimiter: "/", MaxKeys: 100}

func nopCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
