package node

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A read must never be served by a round that started before it arrived:
// that round's commit index may predate a write the reader saw
// acknowledged. Rounds here return the number of rounds started so far,
// standing in for a commit index captured at round start.
func TestReadBatcherNeverReusesAnEarlierRound(t *testing.T) {
	var started atomic.Uint64
	release := make(chan struct{})
	b := newReadBatcher(func(context.Context) (uint64, error) {
		n := started.Add(1)
		<-release
		return n, nil
	}, time.Minute)

	first := make(chan uint64)
	go func() {
		idx, _ := b.readIndex(context.Background())
		first <- idx
	}()
	// Wait until round 1 is in flight, then start more readers: they must
	// all be served by round 2, which begins only after round 1 ends.
	for started.Load() != 1 {
		time.Sleep(time.Millisecond) // polling for the round to start
	}
	const late = 20
	results := make(chan uint64, late)
	var wg sync.WaitGroup
	for i := 0; i < late; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx, err := b.readIndex(context.Background())
			if err != nil {
				t.Error(err)
			}
			results <- idx
		}()
	}
	// Let every late reader enqueue before round 1 finishes.
	for {
		b.mu.Lock()
		queued := b.next != nil && b.next.readers == late
		b.mu.Unlock()
		if queued {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if idx := <-first; idx != 1 {
		t.Fatalf("first reader served by round %d", idx)
	}
	wg.Wait()
	close(results)
	for idx := range results {
		if idx != 2 {
			t.Fatalf("late reader served by round %d, want 2", idx)
		}
	}
	if n := started.Load(); n != 2 {
		t.Fatalf("%d rounds for 21 readers, want 2 (one shared confirmation per round)", n)
	}
}

func TestReadBatcherPropagatesErrorsAndHonorsContext(t *testing.T) {
	boom := errors.New("boom")
	b := newReadBatcher(func(context.Context) (uint64, error) { return 0, boom }, time.Minute)
	if _, err := b.readIndex(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}

	block := make(chan struct{})
	defer close(block)
	slow := newReadBatcher(func(context.Context) (uint64, error) { <-block; return 1, nil }, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := slow.readIndex(ctx); err == nil {
		t.Fatal("cancelled reader got an index")
	}
}
