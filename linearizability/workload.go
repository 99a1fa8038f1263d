package linearizability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Mix is the relative weight of each operation kind in the workload.
type Mix map[Kind]int

// DefaultMix reads and writes about equally, with every kind present.
var DefaultMix = Mix{Get: 30, Put: 25, Delete: 8, PutIfAbsent: 10, PutIfMatch: 12, List: 15}

// ParseMix reads "get=30,put=25,..." (kinds not named get weight 0).
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || !slices.Contains(Kinds, Kind(name)) {
			return nil, fmt.Errorf("bad mix entry %q: want KIND=WEIGHT with KIND one of %v", part, Kinds)
		}
		m[Kind(name)] = n
	}
	total := 0
	for _, w := range m {
		total += w
	}
	if total == 0 {
		return nil, errors.New("mix: all weights are zero")
	}
	return m, nil
}

func (m Mix) String() string {
	var parts []string
	for _, k := range Kinds {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
		}
	}
	return strings.Join(parts, ",")
}

func (m Mix) pick(r *rand.Rand) Kind {
	total := 0
	for _, k := range Kinds {
		total += m[k]
	}
	n := r.IntN(total)
	for _, k := range Kinds {
		if n < m[k] {
			return k
		}
		n -= m[k]
	}
	return Get
}

// WorkloadOptions describes the client side of a run.
type WorkloadOptions struct {
	// Endpoints are the S3 URLs of the nodes; client i uses endpoint
	// i mod len(Endpoints) for its whole life, so every node serves
	// clients, including nodes cut off by a partition.
	Endpoints            []string
	AccessKey, SecretKey string
	Region               string
	Bucket               string
	// Clients is the number of concurrent clients (default 12).
	Clients int
	// Rate is the total target rate in operations per second, shared
	// by the clients; 0 means each client runs flat out.
	Rate float64
	// Keys is the number of keys in use at any time (default 8), spread
	// over Prefixes listing prefixes (default 2).
	Keys, Prefixes int
	// KeyLifetime retires the key set and starts a fresh one this often
	// (default 15s; negative: never). Key i of generation g is
	// "g<g>/p<i mod Prefixes>/k<i>". Short-lived keys keep each key's
	// history short, which bounds the checker's search: an unknown write
	// stays pending until the end of its key's history.
	KeyLifetime time.Duration
	Mix         Mix
	// OpTimeout bounds each operation (default 2s); past it the outcome
	// is unknown.
	OpTimeout time.Duration
	Seed      int64
}

func (o *WorkloadOptions) defaults() {
	if o.Clients <= 0 {
		o.Clients = 12
	}
	if o.Keys <= 0 {
		o.Keys = 8
	}
	if o.Prefixes <= 0 {
		o.Prefixes = 2
	}
	o.Prefixes = min(o.Prefixes, o.Keys)
	if o.KeyLifetime == 0 {
		o.KeyLifetime = 15 * time.Second
	}
	if o.Mix == nil {
		o.Mix = DefaultMix
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 2 * time.Second
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
}

// generation is the number of the key set in use at time now (history
// clock).
func (o *WorkloadOptions) generation(now int64) int64 {
	if o.KeyLifetime < 0 {
		return 0
	}
	return now / int64(o.KeyLifetime)
}

func (o *WorkloadOptions) keyName(gen int64, i int) string {
	return fmt.Sprintf("%sk%02d", o.prefixName(gen, i%o.Prefixes), i)
}

func (o *WorkloadOptions) prefixName(gen int64, p int) string {
	return fmt.Sprintf("g%03d/p%d/", gen, p)
}

// newS3Client builds an SDK client the way applications do, with one
// attempt per call so that every attempt is one recorded operation.
// Options in opts apply last.
func newS3Client(endpoint, ak, sk, region string, opts ...func(*s3.Options)) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, sk, "")),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		return nil, err
	}
	base := func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){base}, opts...)...), nil
}

