package blobstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to
// disk without waiting for it (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It is only a hint: durability still comes from
// the fsync in Commit, which then finds little left to write.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
