package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongboxdb/strongbox/s3api"
)

// The credentials file (Config.CredentialsFile) is one JSON document:
//
//	{"keys": [
//	  {"access_key": "reader", "secret_key": "...", "permissions": ["read"]},
//	  {"access_key": "app",    "secret_key": "...", "permissions": ["write"]},
//	  {"access_key": "ops",    "secret_key": "...", "permissions": ["admin"]},
//	  {"access_key": "root",   "secret_key": "...", "permissions": ["write", "admin"]}
//	]}
//
// Permissions: "read" allows every GET and HEAD S3 request; "write" allows
// every S3 request (read included); "admin" allows the admin API
// (/_strongbox/: cluster status, membership, faults) and no S3 request,
// so give a key both when it needs both. Access keys are unique, contain
// no '/', ':' or white space, and are at most 128 bytes; secrets are not
// empty. Unknown fields are errors, so a misspelt field cannot silently
// drop a restriction. The file is at most 1 MiB.
//
// The file is read again when its modification time, size or identity
// changes (checked every Config.CredentialsPoll) and on
// Instance.ReloadCredentials (the strongbox command calls it on SIGHUP).
// A file that does not load leaves the previous keys in force and is
// logged as an error. Replace the file atomically (write a new one and
// rename it over the old) so a reload never sees it half written.
//
// No log line and no error carries a secret: errors name the key by its
// access key and the place by line, never quoting the file's content.

// maxCredentialsFile bounds the file read into memory.
const maxCredentialsFile = 1 << 20

type credentialsDoc struct {
	Keys []credentialsEntry `json:"keys"`
}

type credentialsEntry struct {
	AccessKey   string   `json:"access_key"`
	SecretKey   string   `json:"secret_key"`
	Permissions []string `json:"permissions"`
}

// credential is one access key's secret and rights.
type credential struct {
	secret string
	rights s3api.Rights
}

var permissionRights = map[string]s3api.Rights{
	"read":  s3api.RightRead,
	"write": s3api.RightRead | s3api.RightWrite,
	"admin": s3api.RightAdmin,
}

// parseCredentials decodes a credentials file. Its errors never quote the
// file's content (which holds secrets), only positions and access keys.
func parseCredentials(data []byte) (map[string]credential, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc credentialsDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, jsonError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON document")
	}
	keys := make(map[string]credential, len(doc.Keys))
	for i, e := range doc.Keys {
		switch {
		case e.AccessKey == "":
			return nil, fmt.Errorf("keys[%d]: access_key is missing", i)
		case len(e.AccessKey) > 128 || strings.ContainsAny(e.AccessKey, "/: \t\r\n"):
			return nil, fmt.Errorf("keys[%d]: access_key must be at most 128 bytes without '/', ':' or white space", i)
		case e.SecretKey == "":
			return nil, fmt.Errorf("key %q: secret_key is missing", e.AccessKey)
		case len(e.Permissions) == 0:
			return nil, fmt.Errorf("key %q: permissions are missing (want some of read, write, admin)", e.AccessKey)
		}
		if _, dup := keys[e.AccessKey]; dup {
			return nil, fmt.Errorf("key %q is listed twice", e.AccessKey)
		}
		var rights s3api.Rights
		for _, p := range e.Permissions {
			r, ok := permissionRights[p]
			if !ok {
				return nil, fmt.Errorf("key %q: unknown permission (want read, write or admin)", e.AccessKey)
			}
			rights |= r
		}
		keys[e.AccessKey] = credential{secret: e.SecretKey, rights: rights}
	}
	return keys, nil
}

// jsonError describes a decoding error without the text encoding/json
// may quote from the input (a syntax error names the offending character,
// which may be part of a secret).
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at line %d", lineOf(data, syn.Offset))
	case errors.As(err, &typ):
		return fmt.Errorf("line %d: field %s has the wrong type (want %s)", lineOf(data, typ.Offset), typ.Field, typ.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("empty or truncated JSON document")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// A field name, not a value: safe to show, and the likeliest typo.
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return errors.New("not a valid credentials document")
}

func lineOf(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return 1 + bytes.Count(data[:offset], []byte("\n"))
}

// keyring is the set of access keys a node accepts: those of the
// credentials file, if any, plus the static pair, if any. Lookups are one
// atomic load; reloads are serialised by mu.
type keyring struct {
	keys atomic.Pointer[map[string]credential]

	path   string // "" without a credentials file
	static map[string]credential
	log    *slog.Logger

	mu    sync.Mutex
	stamp fileStamp // of the file last read, whether it loaded or not
}

