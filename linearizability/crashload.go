package linearizability

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CrashKind is the shape of one crash-test write.
type CrashKind string

// The kinds of crash-test writes.
const (
	// CrashSmall is a PutObject whose body travels inline in the Raft
	// log (at most InlineMax bytes).
	CrashSmall CrashKind = "small"
	// CrashLarge is a PutObject stored as a replicated blob.
	CrashLarge CrashKind = "large"
	// CrashMultipart is a multipart upload of 2 or 3 parts.
	CrashMultipart CrashKind = "multipart"
)

// CrashKinds lists the kinds in report order.
var CrashKinds = []CrashKind{CrashSmall, CrashLarge, CrashMultipart}

// Outcomes of a crash-test write.
const (
	// Acked: the server answered 200; the write must be durable.
	Acked = "ack"
	// Refused: a 4xx answer, or a request that never reached a server
	// (connection refused), or a multipart upload abandoned before its
	// Complete was sent: the object must not appear.
	Refused = "failed"
	// Indefinite: a timeout, a 5xx or a broken connection: the write
	// may or may not have happened, but never partly.
	Indefinite = "unknown"
)

const (
	// InlineMax is the largest body Strongbox keeps inline in the Raft
	// log; larger ones are blobs.
	InlineMax = 64 << 10
	// MinPartSize is S3's smallest part but the last.
	MinPartSize = 5 << 20
)

// CrashMix weighs the kinds of writes.
type CrashMix map[CrashKind]int

// DefaultCrashMix is mostly small objects, with enough blobs and
// multipart uploads to cross every data path under every fault.
var DefaultCrashMix = CrashMix{CrashSmall: 75, CrashLarge: 20, CrashMultipart: 5}

// ParseCrashMix reads "small=75,large=20,multipart=5".
func ParseCrashMix(s string) (CrashMix, error) {
	m := CrashMix{}
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || !slices.Contains(CrashKinds, CrashKind(name)) {
			return nil, fmt.Errorf("bad mix entry %q: want KIND=WEIGHT with KIND one of %v", part, CrashKinds)
		}
		m[CrashKind(name)] = n
		total += n
	}
	if total == 0 {
		return nil, errors.New("mix: all weights are zero")
	}
	return m, nil
}

func (m CrashMix) String() string {
	var parts []string
	for _, k := range CrashKinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ",")
}

func (m CrashMix) pick(r *rand.Rand) CrashKind {
	total := 0
	for _, k := range CrashKinds {
		total += m[k]
	}
	n := r.IntN(total)
	for _, k := range CrashKinds {
		if n < m[k] {
			return k
		}
		n -= m[k]
	}
	return CrashSmall
}

// CrashWrite is one write of the crash test, as the ledger records it
// (writes.json). Call and Return are nanoseconds since the run began; for
// a multipart upload they bracket CompleteMultipartUpload, the only
// request that can make the object appear.
type CrashWrite struct {
	ID     int       `json:"id"`
	Writer int       `json:"writer"`
	Node   int       `json:"node"` // endpoint index of the deciding request
	Key    string    `json:"key"`
	Kind   CrashKind `json:"kind"`
	Size   int64     `json:"size"`
	Parts  int       `json:"parts,omitempty"`
	// Seed and BodyOf regenerate the body: newBody(Seed, Key, BodyOf,
	// Size). A retry of an unknown write repeats its body (BodyOf is
	// the first attempt's ID).
	Seed    uint64 `json:"seed"`
	BodyOf  int    `json:"body_of"`
	SHA256  string `json:"sha256"`
	ETag    string `json:"etag"`
	Outcome string `json:"outcome"`
	Status  int    `json:"status,omitempty"`
	Error   string `json:"error,omitempty"`
	Call    int64  `json:"call"`
	Return  int64  `json:"return"`
}

func (w *CrashWrite) body() *body { return newBody(w.Seed, w.Key, w.BodyOf, w.Size) }

