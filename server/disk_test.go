package server_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/server"
)

// Full and read-only disks on real file systems: a small tmpfs as one
// node's data directory, filled with a file and then freed, and a
// read-only bind mount of one node's blob directory. Mounting needs root
// (CAP_SYS_ADMIN); elsewhere these tests skip, and node/disk_test.go and
// blobstore/disk_test.go cover the same paths with the reserve and a
// fault hook.

// mount runs mount(8) with args, skipping the test where that is not
// permitted.
func mount(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("mount %v not permitted here (needs root): %v: %s", args, err, bytes.TrimSpace(out))
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory. It is
// unmounted at cleanup, after the cluster (started later) has stopped.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	mount(t, "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system has at most leave bytes
// available, and returns a function that removes it (frees the space).
func fill(t *testing.T, dir string, leave int64) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		avail, _, err := blobstore.DiskSpace(dir)
		if err != nil {
			t.Fatal(err)
		}
		if avail <= leave {
			break
		}
		n := min(int64(len(buf)), avail-leave)
		if _, err := f.Write(buf[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	return func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

func randomBody(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, ^seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// objectSum GETs an object and returns the SHA-256 of its body.
func objectSum(cl *s3.Client, t *testing.T, bucket, key string) ([32]byte, error) {
	out, err := cl.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return [32]byte{}, err
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		return [32]byte{}, err
	}
	return [32]byte(h.Sum(nil)), nil
}

func put(cl *s3.Client, t *testing.T, bucket, key string, body []byte) error {
	_, err := cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	return err
}

// wantDiskError checks for the retryable 503 that says why.
func wantDiskError(t *testing.T, what string, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !isHTTPStatus(err, http.StatusServiceUnavailable) || !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("%s: %v, want 503 ServiceUnavailable saying %q", what, err, msg)
	}
}

// tempFiles lists the blob store's temporary files under a data directory.
func tempFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(dataDir, "blobs", "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// Runs anywhere (no mount): a node whose blob store keeps a reserve
// larger than any disk refuses every upload stored as a blob. Through the
// AWS SDK each one is a 503 ServiceUnavailable that says the node is out
// of disk space, never a connection reset: the SDK sends the body without
// waiting for "100 Continue", and the server reads on after its answer
// (lingerOnBody) so the client gets to read it. One log line for them
// all; small objects, which need no blob, are still stored.
func TestUploadRefusedForDiskSpaceSaysWhy(t *testing.T) {
	var logs syncBuffer
	c := startCluster(t, 3, func(cfg *server.Config) {
		if cfg.Node.ID == "n3" {
			cfg.Node.MinFreeSpace = 1 << 62
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			cfg.Node.Logger = cfg.Logger
		}
	})
	fc := newClient(c.nodes[2].S3URL(), testAccessKey, testSecretKey, noRetries)
	mustCreateBucket(t, fc, "reserve")
	body := randomBody(60, 3<<20)
	for i := range 20 {
		err := put(fc, t, "reserve", fmt.Sprintf("big-%d", i), body)
		wantDiskError(t, fmt.Sprintf("PUT %d of 3 MiB through the node at its reserve", i), err, "out of disk space")
	}
	if n := strings.Count(logs.String(), "blob store cannot write to disk"); n != 1 || !strings.Contains(logs.String(), `errno="below reserve"`) {
		t.Fatalf("%d log lines for 20 refused uploads, want 1 naming the reserve:\n%s", n, logs.String())
	}
	small := randomBody(61, 10<<10)
	if err := put(fc, t, "reserve", "small", small); err != nil {
		t.Fatalf("small PUT through the node at its reserve: %v", err)
	}
	if got, err := objectSum(c.client(0), t, "reserve", "small"); err != nil || got != sha256.Sum256(small) {
		t.Fatalf("small object: %v", err)
	}
	if names := tempFiles(t, c.cfgs[2].Node.DataDir); len(names) != 0 {
		t.Fatalf("temporary blob files left: %v", names)
	}
}

// Runs anywhere: a state machine whose commit fails because the disk is
// full takes the node out of service (failure.go) and every request to it
// then gets a 503 that says the node is out of disk space, not just that
// it is unavailable; the log line names the errno.
func TestStateMachineOnFullDiskSaysWhy(t *testing.T) {
	var logs syncBuffer
	c := startCluster(t, 3, func(cfg *server.Config) {
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		cfg.Node.Logger = cfg.Logger
	})
	l := c.waitLeader()
	mustCreateBucket(t, c.client(l), "fsmfull")
	failed := c.nodes[l].Node
	failed.InjectStoreFailure(&fs.PathError{Op: "write", Path: "fsm.db", Err: syscall.ENOSPC})
	fc := newClient(c.nodes[l].S3URL(), testAccessKey, testSecretKey, noRetries)
	err := put(fc, t, "fsmfull", "hit", []byte("h"))
	if !isHTTPStatus(err, http.StatusServiceUnavailable) {
		t.Fatalf("PUT whose apply hit the full disk: %v, want 503", err)
	}
	waitFor(t, "the node to leave service", 30*time.Second, func() bool {
		select {
		case <-failed.Failed():
			return true
		default:
			return false
		}
	})
	if err := failed.Failure(); !errors.Is(err, objstore.ErrNoSpace) {
		t.Fatalf("Failure() = %v, want ErrNoSpace", err)
	}
	_, err = fc.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String("fsmfull"), Key: aws.String("hit")})
	wantDiskError(t, "GET on the node whose state machine hit a full disk", err, "out of disk space")
	if !strings.Contains(logs.String(), "errno=ENOSPC") {
		t.Fatalf("the failure's log line does not name ENOSPC:\n%s", logs.String())
	}
}

// A follower's data directory on a small tmpfs fills up. Uploads stored
// as blobs through it get a 503 that says the node is out of disk space,
// logged once; nothing is left half-written; what was stored before reads
// back intact; uploads through the other nodes go on; and once the space
// is freed the next upload through it succeeds, with no restart, and it
// serves every object. With a reserve (MinFreeSpace) the blob store stops
// before the disk is full, so its Raft log and state machine keep working
// throughout; without one the disk fills completely (ENOSPC) and the node
// may fall behind, then catches up by itself.
func TestFullDiskOnFollower(t *testing.T) {
	for _, tc := range []struct {
		name    string
		minFree int64
		leave   int64 // bytes left available by the filler
	}{
		{"reserve", 16 << 20, 8 << 20},
		{"enospc", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mnt := mountTmpfs(t, 64<<20)
			var logs syncBuffer
			c := startCluster(t, 3, func(cfg *server.Config) {
				if cfg.Node.ID != "n3" {
					return
				}
				cfg.Node.DataDir = filepath.Join(mnt, "n3")
				cfg.Node.MinFreeSpace = tc.minFree
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				cfg.Node.Logger = cfg.Logger
			})
			const full = 2 // n3
			healthy := c.client(0)
			fc := newClient(c.nodes[full].S3URL(), testAccessKey, testSecretKey, noRetries)
			mustCreateBucket(t, healthy, "disk")

			// Stored before the disk fills: inline and blob bodies, some
			// through the node whose disk will fill.
			sums := map[string][32]byte{}
			for i, size := range []int{1 << 10, 3 << 20, 200 << 10} {
				key := fmt.Sprintf("before-%d", i)
				body := randomBody(uint64(i+1), size)
				if err := put(fc, t, "disk", key, body); err != nil {
					t.Fatalf("PUT %s: %v", key, err)
				}
				sums[key] = sha256.Sum256(body)
			}

			freeSpace := fill(t, mnt, tc.leave)

			// Blob uploads through the full node: 503 saying why.
			for i := range 5 {
				err := put(fc, t, "disk", fmt.Sprintf("refused-%d", i), randomBody(10, 3<<20))
				wantDiskError(t, "PUT of 3 MiB through the full node", err, "out of disk space")
			}
			mp, err := fc.CreateMultipartUpload(ctxT(t), &s3.CreateMultipartUploadInput{Bucket: aws.String("disk"), Key: aws.String("mp")})
			if err != nil {
				t.Fatalf("CreateMultipartUpload: %v", err)
			}
			_, err = fc.UploadPart(ctxT(t), &s3.UploadPartInput{Bucket: aws.String("disk"), Key: aws.String("mp"), UploadId: mp.UploadId,
				PartNumber: aws.Int32(1), Body: bytes.NewReader(randomBody(11, 5<<20))})
			wantDiskError(t, "UploadPart through the full node", err, "out of disk space")

			// The other nodes still store large objects (a majority
			// without the full node).
			during := randomBody(12, 3<<20)
			if err := put(healthy, t, "disk", "during", during); err != nil {
				t.Fatalf("PUT through a healthy node while one disk is full: %v", err)
			}
			sums["during"] = sha256.Sum256(during)
			if tc.minFree > 0 {
				// With a reserve, the Raft log has room: small writes and
				// deletes through the full node work, and it serves reads.
				small := randomBody(13, 2<<10)
				if err := put(fc, t, "disk", "small-during", small); err != nil {
					t.Fatalf("small PUT through the node at its reserve: %v", err)
				}
				sums["small-during"] = sha256.Sum256(small)
				if _, err := fc.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String("disk"), Key: aws.String("before-2")}); err != nil {
					t.Fatalf("DELETE through the node at its reserve: %v", err)
				}
				delete(sums, "before-2")
			}

			if names := tempFiles(t, c.cfgs[full].Node.DataDir); len(names) != 0 {
				t.Fatalf("temporary blob files left on the full node: %v", names)
			}
			// Every refused upload (and replica) of this episode: one line,
			// naming the directory and the reason.
			blobDir := filepath.Join(c.cfgs[full].Node.DataDir, "blobs")
			if n := strings.Count(logs.String(), "blob store cannot write to disk"); n != 1 {
				t.Fatalf("%d log lines for the blob store's full disk, want 1:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), "dir="+blobDir) {
				t.Fatalf("the log line does not name %s:\n%s", blobDir, logs.String())
			}

			// Nothing stored is damaged: every object reads back through a
			// healthy node, and through the full node whenever it answers
			// (without a reserve it may be behind: then 503, never wrong
			// bytes, never a 500).
			for key, want := range sums {
				if got, err := objectSum(healthy, t, "disk", key); err != nil || got != want {
					t.Fatalf("%s through a healthy node: %v, sum matches %v", key, err, got == want)
				}
				got, err := objectSum(fc, t, "disk", key)
				switch {
				case err == nil && got != want:
					t.Fatalf("%s through the full node: wrong bytes", key)
				case err != nil && tc.minFree > 0:
					t.Fatalf("%s through the node at its reserve: %v", key, err)
				case err != nil:
					wantDiskError(t, key+" through the full node", err, "out of disk space")
				}
			}

			// Space is back: the next upload through the node succeeds,
			// without a restart, and the node serves everything.
			freeSpace()
			// Without a reserve the state machine's own commit can hit the
			// full disk: the node then leaves service and its process
			// exits for the supervisor to restart it (failure.go). That is
			// not the blob path; do what the supervisor would.
			supervise := func() bool {
				if c.nodes[full].Node.Failure() == nil {
					return false
				}
				if tc.minFree > 0 {
					t.Fatalf("the state machine failed despite the reserve: %v", c.nodes[full].Node.Failure())
				}
				t.Logf("node 3's state machine hit the full disk: %v; restarting it", c.nodes[full].Node.Failure())
				<-c.nodes[full].Node.Failed()
				c.stop(full)
				c.restart(full)
				fc = newClient(c.nodes[full].S3URL(), testAccessKey, testSecretKey, noRetries)
				return true
			}
			supervise()
			after := randomBody(14, 3<<20)
			err = put(fc, t, "disk", "after", after)
			if err != nil && supervise() {
				err = put(fc, t, "disk", "after", after)
			}
			if err != nil {
				t.Fatalf("PUT through the node once space is freed: %v", err)
			}
			sums["after"] = sha256.Sum256(after)
			for key, want := range sums {
				waitFor(t, key+" through the recovered node", 60*time.Second, func() bool {
					got, err := objectSum(fc, t, "disk", key)
					return err == nil && got == want
				})
			}
			if names := tempFiles(t, c.cfgs[full].Node.DataDir); len(names) != 0 {
				t.Fatalf("temporary blob files left after recovery: %v", names)
			}
			waitFor(t, "the recovery to be logged", 10*time.Second, func() bool {
				return strings.Contains(logs.String(), "blob store writes to disk again")
			})
		})
	}
}

