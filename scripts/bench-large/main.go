// Command bench-large measures large objects on a running Strongbox
// cluster (scripts/bench-large.sh starts one of real processes and runs
// it): through a follower, a 1 GiB PutObject and a 1 GiB multipart upload
// (8 MiB parts, 4 in parallel), each with the peak RSS of every node
// process; then 64 MiB PUT and GET throughput next to the disk's write
// bandwidth, measured with dd in the same run on the same filesystem.
//
// The client is lean (SigV4 over net/http, UNSIGNED-PAYLOAD, as the
// project's load tool) and streams every body from a generator, so the
// client holds no object in memory and costs the shared CPU little. The
// bodies are pseudo-random (no two MiB alike); the ETag of each large
// upload is checked against the MD5 the client computes while sending.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

const mib = 1 << 20

type options struct {
	endpoints []string // S3 URL of each node, in node order
	pids      []int    // process ID of each node, same order
	dataDir   string   // where dd measures the disk (the nodes' filesystem)
	ak, sk    string
	bucket    string
	size      int64 // the large objects
	partSize  int64
	parallel  int
	objSize   int64 // the throughput objects
	iters     int
	verify    bool
}

func main() {
	var o options
	var endpoints, pids, wait string
	flag.StringVar(&endpoints, "endpoints", "", "comma-separated S3 endpoints of the nodes (required)")
	flag.StringVar(&pids, "pids", "", "comma-separated process IDs of the nodes, in the same order (for peak RSS)")
	flag.StringVar(&o.dataDir, "data-dir", os.TempDir(), "directory on the nodes' filesystem for the dd measurement")
	flag.StringVar(&o.ak, "access-key", envOr("STRONGBOX_ACCESS_KEY", "strongbox"), "access key")
	flag.StringVar(&o.sk, "secret-key", envOr("STRONGBOX_SECRET_KEY", "strongbox-secret"), "secret key")
	flag.StringVar(&o.bucket, "bucket", "bench-large", "bucket (created if missing)")
	flag.Int64Var(&o.size, "size", 1024*mib, "size of the large PutObject and of the multipart upload, bytes")
	flag.Int64Var(&o.partSize, "part-size", 8*mib, "multipart part size, bytes")
	flag.IntVar(&o.parallel, "parallel", 4, "parts uploaded in parallel")
	flag.Int64Var(&o.objSize, "obj-size", 64*mib, "size of the throughput objects, bytes")
	flag.IntVar(&o.iters, "iterations", 4, "throughput objects written and read")
	flag.BoolVar(&o.verify, "verify", true, "check the large uploads' ETags against an MD5 computed while sending")
	flag.StringVar(&wait, "wait-healthy", "", "only wait (up to a minute) until this S3 endpoint reports healthy, then exit")
	flag.Parse()
	if wait != "" {
		if err := waitHealthy(context.Background(), http.DefaultClient, strings.TrimRight(wait, "/"), time.Minute); err != nil {
			fatalf("%v", err)
		}
		return
	}
	for _, e := range strings.Split(endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			o.endpoints = append(o.endpoints, strings.TrimRight(e, "/"))
		}
	}
	for _, p := range strings.Split(pids, ",") {
		if p = strings.TrimSpace(p); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				fatalf("bad pid %q", p)
			}
			o.pids = append(o.pids, n)
		}
	}
	if len(o.endpoints) == 0 {
		fatalf("--endpoints is required")
	}
	if len(o.pids) != 0 && len(o.pids) != len(o.endpoints) {
		fatalf("--pids must list one process per endpoint")
	}
	if err := run(context.Background(), o); err != nil {
		fatalf("%v", err)
	}
}

func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok {
		return v
	}
	return def
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-large: "+format+"\n", args...)
	os.Exit(1)
}

// row is one line of the report.
type row struct {
	what    string
	bytes   int64
	elapsed time.Duration
	rss     []int64 // peak RSS of each node during the phase, KiB; nil if unknown
	note    string
}

