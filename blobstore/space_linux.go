package blobstore

import "golang.org/x/sys/unix"

// DiskSpace reports the bytes available to unprivileged writers (what df
// calls Avail) and the total size of the file system holding path.
func DiskSpace(path string) (free, total int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	// The conversions matter on 32-bit platforms, where both are int32.
	unit := int64(st.Frsize)
	if unit == 0 {
		unit = int64(st.Bsize)
	}
	return int64(st.Bavail) * unit, int64(st.Blocks) * unit, nil
}
