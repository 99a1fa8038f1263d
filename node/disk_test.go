package node

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/objstore"
)

// count returns how many lines contain s.
func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.Lines(l.b.String()) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// startLoggedBlobCluster starts n nodes, each logging into its own buffer.
func startLoggedBlobCluster(t *testing.T, n int) ([]*Node, map[string]*logBuffer) {
	logs := map[string]*logBuffer{}
	nodes := startBlobClusterWith(t, n, func(c *Config) {
		b := newLogBuffer(t)
		logs[c.ID] = b
		c.Logger = slog.New(slog.NewTextHandler(b, nil))
	})
	return nodes, logs
}

const (
	diskLine      = "cannot write to disk"
	blobDiskLine  = "blob store " + diskLine
	blobAgainLine = "blob store writes to disk again"
)

// fillDisk makes a node's blob store see a full disk: a reserve larger
// than any disk. The same check a real reserve makes, so every layer above
// the file system runs as it would on a full disk.
func fillDisk(nd *Node) { nd.blobs().store.SetMinFree(math.MaxInt64) }
func freeDisk(nd *Node) { nd.blobs().store.SetMinFree(0) }
func noSpace(err error) bool {
	return errors.Is(err, objstore.ErrNoSpace) && errors.Is(err, objstore.ErrUnavailable)
}

// A node whose own disk is full answers every upload with ErrNoSpace (a
// 503 saying so in S3), logs that once however many uploads fail, leaves
// nothing behind on any node, keeps what it stored before, and takes the
// next upload once space is back, with no restart.
func TestStoreBlobOnFullLocalDisk(t *testing.T) {
	nodes, logs := startLoggedBlobCluster(t, 3)
	_, followers := blobRoles(t, nodes)
	f := followers[0]
	ctx := blobCtx(t)

	before := blobBytes(1, 3<<20)
	ref0, err := f.StoreBlob(ctx, bytes.NewReader(before), -1)
	if err != nil {
		t.Fatal(err)
	}
	waitBlob(t, "the earlier blob on every node", func() bool { return blobHolders(t, nodes, ref0.ID, before) == 3 })

	fillDisk(f)
	for range 5 {
		_, err := f.StoreBlob(ctx, bytes.NewReader(blobBytes(2, 3<<20)), -1)
		if !noSpace(err) {
			t.Fatalf("StoreBlob on a full disk: %v, want ErrNoSpace", err)
		}
	}
	if n := logs[f.ID()].count(blobDiskLine); n != 1 {
		t.Fatalf("%d %q lines for five refused uploads, want 1", n, blobDiskLine)
	}
	for _, nd := range nodes {
		noBlobTempFiles(t, nd)
		if st := nd.BlobStats(); st.Blobs != 1 {
			t.Fatalf("%s holds %d blobs, want only the earlier one", nd.ID(), st.Blobs)
		}
	}
	if blobHolders(t, nodes, ref0.ID, before) != 3 {
		t.Fatal("the earlier blob changed")
	}

	freeDisk(f)
	data := blobBytes(3, 3<<20)
	ref, err := f.StoreBlob(ctx, bytes.NewReader(data), -1)
	if err != nil {
		t.Fatalf("StoreBlob once space is back: %v", err)
	}
	if blobHolders(t, nodes, ref.ID, data) < 2 {
		t.Fatal("the blob stored after recovery is not on a majority")
	}
	if n := logs[f.ID()].count(blobAgainLine); n != 1 {
		t.Fatalf("%d %q lines after recovery, want 1", n, blobAgainLine)
	}
}