func run(ctx context.Context, o options) error {
	c := &client{ak: o.ak, sk: o.sk, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	for _, e := range o.endpoints {
		if err := waitHealthy(ctx, c.http, e, time.Minute); err != nil {
			return err
		}
	}
	leader, follower, roles, err := findRoles(ctx, c, o.endpoints)
	if err != nil {
		return err
	}
	fmt.Printf("leader %s, follower %s (all traffic goes through the follower)\n", leader, follower)
	if err := c.createBucket(ctx, follower, o.bucket); err != nil {
		return err
	}
	rss := rssTracker{pids: o.pids}
	var rows []row

	// 1. One large PutObject.
	rss.reset()
	start := time.Now()
	etag, sum, err := c.putObject(ctx, follower, o.bucket, "large/put", newGen(1, 0, o.size), o.size, o.verify)
	if err != nil {
		return fmt.Errorf("PutObject of %d MiB: %w", o.size/mib, err)
	}
	r := row{what: fmt.Sprintf("PutObject %s", human(o.size)), bytes: o.size, elapsed: time.Since(start), rss: rss.peaks()}
	if o.verify && etag != hex.EncodeToString(sum) {
		return fmt.Errorf("PutObject: ETag %s, the client's MD5 %x", etag, sum)
	}
	rows = append(rows, r)
	fmt.Printf("  %s: %.1f s\n", r.what, r.elapsed.Seconds())

	// 2. One large multipart upload.
	rss.reset()
	start = time.Now()
	etag, want, err := c.multipart(ctx, follower, o.bucket, "large/multipart", o.size, o.partSize, o.parallel, o.verify)
	if err != nil {
		return fmt.Errorf("multipart upload of %d MiB: %w", o.size/mib, err)
	}
	r = row{what: fmt.Sprintf("multipart %s (%s parts, %d parallel)", human(o.size), human(o.partSize), o.parallel), bytes: o.size, elapsed: time.Since(start), rss: rss.peaks()}
	if o.verify && etag != want {
		return fmt.Errorf("multipart: ETag %s, want %s", etag, want)
	}
	rows = append(rows, r)
	fmt.Printf("  %s: %.1f s\n", r.what, r.elapsed.Seconds())

	// The large objects are not needed any more; deleting them also
	// exercises the garbage path (their files go after the node's delay).
	for _, k := range []string{"large/put", "large/multipart"} {
		if err := c.do(ctx, http.MethodDelete, follower+"/"+o.bucket+"/"+k, nil, -1, nil, nil); err != nil {
			return err
		}
	}

	// 3. Throughput of 64 MiB objects, next to the disk.
	disks := ddWrite(o.dataDir)
	rss.reset()
	start = time.Now()
	for i := 0; i < o.iters; i++ {
		if _, _, err := c.putObject(ctx, follower, o.bucket, fmt.Sprintf("tput/%d", i), newGen(uint64(100+i), 0, o.objSize), o.objSize, false); err != nil {
			return fmt.Errorf("PUT %s: %w", human(o.objSize), err)
		}
	}
	putRow := row{what: fmt.Sprintf("PUT %s x %d", human(o.objSize), o.iters), bytes: o.objSize * int64(o.iters), elapsed: time.Since(start), rss: rss.peaks()}
	rss.reset()
	start = time.Now()
	for i := 0; i < o.iters; i++ {
		n, err := c.get(ctx, follower, o.bucket, fmt.Sprintf("tput/%d", i))
		if err != nil {
			return fmt.Errorf("GET %s: %w", human(o.objSize), err)
		}
		if n != o.objSize {
			return fmt.Errorf("GET tput/%d: %d bytes, want %d", i, n, o.objSize)
		}
	}
	getRow := row{what: fmt.Sprintf("GET %s x %d", human(o.objSize), o.iters), bytes: o.objSize * int64(o.iters), elapsed: time.Since(start), rss: rss.peaks()}
	if len(disks) > 0 {
		// Every node writes every blob, and here they share one disk.
		toDisk := mibps(putRow.bytes, putRow.elapsed) * float64(len(o.endpoints))
		putRow.note = fmt.Sprintf("x%d replicas = %.0f MiB/s to disk", len(o.endpoints), toDisk)
		for _, d := range disks {
			putRow.note += fmt.Sprintf(", %.0f%% of %s", 100*toDisk/d.mibs, strings.TrimPrefix(d.how, "dd bs=8M count=64 "))
		}
	}
	rows = append(rows, putRow, getRow)

	// Report.
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	header := "OPERATION\tSECONDS\tMiB/s"
	for i := range o.pids {
		header += fmt.Sprintf("\tPEAK RSS %s", roles[i])
	}
	fmt.Fprintln(tw, header+"\tNOTE")
	for _, r := range rows {
		line := fmt.Sprintf("%s\t%.2f\t%.1f", r.what, r.elapsed.Seconds(), mibps(r.bytes, r.elapsed))
		for i := range o.pids {
			if r.rss == nil || r.rss[i] < 0 {
				line += "\t?"
			} else {
				line += fmt.Sprintf("\t%d MiB", r.rss[i]/1024)
			}
		}
		fmt.Fprintln(tw, line+"\t"+r.note)
	}
	for _, d := range disks {
		fmt.Fprintf(tw, "disk write (%s)\t\t%.1f\t\n", d.how, d.mibs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !rss.resettable && len(o.pids) > 0 {
		fmt.Println("\n(peak RSS could not be reset between phases: each figure is the peak since the node started)")
	}
	fmt.Println("\nTarget (DESIGN.md): a 1 GiB upload through any node keeps peak RSS under 256 MiB on every node.")
	return nil
}

func mibps(n int64, d time.Duration) float64 { return float64(n) / mib / d.Seconds() }

func human(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	}
	return fmt.Sprintf("%d B", n)
}

// gen streams deterministic pseudo-random bytes: a random 1 MiB pattern
// whose first 8 bytes in each MiB are XORed with that MiB's index in the
// stream, so no two MiB of an object are alike and any range can be
// generated without generating what precedes it.
type gen struct {
	pattern  []byte
	off, end int64
}

func newGen(seed uint64, off, n int64) *gen {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	p := make([]byte, mib)
	_, _ = rand.NewChaCha8(s).Read(p)
	return &gen{pattern: p, off: off, end: off + n}
}

func (g *gen) Read(p []byte) (int, error) {
	if g.off >= g.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.end-g.off)]
	n := 0
	for n < len(p) {
		blk, in := g.off/mib, int(g.off%mib)
		c := copy(p[n:], g.pattern[in:])
		for i := in; i < 8 && i < in+c; i++ { // the block's index, over the first 8 bytes
			p[n+i-in] ^= byte(uint64(blk) >> (8 * (7 - i)))
		}
		n += c
		g.off += int64(c)
	}
	return n, nil
}

