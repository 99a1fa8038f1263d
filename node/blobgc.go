package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/raftfsm"
)

// Blob maintenance: three loops per node, started by Start and stopped by
// Close (see blobstore's package doc, "Garbage" and "Snapshots and
// restarts").
//
//   - drainGarbage removes the blobs the state machine listed in garbage/
//     (released by an overwrite, delete, abort, replaced or unlisted part,
//     or carried by a command that failed), BlobGarbageDelay after the
//     listing command's time, unless an open read still holds the blob.
//   - syncBlobs walks the blobs/ index and fetches every referenced blob
//     this node lacks: it was down when the blob was written, or installed
//     a snapshot (snapshots carry no blob files). Reads heal lazily too
//     (OpenBlob); this makes the node whole without waiting for them.
//   - collectOrphans removes blobs that no record refers to, that are not
//     listed in garbage/ (the drain's) and that are older than
//     BlobOrphanAge: uploads that failed after StoreBlob (client gone,
//     proposal lost, crash), and replicas that arrived after their blob
//     was drained. A held blob is removed when its last read ends.

const (
	garbagePage = 1000 // garbage entries read per page of a drain pass
	syncPage    = 1000 // index entries read per sync step
	syncFetches = 4    // concurrent fetches of one sync pass
)

func (n *Node) startBlobMaintenance() {
	n.wg.Add(3)
	go func() {
		defer n.wg.Done()
		n.drainGarbage()
	}()
	go func() {
		defer n.wg.Done()
		n.every(n.cfg.BlobSyncInterval, true, n.syncBlobs)
	}()
	go func() {
		defer n.wg.Done()
		n.every(n.cfg.BlobCollectInterval, false, n.collectOrphans)
	}()
}

