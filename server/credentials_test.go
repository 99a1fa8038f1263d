package server_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
	"github.com/strongboxdb/strongbox/server"
)

// Keys of the credentials-file tests. The secrets are distinctive so the
// log test can look for them.
const (
	roKey, roSecret   = "reader", "ro-SECRET-7f3a9c21d0"
	rwKey, rwSecret   = "writer", "rw-SECRET-b81e44f05a"
	admKey, admSecret = "operator", "adm-SECRET-5c0d9e7712"
	newKey, newSecret = "newcomer", "new-SECRET-e29b1f6c48"
)

// keyLine is one entry of a credentials file.
func keyLine(ak, sk string, perms ...string) string {
	return fmt.Sprintf(`{"access_key": %q, "secret_key": %q, "permissions": ["%s"]}`, ak, sk, strings.Join(perms, `", "`))
}

// writeCredentials replaces the credentials file atomically, as the
// documentation asks operators to, and gives it a modification time of
// its own so a reload notices it even on a file system with coarse
// timestamps.
func writeCredentials(t *testing.T, path string, entries ...string) {
	t.Helper()
	writeCredentialsRaw(t, path, `{"keys": [`+strings.Join(entries, ",\n")+`]}`)
}

var credentialsGen struct {
	sync.Mutex
	n int
}

func writeCredentialsRaw(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	credentialsGen.Lock()
	credentialsGen.n++
	mtime := time.Now().Add(time.Duration(credentialsGen.n) * time.Second)
	credentialsGen.Unlock()
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startWithCredentials starts n nodes that accept the keys of a
// credentials file (checked for changes every 20ms) besides the test pair.
func startWithCredentials(t *testing.T, n int, tweak func(*server.Config), entries ...string) (*testCluster, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "credentials.json")
	writeCredentials(t, path, entries...)
	c := startCluster(t, n, func(cfg *server.Config) {
		cfg.CredentialsFile = path
		cfg.CredentialsPoll = 20 * time.Millisecond
		if tweak != nil {
			tweak(cfg)
		}
	})
	return c, path
}

func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	if code := apiCode(err); code != "AccessDenied" {
		t.Errorf("%s: %v (code %q), want AccessDenied", what, err, code)
	}
}

