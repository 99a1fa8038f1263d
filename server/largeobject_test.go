package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strongboxdb/strongbox/server"
)

// Large objects across node crashes and restarts, and the life of their
// blob files on every node's disk: a node that was down fetches what it
// missed, and every blob that no record refers to any more is removed.
// The blob files are counted on disk, the way an operator would see them:
// <DataDir>/blobs/<xx>/<32 hex digits>, with <DataDir>/blobs/tmp/ holding
// blobs still being written (not counted).

// blobIDs lists the committed blob files on node i's disk, sorted. It
// reads the directory directly, so it works while the node is stopped.
func (c *testCluster) blobIDs(t *testing.T, i int) []string {
	t.Helper()
	dir := filepath.Join(c.cfgs[i].Node.DataDir, "blobs")
	fanout, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range fanout {
		if !d.IsDir() || !isHex(d.Name(), 2) { // skips tmp/
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, d.Name()))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Type().IsRegular() && isHex(f.Name(), 32) && strings.HasPrefix(f.Name(), d.Name()) {
				ids = append(ids, f.Name())
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// holdsBlob reports whether a committed blob file on node i's disk holds
// exactly data: the body went to the blob store, not the Raft log.
func (c *testCluster) holdsBlob(t *testing.T, i int, data []byte) bool {
	t.Helper()
	dir := filepath.Join(c.cfgs[i].Node.DataDir, "blobs")
	for _, id := range c.blobIDs(t, i) {
		path := filepath.Join(dir, id[:2], id)
		if st, err := os.Stat(path); err != nil || st.Size() != int64(len(data)) {
			continue
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, data) {
			return true
		}
	}
	return false
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// waitBlobCount polls until every node in nodes holds exactly want blob
// files, and fails with each node's count otherwise.
func (c *testCluster) waitBlobCount(t *testing.T, what string, want int, timeout time.Duration, nodes ...int) {
	t.Helper()
	if len(nodes) == 0 {
		for i := range c.nodes {
			nodes = append(nodes, i)
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		var counts []string
		ok := true
		for _, i := range nodes {
			n := len(c.blobIDs(t, i))
			ok = ok && n == want
			counts = append(counts, fmt.Sprintf("node %d: %d", i+1, n))
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after %v the nodes hold %s blob files, want %d each", what, timeout, strings.Join(counts, ", "), want)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// blobTimings makes blob maintenance fast enough for a test: released
// blobs are removed garbageDelay after release, and a node looks for
// referenced blobs it lacks every syncInterval. Orphan collection keeps
// its production default (an hour) unless orphanAge is set, so a test
// that does not set it shows the garbage was drained, not collected.
func blobTimings(garbageDelay, syncInterval, collectInterval, orphanAge time.Duration) func(*server.Config) {
	return func(cfg *server.Config) {
		cfg.Node.BlobGarbageDelay = garbageDelay
		cfg.Node.BlobSyncInterval = syncInterval
		cfg.Node.BlobCollectInterval = collectInterval
		cfg.Node.BlobOrphanAge = orphanAge
	}
}

// TestLargeObjectUploadSurvivesNodeRestart: a multipart upload started
// through one node continues through another while the first is down
// (a follower, or the leader, which forces an election), and the first
// node, restarted on its data directory, serves the object byte for byte
// although it missed the blobs of the later parts.
func TestLargeObjectUploadSurvivesNodeRestart(t *testing.T) {
	for _, stopLeader := range []bool{false, true} {
		name := "Follower"
		if stopLeader {
			name = "Leader"
		}
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, 3, nil)
			a := c.follower()
			if stopLeader {
				a = c.waitLeader()
			}
			const bkt, key = "restart-mpu", "big/object"
			mustCreateBucket(t, c.client(a), bkt)
			parts := [][]byte{testData(5*mib, 70), testData(5*mib, 71), testData(mib+123, 72)}

			id := mustCreateUpload(t, c.client(a), bkt, key)
			p1 := mustUploadPart(t, c.client(a), bkt, key, id, 1, parts[0])
			c.stop(a)
			l := c.waitLeader() // the same one, or a new one if a was the leader
			b := c.follower(a)
			p2 := mustUploadPart(t, c.client(b), bkt, key, id, 2, parts[1])
			p3 := mustUploadPart(t, c.client(l), bkt, key, id, 3, parts[2])
			lp, err := c.client(b).ListParts(ctxT(t), &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String(key), UploadId: aws.String(id)})
			if err != nil || len(lp.Parts) != 3 {
				t.Fatalf("ListParts with node %d down: %v parts, %v", a+1, len(lp.Parts), err)
			}
			done, err := c.client(b).CompleteMultipartUpload(ctxT(t), completeInput(bkt, key, id, p1, p2, p3))
			if err != nil {
				t.Fatalf("Complete with node %d down: %v", a+1, err)
			}
			if want := multipartETag(parts...); aws.ToString(done.ETag) != want {
				t.Fatalf("Complete: ETag %s, want %s", aws.ToString(done.ETag), want)
			}

			c.restart(a)
			c.waitMembers(3)
			data := bytes.Join(parts, nil)
			got, res := getBytes(t, c.client(a), getInput(bkt, key))
			wantSameBytes(t, "GET through the restarted node", got, data)
			if aws.ToString(res.ETag) != aws.ToString(done.ETag) {
				t.Fatalf("GET through the restarted node: ETag %s, want %s", aws.ToString(res.ETag), aws.ToString(done.ETag))
			}
			in := getInput(bkt, key)
			in.PartNumber = aws.Int32(3)
			got, _ = getBytes(t, c.client(a), in)
			wantSameBytes(t, "GET partNumber=3 through the restarted node", got, parts[2])
			in = getInput(bkt, key)
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", 5*mib-10, 10*mib+9))
			got, _ = getBytes(t, c.client(a), in)
			wantSameBytes(t, "GET of a range over three parts through the restarted node", got, data[5*mib-10:10*mib+10])
		})
	}
}

// TestLargeObjectFollowerCatchesUp: blob-backed objects written while a
// follower was down are served by it after its restart (fetched from its
// peers on a read), and it fetches the ones nobody read too, until it holds
// the same blob files as the others. The blob sync interval is shortened:
// the pass a node makes at start runs before it has caught up with the
// log, so with the default (a minute) the unread blobs arrive only with
// the next pass.
func TestLargeObjectFollowerCatchesUp(t *testing.T) {
	c := startCluster(t, 3, blobTimings(time.Second, 300*time.Millisecond, 0, 0))
	const bkt, n = "catch-up", 10
	f := c.follower()
	mustCreateBucket(t, c.client(f), bkt)
	c.stop(f)
	l := c.waitLeader()
	other := c.follower(f)

	objects := make([][]byte, n)
	for i := range objects {
		objects[i] = testData(mib, byte(80+i))
		via := []int{l, other}[i%2]
		mustPutWith(t, c.client(via), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String(fmt.Sprintf("obj/%02d", i)), Body: bytes.NewReader(objects[i])})
	}
	c.waitBlobCount(t, "blobs written with a follower down", n, 20*time.Second, l, other)
	if got := len(c.blobIDs(t, f)); got != 0 {
		t.Fatalf("the stopped follower holds %d blob files", got)
	}

	c.restart(f)
	c.waitMembers(3)
	// Reads of half the objects through the restarted follower fetch
	// their blobs on demand.
	for i := 0; i < n; i += 2 {
		got, _ := getBytes(t, c.client(f), getInput(bkt, fmt.Sprintf("obj/%02d", i)))
		wantSameBytes(t, fmt.Sprintf("obj/%02d through the restarted follower", i), got, objects[i])
	}
	// The other half nobody read: the follower fetches them on its own.
	c.waitBlobCount(t, "the restarted follower catching up", n, 30*time.Second, f)
	if got, want := c.blobIDs(t, f), c.blobIDs(t, l); !slices.Equal(got, want) {
		t.Fatalf("the restarted follower holds blobs %v, the leader %v", got, want)
	}
	// And the rest are served too.
	for i := 1; i < n; i += 2 {
		got, _ := getBytes(t, c.client(f), getInput(bkt, fmt.Sprintf("obj/%02d", i)))
		wantSameBytes(t, fmt.Sprintf("obj/%02d through the restarted follower", i), got, objects[i])
	}
}

// TestLargeObjectNoOrphanedBlobs: overwrites (of originals and of
// copies), deletes (one by one and in batches), aborts, replaced and
// unlisted parts, and writes refused at apply all release their blobs,
// and every node removes them: the blob files on each disk end up being
// exactly the ones the remaining objects refer to. Orphan collection is
// left at its hour-long default, so this is the garbage drain's work.
func TestLargeObjectNoOrphanedBlobs(t *testing.T) {
	c := startCluster(t, 3, blobTimings(time.Second, 0, 0, 0))
	const bkt = "gc-test"
	f := c.follower()
	cl, other := slowReader(c.nodes[f].S3URL()), c.client(c.follower(f))
	mustCreateBucket(t, cl, bkt)
	put := func(t *testing.T, via *s3.Client, key string, body []byte) {
		t.Helper()
		mustPutWith(t, via, &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), Body: bytes.NewReader(body)})
	}
	keep, over2 := testData(mib, 90), testData(mib, 92)
	put(t, cl, "keep", keep)
	put(t, other, "over", testData(mib, 91))
	put(t, cl, "del", testData(mib, 93))
	put(t, other, "batch/1", testData(mib, 102))
	put(t, cl, "batch/2", testData(mib, 103))
	put(t, cl, "inline", []byte("small objects live in the state machine"))
	// Every replica landed before anything is released, so that no
	// replica can arrive after its blob was drained (that orphan is the
	// collector's business, not this test's).
	c.waitBlobCount(t, "five blob-backed objects", 5, 20*time.Second)

	put(t, other, "over", over2) // releases the first "over"
	if _, err := cl.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bkt), Key: aws.String("del")}); err != nil {
		t.Fatal(err)
	}
	del, err := other.DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String(bkt), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("batch/1")}, {Key: aws.String("batch/2")}}}})
	if err != nil || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects: %v %+v", err, del)
	}
	// A copy has a blob of its own; overwriting it with a small body
	// releases that blob.
	if _, err := cl.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(bkt), Key: aws.String("copy"), CopySource: aws.String(bkt + "/keep")}); err != nil {
		t.Fatal(err)
	}
	put(t, other, "copy", []byte("now small"))

	// An aborted upload with two parts; a part sent after the abort.
	aborted := mustCreateUpload(t, cl, bkt, "aborted")
	mustUploadPart(t, cl, bkt, "aborted", aborted, 1, testData(200<<10, 94))
	mustUploadPart(t, other, bkt, "aborted", aborted, 2, testData(200<<10, 95))
	if _, err := other.AbortMultipartUpload(ctxT(t), &s3.AbortMultipartUploadInput{Bucket: aws.String(bkt), Key: aws.String("aborted"), UploadId: aws.String(aborted)}); err != nil {
		t.Fatal(err)
	}
	_, err = uploadPart(t, cl, bkt, "aborted", aborted, 3, testData(200<<10, 96))
	wantAPIError(t, "UploadPart after abort", err, 404, "NoSuchUpload")

	// A completed upload: part 2 replaced, then left out of the Complete.
	mp := mustCreateUpload(t, cl, bkt, "mp")
	mp1, mp3 := testData(5*mib, 97), testData(100<<10, 99)
	p1 := mustUploadPart(t, cl, bkt, "mp", mp, 1, mp1)
	mustUploadPart(t, other, bkt, "mp", mp, 2, testData(100<<10, 98))
	mustUploadPart(t, cl, bkt, "mp", mp, 2, testData(100<<10, 100))
	p3 := mustUploadPart(t, other, bkt, "mp", mp, 3, mp3)
	if _, err := cl.CompleteMultipartUpload(ctxT(t), completeInput(bkt, "mp", mp, p1, p3)); err != nil {
		t.Fatal(err)
	}

	// A large write refused at apply.
	_, err = cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("keep"), Body: bytes.NewReader(testData(mib, 101)), IfNoneMatch: aws.String("*")})
	wantAPIError(t, "PutObject If-None-Match: * over an existing key", err, 412, "PreconditionFailed")

	// Left: keep, over (second version), and mp's parts 1 and 3.
	c.waitBlobCount(t, "blobs after the releases", 4, 30*time.Second)
	ids := c.blobIDs(t, 0)
	for i := range c.nodes {
		if got := c.blobIDs(t, i); !slices.Equal(got, ids) {
			t.Fatalf("node %d holds blobs %v, node 1 %v", i+1, got, ids)
		}
	}
	got, _ := getBytes(t, other, getInput(bkt, "keep"))
	wantSameBytes(t, "keep", got, keep)
	got, _ = getBytes(t, cl, getInput(bkt, "over"))
	wantSameBytes(t, "over", got, over2)
	got, _ = getBytes(t, c.client(c.waitLeader()), getInput(bkt, "mp"))
	wantSameBytes(t, "mp", got, append(append([]byte(nil), mp1...), mp3...))
	if s := mustGet(t, other, bkt, "inline"); s != "small objects live in the state machine" {
		t.Fatalf("inline: %q", s)
	}

	// Deleting the rest leaves no blob file anywhere.
	for _, k := range []string{"keep", "over", "mp"} {
		if _, err := other.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bkt), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	c.waitBlobCount(t, "blobs after deleting every large object", 0, 30*time.Second)
}

