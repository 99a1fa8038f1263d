package node

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/strongboxdb/strongbox/objstore"
)

// blobPath is the file of blob id in node nd's store.
func blobPath(nd *Node, id string) string {
	return filepath.Join(nd.blobs().store.Dir(), id[:2], id)
}

func flipBlobByte(t *testing.T, nd *Node, id string, at int64) {
	t.Helper()
	f, err := os.OpenFile(blobPath(nd, id), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x20
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// readBlob reads [off, off+length) of ref through nd with reads of 256 KiB
// (a GET's) and returns what arrived before the first error.
func readBlob(t *testing.T, nd *Node, ref BlobRef, off, length int64) ([]byte, error) {
	t.Helper()
	r, err := nd.OpenBlob(blobCtx(t), ref, off, length)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []byte
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// sound reports whether nd's copy of ref is whole and passes its
// checksums.
func sound(t *testing.T, nd *Node, ref BlobRef, data []byte) bool {
	t.Helper()
	r, err := nd.blobs().store.OpenChecked(ref.ID, 0, -1)
	if err != nil {
		return false
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	return err == nil && bytes.Equal(got, data)
}

// TestCorruptBlobIsRepairedNeverServed damages one node's copy of a blob
// in the ways disks and crashes do; reads through that node return the
// right bytes, taken from a peer where the local copy is bad, and the
// local copy is replaced by a good one.
func TestCorruptBlobIsRepairedNeverServed(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	leader, followers := blobRoles(t, nodes)
	bad := followers[0]
	const size = 3<<20 + 123
	mid := int64(size / 2)
	for i, tc := range []struct {
		name        string
		damage      func(t *testing.T, id string)
		off, length int64
	}{
		{"flipped byte, whole read", func(t *testing.T, id string) { flipBlobByte(t, bad, id, mid) }, 0, -1},
		{"flipped byte in the first chunk, whole read", func(t *testing.T, id string) { flipBlobByte(t, bad, id, 10) }, 0, -1},
		{"flipped byte, range over it", func(t *testing.T, id string) { flipBlobByte(t, bad, id, mid) }, mid - 100_000, 200_000},
		{"truncated (torn), whole read", func(t *testing.T, id string) {
			if err := os.Truncate(blobPath(bad, id), mid); err != nil {
				t.Fatal(err)
			}
		}, 0, -1},
		{"truncated (torn), range", func(t *testing.T, id string) {
			if err := os.Truncate(blobPath(bad, id), mid); err != nil {
				t.Fatal(err)
			}
		}, 1000, 5000},
		{"tail zeroed, size kept (torn)", func(t *testing.T, id string) {
			if err := os.Truncate(blobPath(bad, id), mid); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(blobPath(bad, id), size); err != nil {
				t.Fatal(err)
			}
		}, 0, -1},
		{"checksum file damaged", func(t *testing.T, id string) {
			if err := os.Truncate(blobPath(bad, id)+".crc", 20); err != nil {
				t.Fatal(err)
			}
		}, 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := blobBytes(uint64(30+i), size)
			ref := storeBlobEverywhere(t, nodes, leader, data)
			tc.damage(t, ref.ID)
			if sound(t, bad, ref, data) {
				t.Fatal("the damage did not damage")
			}
			length := tc.length
			if length < 0 {
				length = size - tc.off
			}
			got, err := readBlob(t, bad, ref, tc.off, tc.length)
			if err != nil || !bytes.Equal(got, data[tc.off:tc.off+length]) {
				t.Fatalf("read of the damaged copy: %d bytes, %v", len(got), err)
			}
			waitBlob(t, "the local copy repaired", func() bool { return sound(t, bad, ref, data) })
			waitBlob(t, "no fetch in progress", func() bool { return len(bad.blobs().fetches) == 0 })
			noBlobTempFiles(t, bad)
			if st := bad.BlobStats(); st.Blobs != int64(i+1) {
				t.Fatalf("store counts %+v after %d blobs", st, i+1)
			}
		})
	}
}

// TestBlobWithoutChecksumsGetsThem: a blob written before chunk checksums
// existed is checked against its record's MD5 on its first read, and gets
// them; one that fails that check is repaired like any corrupt copy.
func TestBlobWithoutChecksumsGetsThem(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	leader, followers := blobRoles(t, nodes)
	old := followers[0]
	data := blobBytes(40, 1<<20+7)
	ref := storeBlobEverywhere(t, nodes, leader, data)
	if err := os.Remove(blobPath(old, ref.ID) + ".crc"); err != nil {
		t.Fatal(err)
	}
	if got, err := readBlob(t, old, ref, 100, 1000); err != nil || !bytes.Equal(got, data[100:1100]) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	if !sound(t, old, ref, data) {
		t.Fatal("no checksums after the first read")
	}
	if err := os.Remove(blobPath(old, ref.ID) + ".crc"); err != nil {
		t.Fatal(err)
	}
	flipBlobByte(t, old, ref.ID, 5)
	if got, err := readBlob(t, old, ref, 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read of a corrupt copy without checksums: %d bytes, %v", len(got), err)
	}
	waitBlob(t, "the copy repaired", func() bool { return sound(t, old, ref, data) })
}

// TestPeerNeverShipsCorruptCopy: a node fetching a blob it lacks from a
// peer whose copy is corrupt gets the bytes from another peer, never the
// bad ones, and the peer repairs its copy.
func TestPeerNeverShipsCorruptCopy(t *testing.T) {
	// Peers in configuration order: the corrupt one is asked first.
	order := orderBlobPeers
	t.Cleanup(func() { orderBlobPeers = order })
	orderBlobPeers = func([]raft.Server) {}
	nodes := startBlobCluster(t, 3)
	_, followers := blobRoles(t, nodes)
	lacking := followers[0]
	var first *Node
	for _, s := range lacking.currentServers() {
		if string(s.ID) != lacking.ID() && first == nil {
			for _, nd := range nodes {
				if nd.ID() == string(s.ID) {
					first = nd
				}
			}
		}
	}
	const size = 2<<20 + 5
	for i, tc := range []struct {
		name   string
		damage func(t *testing.T, id string)
	}{
		{"found mid-transfer", func(t *testing.T, id string) { flipBlobByte(t, first, id, size-10) }},
		{"found at open", func(t *testing.T, id string) {
			if err := os.Truncate(blobPath(first, id), 100); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := blobBytes(uint64(50+i), size)
			ref := storeBlobEverywhere(t, nodes, first, data)
			tc.damage(t, ref.ID)
			if err := lacking.blobs().store.Remove(ref.ID); err != nil {
				t.Fatal(err)
			}
			// A range read streams from a peer without a local copy to
			// check against: the peer's checks are all there is.
			if got, err := readBlob(t, lacking, ref, 1<<20, size-1<<20); err != nil || !bytes.Equal(got, data[1<<20:]) {
				t.Fatalf("range fetched past a corrupt peer: %d bytes, %v", len(got), err)
			}
			waitBlob(t, "the peer's copy repaired", func() bool { return sound(t, first, ref, data) })
			waitBlob(t, "the background heal of the lacking node", func() bool { return sound(t, lacking, ref, data) })
		})
	}
}

// TestCorruptEverywhereFailsTheRead: with every copy corrupt the read
// fails with ErrUnavailable, never returning a wrong byte, and the damaged
// files stay for an operator.
func TestCorruptEverywhereFailsTheRead(t *testing.T) {
	nodes := startBlobCluster(t, 3)
	leader, followers := blobRoles(t, nodes)
	const size = 2<<20 + 99
	for i, at := range []int64{10, size / 2} {
		data := blobBytes(uint64(60+i), size)
		ref := storeBlobEverywhere(t, nodes, leader, data)
		for _, nd := range nodes {
			flipBlobByte(t, nd, ref.ID, at)
		}
		got, err := readBlob(t, followers[0], ref, 0, -1)
		if !errors.Is(err, objstore.ErrUnavailable) {
			t.Fatalf("damage at %d: read %d bytes, err %v; want ErrUnavailable", at, len(got), err)
		}
		if int64(len(got)) > at || !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("damage at %d: %d bytes arrived before the error, not all of them right or past the damage", at, len(got))
		}
		for _, nd := range nodes {
			if !nd.HasBlob(ref.ID) {
				t.Fatalf("%s removed its damaged copy", nd.ID())
			}
		}
	}
	waitBlob(t, "no fetch in progress", func() bool { return len(followers[0].blobs().fetches) == 0 })
}
