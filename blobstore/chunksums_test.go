package blobstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

func putBlob(t testing.TB, s *Store, data []byte, opts CreateOptions) Info {
	t.Helper()
	info, err := s.Put(context.Background(), bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// readChecked reads [off, off+length) through a CheckedReader with reads
// of bufSize bytes and returns what it got before the first error.
func readChecked(t *testing.T, s *Store, id string, off, length int64, bufSize int) ([]byte, error) {
	t.Helper()
	r, err := s.OpenChecked(id, off, length)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []byte
	buf := make([]byte, bufSize)
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

// flipByte inverts one byte of a file in place.
func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func TestCheckedReadReturnsTheBlob(t *testing.T) {
	s := openStore(t)
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 5*ChunkSize + 777} {
		data := payload(uint64(size)+1, size)
		id := putBlob(t, s, data, CreateOptions{}).ID
		if err := iotest.TestReader(mustOpenChecked(t, s, id, 0, -1), data); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		n := int64(size)
		ranges := [][2]int64{{0, n}, {0, 0}, {n, 0}, {n / 2, n - n/2}, {0, n / 3}, {min(1, n), max(n-2, 0)}}
		if n > ChunkSize {
			ranges = append(ranges, [2]int64{ChunkSize - 1, 2}, [2]int64{ChunkSize, min(ChunkSize, n-ChunkSize)}, [2]int64{min(ChunkSize+5, n), max(n-ChunkSize-5, 0)})
		}
		for _, rg := range ranges {
			for _, bufSize := range []int{1, 1000, ChunkSize, 3*ChunkSize + 5, 1 << 20} {
				got, err := readChecked(t, s, id, rg[0], rg[1], bufSize)
				if err != nil || !bytes.Equal(got, data[rg[0]:rg[0]+rg[1]]) {
					t.Fatalf("%d bytes, range %d+%d, reads of %d: %d bytes, %v", size, rg[0], rg[1], bufSize, len(got), err)
				}
			}
		}
		if _, err := s.OpenChecked(id, n, 1); !errors.Is(err, ErrInvalidRange) {
			t.Fatalf("range past the end: %v", err)
		}
	}
	if _, err := s.OpenChecked(NewID(), 0, -1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing blob: %v", err)
	}
	if _, err := s.OpenChecked("../x", 0, -1); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("invalid ID: %v", err)
	}
}

func mustOpenChecked(t *testing.T, s *Store, id string, off, length int64) *CheckedReader {
	t.Helper()
	r, err := s.OpenChecked(id, off, length)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestCheckedReadNeverReturnsBadBytes damages a blob and its checksum file
// in the ways a disk or a crash does and checks that a read stops at the
// damage with ErrCorrupt, having returned only bytes that are right.
func TestCheckedReadNeverReturnsBadBytes(t *testing.T) {
	const size = 10*ChunkSize + 123
	data := payload(40, size)
	bad := int64(4*ChunkSize + 100) // in chunk 4
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, s *Store, id string)
		atOpen  bool  // fails at OpenChecked
		goodEnd int64 // bytes before the damage a whole read returns
	}{
		{"flipped byte", func(t *testing.T, s *Store, id string) { flipByte(t, s.path(id), bad) }, false, 4 * ChunkSize},
		{"flipped byte in the last chunk", func(t *testing.T, s *Store, id string) { flipByte(t, s.path(id), size-1) }, false, 10 * ChunkSize},
		{"truncated (torn)", func(t *testing.T, s *Store, id string) {
			if err := os.Truncate(s.path(id), bad); err != nil {
				t.Fatal(err)
			}
		}, true, 0},
		{"extended", func(t *testing.T, s *Store, id string) {
			if err := os.Truncate(s.path(id), size+1); err != nil {
				t.Fatal(err)
			}
		}, true, 0},
		{"tail lost, size kept (torn)", func(t *testing.T, s *Store, id string) {
			if err := os.Truncate(s.path(id), bad); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(s.path(id), size); err != nil {
				t.Fatal(err)
			}
		}, false, 4 * ChunkSize},
		{"checksum flipped", func(t *testing.T, s *Store, id string) { flipByte(t, s.sumPath(id), sumHeaderLen+4*4+1) }, false, 4 * ChunkSize},
		{"checksums truncated", func(t *testing.T, s *Store, id string) {
			if err := os.Truncate(s.sumPath(id), sumHeaderLen+4*3); err != nil {
				t.Fatal(err)
			}
		}, true, 0},
		{"checksum header damaged", func(t *testing.T, s *Store, id string) { flipByte(t, s.sumPath(id), 0) }, true, 0},
		{"size in the header damaged", func(t *testing.T, s *Store, id string) { flipByte(t, s.sumPath(id), 15) }, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			id := putBlob(t, s, data, CreateOptions{}).ID
			tc.damage(t, s, id)
			for _, bufSize := range []int{1000, ChunkSize, 1 << 20} {
				got, err := readChecked(t, s, id, 0, -1, bufSize)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("reads of %d: %d bytes, err %v; want ErrCorrupt", bufSize, len(got), err)
				}
				if tc.atOpen && got != nil {
					t.Fatalf("reads of %d: returned %d bytes before failing", bufSize, len(got))
				}
				if !bytes.Equal(got, data[:len(got)]) || int64(len(got)) > tc.goodEnd {
					t.Fatalf("reads of %d: %d bytes before the error, want at most the %d before the damage, all right", bufSize, len(got), tc.goodEnd)
				}
			}
			if tc.atOpen {
				return
			}
			// A range clear of the damage reads; one on it fails at once.
			if got, err := readChecked(t, s, id, 0, ChunkSize, 4096); err != nil || !bytes.Equal(got, data[:ChunkSize]) {
				t.Fatalf("undamaged range: %d bytes, %v", len(got), err)
			}
			if got, err := readChecked(t, s, id, tc.goodEnd+1, 10, 4096); !errors.Is(err, ErrCorrupt) || len(got) != 0 {
				t.Fatalf("damaged range: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestAddChecksumsToABlobWithout(t *testing.T) {
	s := openStore(t)
	data := payload(41, 3*ChunkSize+9)
	sum := md5.Sum(data)
	id := putBlob(t, s, data, CreateOptions{}).ID
	if err := os.Remove(s.sumPath(id)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenChecked(id, 0, -1); !errors.Is(err, ErrNoChecksums) {
		t.Fatalf("OpenChecked without checksums: %v", err)
	}
	wrong := md5.Sum([]byte("something else"))
	if err := s.AddChecksums(id, int64(len(data)), wrong[:]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("AddChecksums with the wrong MD5: %v", err)
	}
	if err := s.AddChecksums(id, int64(len(data))+1, sum[:]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("AddChecksums with the wrong size: %v", err)
	}
	if _, err := s.OpenChecked(id, 0, -1); !errors.Is(err, ErrNoChecksums) {
		t.Fatalf("a failed AddChecksums wrote checksums: %v", err)
	}
	if err := s.AddChecksums(id, int64(len(data)), sum[:]); err != nil {
		t.Fatal(err)
	}
	if got, err := readChecked(t, s, id, 0, -1, 4096); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after AddChecksums: %d bytes, %v", len(got), err)
	}
	if err := s.AddChecksums(NewID(), 1, sum[:]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("AddChecksums of a missing blob: %v", err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Fatalf("temporary files left: %v", names)
	}
}

func TestReplaceRepairsACorruptBlob(t *testing.T) {
	s := openStore(t)
	data := payload(42, 4*ChunkSize)
	id := putBlob(t, s, data, CreateOptions{}).ID
	flipByte(t, s.path(id), 2*ChunkSize)
	old := mustOpenChecked(t, s, id, 0, -1)

	// Without Replace the existing (corrupt) copy stays: a replica
	// received twice is the same blob.
	putBlob(t, s, data, CreateOptions{ID: id})
	if _, err := readChecked(t, s, id, 0, -1, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("commit without Replace changed the blob: %v", err)
	}
	putBlob(t, s, data, CreateOptions{ID: id, Replace: true})
	if got, err := readChecked(t, s, id, 0, -1, 1<<20); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after the repair: %d bytes, %v", len(got), err)
	}
	if st := s.Stats(); st != (Stats{Blobs: 1, Bytes: int64(len(data))}) {
		t.Fatalf("stats after the repair: %+v", st)
	}
	// A reader that opened the damaged copy before still reads that copy,
	// and still refuses its bad chunk.
	if got, err := io.ReadAll(old); !errors.Is(err, ErrCorrupt) || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("reader of the replaced copy: %d bytes, %v", len(got), err)
	}
	if err := s.Remove(id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.sumPath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Remove left the checksums: %v", err)
	}
	if names := tmpFiles(t, s); len(names) != 0 {
		t.Fatalf("temporary files left: %v", names)
	}
}

// BenchmarkRead64MiB reads a 64 MiB blob (from the page cache) the way a
// GET does, through a 256 KiB buffer: "unchecked" as before chunk
// checksums (a section of the file), "checked" verifying every 64 KiB
// chunk with CRC-32C. The difference is the price of never serving a bad
// byte. cpu-ms/op is the process's CPU time per read, steadier than wall
// time on a shared machine.
func BenchmarkRead64MiB(b *testing.B) {
	const size = 64 << 20
	s := openStore(b)
	info, err := s.Put(context.Background(), &repeatReader{buf: payload(1, BufferSize), left: size}, CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	drain := func(r io.Reader) {
		var n int64
		for {
			k, err := r.Read(buf)
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if n != size {
			b.Fatalf("read %d bytes", n)
		}
	}
	for _, mode := range []string{"unchecked", "checked"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(size)
			cpu := cpuTime()
			defer func() { b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op") }()
			for b.Loop() {
				var r io.ReadCloser
				if mode == "checked" {
					r, err = s.OpenChecked(info.ID, 0, -1)
				} else {
					r, err = s.OpenRange(info.ID, 0, -1)
				}
				if err != nil {
					b.Fatal(err)
				}
				drain(r)
				r.Close()
			}
		})
	}
}

func ExampleStore_OpenChecked() {
	dir, _ := os.MkdirTemp("", "blobs")
	defer os.RemoveAll(dir)
	s, _ := Open(dir)
	info, _ := s.Put(context.Background(), bytes.NewReader([]byte("hello, blob")), CreateOptions{})
	r, _ := s.OpenChecked(info.ID, 7, 4)
	defer r.Close()
	b, err := io.ReadAll(r)
	fmt.Printf("%s %v\n", b, err)
	// Output: blob <nil>
}