// CreateBucket creates the workload's bucket through any endpoint,
// retrying until it exists or ctx ends.
func CreateBucket(ctx context.Context, o WorkloadOptions) error {
	o.defaults()
	var lastErr error
	for attempt := 0; ; attempt++ {
		ep := o.Endpoints[attempt%len(o.Endpoints)]
		cl, err := newS3Client(ep, o.AccessKey, o.SecretKey, o.Region)
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = cl.CreateBucket(cctx, &s3.CreateBucketInput{Bucket: aws.String(o.Bucket)})
		cancel()
		if err == nil || apiCode(err) == "BucketAlreadyOwnedByYou" {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("create bucket %s: %w (last error: %v)", o.Bucket, ctx.Err(), lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// RunWorkload drives the clients until stop is closed, recording every
// operation in h. Operations in flight when stop closes run to completion
// (at most OpTimeout).
func RunWorkload(o WorkloadOptions, h *History, stop <-chan struct{}) error {
	o.defaults()
	if len(o.Endpoints) == 0 {
		return errors.New("workload: no endpoints")
	}
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(o.Clients) / o.Rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	for i := range o.Clients {
		node := i % len(o.Endpoints)
		cl, err := newS3Client(o.Endpoints[node], o.AccessKey, o.SecretKey, o.Region)
		if err != nil {
			return err
		}
		c := &client{
			id: i, node: node, s3: cl, h: h, o: &o,
			rng:  rand.New(rand.NewPCG(uint64(o.Seed), uint64(i))),
			seen: map[string]string{},
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(stop, interval)
		}()
	}
	wg.Wait()
	return nil
}

// client is one sequential workload client.
type client struct {
	id, node int
	s3       *s3.Client
	h        *History
	o        *WorkloadOptions
	rng      *rand.Rand
	seq      int
	// seen is the last value this client knows each key to have held,
	// the ETag it sends with If-Match.
	seen map[string]string
}

func (c *client) run(stop <-chan struct{}, interval time.Duration) {
	next := time.Now()
	if interval > 0 {
		// Stagger the clients across one interval.
		next = next.Add(time.Duration(c.rng.Int64N(int64(interval))))
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
		out := c.step()
		now := time.Now()
		next = later(next.Add(interval), now)
		if out != OK && out != Fail {
			// Back off briefly from a node that is down, so a dead
			// endpoint does not flood the history.
			next = later(next, now.Add(50*time.Millisecond))
		}
	}
}

// step runs one operation of the mix and returns its outcome.
func (c *client) step() Outcome {
	kind := c.o.Mix.pick(c.rng)
	gen := c.o.generation(c.h.Now())
	if kind == List {
		return c.list(c.o.prefixName(gen, c.rng.IntN(c.o.Prefixes)))
	}
	key := c.o.keyName(gen, c.rng.IntN(c.o.Keys))
	switch kind {
	case Get:
		return c.get(key)
	case Delete:
		return c.delete(key)
	case PutIfMatch:
		expect, ok := c.seen[key]
		if !ok {
			if out := c.get(key); out != OK {
				return out
			}
			if expect, ok = c.seen[key]; !ok {
				return c.put(PutIfAbsent, key, "")
			}
		}
		return c.put(PutIfMatch, key, expect)
	default:
		return c.put(kind, key, "")
	}
}

func (c *client) newValue() string {
	c.seq++
	return fmt.Sprintf("c%d-%d", c.id, c.seq)
}

func (c *client) opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.o.OpTimeout)
}

func (c *client) begin(kind Kind, key string) Op {
	return Op{Client: c.id, Node: c.node, Kind: kind, Key: key, Call: c.h.Now()}
}

// finish classifies err into the op's outcome, records the op and returns
// the outcome.
func (c *client) finish(op Op, err error) Outcome {
	op.Return = c.h.Now()
	if err != nil {
		op.Error = err.Error()
		op.Status = httpStatus(err)
		switch {
		case op.Status >= 400 && op.Status < 500 && op.Kind.isWrite():
			// A definite refusal: the write had no effect.
			op.Outcome = Fail
			if apiCode(err) == "NoSuchBucket" {
				c.h.Anomaly("op by client %d on node %d: bucket vanished: %v", c.id, c.node, err)
			}
		default:
			op.Outcome = Unknown
		}
	} else {
		op.Outcome = OK
	}
	c.learn(&op)
	c.h.Add(op)
	return op.Outcome
}

// learn updates what the client knows of each key's value from an op.
func (c *client) learn(op *Op) {
	switch {
	case op.Outcome == Unknown && op.Kind.isWrite():
		delete(c.seen, op.Key)
	case op.Outcome != OK:
	case op.Kind == Get && op.Found:
		c.seen[op.Key] = op.Result
	case op.Kind == Get, op.Kind == Delete:
		delete(c.seen, op.Key)
	case op.Kind == List:
		for k := range c.seen {
			if _, listed := op.Listed[k]; strings.HasPrefix(k, op.Key) && !listed {
				delete(c.seen, k)
			}
		}
		for k, v := range op.Listed {
			if !strings.HasPrefix(v, "etag:") {
				c.seen[k] = v
			}
		}
	default:
		c.seen[op.Key] = op.Value
	}
}

func (c *client) get(key string) Outcome {
	op := c.begin(Get, key)
	ctx, cancel := c.opContext()
	defer cancel()
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.o.Bucket), Key: aws.String(key)})
	if err == nil {
		var body []byte
		body, err = io.ReadAll(out.Body)
		out.Body.Close()
		if err == nil {
			op.Found, op.Result = true, string(body)
			if etag := unquote(aws.ToString(out.ETag)); etag != ETag(op.Result) {
				c.h.Anomaly("get %s on node %d: body %q does not match ETag %s", key, c.node, op.Result, etag)
			}
		}
	} else if apiCode(err) == "NoSuchKey" {
		err = nil
	} else if apiCode(err) == "NoSuchBucket" {
		c.h.Anomaly("get %s on node %d: bucket vanished: %v", key, c.node, err)
	}
	return c.finish(op, err)
}

