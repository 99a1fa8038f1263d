package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// setFault makes the store fail op (any op when op is "") with errno.
func setFault(s *Store, op string, errno syscall.Errno) {
	f := faultFunc(func(o, _ string) error {
		if op == "" || o == op {
			return errno
		}
		return nil
	})
	s.fault.Store(&f)
}

func clearFault(s *Store) { s.fault.Store(nil) }

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// idWithPrefix returns a fresh blob ID starting with the two hex digits
// p, so a test controls which fan-out directory a blob needs.
func idWithPrefix(p string) string { return p + NewID()[2:] }

// A full or read-only file system, whichever step of a write it refuses,
// fails the write with ErrNoSpace or ErrReadOnly (errno kept), leaves no
// temporary file and no blob, does not touch blobs stored before, and the
// same write succeeds as soon as the file system accepts writes again,
// with the same Store.
func TestFullOrReadOnlyDiskFailsCleanlyAndRecovers(t *testing.T) {
	// One errno of each kind; TestUnwritable covers the others.
	errnos := []struct {
		errno syscall.Errno
		want  error
	}{
		{syscall.ENOSPC, ErrNoSpace},
		{syscall.EROFS, ErrReadOnly},
	}
	ops := []string{"create", "write", "sync", "mkdir", "rename", "syncdir"}
	for _, e := range errnos {
		for _, op := range ops {
			t.Run(fmt.Sprintf("%s/%v", op, e.errno), func(t *testing.T) {
				s := openStore(t)
				old := payload(1, 100<<10)
				oldInfo, err := s.Put(context.Background(), bytes.NewReader(old), CreateOptions{ID: idWithPrefix("00")})
				if err != nil {
					t.Fatal(err)
				}
				data := payload(2, BufferSize+123) // two writes
				id := idWithPrefix("ff")           // a fan-out directory that does not exist yet
				setFault(s, op, e.errno)
				_, err = s.Put(context.Background(), bytes.NewReader(data), CreateOptions{ID: id})
				if !errors.Is(err, e.want) || !errors.Is(err, e.errno) {
					t.Fatalf("Put on a file system refusing %s with %v: %v, want %v wrapping the errno", op, e.errno, err, e.want)
				}
				if got := Unwritable(err); got != e.want {
					t.Fatalf("Unwritable(%v) = %v, want %v", err, got, e.want)
				}
				if s.Has(id) {
					t.Fatal("the failed blob is visible")
				}
				if names := tmpFiles(t, s); len(names) != 0 {
					t.Fatalf("temporary files left behind: %v", names)
				}
				if st := s.Stats(); st.Blobs != 1 || st.Bytes != oldInfo.Size {
					t.Fatalf("stats after the failure: %+v, want the one earlier blob", st)
				}
				if sum(readAll(t, s, oldInfo.ID)) != sum(old) {
					t.Fatal("the blob stored before the failure changed")
				}

				clearFault(s)
				info, err := s.Put(context.Background(), bytes.NewReader(data), CreateOptions{ID: id})
				if err != nil {
					t.Fatalf("Put once the file system accepts writes again: %v", err)
				}
				if info.Size != int64(len(data)) || sum(readAll(t, s, id)) != sum(data) {
					t.Fatal("the blob written after recovery reads back wrong")
				}
			})
		}
	}
}

