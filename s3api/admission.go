package s3api

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Admission. A node bounds the work it takes on so that overload bends
// into 503 SlowDown instead of growing goroutines and memory until the OS
// refuses (AWS's 2020 Kinesis outage began at an unbounded thread count).
// Two gates, because the two kinds of caller deserve different treatment:
//
//   - Authenticated requests pass the signature check first (it reads no
//     body and costs microseconds), then take one of MaxInFlight slots.
//     A burst beyond that waits in a short queue (at most AdmissionQueue
//     waiters, each for at most AdmissionWait) instead of being refused at
//     once, so an ordinary burst of uploads is served; only a full queue or
//     a wait that runs out answers SlowDown.
//   - Unauthenticated work (CORS preflights and the CORS lookup of a
//     request with an Origin, health checks, POST Object forms until their
//     policy signature is verified) has a small budget of its own,
//     MaxUnauthenticated, shed at once when full. Anonymous clients can
//     therefore never take the slots of signed ones.
//
// Every body read and every GET body write has a progress deadline
// (BodyIdleTimeout): a client that sends (or reads) nothing for that long
// gets RequestTimeout and loses its slot. It is a deadline on progress,
// not a minimum rate: a client trickling a byte at a time keeps its slot
// until its body ends, which is bounded by the object size limit. The
// HTTP server bounds header reading (ReadHeaderTimeout) and header size
// on its side.

// gate is a counting semaphore with a bounded, time-limited queue.
type gate struct {
	slots    chan struct{}
	waiting  atomic.Int64
	maxQueue int64
	wait     time.Duration
}

func newGate(size, queue int, wait time.Duration) *gate {
	return &gate{slots: make(chan struct{}, size), maxQueue: int64(queue), wait: wait}
}

// enter takes a slot, queueing for at most g.wait behind at most
// g.maxQueue other waiters. It reports false when the caller must be shed;
// on true the caller must call leave exactly once.
func (g *gate) enter(ctx context.Context) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	if g.maxQueue <= 0 || g.wait <= 0 {
		return false
	}
	if g.waiting.Add(1) > g.maxQueue {
		g.waiting.Add(-1)
		return false
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (g *gate) leave() { <-g.slots }

// progressBody gives every Read of a request body a fresh deadline of idle
// from the moment it starts, so a body that stops arriving fails with a
// timeout instead of holding its slot. Deadlines are set through
// http.ResponseController, which reaches the connection under any
// ResponseWriter wrapper that implements Unwrap.
type progressBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	idle    time.Duration
	lastSet time.Time
	until   time.Time // if set, no deadline is later than this
	off     bool      // the connection does not support deadlines
}

// refreshDivisor limits deadline updates to a few per idle period: setting
// one per Read would touch the runtime timer on every small read, and a
// deadline at most idle/4 stale is still a progress deadline.
const refreshDivisor = 4

func (b *progressBody) Read(p []byte) (int, error) {
	if !b.off {
		now := time.Now()
		if now.Sub(b.lastSet) >= b.idle/refreshDivisor {
			d := now.Add(b.idle)
			if !b.until.IsZero() && b.until.Before(d) {
				d = b.until
			}
			if err := b.rc.SetReadDeadline(d); err != nil {
				b.off = true
			}
			b.lastSet = now
		}
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.off {
		// Done with the body: net/http now reads ahead on the connection
		// to notice a client hanging up, and an expired deadline there
		// would cancel a request still being served (a long copy, a wait
		// for the cluster). After any other error the deadline stays: it
		// bounds net/http's own attempt to drain the rest of the body.
		_ = b.rc.SetReadDeadline(time.Time{})
		b.off = true
	}
	return n, err
}

// shed answers err to a request whose body was never read. net/http
// drains up to 256 KiB of an unread body before it answers (and closes the
// connection past that); a short read deadline bounds the drain, so a
// client that trickles its body cannot hold the connection with the answer
// unsent, while an ordinary client keeps its connection (closing it on
// every SlowDown would add a reconnect to every shed request just when
// the node is busiest).
func (s *Server) shed(w http.ResponseWriter, r *http.Request, err error) {
	if r.ContentLength != 0 {
		if http.NewResponseController(w).SetReadDeadline(time.Now().Add(shedDrainTimeout)) != nil {
			w.Header().Set("Connection", "close")
		}
	}
	s.writeError(w, r, err)
}

// shedDrainTimeout bounds net/http's drain of a refused request's body.
const shedDrainTimeout = time.Second

// capAt makes until (zero: none) the latest deadline any later read may
// get, taking effect at the next read.
func (b *progressBody) capAt(until time.Time) {
	b.until = until
	b.lastSet = time.Time{}
}

// withBodyDeadline wraps r.Body with the progress deadline.
func (s *Server) withBodyDeadline(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	r.Body = &progressBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: s.opts.BodyIdleTimeout}
}