// TestLargeObjectFailedUploadsLeaveNoBlobs: large uploads refused after
// their body was stored (a checksum or Content-MD5 that does not match, a
// missing bucket) leave no blob file on any node, at the latest once the
// orphan collector ran (its age is shortened here; a replica that lands
// after its blob was discarded is only the collector's to find).
func TestLargeObjectFailedUploadsLeaveNoBlobs(t *testing.T) {
	c := startCluster(t, 3, blobTimings(200*time.Millisecond, 0, 200*time.Millisecond, 2*time.Second))
	const bkt = "failed"
	f := c.follower()
	cl := c.client(f)
	mustCreateBucket(t, cl, bkt)
	good := testData(mib, 110)
	mustPutWith(t, cl, &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("good"), Body: bytes.NewReader(good)})

	body := testData(mib, 111)
	_, err := cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("bad-crc"), Body: bytes.NewReader(body),
		ChecksumCRC32: aws.String(crc32B64([]byte("something else")))})
	wantAPIError(t, "PutObject with a wrong CRC32", err, 400, "BadDigest")
	_, err = cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("bad-md5"), Body: bytes.NewReader(body),
		ContentMD5: aws.String(md5Header("something else").Get("Content-Md5"))})
	wantAPIError(t, "PutObject with a wrong Content-MD5", err, 400, "BadDigest")
	_, err = cl.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("no-such-bucket-here"), Key: aws.String("k"), Body: bytes.NewReader(body)})
	wantAPIError(t, "PutObject into a missing bucket", err, 404, "NoSuchBucket")
	id := mustCreateUpload(t, cl, bkt, "mp")
	_, err = cl.UploadPart(ctxT(t), &s3.UploadPartInput{Bucket: aws.String(bkt), Key: aws.String("mp"), UploadId: aws.String(id), PartNumber: aws.Int32(1),
		Body: bytes.NewReader(body), ChecksumCRC32: aws.String(crc32B64([]byte("something else")))})
	wantAPIError(t, "UploadPart with a wrong CRC32", err, 400, "BadDigest")
	lp, err := cl.ListParts(ctxT(t), &s3.ListPartsInput{Bucket: aws.String(bkt), Key: aws.String("mp"), UploadId: aws.String(id)})
	if err != nil || len(lp.Parts) != 0 {
		t.Fatalf("ListParts after a refused part: %d parts, %v", len(lp.Parts), err)
	}

	c.waitBlobCount(t, "blobs after refused uploads", 1, 30*time.Second)
	for _, k := range []string{"bad-crc", "bad-md5"} {
		if _, err := cl.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bkt), Key: aws.String(k)}); !isHTTPStatus(err, 404) {
			t.Fatalf("HEAD %s: %v, want 404", k, err)
		}
	}
	got, _ := getBytes(t, c.client(c.waitLeader()), getInput(bkt, "good"))
	wantSameBytes(t, "the object written before (the collector must spare it)", got, good)
}