// Unwritable sorts errors by errno, wherever in the chain it is.
func TestUnwritable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{nil, nil},
		{errors.New("plain"), nil},
		{syscall.EIO, nil},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, ErrNoSpace},
		{fmt.Errorf("bolt: %w", &fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}), ErrNoSpace},
		{&os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.EROFS}, ErrReadOnly},
		{fmt.Errorf("wrapped: %w", syscall.EACCES), ErrReadOnly},
		{fmt.Errorf("x: %w", ErrNoSpace), ErrNoSpace},
	} {
		if got := Unwritable(c.err); got != c.want {
			t.Errorf("Unwritable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// The reserve: with less than MinFree available, Create refuses at once
// and a Writer stops within spaceCheckInterval of the space running out,
// with ErrNoSpace naming the reserve; with space back, writes succeed.
func TestReserveRefusesWritesBeforeTheDiskIsFull(t *testing.T) {
	const minFree = 64 << 20
	s, err := OpenWith(filepath.Join(t.TempDir(), "blobs"), Options{MinFree: minFree})
	if err != nil {
		t.Fatal(err)
	}
	var free atomic.Int64
	free.Store(minFree - 1)
	s.space = func(string) (int64, int64, error) { return free.Load(), 1 << 40, nil }

	if _, err := s.Create(CreateOptions{}); !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "reserve") {
		t.Fatalf("Create below the reserve: %v, want ErrNoSpace naming the reserve", err)
	}

	// Space runs out after 3 MiB of the body have been read.
	free.Store(minFree * 2)
	data := payload(3, 8*BufferSize)
	var read atomic.Int64
	body := readerFunc(func(p []byte) (int, error) {
		off := read.Load()
		if off >= int64(len(data)) {
			return 0, io.EOF
		}
		n := copy(p, data[off:])
		if read.Add(int64(n)) >= 3<<20 {
			free.Store(minFree - 1)
		}
		return n, nil
	})
	w, err := s.Create(CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.ReadFrom(body)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("write past the reserve: %v, want ErrNoSpace", err)
	}
	if w.Size() > 3<<20+spaceCheckInterval+BufferSize {
		t.Fatalf("wrote %d bytes, more than %d past the point where space ran out", w.Size(), spaceCheckInterval+BufferSize)
	}
	if _, err := w.Commit(); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Commit after the failure: %v", err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Fatalf("temporary files left behind: %v", names)
	}

	free.Store(minFree * 2)
	info, err := s.Put(context.Background(), bytes.NewReader(data), CreateOptions{})
	if err != nil {
		t.Fatalf("Put with space back: %v", err)
	}
	if sum(readAll(t, s, info.ID)) != sum(data) {
		t.Fatal("blob reads back wrong")
	}
}

// Temporary files (the blob's and its checksums') that cannot be removed
// when their write fails (the file system turned read-only) are removed
// by a later Create once they can be, not only at the next Open.
func TestUnremovableTempFileIsRemovedLater(t *testing.T) {
	s := openStore(t)
	f := faultFunc(func(op, _ string) error {
		if op == "write" || op == "remove" {
			return syscall.EROFS
		}
		return nil
	})
	s.fault.Store(&f)
	if _, err := s.Put(context.Background(), bytes.NewReader(payload(4, 1000)), CreateOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Put: %v, want ErrReadOnly", err)
	}
	if names := tmpFiles(t, s); len(names) != 2 {
		t.Fatalf("temporary files: %v, want the blob's and its checksums', which could not be removed", names)
	}
	clearFault(s)
	data := payload(5, 1000)
	info, err := s.Put(context.Background(), bytes.NewReader(data), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Fatalf("temporary files after a later write: %v", names)
	}
	if sum(readAll(t, s, info.ID)) != sum(data) {
		t.Fatal("blob reads back wrong")
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts
// it at cleanup; it skips the test where mounting is not permitted (not
// root, no CAP_SYS_ADMIN, no mount binary).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// The same on a real full file system: a 4 MiB tmpfs refuses a 6 MiB
// blob partway with ENOSPC; nothing is left behind, the blob stored
// before is intact, and once space is freed the store (not reopened)
// takes the blob.
func TestRealFullFileSystem(t *testing.T) {
	mnt := mountTmpfs(t, 4<<20)
	s, err := Open(filepath.Join(mnt, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	old := payload(6, 1<<20)
	oldInfo, err := s.Put(context.Background(), bytes.NewReader(old), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	big := payload(7, 6<<20)
	_, err = s.Put(context.Background(), bytes.NewReader(big), CreateOptions{})
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put larger than the free space: %v, want ErrNoSpace with ENOSPC", err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Fatalf("temporary files left behind: %v", names)
	}
	if st := s.Stats(); st.Blobs != 1 {
		t.Fatalf("stats: %+v, want the one earlier blob", st)
	}
	if sum(readAll(t, s, oldInfo.ID)) != sum(old) {
		t.Fatal("the blob stored before changed")
	}
	// Free space: drop the earlier blob, then a 2.5 MiB blob fits.
	if err := s.Remove(oldInfo.ID); err != nil {
		t.Fatal(err)
	}
	data := big[:5<<19]
	info, err := s.Put(context.Background(), bytes.NewReader(data), CreateOptions{})
	if err != nil {
		t.Fatalf("Put after freeing space: %v", err)
	}
	if sum(readAll(t, s, info.ID)) != sum(data) {
		t.Fatal("blob reads back wrong")
	}
}

// checkedRead reads a whole blob through its chunk checksums.
func checkedRead(t *testing.T, s *Store, id string) ([]byte, error) {
	t.Helper()
	r, err := s.OpenChecked(id, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// A repair (a Writer with Replace) that a full or read-only file system
// refuses at any step fails with ErrNoSpace or ErrReadOnly, leaves
// neither the blob's nor the checksums' temporary file, and leaves a copy
// whose checksums match it: the old one, or the new one if only the
// directory fsync failed after both renames. Never the new checksums
// beside the old blob.
func TestFullDiskDuringReplaceLeavesAVerifiedCopy(t *testing.T) {
	for _, op := range []string{"create", "write", "sync", "rename", "syncdir"} {
		t.Run(op, func(t *testing.T) {
			s := openStore(t)
			id := NewID()
			old := payload(8, 3*ChunkSize+17)
			if _, err := s.Put(context.Background(), bytes.NewReader(old), CreateOptions{ID: id}); err != nil {
				t.Fatal(err)
			}
			repl := payload(9, len(old))
			setFault(s, op, syscall.ENOSPC)
			_, err := s.Put(context.Background(), bytes.NewReader(repl), CreateOptions{ID: id, Replace: true})
			if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("replace on a disk refusing %s: %v, want ErrNoSpace wrapping ENOSPC", op, err)
			}
			clearFault(s)
			if names := tmpFiles(t, s); len(names) != 0 {
				t.Fatalf("temporary files left behind: %v", names)
			}
			got, err := checkedRead(t, s, id)
			if err != nil {
				t.Fatalf("checked read after the failed replace: %v", err)
			}
			if sum(got) != sum(old) && (op != "syncdir" || sum(got) != sum(repl)) {
				t.Fatal("the blob holds neither copy")
			}
			if st := s.Stats(); st.Blobs != 1 || st.Bytes != int64(len(old)) {
				t.Fatalf("stats: %+v, want one blob of %d bytes", st, len(old))
			}
		})
	}
}