// signedStatus sends a SigV4-signed request with the given key to node i
// and returns the status and body.
func (c *testCluster) signedStatus(t *testing.T, i int, method, path, ak, sk string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.nodes[i].S3URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sigv4.Sign(req, ak, sk, "us-east-1", sigv4.EmptySHA256, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A read-only key reads everything and changes nothing: every writing
// operation, through the SDK, a presigned URL or a browser form, is
// AccessDenied. Admin rights are separate from S3 rights in both
// directions.
func TestReadOnlyKey(t *testing.T) {
	c, _ := startWithCredentials(t, 1, nil,
		keyLine(roKey, roSecret, "read"), keyLine(rwKey, rwSecret, "write"), keyLine(admKey, admSecret, "admin"))
	const bkt = "rights"
	rw := newClient(c.nodes[0].S3URL(), rwKey, rwSecret)
	ro := newClient(c.nodes[0].S3URL(), roKey, roSecret)
	mustCreateBucket(t, rw, bkt)
	mustPut(t, rw, bkt, "k", "hello")
	up, err := rw.CreateMultipartUpload(ctxT(t), &s3.CreateMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := rw.UploadPart(ctxT(t), &s3.UploadPartInput{Bucket: aws.String(bkt), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: stringsReader("part one")})
	if err != nil {
		t.Fatal(err)
	}
	before := bucketState(t, rw, bkt)

	// Reads.
	if got := mustGet(t, ro, bkt, "k"); got != "hello" {
		t.Fatalf("read-only GET: %q", got)
	}
	if _, err := ro.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bkt), Key: aws.String("k")}); err != nil {
		t.Errorf("read-only HEAD: %v", err)
	}
	if l, err := ro.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bkt)}); err != nil || len(l.Contents) != 1 {
		t.Errorf("read-only list: %v", err)
	}
	if _, err := ro.ListBuckets(ctxT(t), &s3.ListBucketsInput{}); err != nil {
		t.Errorf("read-only ListBuckets: %v", err)
	}
	if _, err := ro.ListParts(ctxT(t), &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String("mp"), UploadId: up.UploadId}); err != nil {
		t.Errorf("read-only ListParts: %v", err)
	}

	// Writes, through the SDK.
	_, err = ro.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("k"), Body: stringsReader("overwritten")})
	wantDenied(t, "PutObject", err)
	_, err = ro.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("new"), Body: stringsReader("x")})
	wantDenied(t, "PutObject new key", err)
	_, err = ro.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bkt), Key: aws.String("k")})
	wantDenied(t, "DeleteObject", err)
	_, err = ro.DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String(bkt),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("k")}}}})
	wantDenied(t, "DeleteObjects", err)
	_, err = ro.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("copy"), CopySource: aws.String(bkt + "/k")})
	wantDenied(t, "CopyObject", err)
	_, err = ro.PutObjectTagging(ctxT(t), &s3.PutObjectTaggingInput{Bucket: aws.String(bkt), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
	wantDenied(t, "PutObjectTagging", err)
	_, err = ro.CreateMultipartUpload(ctxT(t), &s3.CreateMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String("mp2")})
	wantDenied(t, "CreateMultipartUpload", err)
	_, err = ro.UploadPart(ctxT(t), &s3.UploadPartInput{Bucket: aws.String(bkt), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(2), Body: stringsReader("part two")})
	wantDenied(t, "UploadPart", err)
	_, err = ro.CompleteMultipartUpload(ctxT(t), &s3.CompleteMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	wantDenied(t, "CompleteMultipartUpload", err)
	_, err = ro.AbortMultipartUpload(ctxT(t), &s3.AbortMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String("mp"), UploadId: up.UploadId})
	wantDenied(t, "AbortMultipartUpload", err)
	_, err = ro.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String("ro-bucket")})
	wantDenied(t, "CreateBucket", err)
	_, err = ro.DeleteBucket(ctxT(t), &s3.DeleteBucketInput{Bucket: aws.String(bkt)})
	wantDenied(t, "DeleteBucket", err)

	// A presigned PUT URL made with the read-only key.
	presigned, err := s3.NewPresignClient(ro).PresignPutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, presigned.URL, strings.NewReader("via presigned url"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "<Code>AccessDenied</Code>") {
		t.Errorf("presigned PUT with the read-only key: %d %s", resp.StatusCode, b)
	}

	// A browser form whose policy the read-only key signed is refused;
	// the same form signed by the writer is accepted, so the refusal is
	// about the key's rights and nothing else.
	postWith := func(ak, sk, key string) rawResponse {
		mc := c.minioClient(t, 0, func(o *minio.Options) { o.Creds = miniocreds.NewStaticV4(ak, sk, "") })
		p := minio.NewPostPolicy()
		_ = p.SetBucket(bkt)
		_ = p.SetKey(key)
		_ = p.SetExpires(time.Now().Add(time.Hour))
		u, fields, err := mc.PresignedPostPolicy(ctxT(t), p)
		if err != nil {
			t.Fatal(err)
		}
		return c.postForm(t, 0, u.String(), fields, "f.txt", []byte("form upload"))
	}
	wantS3Error(t, "POST form signed by the read-only key", postWith(roKey, roSecret, "k"), http.StatusForbidden, "AccessDenied")
	if after := bucketState(t, rw, bkt); after != before {
		t.Fatalf("read-only key changed the bucket:\nbefore %s\nafter  %s", before, after)
	}
	if resp := postWith(rwKey, rwSecret, "posted"); resp.Status != http.StatusNoContent {
		t.Errorf("POST form signed by the writer: %d %s", resp.Status, resp.Body)
	}

	// Admin rights: only the admin key (and the test pair, which has
	// every right) gets the cluster status; the admin key has no S3 rights.
	for _, k := range [][2]string{{roKey, roSecret}, {rwKey, rwSecret}} {
		if st, body := c.signedStatus(t, 0, http.MethodGet, "/_strongbox/cluster/status", k[0], k[1]); st != http.StatusForbidden || !strings.Contains(body, "AccessDenied") {
			t.Errorf("cluster status with S3 key %s: %d %s", k[0], st, body)
		}
	}
	if st, body := c.signedStatus(t, 0, http.MethodGet, "/_strongbox/cluster/status", admKey, admSecret); st != http.StatusOK || !strings.Contains(body, `"leader"`) {
		t.Errorf("cluster status with the admin key: %d %s", st, body)
	}
	adm := newClient(c.nodes[0].S3URL(), admKey, admSecret)
	_, err = adm.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bkt), Key: aws.String("k")})
	wantDenied(t, "GetObject with the admin-only key", err)
}