// TestLargeObjectReadSurvivesDelete: a GET of a multipart object that is
// deleted while the response is still streaming returns every byte. The
// serving node holds the blobs of an open read, so its garbage drain
// skips them (it removes the other garbage of the same delete) until the
// read ends; then they go too.
func TestLargeObjectReadSurvivesDelete(t *testing.T) {
	// The 10 MiB the test has not read must not all fit in the node's
	// socket send buffer (see slowReader), or the node finishes the
	// response and releases the blobs before the delete.
	if n := tcpSendBufferMax(t); n > 8*mib {
		t.Skipf("net.ipv4.tcp_wmem allows a %d-byte send buffer: the node could finish the response early", n)
	}
	c := startCluster(t, 3, blobTimings(50*time.Millisecond, 0, 0, 0))
	const bkt = "read-while-deleted"
	f := c.follower()
	cl, other := slowReader(c.nodes[f].S3URL()), c.client(c.follower(f))
	mustCreateBucket(t, cl, bkt)
	parts := [][]byte{testData(5*mib, 1), testData(5*mib, 2), testData(mib, 3)}
	mustMultipartObject(t, cl, bkt, "big", parts)
	mustPutWith(t, cl, &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String("witness"), Body: bytes.NewReader(testData(mib, 4))})
	c.waitBlobCount(t, "three parts and a witness", 4, 20*time.Second)

	resp, err := cl.GetObject(ctxT(t), getInput(bkt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, mib)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	del, err := other.DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String(bkt), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("big")}, {Key: aws.String("witness")}}}})
	if err != nil || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects: %v %+v", err, del)
	}
	// The delete's garbage is drained: everything on the other nodes, all
	// but the held parts on the serving node.
	var others []int
	for i := range c.nodes {
		if i != f {
			others = append(others, i)
		}
	}
	c.waitBlobCount(t, "nodes without the read", 0, 20*time.Second, others...)
	c.waitBlobCount(t, "serving node, read open", 3, 20*time.Second, f)

	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the rest after the delete: %v", err)
	}
	wantSameBytes(t, "object read across its delete", append(first, rest...), bytes.Join(parts, nil))
	resp.Body.Close()
	c.waitBlobCount(t, "serving node, read closed", 0, 20*time.Second, f)
}