// fileStamp identifies one version of a file well enough to notice a
// rewrite or a rename over it.
type fileStamp struct {
	fi os.FileInfo
}

func (a fileStamp) same(b os.FileInfo) bool {
	return a.fi != nil && b != nil && os.SameFile(a.fi, b) && a.fi.ModTime().Equal(b.ModTime()) && a.fi.Size() == b.Size()
}

// newKeyring loads the credentials file, if path is set, and adds the
// static pair ak/sk, if both are set, with every right. It fails if the
// file does not load, if an access key is in both, or if there is no key
// at all.
func newKeyring(path, ak, sk string, log *slog.Logger) (*keyring, error) {
	k := &keyring{path: path, static: map[string]credential{}, log: log}
	if ak != "" || sk != "" {
		if ak == "" || sk == "" {
			return nil, errors.New("server: access key and secret key go together")
		}
		k.static[ak] = credential{secret: sk, rights: s3api.RightsAll}
	}
	if path == "" {
		if len(k.static) == 0 {
			return nil, errors.New("server: access key and secret key (or a credentials file) are required")
		}
		keys := maps.Clone(k.static)
		k.keys.Store(&keys)
		return k, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(); err != nil {
		return nil, fmt.Errorf("server: credentials file %s: %w", path, err)
	}
	return k, nil
}

// lookup implements s3api.Options.Credentials.
func (k *keyring) lookup(accessKey string) (string, s3api.Rights, bool) {
	c, ok := (*k.keys.Load())[accessKey]
	return c.secret, c.rights, ok
}

// reload reads the file again if it changed since it was last read, or
// always if force is set. On error the previous keys stay in force.
func (k *keyring) reload(force bool) error {
	if k.path == "" {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !force {
		fi, err := os.Stat(k.path)
		if err == nil && k.stamp.same(fi) {
			return nil
		}
		if err != nil && k.stamp.fi == nil {
			return nil // still missing; reported when it went missing
		}
	}
	if err := k.load(); err != nil {
		k.log.Error("credentials file not reloaded; the previous keys stay in force", "file", k.path, "err", err)
		return fmt.Errorf("credentials file %s: %w", k.path, err)
	}
	return nil
}

// load reads and installs the file. k.mu must be held.
func (k *keyring) load() error {
	f, err := os.Open(k.path)
	if err != nil {
		k.stamp = fileStamp{}
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// Recorded before parsing: a file that does not load is reported once,
	// not on every poll, and read again when it changes.
	k.stamp = fileStamp{fi: fi}
	data, err := io.ReadAll(io.LimitReader(f, maxCredentialsFile+1))
	if err != nil {
		return err
	}
	if len(data) > maxCredentialsFile {
		return fmt.Errorf("larger than %d bytes", maxCredentialsFile)
	}
	keys, err := parseCredentials(data)
	if err != nil {
		return err
	}
	for ak, c := range k.static {
		if _, dup := keys[ak]; dup {
			return fmt.Errorf("key %q is also the --access-key of this node; remove one", ak)
		}
		keys[ak] = c
	}
	if len(keys) == 0 {
		return errors.New("no keys")
	}
	if fi.Mode().Perm()&0o077 != 0 {
		k.log.Warn("credentials file is accessible to other users; chmod 600 it", "file", k.path, "mode", fi.Mode().Perm().String())
	}
	var added, removed, changed []string
	if old := k.keys.Load(); old != nil {
		for ak, c := range keys {
			if o, ok := (*old)[ak]; !ok {
				added = append(added, ak)
			} else if o != c {
				changed = append(changed, ak)
			}
		}
		for ak := range *old {
			if _, ok := keys[ak]; !ok {
				removed = append(removed, ak)
			}
		}
	} else {
		added = slices.Collect(maps.Keys(keys))
	}
	slices.Sort(added)
	slices.Sort(removed)
	slices.Sort(changed)
	k.keys.Store(&keys)
	// Access keys identify, they do not authenticate: logging them is safe.
	k.log.Info("credentials loaded", "file", k.path, "keys", len(keys), "added", added, "removed", removed, "changed", changed)
	return nil
}

// watch reloads the file whenever it changes, checking every interval,
// until ctx is done.
func (k *keyring) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = k.reload(false) // reload logs its own failure
		}
	}
}