// CrashWorkloadOptions describe the writers of a crash test.
type CrashWorkloadOptions struct {
	Endpoints            []string
	AccessKey, SecretKey string
	Region, Bucket       string
	// Writers is the number of concurrent writers (default 6). Each
	// sends every request to a node picked at random.
	Writers int
	// Rate is the total target of writes per second (default 12; 0:
	// flat out). Large writes at full speed fill a disk within minutes.
	Rate float64
	Mix  CrashMix
	// MaxLarge is the largest single PutObject (default 4 MiB).
	MaxLarge int64
	// OverwritePct is the share of writes that go to one of HotKeys
	// shared keys (default 10%, 16 keys; negative: none), which several
	// writers overwrite concurrently; the rest write keys of their own,
	// once.
	OverwritePct, HotKeys int
	// RetryPct is the chance that a writer repeats a write whose
	// outcome was unknown, same key and bytes, as SDKs retry (default
	// 50%; negative: never).
	RetryPct int
	// OpTimeout bounds each request (default 20s).
	OpTimeout time.Duration
	Seed      int64
}

func (o *CrashWorkloadOptions) defaults() {
	if o.Writers <= 0 {
		o.Writers = 6
	}
	if o.Rate == 0 {
		o.Rate = 12
	}
	if o.Mix == nil {
		o.Mix = DefaultCrashMix
	}
	if o.MaxLarge <= InlineMax {
		o.MaxLarge = 4 << 20
	}
	if o.OverwritePct == 0 {
		o.OverwritePct = 10
	}
	if o.HotKeys <= 0 {
		o.HotKeys = 16
	}
	if o.RetryPct == 0 {
		o.RetryPct = 50
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 20 * time.Second
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
}

// ledger records every write of a run, safe for concurrent use.
type ledger struct {
	start  time.Time
	nextID atomic.Int64

	mu     sync.Mutex
	writes []CrashWrite
}

func (l *ledger) now() int64 { return int64(time.Since(l.start)) }

func (l *ledger) add(w CrashWrite) {
	l.mu.Lock()
	l.writes = append(l.writes, w)
	l.mu.Unlock()
}

// all returns the writes so far, in ID order.
func (l *ledger) all() []CrashWrite {
	l.mu.Lock()
	out := slices.Clone(l.writes)
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b CrashWrite) int { return a.ID - b.ID })
	return out
}

func (l *ledger) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := map[string]int{}
	for i := range l.writes {
		n[l.writes[i].Outcome]++
	}
	return n
}

// runCrashWriters drives the writers until stop closes; requests in
// flight then finish (at most OpTimeout each).
func runCrashWriters(o CrashWorkloadOptions, l *ledger, stop <-chan struct{}) error {
	o.defaults()
	var clients []*s3.Client
	for _, ep := range o.Endpoints {
		cl, err := newS3Client(ep, o.AccessKey, o.SecretKey, o.Region)
		if err != nil {
			return err
		}
		clients = append(clients, cl)
	}
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(o.Writers) / o.Rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	for i := range o.Writers {
		w := &writer{id: i, o: &o, l: l, clients: clients,
			rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x637261736800+uint64(i)))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(stop, interval)
		}()
	}
	wg.Wait()
	return nil
}

// writer is one sequential crash-test client.
type writer struct {
	id      int
	o       *CrashWorkloadOptions
	l       *ledger
	clients []*s3.Client
	rng     *rand.Rand
	seq     int
	// retry is an unknown write to repeat next, if any.
	retry *CrashWrite
}

func (w *writer) run(stop <-chan struct{}, interval time.Duration) {
	next := time.Now()
	if interval > 0 {
		next = next.Add(time.Duration(w.rng.Int64N(int64(interval))))
	}
	for {
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		select {
		case <-stop:
			return
		default:
		}
		out := w.step()
		now := time.Now()
		next = later(next.Add(interval), now)
		if out != Acked {
			// A node that is down refuses at once: do not spin on it.
			next = later(next, now.Add(100*time.Millisecond))
		}
	}
}

