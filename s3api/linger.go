package s3api

import (
	"io"
	"net/http"
	"time"
)

// Bounds of lingerOnBody: enough for a client on any network to read a
// response flushed before it, far less than the uploads it cuts short.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 64 << 20
)

// lingerOnBody reads and discards what the client goes on sending of a
// request body the handler did not finish, after the error response has
// been flushed, for at most lingerTime (plus one read, which the body's
// progress deadline bounds) or lingerBytes; the connection then closes.
//
// Why: aws-sdk-go-v2 sends a body without waiting for "100 Continue" (its
// requests carry no protocol version, so net/http's client does not honour
// their Expect header), and net/http's server closes a connection whose
// Expect body it never read at once, with unread bytes queued: the kernel
// answers them with a reset, and the client's write fails with
// "connection reset by peer" before it has read the 503 that says why
// (seen in about one refused upload in five). Reading on for a moment
// lets it read the answer.
func lingerOnBody(w http.ResponseWriter, r *http.Request) {
	_ = http.NewResponseController(w).Flush()
	stop := time.Now().Add(lingerTime)
	_, _ = io.CopyN(io.Discard, readerFunc(func(p []byte) (int, error) {
		if time.Now().After(stop) {
			return 0, io.EOF
		}
		return r.Body.Read(p)
	}), lingerBytes)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// hasUnreadBody reports whether r may have body bytes the handler has not
// read (lingerOnBody has something to do).
func hasUnreadBody(r *http.Request) bool {
	return r.Method != http.MethodHead && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}