func (c *client) list(prefix string) Outcome {
	op := c.begin(List, prefix)
	ctx, cancel := c.opContext()
	defer cancel()
	out, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.o.Bucket), Prefix: aws.String(prefix)})
	if err == nil {
		op.Listed = map[string]string{}
		for _, obj := range out.Contents {
			op.Listed[aws.ToString(obj.Key)] = c.h.ValueOf(aws.ToString(obj.ETag))
		}
		if aws.ToBool(out.IsTruncated) {
			c.h.Anomaly("list %s on node %d: truncated with %d keys", prefix, c.node, len(out.Contents))
		}
	}
	return c.finish(op, err)
}

func (c *client) delete(key string) Outcome {
	op := c.begin(Delete, key)
	ctx, cancel := c.opContext()
	defer cancel()
	_, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(c.o.Bucket), Key: aws.String(key)})
	return c.finish(op, err)
}

// put writes a fresh value: unconditionally, with If-None-Match: *, or
// with If-Match: the ETag of expect.
func (c *client) put(kind Kind, key, expect string) Outcome {
	v := c.newValue()
	c.h.Written(v)
	op := c.begin(kind, key)
	op.Value, op.Expect = v, expect
	in := &s3.PutObjectInput{Bucket: aws.String(c.o.Bucket), Key: aws.String(key), Body: bytes.NewReader([]byte(v))}
	switch kind {
	case PutIfAbsent:
		in.IfNoneMatch = aws.String("*")
	case PutIfMatch:
		in.IfMatch = aws.String(`"` + ETag(expect) + `"`)
	}
	ctx, cancel := c.opContext()
	defer cancel()
	out, err := c.s3.PutObject(ctx, in)
	if err == nil && unquote(aws.ToString(out.ETag)) != ETag(v) {
		c.h.Anomaly("put %s=%s on node %d: ETag %s, want %s", key, v, c.node, aws.ToString(out.ETag), ETag(v))
	}
	return c.finish(op, err)
}

// httpStatus is the HTTP status of an SDK error, or 0 when no response
// arrived (timeout, connection refused or reset).
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