// client signs requests with SigV4 (UNSIGNED-PAYLOAD).
type client struct {
	ak, sk string
	http   *http.Client
}

// do sends one request; a body of known size streams with that
// Content-Length. A non-2xx answer is an error with S3's message. When
// out is set the response body is copied there.
func (c *client) do(ctx context.Context, method, url string, body io.Reader, size int64, header http.Header, out io.Writer) error {
	_, err := c.doResp(ctx, method, url, body, size, header, out)
	return err
}

func (c *client) doResp(ctx context.Context, method, url string, body io.Reader, size int64, header http.Header, out io.Writer) (http.Header, error) {
	if body == nil {
		body, size = http.NoBody, 0
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if size >= 0 {
		req.ContentLength = size
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	sigv4.Sign(req, c.ak, c.sk, "us-east-1", sigv4.UnsignedPayload, time.Now())
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.Header, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(msg))
	}
	if out == nil {
		out = io.Discard
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return resp.Header, fmt.Errorf("%s %s: reading the answer: %w", method, url, err)
	}
	return resp.Header, nil
}

func (c *client) createBucket(ctx context.Context, endpoint, bucket string) error {
	err := c.do(ctx, http.MethodPut, endpoint+"/"+bucket, nil, 0, nil, nil)
	if err != nil && strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		return nil
	}
	return err
}