// Peers out of disk space refuse replicas with their own outcome: with a
// majority of them full the upload fails with ErrNoSpace, so the client
// learns why; with one full the upload succeeds on the others. A node
// with a full disk still serves a blob it lacks from a peer (it only
// skips keeping a copy), and catches up once space is back.
func TestStoreBlobWithPeersOutOfSpace(t *testing.T) {
	nodes, logs := startLoggedBlobCluster(t, 3)
	leader, followers := blobRoles(t, nodes)
	ctx := blobCtx(t)

	fillDisk(followers[0])
	fillDisk(followers[1])
	for range 3 {
		_, err := leader.StoreBlob(ctx, bytes.NewReader(blobBytes(4, 2<<20)), -1)
		if !noSpace(err) {
			t.Fatalf("StoreBlob with both peers full: %v, want ErrNoSpace", err)
		}
	}
	for _, nd := range nodes {
		noBlobTempFiles(t, nd)
		if st := nd.BlobStats(); st.Blobs != 0 {
			t.Fatalf("%s holds %d blobs after failed uploads", nd.ID(), st.Blobs)
		}
	}
	for _, f := range followers {
		if n := logs[f.ID()].count(blobDiskLine); n != 1 {
			t.Fatalf("%s: %d %q lines for three refused replicas, want 1", f.ID(), n, blobDiskLine)
		}
	}
	if n := logs[leader.ID()].count(diskLine); n != 0 {
		t.Fatalf("the leader, whose disk is fine, logged %d disk lines", n)
	}

	// One peer back: a majority can store.
	freeDisk(followers[1])
	full := followers[0]
	data := blobBytes(5, 2<<20)
	ref, err := leader.StoreBlob(ctx, bytes.NewReader(data), -1)
	if err != nil {
		t.Fatalf("StoreBlob with one peer full: %v", err)
	}
	if full.HasBlob(ref.ID) {
		t.Fatal("the full peer stored a replica")
	}
	// Reading it through the full node fetches it from a peer.
	rc, err := full.OpenBlob(ctx, ref, 0, -1)
	if err != nil {
		t.Fatalf("OpenBlob on a full node lacking the blob: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read through the full node: %d bytes, %v", len(got), err)
	}
	noBlobTempFiles(t, full)

	freeDisk(full)
	if err := full.FetchBlob(ctx, ref); err != nil {
		t.Fatalf("FetchBlob once space is back: %v", err)
	}
	if blobHolders(t, nodes, ref.ID, data) != 3 {
		t.Fatal("the blob is not on every node after catch-up")
	}
}

// One line when an episode starts, none while it lasts, one when it ends;
// an episode starting again within diskLogQuiet is reported only if it
// lasts past the quiet period or its cause differs.
func TestDiskWatchLogsOncePerEpisode(t *testing.T) {
	buf := newLogBuffer(t)
	now := time.Unix(1000, 0)
	d := newDiskWatch("blob store", "/data/blobs", "uploads fail", slog.New(slog.NewTextHandler(buf, nil)), "n1")
	d.now = func() time.Time { return now }
	enospc := &fs.PathError{Op: "write", Path: "/data/blobs/tmp/x", Err: syscall.ENOSPC}
	erofs := &fs.PathError{Op: "open", Path: "/data/blobs/tmp/y", Err: syscall.EROFS}

	if d.failed(errors.New("not a disk error")) != nil || d.err() != nil {
		t.Fatal("a non-disk error was recorded")
	}
	for range 100 {
		if err := d.failed(enospc); !errors.Is(err, objstore.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("failed(ENOSPC) = %v", err)
		}
	}
	now = now.Add(time.Second)
	if n := buf.count(diskLine); n != 1 || buf.count("errno=ENOSPC") != 1 || buf.count("dir=/data/blobs") != 1 {
		t.Fatalf("after 100 refused writes: %q", buf.String())
	}
	if !errors.Is(d.err(), objstore.ErrNoSpace) {
		t.Fatalf("err() during the episode = %v", d.err())
	}
	d.ok()
	d.ok()
	if buf.count("writes to disk again") != 1 || d.err() != nil {
		t.Fatalf("after recovery: %q, err() = %v", buf.String(), d.err())
	}

	// Flapping right after: no new line...
	d.failed(enospc)
	d.ok()
	d.failed(enospc)
	if n := buf.count(diskLine); n != 1 {
		t.Fatalf("a flap within the quiet period logged: %q", buf.String())
	}
	// ...unless it lasts past the quiet period...
	now = now.Add(diskLogQuiet)
	d.failed(enospc)
	if n := buf.count(diskLine); n != 2 {
		t.Fatalf("a lasting episode was not reported: %q", buf.String())
	}
	// ...or its cause changes.
	if err := d.failed(erofs); !errors.Is(err, objstore.ErrReadOnly) {
		t.Fatalf("failed(EROFS) = %v", err)
	}
	if n := buf.count(diskLine); n != 3 || buf.count("errno=EROFS") != 1 {
		t.Fatalf("a new cause was not reported: %q", buf.String())
	}
	// The reserve is a reason of its own.
	d.ok()
	now = now.Add(diskLogQuiet)
	d.failed(blobstore.ErrNoSpace)
	if buf.count(`errno="below reserve"`) != 1 {
		t.Fatalf("the reserve was not named: %q", buf.String())
	}
}

// String returns every line logged so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