// Rewriting the credentials file adds a key and revokes another on a
// running cluster, on every node; a file that does not load changes
// nothing.
func TestCredentialsReload(t *testing.T) {
	c, path := startWithCredentials(t, 2, nil, keyLine(rwKey, rwSecret, "write"))
	const bkt = "reload"
	mustCreateBucket(t, newClient(c.nodes[0].S3URL(), rwKey, rwSecret), bkt)
	works := func(i int, ak, sk string) error {
		_, err := newClient(c.nodes[i].S3URL(), ak, sk, noRetries).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bkt)})
		return err
	}
	if err := works(1, newKey, newSecret); apiCode(err) != "InvalidAccessKeyId" {
		t.Fatalf("unknown key before the reload: %v", err)
	}

	writeCredentials(t, path, keyLine(newKey, newSecret, "read"))
	for i := range c.nodes {
		waitFor(t, "the new key accepted and the old one revoked", 10*time.Second, func() bool {
			return works(i, newKey, newSecret) == nil && apiCode(works(i, rwKey, rwSecret)) == "InvalidAccessKeyId"
		})
	}

	// A broken file keeps the keys in force, through polling and through
	// an explicit reload (SIGHUP) alike.
	writeCredentialsRaw(t, path, `{"keys": [`+keyLine(rwKey, rwSecret, "write")) // truncated
	if err := c.nodes[0].ReloadCredentials(); err == nil {
		t.Fatal("ReloadCredentials of a truncated file: no error")
	}
	writeCredentials(t, path, keyLine(rwKey, rwSecret, "sudo"))
	if err := c.nodes[1].ReloadCredentials(); err == nil || !strings.Contains(err.Error(), "unknown permission") {
		t.Fatalf("ReloadCredentials with an unknown permission: %v", err)
	}
	for i := range c.nodes {
		if err := works(i, newKey, newSecret); err != nil {
			t.Errorf("node %d after a bad file: the last good key fails: %v", i+1, err)
		}
		if err := works(i, rwKey, rwSecret); apiCode(err) != "InvalidAccessKeyId" {
			t.Errorf("node %d after a bad file: a key of the bad file works: %v", i+1, err)
		}
	}

	// An explicit reload takes effect at once.
	writeCredentials(t, path, keyLine(rwKey, rwSecret, "write"))
	for i := range c.nodes {
		if err := c.nodes[i].ReloadCredentials(); err != nil {
			t.Fatal(err)
		}
		if err := works(i, rwKey, rwSecret); err != nil {
			t.Errorf("node %d after ReloadCredentials: %v", i+1, err)
		}
	}
}

