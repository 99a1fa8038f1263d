//go:build !linux

package blobstore

import "errors"

// DiskSpace is not implemented here: the reserve (Options.MinFree) is not
// enforced, and a full disk shows as the write's own error.
func DiskSpace(string) (free, total int64, err error) {
	return 0, 0, errors.New("blobstore: free space unknown on this platform")
}
