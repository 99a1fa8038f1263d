package server_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Blob files damaged on disk, the way disks and crashes damage them: a
// flipped byte, a torn (truncated) file. A GET never returns a wrong
// byte: through a node whose copy is damaged it returns the right bytes,
// read from another node, and the damaged file is replaced by a good copy;
// with every copy damaged it fails.

// blobFilePath is the file of blob id on node i's disk.
func (c *testCluster) blobFilePath(i int, id string) string {
	return filepath.Join(c.cfgs[i].Node.DataDir, "blobs", id[:2], id)
}

// newBlobID waits until every node holds exactly one blob that is not in
// known, and returns it.
func (c *testCluster) newBlobID(t *testing.T, known []string) string {
	t.Helper()
	var id string
	waitFor(t, "the new blob on every node", 20*time.Second, func() bool {
		id = ""
		for i := range c.nodes {
			fresh := slices.DeleteFunc(c.blobIDs(t, i), func(x string) bool { return slices.Contains(known, x) })
			if len(fresh) != 1 || (id != "" && fresh[0] != id) {
				return false
			}
			id = fresh[0]
		}
		return true
	})
	return id
}

func flipFileByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptBlobFileIsRepairedNeverServed(t *testing.T) {
	c := startCluster(t, 3, nil)
	const bkt = "damaged"
	f := c.follower()
	cl := newClient(c.nodes[f].S3URL(), testAccessKey, testSecretKey, noRetries)
	mustCreateBucket(t, cl, bkt)
	const size = 3*mib + 17
	var known []string
	put := func(t *testing.T, key string, data []byte) string {
		t.Helper()
		mustPutWith(t, c.client(c.follower(f)), &s3.PutObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), Body: bytes.NewReader(data)})
		id := c.newBlobID(t, known)
		known = append(known, id)
		return id
	}
	onDisk := func(i int, id string) []byte {
		b, _ := os.ReadFile(c.blobFilePath(i, id))
		return b
	}

	for n, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"flipped byte", func(t *testing.T, path string) { flipFileByte(t, path, size/2) }},
		{"torn (truncated)", func(t *testing.T, path string) {
			if err := os.Truncate(path, size/3); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "one-bad-copy-" + tc.name
			data := testData(size, byte(60+n))
			id := put(t, key, data)
			tc.damage(t, c.blobFilePath(f, id))
			got, _ := getBytes(t, cl, getInput(bkt, key))
			wantSameBytes(t, "GET through the node with the damaged copy", got, data)
			waitFor(t, "the damaged file repaired on disk", 20*time.Second, func() bool {
				return bytes.Equal(onDisk(f, id), data)
			})
			// A range over the damage, once more damaged.
			tc.damage(t, c.blobFilePath(f, id))
			out, err := cl.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bkt), Key: aws.String(key), Range: aws.String("bytes=1000000-2000000")})
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			wantSameBytes(t, "range GET through the node with the damaged copy", got, data[1000000:2000001])
			waitFor(t, "the damaged file repaired on disk again", 20*time.Second, func() bool {
				return bytes.Equal(onDisk(f, id), data)
			})
		})
	}

	// Every copy damaged: early in the blob, the GET fails before the
	// response starts (503); later, the response breaks off before the
	// damaged bytes. Never a wrong byte, never a complete-looking body.
	for n, at := range []int64{100, size / 2} {
		key := "all-bad"
		data := testData(size, byte(70+n))
		id := put(t, key, data)
		for i := range c.nodes {
			flipFileByte(t, c.blobFilePath(i, id), at)
		}
		out, err := cl.GetObject(ctxT(t), getInput(bkt, key))
		if at < 256<<10 {
			wantAPIError(t, "GET with every copy damaged at the start", err, 503, "ServiceUnavailable")
			continue
		}
		if err != nil {
			t.Fatalf("GET with every copy damaged at byte %d: %v", at, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err == nil || int64(len(got)) > at || !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("GET with every copy damaged at byte %d: %d bytes, err %v; want the body to break off before the damage, all bytes right", at, len(got), err)
		}
		for i := range c.nodes {
			if !slices.Contains(c.blobIDs(t, i), id) {
				t.Fatalf("node %d removed its damaged copy", i+1)
			}
		}
	}
}