// slowReader is a client whose connections have a small, fixed receive
// buffer. The serving node's GET ends (and releases its hold on the blobs)
// as soon as the last byte is in a kernel buffer; loopback receive buffers
// autotune up to net.ipv4.tcp_rmem's maximum (32 MiB on CI machines), which
// would let a node finish an 11 MiB response the test has barely started
// reading. A fixed SO_RCVBUF turns autotuning off, so the unread part of the
// body stays on the node: at most the peer's send buffer (tcp_wmem, 4 MiB by
// default) beyond what the client has read.
func slowReader(endpoint string) *s3.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := conn.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: dial}}
	return newClient(endpoint, testAccessKey, testSecretKey, func(o *s3.Options) { o.HTTPClient = hc })
}

// tcpSendBufferMax is the largest send buffer Linux autotunes a TCP
// socket to (net.ipv4.tcp_wmem's third field), 0 where it cannot be read.
func tcpSendBufferMax(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		t.Fatalf("tcp_wmem: %q", b)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("tcp_wmem: %q", b)
	}
	return n
}

// TestLargeObjectReadSurvivesDeleteAndOrphanCollection: the orphan
// collector, too, leaves the blobs of an open read alone. A multipart
// object older than the orphan age (its files are backdated) is deleted
// while a slow GET of it streams; the collector of the serving node runs
// complete passes meanwhile, with a short interval, and the GET still
// returns every byte. Once the read ends the parts go.
func TestLargeObjectReadSurvivesDeleteAndOrphanCollection(t *testing.T) {
	// See TestLargeObjectReadSurvivesDelete.
	if n := tcpSendBufferMax(t); n > 8*mib {
		t.Skipf("net.ipv4.tcp_wmem allows a %d-byte send buffer: the node could finish the response early", n)
	}
	// The orphan age protects uploads in flight, so it stays far longer
	// than the test; the object is made older than it by backdating.
	const orphanAge = 10 * time.Minute
	c := startCluster(t, 3, blobTimings(50*time.Millisecond, 0, 50*time.Millisecond, orphanAge))
	const bkt = "read-while-collected"
	f := c.follower()
	cl, other := slowReader(c.nodes[f].S3URL()), c.client(c.follower(f))
	mustCreateBucket(t, cl, bkt)
	parts := [][]byte{testData(5*mib, 11), testData(5*mib, 12), testData(5*mib, 13), testData(mib, 14)}
	mustMultipartObject(t, cl, bkt, "big", parts)
	c.waitBlobCount(t, "four parts", len(parts), 20*time.Second)
	old := time.Now().Add(-2 * orphanAge)
	for i := range c.nodes {
		for _, id := range c.blobIDs(t, i) {
			c.backdateBlob(t, i, id, old)
		}
	}

	resp, err := cl.GetObject(ctxT(t), getInput(bkt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, mib)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	if _, err := other.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bkt), Key: aws.String("big")}); err != nil {
		t.Fatal(err)
	}
	c.waitBlobCount(t, "nodes without the read", 0, 20*time.Second, slices.DeleteFunc([]int{0, 1, 2}, func(i int) bool { return i == f })...)
	// Two complete collector passes that began after the delete: an old
	// orphan planted with the last possible ID is the last blob a pass
	// visits, so once it is gone that pass is over; the pass that removes
	// a second one, planted after that, started after the first was
	// planted, hence after the delete was acknowledged.
	for range 2 {
		c.plantOrphan(t, f, strings.Repeat("f", 32), old)
		waitFor(t, "the collector to remove the planted orphan", 20*time.Second, func() bool {
			return !slices.Contains(c.blobIDs(t, f), strings.Repeat("f", 32))
		})
	}

	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the rest after the delete and two collections: %v", err)
	}
	wantSameBytes(t, "object read across its delete and collection", append(first, rest...), bytes.Join(parts, nil))
	resp.Body.Close()
	c.waitBlobCount(t, "serving node, read closed", 0, 20*time.Second, f)
}

