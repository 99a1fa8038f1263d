package blobstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/strongboxdb/strongbox/s3api/checksum"
)

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// payload returns n deterministic pseudo-random bytes.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func tmpFiles(t *testing.T, s *Store) []string {
	t.Helper()
	des, err := os.ReadDir(s.tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func readAll(t *testing.T, s *Store, id string) []byte {
	t.Helper()
	f, size, err := s.Open(id)
	if err != nil {
		t.Fatalf("Open %s: %v", id, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size {
		t.Fatalf("Open reported size %d, read %d bytes", size, len(b))
	}
	return b
}

func TestWriteCommitRead(t *testing.T) {
	s := openStore(t)
	data := payload(1, 3*BufferSize+12345)
	w, err := s.Create(CreateOptions{Checksums: []checksum.Algorithm{checksum.CRC32C, checksum.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	// Odd-sized reads exercise the buffer filling in ReadFrom.
	n, err := w.ReadFrom(iotest.HalfReader(bytes.NewReader(data)))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	if s.Has(w.ID()) {
		t.Fatal("blob visible before Commit")
	}
	info, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if info.ID != w.ID() || !ValidID(info.ID) || info.Size != int64(len(data)) || !bytes.Equal(info.MD5, sum[:]) {
		t.Fatalf("info = %+v", info)
	}
	if want := checksum.CRC32C.Of(data); info.Checksums["crc32c"] != want {
		t.Errorf("crc32c = %q, want %q", info.Checksums["crc32c"], want)
	}
	if want := checksum.SHA256.Of(data); info.Checksums["sha256"] != want {
		t.Errorf("sha256 = %q, want %q", info.Checksums["sha256"], want)
	}
	if len(info.Checksums) != 2 {
		t.Errorf("checksums = %v, want crc32c and sha256 only", info.Checksums)
	}
	if !s.Has(info.ID) {
		t.Fatal("committed blob missing")
	}
	if got := readAll(t, s, info.ID); !bytes.Equal(got, data) {
		t.Fatal("read back different bytes")
	}
	if st := s.Stats(); st != (Stats{Blobs: 1, Bytes: int64(len(data))}) {
		t.Fatalf("stats = %+v", st)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Fatalf("temporary files left: %v", names)
	}
	if err := w.Abort(); err != nil || !s.Has(info.ID) {
		t.Fatalf("Abort after Commit: %v, blob present %v", err, s.Has(info.ID))
	}
}

func TestEmptyBlob(t *testing.T) {
	s := openStore(t)
	info, err := s.Put(context.Background(), bytes.NewReader(nil), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 0 || info.MD5Hex() != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatalf("info = %+v", info)
	}
	if got := readAll(t, s, info.ID); len(got) != 0 {
		t.Fatalf("read %d bytes", len(got))
	}
}

func TestRangeReads(t *testing.T) {
	s := openStore(t)
	data := payload(2, 100_000)
	info, err := s.Put(context.Background(), bytes.NewReader(data), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		off, length int64
		want        []byte
	}{
		{"whole", 0, -1, data},
		{"prefix", 0, 10, data[:10]},
		{"middle", 5000, 70_000, data[5000:75_000]},
		{"suffix", 99_990, -1, data[99_990:]},
		{"last byte", 99_999, 1, data[99_999:]},
		{"empty at end", 100_000, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.OpenRange(info.ID, tc.off, tc.length)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
	for _, bad := range [][2]int64{{-1, 5}, {100_001, -1}, {99_000, 1001}, {0, 100_001}} {
		if _, err := s.OpenRange(info.ID, bad[0], bad[1]); !errors.Is(err, ErrInvalidRange) {
			t.Errorf("OpenRange(%d, %d) = %v, want ErrInvalidRange", bad[0], bad[1], err)
		}
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	s := openStore(t)
	w, err := s.Create(CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(3, 4096)); err != nil {
		t.Fatal(err)
	}
	if len(tmpFiles(t, s)) != 2 {
		t.Fatalf("temporary files while writing: %v, want the blob's and its checksums'", tmpFiles(t, s))
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Fatalf("temporary files left: %v", names)
	}
	if s.Has(w.ID()) || s.Stats() != (Stats{}) {
		t.Fatalf("aborted blob visible: stats %+v", s.Stats())
	}
	if _, err := w.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Abort succeeded")
	}
}

func TestSizeLimit(t *testing.T) {
	s := openStore(t)
	const limit = 2*BufferSize + 7
	// Exactly the limit is accepted.
	info, err := s.Put(context.Background(), bytes.NewReader(payload(4, limit)), CreateOptions{Limit: limit})
	if err != nil || info.Size != limit {
		t.Fatalf("Put at the limit: %+v, %v", info, err)
	}
	// One byte more is refused, and leaves nothing behind.
	w, err := s.Create(CreateOptions{Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.ReadFrom(bytes.NewReader(payload(5, limit+1)))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFrom past the limit = %v, want ErrTooLarge", err)
	}
	if w.Size() > limit {
		t.Fatalf("wrote %d bytes past a %d-byte limit", w.Size(), limit)
	}
	if _, err := w.Commit(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Commit of a failed writer = %v, want ErrTooLarge", err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Fatalf("temporary files left: %v", names)
	}
	if st := s.Stats(); st.Blobs != 1 {
		t.Fatalf("stats = %+v, want only the first blob", st)
	}
}

func TestTruncatedSourceIsAnError(t *testing.T) {
	s := openStore(t)
	w, err := s.Create(CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	// A request body cut short reports io.ErrUnexpectedEOF; that must not
	// pass for the end of the blob.
	src := io.MultiReader(bytes.NewReader(payload(6, 1000)), iotest.ErrReader(io.ErrUnexpectedEOF))
	if _, err := w.ReadFrom(src); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadFrom = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestPutHonoursContext(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, bytes.NewReader(payload(7, 10)), CreateOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context = %v", err)
	}
	if s.Stats() != (Stats{}) || len(tmpFiles(t, s)) != 0 {
		t.Fatal("cancelled Put left something behind")
	}
}

// A crash between Create and Commit leaves a temporary file; reopening the
// store removes it and keeps (and counts) every committed blob.
func TestOpenRemovesCrashLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var total int64
	for i := range 5 {
		data := payload(uint64(10+i), 1000*(i+1))
		info, err := s.Put(context.Background(), bytes.NewReader(data), CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.ID)
		total += info.Size
	}
	// The "crash": a writer that never finishes, plus a stray file.
	w, err := s.Create(CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(20, 5000)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tmpDirName, "junk"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A crash between Commit's renames: checksums whose blob never came.
	stray := s.sumPath(NewID())
	if err := os.MkdirAll(filepath.Dir(stray), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stray, []byte(sumMagic), 0o600); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if names := tmpFiles(t, s2); len(names) != 0 {
		t.Fatalf("leftovers survived Open: %v", names)
	}
	if st := s2.Stats(); st != (Stats{Blobs: 5, Bytes: total}) {
		t.Fatalf("stats after reopen = %+v, want 5 blobs, %d bytes", st, total)
	}
	for _, id := range ids {
		if !s2.Has(id) {
			t.Fatalf("committed blob %s lost", id)
		}
		if _, err := os.Stat(s2.sumPath(id)); err != nil {
			t.Fatalf("checksums of committed blob %s lost: %v", id, err)
		}
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stray checksum file survived Open: %v", err)
	}
	if s2.Has(w.ID()) {
		t.Fatal("uncommitted blob visible after reopen")
	}
}

func TestCommitSameIDTwiceKeepsOne(t *testing.T) {
	s := openStore(t)
	data := payload(30, 5000)
	id := NewID()
	for range 2 {
		info, err := s.Put(context.Background(), bytes.NewReader(data), CreateOptions{ID: id})
		if err != nil || info.ID != id {
			t.Fatalf("Put = %+v, %v", info, err)
		}
	}
	if st := s.Stats(); st != (Stats{Blobs: 1, Bytes: 5000}) {
		t.Fatalf("stats = %+v", st)
	}
	if len(tmpFiles(t, s)) != 0 {
		t.Fatal("duplicate left a temporary file")
	}
}

func TestRemoveAndWalk(t *testing.T) {
	s := openStore(t)
	var ids []string
	for i := range 20 {
		info, err := s.Put(context.Background(), bytes.NewReader(payload(uint64(40+i), 100+i)), CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.ID)
	}
	// An open reader survives removal.
	f, _, err := s.Open(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, id := range ids[:10] {
		if err := s.Remove(id); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove(id); err != nil {
			t.Fatalf("second Remove: %v", err)
		}
	}
	if b, err := io.ReadAll(f); err != nil || len(b) != 100 {
		t.Fatalf("reading a removed blob through an open file: %d bytes, %v", len(b), err)
	}
	if _, _, err := s.Open(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open removed blob = %v, want ErrNotFound", err)
	}
	entries, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 10 {
		t.Fatalf("List returned %d entries, want 10", len(entries))
	}
	var bytesLeft int64
	for i, e := range entries {
		if i > 0 && entries[i-1].ID >= e.ID {
			t.Fatal("List not in ID order")
		}
		if e.ModTime.IsZero() {
			t.Fatal("zero ModTime")
		}
		bytesLeft += e.Size
	}
	if st := s.Stats(); st != (Stats{Blobs: 10, Bytes: bytesLeft}) {
		t.Fatalf("stats = %+v, want 10 blobs, %d bytes", st, bytesLeft)
	}
}

func TestInvalidIDs(t *testing.T) {
	s := openStore(t)
	for _, id := range []string{"", "../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdeg", "tmp"} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
		if _, _, err := s.Open(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Open(%q) = %v", id, err)
		}
		if err := s.Remove(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Remove(%q) = %v", id, err)
		}
		if s.Has(id) {
			t.Errorf("Has(%q)", id)
		}
		if id != "" {
			if _, err := s.Create(CreateOptions{ID: id}); !errors.Is(err, ErrInvalidID) {
				t.Errorf("Create(%q) = %v", id, err)
			}
		}
	}
	if id := NewID(); !ValidID(id) {
		t.Fatalf("NewID() = %q is not valid", id)
	}
}

func TestFollowTailsTheWriter(t *testing.T) {
	s := openStore(t)
	data := payload(50, 3*BufferSize+999)
	w, err := s.Create(CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	const readers = 3
	got := make([][]byte, readers)
	errs := make([]error, readers)
	var wg sync.WaitGroup
	for i := range readers {
		r, err := w.Follow()
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer r.Close()
			got[i], errs[i] = io.ReadAll(iotest.OneByteReader(io.LimitReader(r, 100)))
			if errs[i] == nil {
				var rest []byte
				rest, errs[i] = io.ReadAll(r)
				got[i] = append(got[i], rest...)
			}
		})
	}
	// Write in uneven pieces, committing only after the writes: readers
	// see EOF only at Commit.
	for off := 0; off < len(data); {
		n := min(len(data)-off, 1+off%700_000)
		if _, err := w.Write(data[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if _, ok := w.Sealed(); ok {
		t.Fatal("sealed before Commit")
	}
	info, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range readers {
		if errs[i] != nil || !bytes.Equal(got[i], data) {
			t.Fatalf("reader %d: %d bytes, %v", i, len(got[i]), errs[i])
		}
	}
	if sealed, ok := w.Sealed(); !ok || sealed.Size != info.Size || !bytes.Equal(sealed.MD5, info.MD5) {
		t.Fatalf("Sealed() = %+v, %v", sealed, ok)
	}
	if _, err := w.Follow(); err == nil {
		t.Fatal("Follow after Commit succeeded")
	}
}

func TestFollowSeesAbort(t *testing.T) {
	s := openStore(t)
	w, err := s.Create(CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.Follow()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := io.ReadAll(r)
		done <- err
	}()
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrAborted) {
		t.Fatalf("follower after Abort: %v, want ErrAborted", err)
	}
}

func TestFollowCloseUnblocksRead(t *testing.T) {
	s := openStore(t)
	w, err := s.Create(CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	r, err := w.Follow()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := r.Read(make([]byte, 10)) // blocks: nothing written yet
		done <- err
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("Read on a closed follower succeeded")
	}
}

func TestCopy(t *testing.T) {
	data := payload(60, 2*BufferSize+5)
	var dst bytes.Buffer
	n, err := Copy(&dst, bytes.NewReader(data))
	if err != nil || n != int64(len(data)) || !bytes.Equal(dst.Bytes(), data) {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	if _, err := Copy(io.Discard, iotest.ErrReader(io.ErrUnexpectedEOF)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Copy error = %v", err)
	}
}
