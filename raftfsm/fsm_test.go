package raftfsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/strongboxdb/strongbox/objstore"
	bolt "go.etcd.io/bbolt"
)

// genLogs returns a reproducible log of n entries mixing every command type
// with entries bound to fail: missing buckets, existing buckets, non-empty
// bucket deletes, failed preconditions, undecodable and invalid commands,
// plus configuration entries.
func genLogs(seed uint64, n int) []*raft.Log {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buckets := []string{"alpha", "beta", "gamma"}
	keys := []string{"a", "a/b", "a/c", "b", "dir/x", "dir/y", "z", "ü", "k1", "k2"}
	var s logSeq
	logs := make([]*raft.Log, 0, n)
	for len(logs) < n {
		if rng.IntN(17) == 0 {
			s.term++ // elections happen
		}
		b, k := buckets[rng.IntN(len(buckets))], keys[rng.IntN(len(keys))]
		var l *raft.Log
		switch x := rng.IntN(100); {
		case x < 8:
			l = s.cmd(NewCreateBucket(b))
		case x < 12:
			l = s.cmd(NewDeleteBucket(b))
		case x < 60:
			p := putReq(b, k, fmt.Sprintf("body %d of %s", rng.IntN(4), k))
			switch rng.IntN(6) {
			case 0:
				p.IfNoneMatch = "*"
			case 1:
				p.IfMatch = "*"
			case 2:
				p.IfMatch = `"` + etagOf(fmt.Sprintf("body %d of %s", rng.IntN(4), k)) + `"`
			}
			if rng.IntN(3) == 0 {
				p.Info.UserMeta = map[string]string{"n": fmt.Sprint(rng.IntN(9)), "m": "x"}
			}
			if rng.IntN(4) == 0 {
				p.Info.Tags = map[string]string{"t": fmt.Sprint(rng.IntN(3))}
			}
			l = s.cmd(NewPutObject(p))
		case x < 65:
			cp := &objstore.CopyRequest{SrcBucket: buckets[rng.IntN(len(buckets))], SrcKey: keys[rng.IntN(len(keys))], Bucket: b, Key: k}
			switch rng.IntN(5) {
			case 0:
				cp.IfNoneMatch = "*"
			case 1:
				cp.SrcIfMatch = `"` + etagOf(fmt.Sprintf("body %d of %s", rng.IntN(4), cp.SrcKey)) + `"`
			case 2:
				cp.ReplaceMetadata, cp.ContentType = true, "text/copied"
				cp.ReplaceTags, cp.Tags = true, map[string]string{"copied": "1"}
			case 3:
				cp.ChecksumAlgorithm = "crc32c"
			}
			l = s.cmd(NewCopyObject(cp))
		case x < 67:
			l = s.cmd(NewDeleteObjects(b, []string{k, keys[rng.IntN(len(keys))]}))
		case x < 69:
			l = s.cmd(NewPutObjectTagging(b, k, map[string]string{"tag": fmt.Sprint(rng.IntN(5))}))
		case x < 70:
			l = s.cmd(NewPutBucketCors(b, []objstore.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}, MaxAgeSeconds: int64(rng.IntN(3)) - 1}}))
		case x < 88:
			l = s.cmd(NewDeleteObject(b, k))
		case x < 92:
			l = s.cmd(NewNoop())
		case x < 95:
			l = s.next(raft.LogCommand, []byte{commandVersion, byte(rng.IntN(256))})
		case x < 97:
			l = s.cmd(NewPutObject(putReq(b, "", "no key")))
		default:
			l = s.next(raft.LogConfiguration, []byte("cfg"))
		}
		logs = append(logs, l)
	}
	return logs
}

// applySplit feeds logs to f in batches of random sizes (1..maxBatch) and
// returns the results in log order.
func applySplit(t *testing.T, f *FSM, logs []*raft.Log, seed uint64, maxBatch int) []*Result {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []*Result
	for len(logs) > 0 {
		n := min(1+rng.IntN(maxBatch), len(logs))
		if n == 1 && rng.IntN(2) == 0 {
			r := f.Apply(logs[0]).(*Result)
			out = append(out, r)
		} else {
			out = append(out, applyBatch(t, f, logs[:n])...)
		}
		logs = logs[n:]
	}
	return out
}

// resultKey reduces a Result to what must agree across replicas.
func resultKey(r *Result) string {
	return fmt.Sprintf("%d/%d/%q/%+v", r.Index, errorCode(r.Err), errMsg(r.Err), r.Object)
}

