package blobstore

import (
	"context"
	"io"
	"sync"
)

// BufferSize is the size of the pooled copy buffers. Every stream the
// store drives holds at most one, so memory is BufferSize times the
// number of concurrent streams, which the caller bounds.
const BufferSize = 1 << 20

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, BufferSize)
	return &b
}}

func getBuffer() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuffer(b *[]byte) { bufPool.Put(b) }

// Copy copies src to dst until src reports io.EOF, through one pooled
// BufferSize buffer. Unlike io.Copy it never hands over to dst.ReadFrom or
// src.WriteTo, whose buffer sizes and memory use it cannot bound.
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	bp := getBuffer()
	defer putBuffer(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			m, werr := dst.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m != n {
				return total, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// ContextReader returns r that fails with ctx's error (its cause, if one
// was set) once ctx is done, checked before every Read. It cannot
// interrupt a Read already blocked in r; closing r's source does that.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	if ctx.Done() == nil {
		return r
	}
	return readerFunc(func(p []byte) (int, error) {
		if ctx.Err() != nil {
			return 0, context.Cause(ctx)
		}
		return r.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
