package linearizability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Classes of what a node shows for a key after the crash test. Every
// class but ClassOK is a finding that fails the run.
const (
	ClassOK = "ok"
	// ClassLost: an acknowledged write is missing or cannot be read, or
	// an older value shows in place of an acknowledged overwrite.
	ClassLost = "lost"
	// ClassCorrupt: bytes that no write of the key produced (partial,
	// torn, another key's), a refused write's bytes, an ETag or size
	// that does not match the bytes, or an acknowledgement whose ETag
	// was wrong.
	ClassCorrupt = "corrupt"
	// ClassUnreadable: the node kept failing to serve a key that had
	// only unknown writes (with an acknowledged one, that is ClassLost).
	ClassUnreadable = "unreadable"
)

// observation is what one node served for one key.
type observation struct {
	Found  bool   `json:"found"`
	SHA256 string `json:"sha256,omitempty"`
	ETag   string `json:"etag,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// Header is the crash header at the start of the body read, which
	// names the write the bytes came from.
	Header string `json:"header,omitempty"`
	Err    string `json:"error,omitempty"`
}

// Finding is one problem found by the crash test's verification.
type Finding struct {
	Node   string `json:"node"`
	Key    string `json:"key"`
	Class  string `json:"class"`
	Detail string `json:"detail"`
}

// keyWrites is the ledger of one key, and what its final value may be.
type keyWrites struct {
	writes []CrashWrite
	// allowed are the SHA-256s the key may hold at the end: an unknown
	// write's, or an acknowledged write's that no acknowledged write
	// invoked after it returned must follow. (A register of writes
	// only: the last write in some linearization of the acknowledged
	// writes and any subset of the unknown ones.)
	allowed map[string]*CrashWrite
	// absentOK: nothing acknowledged was written.
	absentOK bool
}

// groupWrites sorts the ledger by key and works out each key's allowed
// final values.
func groupWrites(writes []CrashWrite) map[string]*keyWrites {
	out := map[string]*keyWrites{}
	for _, w := range writes {
		k := out[w.Key]
		if k == nil {
			k = &keyWrites{allowed: map[string]*CrashWrite{}, absentOK: true}
			out[w.Key] = k
		}
		k.writes = append(k.writes, w)
	}
	for _, k := range out {
		for i := range k.writes {
			w := &k.writes[i]
			switch w.Outcome {
			case Acked:
				k.absentOK = false
				superseded := slices.ContainsFunc(k.writes, func(o CrashWrite) bool {
					return o.Outcome == Acked && o.Call > w.Return
				})
				if !superseded {
					k.allowed[w.SHA256] = w
				}
			case Indefinite:
				if _, ok := k.allowed[w.SHA256]; !ok {
					k.allowed[w.SHA256] = w
				}
			}
		}
	}
	return out
}

// judge classifies what a node served for a key.
func (k *keyWrites) judge(key string, obs observation) (class, detail string) {
	switch {
	case obs.Err != "" && k.absentOK:
		return ClassUnreadable, obs.Err
	case obs.Err != "":
		return ClassLost, "unreadable: " + obs.Err
	case !obs.Found && k.absentOK:
		return ClassOK, ""
	case !obs.Found:
		return ClassLost, "absent; acknowledged: " + k.describe(Acked)
	}
	if w, ok := k.allowed[obs.SHA256]; ok {
		switch {
		case obs.ETag != w.ETag:
			return ClassCorrupt, fmt.Sprintf("bytes of write %d but ETag %s, want %s", w.ID, obs.ETag, w.ETag)
		case obs.Size != w.Size:
			return ClassCorrupt, fmt.Sprintf("bytes of write %d but size %d, want %d", w.ID, obs.Size, w.Size)
		case w.Outcome == Acked && w.Error != "":
			return ClassCorrupt, fmt.Sprintf("write %d: %s", w.ID, w.Error)
		}
		return ClassOK, ""
	}
	for _, w := range k.writes {
		if w.SHA256 != obs.SHA256 {
			continue
		}
		if w.Outcome == Refused {
			return ClassCorrupt, fmt.Sprintf("holds write %d, which was refused (%s)", w.ID, w.Error)
		}
		return ClassLost, fmt.Sprintf("holds write %d, overwritten by acknowledged %s", w.ID, k.describe(Acked))
	}
	return ClassCorrupt, fmt.Sprintf("%d bytes (sha256 %s, header %q) that no write produced; writes: %s",
		obs.Size, obs.SHA256, obs.Header, k.describe(""))
}

// describe lists the key's writes with the given outcome ("": all).
func (k *keyWrites) describe(outcome string) string {
	var b bytes.Buffer
	for _, w := range k.writes {
		if outcome == "" || w.Outcome == outcome {
			fmt.Fprintf(&b, "w%d(%s %s %dB [%.3fs,%.3fs]) ", w.ID, w.Outcome, w.Kind, w.Size, float64(w.Call)/1e9, float64(w.Return)/1e9)
		}
	}
	return string(bytes.TrimSpace(b.Bytes()))
}

// nodeReport is one node's share of the verification.
type nodeReport struct {
	Node     string
	Verified int
	Present  int
	Findings []Finding
	obs      map[string]observation
}

// verifyNode reads every key of the ledger through one node, judges each,
// then lists the bucket and checks that the listing agrees with the reads.
func verifyNode(ctx context.Context, o CrashWorkloadOptions, nodeID, endpoint string, keys map[string]*keyWrites, concurrency int) (*nodeReport, error) {
	cl, err := newS3Client(endpoint, o.AccessKey, o.SecretKey, o.Region, crashClientOptions)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	rep := &nodeReport{Node: nodeID, obs: make(map[string]observation, len(names))}
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range work {
				obs := readKey(ctx, cl, o.Bucket, key)
				mu.Lock()
				rep.obs[key] = obs
				mu.Unlock()
			}
		}()
	}
	for _, k := range names {
		work <- k
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, key := range names {
		obs := rep.obs[key]
		class, detail := keys[key].judge(key, obs)
		if class != ClassOK {
			if class == ClassCorrupt && obs.Found {
				detail += diffNote(keys[key], obs, func() (io.ReadCloser, error) { return getBody(ctx, cl, o.Bucket, key) })
			}
			rep.Findings = append(rep.Findings, Finding{Node: nodeID, Key: key, Class: class, Detail: detail})
			continue
		}
		rep.Verified++
		if obs.Found {
			rep.Present++
		}
	}

	listed, err := listAll(ctx, cl, o.Bucket)
	if err != nil {
		rep.Findings = append(rep.Findings, Finding{Node: nodeID, Class: ClassListing, Detail: "listing failed: " + err.Error()})
		return rep, nil
	}
	for _, key := range names {
		obs, l := rep.obs[key], listed[key]
		delete(listed, key)
		switch {
		case obs.Err != "":
		case obs.Found && !l.found:
			rep.Findings = append(rep.Findings, Finding{Node: nodeID, Key: key, Class: ClassListing, Detail: "read but not listed"})
		case !obs.Found && l.found:
			rep.Findings = append(rep.Findings, Finding{Node: nodeID, Key: key, Class: ClassListing, Detail: fmt.Sprintf("listed (ETag %s, %d bytes) but reads as absent", l.etag, l.size)})
		case obs.Found && (l.etag != obs.ETag || l.size != obs.Size):
			rep.Findings = append(rep.Findings, Finding{Node: nodeID, Key: key, Class: ClassListing,
				Detail: fmt.Sprintf("listed with ETag %s, %d bytes; read with ETag %s, %d bytes", l.etag, l.size, obs.ETag, obs.Size)})
		}
	}
	for key, l := range listed {
		rep.Findings = append(rep.Findings, Finding{Node: nodeID, Key: key, Class: ClassListing,
			Detail: fmt.Sprintf("listed (ETag %s, %d bytes) but never written", l.etag, l.size)})
	}
	return rep, nil
}

// ClassListing: ListObjectsV2 disagrees with the reads of the same node.
const ClassListing = "listing"

// readKey GETs one key and hashes what it serves. Errors other than
// NoSuchKey are retried for a while (the cluster is healthy by now, but a
// blob a node lacks is fetched from a peer on first read); an error that
// persists is reported in the observation.
func readKey(ctx context.Context, cl *s3.Client, bucket, key string) observation {
	var last error
	for attempt := range 6 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return observation{Err: ctx.Err().Error()}
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		obs, err := readOnce(ctx, cl, bucket, key)
		if err == nil {
			return obs
		}
		last = err
	}
	return observation{Err: fmt.Sprintf("6 attempts, last: %v", last)}
}

func readOnce(ctx context.Context, cl *s3.Client, bucket, key string) (observation, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if apiCode(err) == "NoSuchKey" {
		return observation{}, nil
	}
	if err != nil {
		return observation{}, err
	}
	defer out.Body.Close()
	h := sha256.New()
	head := make([]byte, 0, 1100)
	n, err := io.Copy(io.MultiWriter(h, &prefixBuffer{b: &head}), out.Body)
	if err != nil {
		return observation{}, fmt.Errorf("reading the body after %d bytes: %w", n, err)
	}
	return observation{Found: true, SHA256: hex.EncodeToString(h.Sum(nil)), ETag: unquote(aws.ToString(out.ETag)),
		Size: n, Header: headerOf(head)}, nil
}

// prefixBuffer keeps the first cap(*b) bytes written to it.
type prefixBuffer struct{ b *[]byte }

func (p *prefixBuffer) Write(data []byte) (int, error) {
	if room := cap(*p.b) - len(*p.b); room > 0 {
		*p.b = append(*p.b, data[:min(room, len(data))]...)
	}
	return len(data), nil
}

func getBody(ctx context.Context, cl *s3.Client, bucket, key string) (io.ReadCloser, error) {
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// diffNote locates a corrupt body's first wrong byte against the write
// its header names (or the key's last acknowledged write), reading it
// once more.
func diffNote(k *keyWrites, obs observation, open func() (io.ReadCloser, error)) string {
	var ref *CrashWrite
	for i := range k.writes {
		w := &k.writes[i]
		if obs.Header != "" && obs.Header == fmt.Sprintf("sbcrash %s w%d %d", w.Key, w.BodyOf, w.Size) {
			ref = w
			break
		}
		if w.Outcome == Acked || ref == nil {
			ref = w
		}
	}
	if ref == nil {
		return ""
	}
	r, err := open()
	if err != nil {
		return fmt.Sprintf("; re-read failed: %v", err)
	}
	defer r.Close()
	if off := ref.body().firstDifference(r); off >= 0 {
		return fmt.Sprintf("; compared with write %d (%d bytes), first difference at byte %d", ref.ID, ref.Size, off)
	}
	return fmt.Sprintf("; re-read matches write %d exactly (the first read was wrong)", ref.ID)
}

type listedObject struct {
	found bool
	etag  string
	size  int64
}

// listAll lists the whole bucket with ListObjectsV2, page by page.
func listAll(ctx context.Context, cl *s3.Client, bucket string) (map[string]listedObject, error) {
	out := map[string]listedObject{}
	var token *string
	for {
		var page *s3.ListObjectsV2Output
		var err error
		for attempt := range 6 {
			lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			page, err = cl.ListObjectsV2(lctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), ContinuationToken: token})
			cancel()
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
			}
		}
		if err != nil {
			return nil, err
		}
		for _, obj := range page.Contents {
			out[aws.ToString(obj.Key)] = listedObject{found: true, etag: unquote(aws.ToString(obj.ETag)), size: aws.ToInt64(obj.Size)}
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		token = page.NextContinuationToken
	}
}