// putObject streams body into one PutObject and returns the ETag and,
// when verify is set, the MD5 of what was sent.
func (c *client) putObject(ctx context.Context, endpoint, bucket, key string, body io.Reader, size int64, verify bool) (string, []byte, error) {
	var h hash.Hash
	if verify {
		h = md5.New()
		body = io.TeeReader(body, h)
	}
	hdr, err := c.doResp(ctx, http.MethodPut, endpoint+"/"+bucket+"/"+key, body, size, nil, nil)
	if err != nil {
		return "", nil, err
	}
	var sum []byte
	if h != nil {
		sum = h.Sum(nil)
	}
	return strings.Trim(hdr.Get("ETag"), `"`), sum, nil
}

func (c *client) get(ctx context.Context, endpoint, bucket, key string) (int64, error) {
	var n countWriter
	err := c.do(ctx, http.MethodGet, endpoint+"/"+bucket+"/"+key, nil, 0, nil, &n)
	return int64(n), err
}

type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

// multipart uploads size bytes as parts of partSize, parallel at a time,
// each part generated from its offset, and returns the object's ETag and
// the one expected from the parts' MD5s.
func (c *client) multipart(ctx context.Context, endpoint, bucket, key string, size, partSize int64, parallel int, verify bool) (string, string, error) {
	base := endpoint + "/" + bucket + "/" + key
	var initiated struct {
		UploadID string `xml:"UploadId"`
	}
	var buf bytes.Buffer
	if err := c.do(ctx, http.MethodPost, base+"?uploads", nil, 0, nil, &buf); err != nil {
		return "", "", err
	}
	if err := xml.Unmarshal(buf.Bytes(), &initiated); err != nil || initiated.UploadID == "" {
		return "", "", fmt.Errorf("CreateMultipartUpload: no upload ID in %q (%v)", buf.String(), err)
	}
	n := int((size + partSize - 1) / partSize)
	etags := make([]string, n)
	sums := make([][]byte, n)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range next {
				off := int64(i) * partSize
				length := min(partSize, size-off)
				url := fmt.Sprintf("%s?partNumber=%d&uploadId=%s", base, i+1, initiated.UploadID)
				etag, sum, err := c.putObjectURL(ctx, url, newGen(2, off, length), length, verify)
				if err != nil {
					cancel(fmt.Errorf("part %d: %w", i+1, err))
					continue
				}
				etags[i], sums[i] = etag, sum
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		_ = c.do(context.Background(), http.MethodDelete, base+"?uploadId="+initiated.UploadID, nil, 0, nil, nil)
		return "", "", err
	}

	var doc bytes.Buffer
	doc.WriteString("<CompleteMultipartUpload>")
	all := md5.New()
	for i, e := range etags {
		fmt.Fprintf(&doc, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>", i+1, e)
		all.Write(sums[i])
	}
	doc.WriteString("</CompleteMultipartUpload>")
	sum := md5.Sum(doc.Bytes())
	var res struct {
		ETag string `xml:"ETag"`
	}
	buf.Reset()
	err := c.do(ctx, http.MethodPost, base+"?uploadId="+initiated.UploadID, bytes.NewReader(doc.Bytes()), int64(doc.Len()),
		http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(sum[:])}}, &buf)
	if err != nil {
		return "", "", err
	}
	if err := xml.Unmarshal(buf.Bytes(), &res); err != nil {
		return "", "", fmt.Errorf("CompleteMultipartUpload: %v in %q", err, buf.String())
	}
	return strings.Trim(res.ETag, `"`), fmt.Sprintf("%x-%d", all.Sum(nil), n), nil
}

