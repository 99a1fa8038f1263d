package blobstore

import (
	"context"
	"io"
	"testing"
)

// BenchmarkPut64MiB writes, hashes (MD5) and commits (fsync, rename,
// directory fsync) a 64 MiB blob: the local share of an upload. cpu-ms/op
// is the process's CPU time per blob.
func BenchmarkPut64MiB(b *testing.B) {
	const size = 64 << 20
	s := openStore(b)
	src := payload(1, BufferSize)
	b.SetBytes(size)
	cpu := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op") }()
	for b.Loop() {
		info, err := s.Put(context.Background(), &repeatReader{buf: src, left: size}, CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Remove(info.ID); err != nil {
			b.Fatal(err)
		}
	}
}

type repeatReader struct {
	buf  []byte
	left int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.left)], r.buf)
	r.left -= n
	return n, nil
}