func errMsg(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestDeterminismAcrossBatchSplits(t *testing.T) {
	logs := genLogs(42, 400)
	var (
		wantDump    string
		wantResults []string
	)
	splits := []struct {
		seed     uint64
		maxBatch int
	}{{1, 1}, {2, 7}, {3, 64}, {4, 400}}
	for _, sp := range splits {
		t.Run(fmt.Sprintf("seed%d_max%d", sp.seed, sp.maxBatch), func(t *testing.T) {
			f := openFSM(t)
			rs := applySplit(t, f, logs, sp.seed, sp.maxBatch)
			var keys []string
			failures := 0
			for _, r := range rs {
				keys = append(keys, resultKey(r))
				if r.Err != nil {
					failures++
				}
			}
			if failures < 50 || failures > 350 {
				t.Fatalf("%d failing entries: the log does not exercise both paths", failures)
			}
			d := dump(t, f)
			if wantDump == "" {
				wantDump, wantResults = d, keys
				return
			}
			if d != wantDump {
				t.Fatalf("state differs from the first split")
			}
			if !reflect.DeepEqual(keys, wantResults) {
				for i := range keys {
					if keys[i] != wantResults[i] {
						t.Fatalf("result %d differs:\n%s\n%s", i, keys[i], wantResults[i])
					}
				}
			}
		})
	}
}

func TestReplayAfterRestartIsSkipped(t *testing.T) {
	logs := genLogs(7, 300)
	dir := t.TempDir()
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	applySplit(t, f, logs[:200], 1, 16)
	applied := f.AppliedIndex()
	if applied != logs[199].Index {
		t.Fatalf("AppliedIndex = %d, want %d", applied, logs[199].Index)
	}
	before := dump(t, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	f, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.AppliedIndex() != applied {
		t.Fatalf("reopened AppliedIndex = %d, want %d", f.AppliedIndex(), applied)
	}
	if got := dump(t, f); got != before {
		t.Fatal("state changed across close/open")
	}
	// Raft replays from its last snapshot: here, from the very beginning.
	for i, r := range applySplit(t, f, logs[:200], 2, 32) {
		if r.Err != nil || r.Object.Key != "" || r.Index != logs[i].Index {
			t.Fatalf("replayed entry %d produced %+v, want an empty result", i, r)
		}
	}
	if got := dump(t, f); got != before {
		t.Fatal("replay changed state")
	}
	// Batches straddling the boundary apply only the new part.
	applySplit(t, f, logs[150:], 3, 40)

	ref := openFSM(t)
	applySplit(t, ref, logs, 4, 50)
	if dump(t, f) != dump(t, ref) {
		t.Fatal("restarted FSM differs from one that applied the log once")
	}
}

func TestReplayDoesNotFlipConditionalPut(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s logSeq
	create := s.cmd(NewCreateBucket("b"))
	put := s.cmd(NewPutObject(withIf(putReq("b", "k", "first"), "", "*")))
	del := s.cmd(NewDeleteObject("b", "k"))
	logs := []*raft.Log{create, put, del}
	for _, r := range applyBatch(t, f, logs) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Without the skip, the If-None-Match put would succeed again and
	// resurrect the deleted key.
	for _, l := range logs {
		f.Apply(l)
	}
	if _, _, err := f.GetObject("b", "k"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("GetObject after replay: %v (the delete was undone)", err)
	}
	if f.AppliedIndex() != del.Index {
		t.Fatalf("AppliedIndex = %d", f.AppliedIndex())
	}
}

func TestSnapshotRestore(t *testing.T) {
	logs := genLogs(99, 400)
	src := openFSM(t)
	applySplit(t, src, logs[:250], 1, 32)
	atSnapshot := dump(t, src)

	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Applies continue while the snapshot is pending; it must not see them.
	applySplit(t, src, logs[250:], 2, 32)
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	snap.Release() // idempotent

	// Restore into an FSM that already holds unrelated state.
	dst := openFSM(t)
	var s logSeq
	runSteps(t, dst, &s, []step{
		{"create", NewCreateBucket("unrelated"), nil},
		{"put", NewPutObject(putReq("unrelated", "x", "y")), nil},
	})
	// A waiter for an index the snapshot covers is released by Restore.
	waited := make(chan error, 1)
	go func() { waited <- dst.WaitApplied(context.Background(), logs[249].Index) }()

	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatalf("WaitApplied: %v", err)
	}
	if got := dump(t, dst); got != atSnapshot {
		t.Fatalf("restored state differs from the snapshot's")
	}
	if _, err := dst.GetBucket("unrelated"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("prior state survived Restore: %v", err)
	}
	if dst.AppliedIndex() != logs[249].Index {
		t.Fatalf("AppliedIndex = %d, want %d", dst.AppliedIndex(), logs[249].Index)
	}
	// The restored FSM continues from the snapshot like the source did.
	applySplit(t, dst, logs[250:], 3, 32)
	if dump(t, dst) != dump(t, src) {
		t.Fatal("restored FSM diverged after applying the rest of the log")
	}
}

func TestRestoreSurvivesReopen(t *testing.T) {
	src := openFSM(t)
	applySplit(t, src, genLogs(5, 100), 1, 10)
	data := snapshotBytes(t, src)

	dir := t.TempDir()
	dst, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	want := dump(t, dst)
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	dst, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if dump(t, dst) != want || dst.AppliedIndex() != src.AppliedIndex() {
		t.Fatal("restored state lost across reopen")
	}
}

// failingReader returns some bytes and then an error, like a snapshot
// transfer cut off mid-way.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestRestoreFailureKeepsOldState(t *testing.T) {
	src := openFSM(t)
	applySplit(t, src, genLogs(3, 60), 1, 10)
	good := snapshotBytes(t, src)

	foreign := func() []byte {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "x.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var buf bytes.Buffer
		err = db.Update(func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucket([]byte("other")); err != nil {
				return err
			}
			_, err := tx.WriteTo(&buf)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}()

	tests := []struct {
		name string
		r    io.Reader
	}{
		{"garbage", bytes.NewReader([]byte("definitely not a bbolt file"))},
		{"empty", bytes.NewReader(nil)},
		{"truncated", bytes.NewReader(good[:len(good)/3])},
		{"transfer error", &failingReader{bytes.NewReader(good)}},
		{"foreign bbolt file", bytes.NewReader(foreign)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openFSM(t)
			var s logSeq
			runSteps(t, f, &s, []step{{"create", NewCreateBucket("keep"), nil}})
			before := dump(t, f)
			if err := f.Restore(io.NopCloser(tt.r)); err == nil {
				t.Fatal("Restore succeeded")
			}
			if dump(t, f) != before {
				t.Fatal("failed Restore changed state")
			}
			runSteps(t, f, &s, []step{{"still applies", NewPutObject(putReq("keep", "k", "v")), nil}})
		})
	}
}

