package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/strongboxdb/strongbox/s3api/checksum"
)

// prepareBody records what Body needs from the headers: the decoded length
// and, for trailer payloads, the announced trailing checksum.
func (a *Auth) prepareBody(r *http.Request) error {
	a.DecodedContentLength = r.ContentLength
	if !a.Streaming() {
		return nil
	}
	a.DecodedContentLength = -1
	if s := r.Header.Get("X-Amz-Decoded-Content-Length"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return ErrIncompleteBody.with("x-amz-decoded-content-length is not a valid length.")
		}
		a.DecodedContentLength = n
	}
	if a.PayloadHash == StreamingPayload {
		return nil
	}
	var names []string
	for _, v := range r.Header.Values("X-Amz-Trailer") {
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	switch len(names) {
	case 0:
		return nil
	case 1:
		alg, ok := checksum.FromHeader(names[0])
		if !ok {
			return ErrInvalidTrailerHeader
		}
		a.trailer = alg
		return nil
	}
	return ErrInvalidTrailerHeader.with("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
}

// Body wraps a request body so that reading it verifies it against what the
// signature covers, and decodes aws-chunked framing:
//
//   - hex SHA256: the bytes pass through and are hashed; at the end the
//     reader returns ErrContentSHA256Mismatch instead of io.EOF if they
//     differ from x-amz-content-sha256.
//   - UNSIGNED-PAYLOAD: body is returned unchanged.
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: the chunk framing is
//     removed and each chunk's signature checked when the chunk ends
//     (ErrSignatureDoesNotMatch), as is the trailer's.
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER: the chunk framing is removed.
//
// For the trailer forms the announced checksum is computed over the decoded
// bytes and compared with the trailer at the end (ErrBadDigest); see
// TrailerChecksums. For all aws-chunked forms the decoded length must match
// x-amz-decoded-content-length when it was sent (ErrIncompleteBody).
//
// Verification is only complete when Read returns io.EOF: bytes are handed
// out as they arrive, before the chunk or body they belong to is checked, so
// a caller stages them and commits only after a clean io.EOF. A truncated
// body yields ErrIncompleteBody rather than io.ErrUnexpectedEOF. Errors are
// sticky. Close closes body. Call Body once per request.
func (a *Auth) Body(body io.ReadCloser) io.ReadCloser {
	if body == nil {
		body = http.NoBody
	}
	switch p := a.PayloadHash; {
	case p == UnsignedPayload:
		return body
	case a.Streaming():
		return newChunkedReader(body, a)
	default:
		r := &sha256Reader{body: body, h: sha256.New()}
		if _, err := hex.Decode(r.want[:], []byte(p)); err != nil {
			r.err = ErrInvalidContentSHA256 // unreachable: Verify checked it
		}
		return r
	}
}

// sha256Reader passes a body through, checking its SHA256 at EOF.
type sha256Reader struct {
	body io.ReadCloser
	h    hash.Hash
	want [sha256.Size]byte
	err  error
}

func (r *sha256Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.body.Read(p)
	r.h.Write(p[:n])
	switch {
	case err == io.EOF:
		var got [sha256.Size]byte
		if r.h.Sum(got[:0]); got != r.want {
			err = ErrContentSHA256Mismatch
		}
		r.err = err
	case err != nil:
		err = bodyError(err)
		r.err = err
	}
	return n, err
}

func (r *sha256Reader) Close() error { return r.body.Close() }

// bodyError maps a short read of the underlying body to ErrIncompleteBody
// and keeps any other error.
func bodyError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return ErrIncompleteBody
	}
	return err
}