// backdateBlob sets the modification time of blob id on node i's disk,
// which is the age the orphan collector goes by.
func (c *testCluster) backdateBlob(t *testing.T, i int, id string, when time.Time) {
	t.Helper()
	path := filepath.Join(c.cfgs[i].Node.DataDir, "blobs", id[:2], id)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// plantOrphan writes a blob file that no record refers to straight into
// node i's store, as a crashed upload would leave one, dated when.
func (c *testCluster) plantOrphan(t *testing.T, i int, id string, when time.Time) {
	t.Helper()
	dir := filepath.Join(c.cfgs[i].Node.DataDir, "blobs", id[:2])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id), []byte("orphan"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.backdateBlob(t, i, id, when)
}

// mustMultipartObject writes key as a multipart upload of parts, in order.
func mustMultipartObject(t *testing.T, cl *s3.Client, bucket, key string, parts [][]byte) {
	t.Helper()
	up := mustCreateUpload(t, cl, bucket, key)
	var done []types.CompletedPart
	for i, p := range parts {
		done = append(done, mustUploadPart(t, cl, bucket, key, up, int32(i+1), p))
	}
	if _, err := cl.CompleteMultipartUpload(ctxT(t), completeInput(bucket, key, up, done...)); err != nil {
		t.Fatal(err)
	}
}
