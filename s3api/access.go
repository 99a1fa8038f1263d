package s3api

import (
	"net/http"
	"strings"
)

// Rights are what an access key may do, as a set of bits. They are
// independent of each other: RightAdmin grants no S3 access, and
// RightWrite does not imply RightRead.
type Rights uint8

const (
	// RightRead allows the S3 requests that read: every GET and HEAD
	// (objects, listings, tags, attributes, bucket settings).
	RightRead Rights = 1 << iota
	// RightWrite allows every other S3 request: PUT, POST (DeleteObjects,
	// multipart create and complete, POST Object forms) and DELETE.
	RightWrite
	// RightAdmin allows the admin API under /_strongbox/ (cluster status,
	// membership, fault injection), whatever the method.
	RightAdmin

	// RightsAll is every right.
	RightsAll = RightRead | RightWrite | RightAdmin
)

// authorize answers AccessDenied unless accessKey, authenticated for r,
// has the rights r needs. r is in path style (after hostToPath), so that
// an object key "_strongbox/..." in a virtual-hosted bucket is not taken
// for the admin API. The rights are looked up again here rather than
// carried over from the signature check: a key revoked or narrowed by a
// credentials reload in between is held to its new rights.
func (s *Server) authorize(r *http.Request, accessKey string) error {
	need := RightWrite
	switch {
	case r.URL.Path == "/_strongbox" || strings.HasPrefix(r.URL.Path, "/_strongbox/"):
		need = RightAdmin
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		need = RightRead
	}
	return s.allow(accessKey, need)
}

// allow answers AccessDenied unless accessKey currently has every right
// in need.
func (s *Server) allow(accessKey string, need Rights) error {
	if s.opts.Credentials == nil {
		return ErrAccessDenied
	}
	if _, rights, ok := s.opts.Credentials(accessKey); !ok || rights&need != need {
		return ErrAccessDenied
	}
	return nil
}

// secretOnly adapts Options.Credentials to the signature verifier, which
// needs only the secret.
func secretOnly(creds func(string) (string, Rights, bool)) func(string) (string, bool) {
	if creds == nil {
		return nil
	}
	return func(ak string) (string, bool) {
		sk, _, ok := creds(ak)
		return sk, ok
	}
}