// The leader's whole data directory fills up, Raft log and state machine
// included. Every write through it answers 200 or a retryable 503, never
// a 500; a 503 caused by the full disk says so; leadership moves to a
// node that can append. After the space is freed, the node catches up
// (or, if its state machine's commit failed and it took itself out of
// service, a restart brings it back, as a supervisor would), and every
// write that got a 200 reads back with the right bytes on every node.
func TestFullDiskOnLeader(t *testing.T) {
	mnt := mountTmpfs(t, 32<<20)
	var logs syncBuffer
	c := startCluster(t, 3, func(cfg *server.Config) {
		if cfg.Node.ID != "n1" {
			return
		}
		cfg.Node.DataDir = filepath.Join(mnt, "n1")
		cfg.Node.MinFreeSpace = -1
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		cfg.Node.Logger = cfg.Logger
	})
	const full = 0 // n1 bootstrapped the cluster: the leader
	if l := c.waitLeader(); l != full {
		t.Fatalf("leader is node %d, want node 1", l+1)
	}
	mustCreateBucket(t, c.client(full), "disk")
	sums := map[string][32]byte{}
	before := randomBody(20, 1<<20)
	if err := put(c.client(full), t, "disk", "before", before); err != nil {
		t.Fatal(err)
	}
	sums["before"] = sha256.Sum256(before)

	freeSpace := fill(t, mnt, 0)
	fc := newClient(c.nodes[full].S3URL(), testAccessKey, testSecretKey, noRetries)
	var refused int
	for i := range 10 {
		key := fmt.Sprintf("small-%d", i)
		body := randomBody(uint64(30+i), 30<<10)
		err := put(fc, t, "disk", key, body)
		switch {
		case err == nil:
			sums[key] = sha256.Sum256(body)
		case isHTTPStatus(err, http.StatusServiceUnavailable):
			refused++
		default:
			t.Fatalf("PUT %s through the full leader: %v, want 200 or 503", key, err)
		}
	}
	if refused == 0 {
		t.Fatal("no write through the full leader was refused: the disk did not fill")
	}
	if !strings.Contains(logs.String(), "cannot write to disk") {
		t.Fatalf("no log line about the full disk:\n%s", logs.String())
	}
	l := c.waitLeader()
	if l == full {
		t.Fatal("the node that cannot append still leads")
	}
	// The others carry on.
	during := randomBody(40, 2<<20)
	if err := put(c.client(l), t, "disk", "during", during); err != nil {
		t.Fatalf("PUT through the new leader: %v", err)
	}
	sums["during"] = sha256.Sum256(during)

	freeSpace()
	select {
	case <-c.nodes[full].Node.Failed():
		// Its state machine's commit hit the full disk: the process would
		// exit and be restarted by its supervisor. Do what it would.
		t.Logf("node 1 took itself out of service: %v; restarting it", c.nodes[full].Node.Failure())
		c.stop(full)
		c.restart(full)
	default:
	}
	for i := range c.nodes {
		cl := c.client(i)
		for key, want := range sums {
			waitFor(t, fmt.Sprintf("%s on node %d", key, i+1), 60*time.Second, func() bool {
				got, err := objectSum(cl, t, "disk", key)
				return err == nil && got == want
			})
		}
	}
	if names := tempFiles(t, c.cfgs[full].Node.DataDir); len(names) != 0 {
		t.Fatalf("temporary blob files left: %v", names)
	}
}