// every runs fn every interval (and at once if now is set) until Close.
func (n *Node) every(interval time.Duration, now bool, fn func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.closed
		cancel()
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	if now {
		fn(ctx)
	}
	for {
		select {
		case <-n.closed:
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// drainGarbage polls garbage/ and removes each listed blob once
// BlobGarbageDelay has passed since the command that listed it (its
// leader-stamped time; clock skew between nodes shortens or lengthens the
// delay by that much). Entries are in log order, so times ascend and a
// pass stops at the first entry that is too young. A blob an open read
// still uses (held) is skipped and retried on the next pass, as is one
// whose removal failed.
func (n *Node) drainGarbage() {
	delay := n.cfg.BlobGarbageDelay
	tick := min(max(delay/4, 20*time.Millisecond), 5*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-n.closed:
			return
		case <-t.C:
		}
		n.drainGarbagePass(delay)
	}
}

func (n *Node) drainGarbagePass(delay time.Duration) {
	cutoff := time.Now().Add(-delay)
	var after []byte
	for {
		select {
		case <-n.closed:
			return
		default:
		}
		entries, err := n.fsm.Garbage(after, garbagePage)
		if err != nil {
			if !errors.Is(err, raftfsm.ErrClosed) {
				n.cfg.Logger.Warn("reading blob garbage", "err", err)
			}
			return
		}
		var done [][]byte
		young := false
		for _, e := range entries {
			if e.Time.After(cutoff) {
				young = true
				break
			}
			after = e.Key
			if n.removeGarbage(e.ID) {
				done = append(done, e.Key)
			}
		}
		if len(done) > 0 {
			if err := n.fsm.DeleteGarbage(done); err != nil {
				if !errors.Is(err, raftfsm.ErrClosed) && n.disk.fsm.failed(err) == nil {
					n.cfg.Logger.Warn("deleting drained garbage entries", "err", err)
				}
				return
			}
			n.disk.fsm.ok()
		}
		if young || len(entries) < garbagePage {
			return
		}
	}
}

// removeGarbage removes one garbage blob from the local store and reports
// whether its entry is done with. A blob that a record refers to again is
// kept: IDs are never reused, so that would be a bug elsewhere, and
// keeping the file is the safe side of it.
func (n *Node) removeGarbage(id string) bool {
	if ref, err := n.fsm.BlobReferenced(id); err != nil || ref {
		if ref {
			n.cfg.Logger.Error("garbage blob is still referenced; keeping it", "blob", id)
		}
		return ref
	}
	b := n.blobs()
	if !b.enter() {
		return false
	}
	defer b.leave()
	// A held blob keeps its entry: the next pass tries again.
	removed, err := b.removeUnlessHeld(id, false)
	if err != nil {
		if b.disk.failed(err) == nil { // a read-only disk is logged once, by the watch
			n.cfg.Logger.Warn("removing garbage blob", "blob", id, "err", err)
		}
		return false
	}
	return removed
}

// Read holds. Every path that deletes a blob file goes through
// removeUnlessHeld: the garbage drain, the orphan collector, the removal
// of a discarded upload and a peer's DELETE. A blob the open read of an
// object still needs is never removed under it; the drain retries it on
// its next pass (its entry stays listed), and the other paths mark it to
// be removed the moment its last hold ends, so a collected blob is
// removed once the read is over, not an orphan-collection interval later.

// hold marks blobs as in use by a reader of an object version that may
// be overwritten or deleted while it reads. Counts, because two readers
// may hold the same blob.
func (b *blobService) hold(refs []BlobRef) {
	b.heldMu.Lock()
	defer b.heldMu.Unlock()
	for _, r := range refs {
		b.held[r.ID]++
	}
}

// unhold ends a hold taken by hold, removing the blobs whose removal
// waited for it.
func (b *blobService) unhold(refs []BlobRef) {
	var due []string
	b.heldMu.Lock()
	for _, r := range refs {
		if b.held[r.ID]--; b.held[r.ID] <= 0 {
			delete(b.held, r.ID)
			if _, ok := b.deferred[r.ID]; ok {
				delete(b.deferred, r.ID)
				due = append(due, r.ID)
			}
		}
	}
	b.heldMu.Unlock()
	if len(due) == 0 || !b.enter() {
		return // stopping: the next collection after a restart finds them
	}
	defer b.leave()
	for _, id := range due {
		if _, err := b.removeUnlessHeld(id, true); err != nil && b.disk.failed(err) == nil {
			b.log("removing a blob once its read ended", "blob", id, "err", err)
		}
	}
}

// removeUnlessHeld removes blob id from the local store, unless an open
// read holds it: then it reports false and, with deferIt, marks the blob
// to be removed when the last hold ends. The check and the removal are
// one step under heldMu, so no hold can be taken between them. The caller
// must have entered b.
func (b *blobService) removeUnlessHeld(id string, deferIt bool) (removed bool, err error) {
	b.heldMu.Lock()
	defer b.heldMu.Unlock()
	if b.held[id] > 0 {
		if deferIt {
			b.deferred[id] = struct{}{}
		}
		return false, nil
	}
	if err := b.store.Remove(id); err != nil {
		return false, err
	}
	return true, nil
}

// syncBlobs fetches every referenced blob this node lacks, a few at a
// time. It reads the local index without a barrier: a blob referenced
// after the walk is the next pass's business (or the first read's).
//
// The pass starts with a read barrier, retried until it succeeds: a node
// that just restarted has not replayed or received the entries written
// while it was down, and walking its index before that would miss exactly
// the blobs it lacks.
func (n *Node) syncBlobs(ctx context.Context) {
	for {
		bctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
		err := n.readBarrier(bctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.cfg.ElectionTimeout):
		}
	}
	b := n.blobs()
	if !b.enter() {
		return
	}
	defer b.leave()
	// A full disk ends the pass (stop): every other fetch would fail the
	// same way.
	ctx, stop := context.WithCancel(ctx)
	defer stop() // after wg.Wait, which is deferred later
	sem := make(chan struct{}, syncFetches)
	var wg sync.WaitGroup
	defer wg.Wait()
	after := ""
	for ctx.Err() == nil {
		var missing []BlobRef
		last, err := n.fsm.WalkBlobs(after, syncPage, func(ref BlobRef) {
			if !b.store.Has(ref.ID) {
				missing = append(missing, ref)
			}
		})
		if err != nil {
			if !errors.Is(err, raftfsm.ErrClosed) {
				n.cfg.Logger.Warn("walking the blob index", "err", err)
			}
			return
		}
		for _, ref := range missing {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				err := n.FetchBlob(ctx, ref)
				switch {
				case err == nil || ctx.Err() != nil:
				case blobstore.Unwritable(err) != nil:
					// Logged once by the watch; the next pass retries.
					stop()
				default:
					n.cfg.Logger.Warn("fetching a missing blob; will retry", "blob", ref.ID, "err", err)
				}
			}()
		}
		if last == "" {
			break
		}
		after = last
	}
}

// collectOrphans removes unreferenced blobs older than BlobOrphanAge.
func (n *Node) collectOrphans(ctx context.Context) {
	res, err := n.CollectBlobs(ctx, n.keepFromCollection, n.cfg.BlobOrphanAge)
	if err != nil {
		if ctx.Err() == nil {
			n.cfg.Logger.Warn("collecting orphan blobs", "err", err)
		}
		return
	}
	if res.Removed > 0 || res.Held > 0 {
		n.cfg.Logger.Info("removed orphan blobs", "count", res.Removed, "bytes", res.RemovedBytes, "held_by_reads", res.Held)
	}
}

// keepFromCollection is the orphan collector's "referenced": a blob a
// record refers to, and one still listed in garbage/, which is left to the
// drain. A read may have looked up the record that referred to a listed
// blob just before its release and not yet taken its hold; the drain's
// BlobGarbageDelay allows for that, the age of the file (which may be
// years) does not. The lookups run in this order because a release
// removes the reference and lists the blob in one transaction: one of the
// two sees it. When unsure (an error), keep.
func (n *Node) keepFromCollection(id string) bool {
	ok, err := n.fsm.BlobReferenced(id)
	if err == nil && !ok {
		ok, err = n.fsm.GarbageListed(id)
	}
	return ok || err != nil
}
