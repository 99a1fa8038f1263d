//go:build !unix

package blobstore

import "time"

func cpuTime() time.Duration { return 0 }
