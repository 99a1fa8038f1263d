package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// benchResult is one workload's figures; the JSON form is the last line of
// output so scripts can collect it.
type benchResult struct {
	Target      string `json:"target"`
	Op          string `json:"op"`
	Size        int    `json:"size"`
	Concurrency int    `json:"concurrency"`
	Ops         int    `json:"ops"`
	Errors      int64  `json:"errors"`
	// Shed counts 503 SlowDown answers (also counted in Errors): the node
	// refused the request under load, as it should past its bounds.
	Shed      int64   `json:"shed"`
	ShedShare float64 `json:"shed_share"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	Ratio     float64 `json:"ratio_to_ceiling,omitempty"`
}

// runBench is the project's load tool. It drives PUT or GET of fixed-size
// objects at a fixed concurrency against one endpoint, with a lean client
// (SigV4 over net/http, UNSIGNED-PAYLOAD) so the client costs little of
// the shared CPU. With --ceiling it first runs the same workload against a
// do-nothing S3 endpoint in this process: the best this machine can do,
// against which the real figures are reported as a ratio.
func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	e := newEnvFlags(fs)
	var (
		endpoint, op, bucket, ak, sk, serveNull string
		size, conc, keys                        int
		dur                                     time.Duration
		ceiling                                 bool
	)
	e.String(&endpoint, "endpoint", "STRONGBOX_ENDPOINT", "http://127.0.0.1:9000", "S3 endpoint to load; several, comma-separated, share the clients round robin")
	e.String(&op, "op", "STRONGBOX_BENCH_OP", "put", "operation: put or get")
	e.String(&bucket, "bucket", "STRONGBOX_BENCH_BUCKET", "bench", "bucket (created if missing)")
	e.Int(&size, "size", "STRONGBOX_BENCH_SIZE", 4096, "object size in bytes")
	e.Int(&conc, "concurrency", "STRONGBOX_BENCH_CONCURRENCY", 1, "concurrent requests")
	e.Int(&keys, "keys", "STRONGBOX_BENCH_KEYS", 1000, "distinct keys (get preloads them)")
	e.Duration(&dur, "duration", "STRONGBOX_BENCH_DURATION", 10*time.Second, "measurement time")
	e.Bool(&ceiling, "ceiling", "STRONGBOX_BENCH_CEILING", false, "also measure a do-nothing endpoint and report the ratio")
	e.String(&serveNull, "serve-null", "STRONGBOX_BENCH_SERVE_NULL", "", "only serve a do-nothing S3 endpoint on this address (no load)")
	e.String(&ak, "access-key", "STRONGBOX_ACCESS_KEY", defaultAccessKey, "access key")
	e.String(&sk, "secret-key", "STRONGBOX_SECRET_KEY", defaultSecretKey, "secret key")
	if err := e.parse(args); err != nil {
		return err
	}
	if op != "put" && op != "get" {
		return fmt.Errorf("bench: --op must be put or get, not %q", op)
	}
	if size < 0 || conc < 1 || keys < 1 {
		return errors.New("bench: need size >= 0, concurrency >= 1, keys >= 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if serveNull != "" {
		ln, err := net.Listen("tcp", serveNull)
		if err != nil {
			return err
		}
		fmt.Printf("do-nothing S3 endpoint on http://%s (Ctrl-C to stop)\n", ln.Addr())
		srv := &http.Server{Handler: nullS3{size: size}}
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}

	w := &workload{op: op, bucket: bucket, size: size, conc: conc, keys: keys, dur: dur, ak: ak, sk: sk}
	var ceil *benchResult
	if ceiling {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: nullS3{size: size}}
		go func() { _ = srv.Serve(ln) }()
		r, err := w.run(ctx, "http://"+ln.Addr().String(), "ceiling")
		srv.Close()
		if err != nil {
			return err
		}
		ceil = r
		printResult(r)
	}
	r, err := w.run(ctx, endpoint, endpoint)
	if err != nil {
		return err
	}
	if ceil != nil && ceil.OpsPerSec > 0 {
		r.Ratio = r.OpsPerSec / ceil.OpsPerSec
	}
	printResult(r)
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	return nil
}

func printResult(r *benchResult) {
	fmt.Printf("%-28s %s %dB c=%-3d %8.0f ops/s  p50 %6.2f ms  p99 %6.2f ms  ops %d  errors %d",
		r.Target, r.Op, r.Size, r.Concurrency, r.OpsPerSec, r.P50ms, r.P99ms, r.Ops, r.Errors)
	if r.Shed > 0 {
		fmt.Printf(" (%d SlowDown, %.1f%% of answers)", r.Shed, r.ShedShare*100)
	}
	if r.Ratio > 0 {
		fmt.Printf("  (%.0f%% of ceiling)", r.Ratio*100)
	}
	fmt.Println()
}

type workload struct {
	op, bucket, ak, sk string
	size, conc, keys   int
	dur                time.Duration
}

func (w *workload) request(ctx context.Context, endpoint, method, path string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	sigv4.Sign(req, w.ak, w.sk, "us-east-1", sigv4.UnsignedPayload, time.Now())
	return req, nil
}

// errShed is a 503 answer: the node shed the request.
var errShed = errors.New("503 SlowDown")

func (w *workload) do(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		return errShed
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return nil
}

func (w *workload) run(ctx context.Context, endpointList, label string) (*benchResult, error) {
	endpoints := strings.Split(endpointList, ",")
	endpoint := endpoints[0]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: w.conc * 2, MaxConnsPerHost: w.conc * 2}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	payload := make([]byte, w.size)
	_, _ = rand.Read(payload)

	// Setup: the bucket, and for GET every key.
	if req, err := w.request(ctx, endpoint, http.MethodPut, "/"+w.bucket, nil); err == nil {
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("bench: create bucket: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	key := func(i int) string { return "/" + w.bucket + "/bench-" + strconv.Itoa(i%w.keys) }
	if w.op == "get" {
		for i := 0; i < w.keys; i++ {
			req, err := w.request(ctx, endpoint, http.MethodPut, key(i), payload)
			if err != nil {
				return nil, err
			}
			if err := w.do(client, req); err != nil {
				// One retry after a pause rides out a leader election.
				time.Sleep(time.Second)
				if req, err = w.request(ctx, endpoint, http.MethodPut, key(i), payload); err == nil {
					err = w.do(client, req)
				}
				if err != nil {
					return nil, fmt.Errorf("bench: preload: %w", err)
				}
			}
		}
	}

	var (
		next   atomic.Int64
		errs   atomic.Int64
		shed   atomic.Int64
		mu     sync.Mutex
		lats   []time.Duration
		wg     sync.WaitGroup
		start  = time.Now()
		cutoff = start.Add(w.dur)
	)
	for c := 0; c < w.conc; c++ {
		wg.Add(1)
		endpoint := endpoints[c%len(endpoints)]
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil && time.Now().Before(cutoff) {
				i := int(next.Add(1))
				var req *http.Request
				var err error
				if w.op == "put" {
					req, err = w.request(ctx, endpoint, http.MethodPut, key(i), payload)
				} else {
					req, err = w.request(ctx, endpoint, http.MethodGet, key(i), nil)
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				t0 := time.Now()
				if err := w.do(client, req); err != nil {
					errs.Add(1)
					if err == errShed {
						shed.Add(1)
					}
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	slices.Sort(lats)
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		return float64(lats[min(len(lats)-1, int(p*float64(len(lats))))].Microseconds()) / 1000
	}
	return &benchResult{
		Target: label, Op: w.op, Size: w.size, Concurrency: w.conc,
		Ops: len(lats), Errors: errs.Load(), Seconds: elapsed,
		Shed: shed.Load(), ShedShare: float64(shed.Load()) / max(1, float64(len(lats))+float64(errs.Load())),
		OpsPerSec: float64(len(lats)) / elapsed, P50ms: pct(0.50), P99ms: pct(0.99),
	}, nil
}

// nullS3 answers every request as a successful PUT or GET without doing
// any work: the ceiling against which real throughput is compared.
type nullS3 struct{ size int }

func (n nullS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("ETag", `"00000000000000000000000000000000"`)
	if r.Method == http.MethodGet && strings.Count(r.URL.Path, "/") > 1 {
		w.Header().Set("Content-Length", strconv.Itoa(n.size))
		_, _ = w.Write(make([]byte, n.size))
		return
	}
	w.WriteHeader(http.StatusOK)
}