// step plans one write (a fresh one, or a retry of the last unknown
// one), performs it and records it.
func (w *writer) step() string {
	wr := CrashWrite{ID: int(w.l.nextID.Add(1)), Writer: w.id}
	if r := w.retry; r != nil {
		w.retry = nil
		wr.Key, wr.Kind, wr.Size, wr.Parts, wr.Seed, wr.BodyOf = r.Key, r.Kind, r.Size, r.Parts, r.Seed, r.BodyOf
		wr.SHA256, wr.ETag = r.SHA256, r.ETag
	} else {
		w.seq++
		if w.rng.IntN(100) < w.o.OverwritePct {
			wr.Key = fmt.Sprintf("hot/k%02d", w.rng.IntN(w.o.HotKeys))
		} else {
			wr.Key = fmt.Sprintf("w%02d/%06d", w.id, w.seq)
		}
		wr.Kind = w.o.Mix.pick(w.rng)
		wr.Seed, wr.BodyOf = w.rng.Uint64(), wr.ID
		wr.Size, wr.Parts = w.size(wr.Kind)
		var partSize int64
		if wr.Kind == CrashMultipart {
			partSize = MinPartSize
		}
		d := wr.body().digest(partSize)
		wr.SHA256, wr.ETag = d.SHA256, d.ETag
	}
	if wr.Kind == CrashMultipart {
		w.multipart(&wr)
	} else {
		w.put(&wr)
	}
	w.l.add(wr)
	if wr.Outcome == Indefinite && w.rng.IntN(100) < w.o.RetryPct {
		w.retry = &wr
	}
	return wr.Outcome
}

// size draws a body size for kind: log-uniform, so that small sizes are
// as well represented as large ones, with the boundaries (the inline
// limit, S3's part size) drawn now and then.
func (w *writer) size(kind CrashKind) (int64, int) {
	logUniform := func(lo, hi int64) int64 {
		v := math.Exp(math.Log(float64(lo)) + w.rng.Float64()*(math.Log(float64(hi))-math.Log(float64(lo))))
		return min(max(int64(v), lo), hi)
	}
	switch kind {
	case CrashSmall:
		if w.rng.IntN(20) == 0 {
			return InlineMax, 0
		}
		return logUniform(64, InlineMax), 0
	case CrashLarge:
		if w.rng.IntN(20) == 0 {
			return InlineMax + 1, 0
		}
		return logUniform(InlineMax+1, w.o.MaxLarge), 0
	default:
		parts := 2 + w.rng.IntN(2)
		last := logUniform(1, MinPartSize)
		if w.rng.IntN(10) == 0 {
			last = MinPartSize
		}
		return int64(parts-1)*MinPartSize + last, parts
	}
}

func (w *writer) opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), w.o.OpTimeout)
}

func (w *writer) pickNode() int { return w.rng.IntN(len(w.clients)) }

func (w *writer) put(wr *CrashWrite) {
	b := wr.body()
	var out *s3.PutObjectOutput
	wr.Call = w.l.now()
	err := w.send(wr, func(ctx context.Context, cl *s3.Client) (err error) {
		out, err = cl.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(w.o.Bucket), Key: aws.String(wr.Key),
			Body: b.part(0, wr.Size), ContentLength: aws.Int64(wr.Size),
		})
		return err
	})
	wr.Return = w.l.now()
	w.classify(wr, err)
	if err == nil && unquote(aws.ToString(out.ETag)) != wr.ETag {
		wr.Error = fmt.Sprintf("acknowledged with ETag %s, want %s", aws.ToString(out.ETag), wr.ETag)
	}
}

