package raftfsm

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
)

func TestWaitAppliedAlreadyApplied(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	applyOne(t, f, &s, NewNoop())
	applyOne(t, f, &s, NewNoop())
	// Even a cancelled context: the index is reached, so there is no wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, idx := range []uint64{0, 1, 2} {
		if err := f.WaitApplied(ctx, idx); err != nil {
			t.Fatalf("WaitApplied(%d) = %v", idx, err)
		}
	}
	if err := f.WaitApplied(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitApplied(3) with cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestWaitAppliedUnblocksOnApply(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	const waiters = 64
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for i := range waiters {
		target := uint64(1 + i%5) // some wait for an entry in the middle of a batch
		wg.Go(func() {
			if err := f.WaitApplied(context.Background(), target); err != nil {
				errs <- err
				return
			}
			if got := f.AppliedIndex(); got < target {
				errs <- errors.New("returned before the index was applied")
			}
		})
	}
	applyOne(t, f, &s, NewNoop())
	applyBatch(t, f, []*raft.Log{s.cmd(NewNoop()), s.cmd(NewNoop()), s.cmd(NewNoop())})
	applyOne(t, f, &s, NewNoop())
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestWaitAppliedHonorsCancel(t *testing.T) {
	f := openFSM(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.WaitApplied(ctx, 10) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitApplied = %v, want context.Canceled", err)
	}
	if f.AppliedIndex() != 0 {
		t.Fatal("nothing was applied")
	}
}

func TestWaitAppliedReturnsOnClose(t *testing.T) {
	f, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.WaitApplied(context.Background(), 10) }()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitApplied = %v, want ErrClosed", err)
	}
}

// TestConcurrentReadsDuringApplyAndRestore runs readers against applies,
// snapshots and restores; with -race it checks the locking, and every read
// must see a consistent state (no errors other than missing buckets/keys).
func TestConcurrentReadsDuringApplyAndRestore(t *testing.T) {
	logs := genLogs(11, 300)
	src := openFSM(t)
	applySplit(t, src, logs[:150], 1, 16)
	snapData := snapshotBytes(t, src)

	f := openFSM(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	readErr := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := f.ListBuckets(); err != nil {
					readErr <- err
					return
				}
				_, _ = f.HeadObject("alpha", "a")
				_, _, _ = f.GetObject("beta", "dir/x")
				_, _ = f.ListObjects("gamma", objectsPage)
			}
		})
	}
	applySplit(t, f, logs[:100], 2, 16)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	persisted := make(chan error, 1)
	go func() {
		var sink memSink
		persisted <- snap.Persist(&sink)
	}()
	applySplit(t, f, logs[100:150], 3, 16)
	if err := <-persisted; err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if err := f.Restore(nopCloser(snapData)); err != nil {
		t.Fatal(err)
	}
	applySplit(t, f, logs[150:], 4, 16)
	cancel()
	wg.Wait()
	close(readErr)
	for err := range readErr {
		t.Fatal(err)
	}
	applySplit(t, src, logs[150:], 5, 16)
	if dump(t, f) != dump(t, src) {
		t.Fatal("state differs after concurrent restore")
	}
}