// A key in both the file and the static pair is ambiguous: refused.
func TestCredentialsFileConflictsWithStaticKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.json")
	writeCredentials(t, path, keyLine(testAccessKey, "other-secret", "read"))
	cfg := nodeConfig(t, "n1")
	cfg.CredentialsFile = path
	if inst, err := server.Start(ctxT(t), cfg); err == nil {
		inst.Close()
		t.Fatal("started with an access key in both the file and the config")
	} else if !strings.Contains(err.Error(), testAccessKey) || strings.Contains(err.Error(), "other-secret") {
		t.Fatalf("error %q: want it to name the key and not its secret", err)
	}
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// No secret appears in any log line of a run that exercises keys, failed
// signatures, reloads of files that do not load (with the secret where
// the parser stumbles) and cluster joins, at debug level.
func TestNoSecretInLogs(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const clusterSecret = "cluster-SECRET-0a1b2c3d4e"
	const numericSecret = "86753094711"
	c, path := startWithCredentials(t, 2, func(cfg *server.Config) {
		cfg.Logger = logger
		cfg.Node.Logger = logger
		cfg.Node.RaftLogOutput = &logs
		cfg.Node.RaftLogLevel = "debug"
		cfg.Node.Secret = clusterSecret
	}, keyLine(roKey, roSecret, "read"), keyLine(rwKey, rwSecret, "write"), keyLine(admKey, admSecret, "admin"))

	rw := newClient(c.nodes[1].S3URL(), rwKey, rwSecret)
	mustCreateBucket(t, rw, "logged")
	mustPut(t, rw, "logged", "k", "v")
	_ = mustGet(t, newClient(c.nodes[0].S3URL(), roKey, roSecret), "logged", "k")
	_, err := newClient(c.nodes[0].S3URL(), roKey, roSecret).PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("logged"), Key: aws.String("k"), Body: stringsReader("x")})
	wantDenied(t, "read-only put", err)
	_, err = newClient(c.nodes[0].S3URL(), rwKey, "wrong-"+rwSecret, noRetries).ListBuckets(ctxT(t), &s3.ListBucketsInput{})
	if apiCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	c.signedStatus(t, 0, http.MethodGet, "/_strongbox/cluster/status", admKey, admSecret)

	// Bad files: a secret as a bare number, a syntax error inside a
	// secret, a duplicate key. Each must be reported without its content.
	for _, bad := range []string{
		`{"keys": [{"access_key": "numeric", "secret_key": ` + numericSecret + `, "permissions": ["read"]}]}`,
		`{"keys": [{"access_key": "broken", "secret_key": "` + newSecret + `\q", "permissions": ["read"]}]}`,
		`{"keys": [` + keyLine(newKey, newSecret, "read") + `,` + keyLine(newKey, newSecret, "write") + `]}`,
		`{"keys": [{"access_key": "typo", "secret": "` + newSecret + `", "permissions": ["read"]}]}`,
	} {
		writeCredentialsRaw(t, path, bad)
		for i := range c.nodes {
			if err := c.nodes[i].ReloadCredentials(); err == nil {
				t.Fatalf("bad file %s loaded", bad)
			} else if strings.Contains(err.Error(), newSecret) || strings.Contains(err.Error(), numericSecret) {
				t.Fatalf("reload error quotes a secret: %v", err)
			}
		}
	}
	writeCredentials(t, path, keyLine(newKey, newSecret, "write"))
	waitFor(t, "the good file loaded", 10*time.Second, func() bool {
		_, err := newClient(c.nodes[0].S3URL(), newKey, newSecret, noRetries).ListBuckets(ctxT(t), &s3.ListBucketsInput{})
		return err == nil
	})
	c.stopAll()

	out := logs.String()
	if !strings.Contains(out, "credentials loaded") || !strings.Contains(out, "credentials file not reloaded") {
		t.Fatalf("the log lacks the reload lines this test relies on:\n%s", out)
	}
	for _, secret := range []string{roSecret, rwSecret, admSecret, newSecret, numericSecret, clusterSecret, testSecretKey} {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, secret) {
				t.Errorf("secret %q in a log line: %s", secret, line)
			}
		}
	}
}