// multipart uploads the body in parts of MinPartSize, as the SDK's upload
// manager does (CRC32 part checksums, named in Complete), retrying each
// part on another node up to three times, and completes the upload once. Only Complete decides the outcome: an
// upload abandoned before it is Refused (the object cannot appear).
func (w *writer) multipart(wr *CrashWrite) {
	b := wr.body()
	bucket, key := aws.String(w.o.Bucket), aws.String(wr.Key)
	var uploadID string
	err := w.attempts(func(cl *s3.Client) error {
		ctx, cancel := w.opContext()
		defer cancel()
		out, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: key, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err == nil {
			uploadID = aws.ToString(out.UploadId)
		}
		return err
	})
	if err != nil {
		wr.Call, wr.Return = w.l.now(), w.l.now()
		wr.Outcome, wr.Error = Refused, "create: "+err.Error()
		return
	}
	var parts []types.CompletedPart
	for i := range wr.Parts {
		off := int64(i) * MinPartSize
		n := min(MinPartSize, wr.Size-off)
		num := aws.Int32(int32(i + 1))
		err := w.attempts(func(cl *s3.Client) error {
			ctx, cancel := w.opContext()
			defer cancel()
			out, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: key, UploadId: aws.String(uploadID),
				PartNumber: num, Body: b.part(off, n), ContentLength: aws.Int64(n), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
			if err == nil {
				parts = append(parts, types.CompletedPart{PartNumber: num, ETag: out.ETag,
					ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C, ChecksumCRC64NVME: out.ChecksumCRC64NVME})
			}
			return err
		})
		if err != nil {
			wr.Call, wr.Return = w.l.now(), w.l.now()
			wr.Outcome, wr.Error = Refused, fmt.Sprintf("part %d: %v", i+1, err)
			ctx, cancel := w.opContext()
			_, _ = w.clients[w.pickNode()].AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: key, UploadId: aws.String(uploadID)})
			cancel()
			return
		}
	}
	var out *s3.CompleteMultipartUploadOutput
	wr.Call = w.l.now()
	err = w.send(wr, func(ctx context.Context, cl *s3.Client) (err error) {
		out, err = cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: bucket, Key: key, UploadId: aws.String(uploadID),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		return err
	})
	wr.Return = w.l.now()
	w.classify(wr, err)
	if err == nil && unquote(aws.ToString(out.ETag)) != wr.ETag {
		wr.Error = fmt.Sprintf("acknowledged with ETag %s, want %s", aws.ToString(out.ETag), wr.ETag)
	}
}

// send makes the deciding request of a write through a random node, and
// through the next ones while a node refuses the connection (it is down,
// and nothing was sent), as a client behind a load balancer would. It
// records the node that took the request in wr.Node.
func (w *writer) send(wr *CrashWrite, f func(context.Context, *s3.Client) error) error {
	wr.Node = w.pickNode()
	for tries := 1; ; tries++ {
		ctx, cancel := w.opContext()
		err := f(ctx, w.clients[wr.Node])
		cancel()
		if !errors.Is(err, syscall.ECONNREFUSED) || tries == len(w.clients) {
			return err
		}
		wr.Node = (wr.Node + 1) % len(w.clients)
	}
}

// attempts runs f through up to three nodes in turn until it succeeds.
func (w *writer) attempts(f func(*s3.Client) error) error {
	var err error
	for range 3 {
		if err = f(w.clients[w.pickNode()]); err == nil {
			return nil
		}
	}
	return err
}

// classify sets a write's outcome from the error of its deciding request.
func (w *writer) classify(wr *CrashWrite, err error) {
	if err == nil {
		wr.Outcome = Acked
		return
	}
	wr.Error, wr.Status = err.Error(), httpStatus(err)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		// Nothing was sent: the node was down.
		wr.Outcome = Refused
	case wr.Status >= 400 && wr.Status < 500:
		wr.Outcome = Refused
	default:
		wr.Outcome = Indefinite
	}
}