func (c *client) putObjectURL(ctx context.Context, url string, body io.Reader, size int64, verify bool) (string, []byte, error) {
	h := md5.New()
	if verify {
		body = io.TeeReader(body, h)
	}
	hdr, err := c.doResp(ctx, http.MethodPut, url, body, size, nil, nil)
	if err != nil {
		return "", nil, err
	}
	etag := strings.Trim(hdr.Get("ETag"), `"`)
	if !verify {
		// Trust the node's MD5: the expected ETag is then built from it.
		s, err := hex.DecodeString(etag)
		return etag, s, err
	}
	sum := h.Sum(nil)
	if etag != hex.EncodeToString(sum) {
		return "", nil, fmt.Errorf("ETag %s, the client's MD5 %x", etag, sum)
	}
	return etag, sum, nil
}

func waitHealthy(ctx context.Context, hc *http.Client, endpoint string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/_strongbox/health", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy after %v (last: %v)", endpoint, timeout, err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// findRoles asks the cluster for its leader and returns the leader's and
// a follower's endpoint and the role of each endpoint.
func findRoles(ctx context.Context, c *client, endpoints []string) (leader, follower string, roles []string, err error) {
	deadline := time.Now().Add(time.Minute)
	for {
		var st struct {
			Leader  string `json:"leader"`
			Members []struct {
				ID    string `json:"id"`
				S3URL string `json:"s3_url"`
			} `json:"members"`
		}
		var buf bytes.Buffer
		err = c.do(ctx, http.MethodGet, endpoints[0]+"/_strongbox/cluster/status", nil, 0, nil, &buf)
		if err == nil {
			err = json.Unmarshal(buf.Bytes(), &st)
		}
		if err == nil && st.Leader != "" && len(st.Members) == len(endpoints) {
			roles = make([]string, len(endpoints))
			for _, m := range st.Members {
				for i, e := range endpoints {
					if strings.TrimRight(m.S3URL, "/") != e {
						continue
					}
					if m.ID == st.Leader {
						leader, roles[i] = e, m.ID+" (leader)"
					} else {
						roles[i] = m.ID
						if follower == "" {
							follower = e
						}
					}
				}
			}
			if leader != "" && follower != "" {
				return leader, follower, roles, nil
			}
			err = fmt.Errorf("members %+v do not match the endpoints %v", st.Members, endpoints)
		}
		if time.Now().After(deadline) {
			return "", "", nil, fmt.Errorf("cluster status: %w", err)
		}
		leader, follower = "", ""
		time.Sleep(200 * time.Millisecond) // polling interval
	}
}

// rssTracker reads each node's peak resident set (VmHWM). reset clears
// the peak (Linux: "5" > /proc/PID/clear_refs), so each phase reports its
// own peak.
type rssTracker struct {
	pids       []int
	resettable bool
	tried      bool
}

func (r *rssTracker) reset() {
	ok := len(r.pids) > 0
	for _, pid := range r.pids {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			ok = false
		}
	}
	if !r.tried {
		r.resettable, r.tried = ok, true
	}
}

func (r *rssTracker) peaks() []int64 {
	if len(r.pids) == 0 {
		return nil
	}
	out := make([]int64, len(r.pids))
	for i, pid := range r.pids {
		out[i] = -1
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				out[i], _ = strconv.ParseInt(f[1], 10, 64) // kB
			}
		}
	}
	return out
}

// ddWrite measures the disk's sequential write bandwidth under dir with
// dd, 512 MiB in 8 MiB blocks, in MiB/s: with O_DIRECT (which tmpfs does
// not support) and, buffered, with one fsync at the end.
func ddWrite(dir string) []ddResult {
	path := filepath.Join(dir, "ddtest")
	defer os.Remove(path)
	const count = 64
	var out []ddResult
	for _, flagArg := range []string{"oflag=direct", "conv=fsync"} {
		start := time.Now()
		msg, err := exec.Command("dd", "if=/dev/zero", "of="+path, "bs=8M", "count="+strconv.Itoa(count), flagArg).CombinedOutput()
		elapsed := time.Since(start)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench-large: dd %s: %v: %s\n", flagArg, err, bytes.TrimSpace(msg))
			continue
		}
		out = append(out, ddResult{"dd bs=8M count=64 " + flagArg, float64(count*8) / elapsed.Seconds()})
	}
	return out
}

type ddResult struct {
	how  string
	mibs float64
}