// A read-only blob directory (EROFS) is treated as a full one: uploads
// through the node get a 503 saying its disk is not writable, and the
// next one succeeds as soon as the directory is writable again.
func TestReadOnlyBlobDirectory(t *testing.T) {
	var logs syncBuffer
	c := startCluster(t, 3, func(cfg *server.Config) {
		if cfg.Node.ID == "n3" {
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			cfg.Node.Logger = cfg.Logger
		}
	})
	const ro = 2
	fc := newClient(c.nodes[ro].S3URL(), testAccessKey, testSecretKey, noRetries)
	mustCreateBucket(t, fc, "robucket")
	before := randomBody(50, 2<<20)
	if err := put(fc, t, "robucket", "before", before); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(c.cfgs[ro].Node.DataDir, "blobs")
	mount(t, "--bind", dir, dir)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	remount := func(mode string) {
		t.Helper()
		// EBUSY while a blob is being written on the mount: retry.
		var out []byte
		waitFor(t, "remount "+mode, 10*time.Second, func() bool {
			var err error
			out, err = exec.Command("mount", "-o", "remount,bind,"+mode, dir).CombinedOutput()
			return err == nil
		})
		_ = out
	}
	remount("ro")

	for i := range 3 {
		err := put(fc, t, "robucket", fmt.Sprintf("refused-%d", i), randomBody(51, 2<<20))
		wantDiskError(t, "PUT through the node with a read-only blob directory", err, "read-only")
	}
	if n := strings.Count(logs.String(), "blob store cannot write to disk (read-only"); n != 1 {
		t.Fatalf("%d log lines for the read-only blob directory, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "errno=EROFS") {
		t.Fatalf("the log line does not name EROFS:\n%s", logs.String())
	}
	if got, err := objectSum(fc, t, "robucket", "before"); err != nil || got != sha256.Sum256(before) {
		t.Fatalf("object stored before, read through the node: %v", err)
	}

	remount("rw")
	after := randomBody(52, 2<<20)
	if err := put(fc, t, "robucket", "after", after); err != nil {
		t.Fatalf("PUT once the directory is writable again: %v", err)
	}
	if got, err := objectSum(c.client(0), t, "robucket", "after"); err != nil || got != sha256.Sum256(after) {
		t.Fatalf("object stored after recovery: %v", err)
	}
	if names := tempFiles(t, c.cfgs[ro].Node.DataDir); len(names) != 0 {
		t.Fatalf("temporary blob files left: %v", names)
	}
}