func TestSnapshotPersistCancelsOnError(t *testing.T) {
	f := openFSM(t)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &errSink{}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("Persist succeeded on a failing sink")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("sink cancelled=%v closed=%v", sink.cancelled, sink.closed)
	}
}

type errSink struct{ memSink }

func (s *errSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// A failed commit stops the FSM as a unit: the batch has no effect, Done
// fires with an ErrStoreFailed cause, every later apply is refused, and a
// reopened store resumes from the last durable index, so raft's replay
// applies the failed entry then.
func TestCommitFailureStopsFSM(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s logSeq
	if r := applyOne(t, f, &s, NewCreateBucket("b")); r.Err != nil {
		t.Fatal(r.Err)
	}
	applied := f.AppliedIndex()
	select {
	case <-f.Done():
		t.Fatal("Done closed while healthy")
	default:
	}
	if f.Err() != nil {
		t.Fatalf("Err() = %v while healthy", f.Err())
	}

	disk := errors.New("injected I/O error")
	f.InjectCommitFailure(disk)
	put := s.cmd(NewPutObject(putReq("b", "k", "v")))
	r := f.Apply(put).(*Result)
	if !errors.Is(r.Err, ErrStoreFailed) {
		t.Fatalf("failed commit's result: %v, want ErrStoreFailed", r.Err)
	}
	select {
	case <-f.Done():
	default:
		t.Fatal("Done not closed after a store failure")
	}
	if err := f.Err(); !errors.Is(err, ErrStoreFailed) || !strings.Contains(err.Error(), disk.Error()) {
		t.Fatalf("Err() = %v, want ErrStoreFailed naming the cause", err)
	}
	if f.AppliedIndex() != applied {
		t.Fatalf("AppliedIndex moved to %d after a failed commit", f.AppliedIndex())
	}
	if _, err := f.HeadObject("b", "k"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("failed batch left an effect: HeadObject = %v", err)
	}
	later := s.cmd(NewPutObject(putReq("b", "k2", "v2")))
	if r := f.Apply(later).(*Result); !errors.Is(r.Err, ErrStoreFailed) {
		t.Fatalf("apply after the failure: %v, want ErrStoreFailed", r.Err)
	}
	if err := f.WaitApplied(context.Background(), later.Index); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("WaitApplied after the failure: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(f.Err(), ErrStoreFailed) {
		t.Fatalf("Close replaced the failure cause: %v", f.Err())
	}

	f, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.AppliedIndex() != applied {
		t.Fatalf("reopened AppliedIndex = %d, want %d", f.AppliedIndex(), applied)
	}
	for _, r := range f.ApplyBatch([]*raft.Log{put, later}) {
		if err := r.(*Result).Err; err != nil {
			t.Fatalf("replay after reopen: %v", err)
		}
	}
	if _, err := f.HeadObject("b", "k"); err != nil {
		t.Fatalf("replayed entry not applied: %v", err)
	}
}
