package linearizability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Options describe one run of the harness.
type Options struct {
	// Name labels the run (a scenario's name).
	Name string

	// The cluster: by default Nodes local processes of Binary (with
	// ServerArgs); with Endpoints, a running cluster.
	Binary     string
	Nodes      int
	ServerArgs []string
	Endpoints  []string
	// Admin (and S3) credentials; Region to sign for.
	AccessKey, SecretKey, Region string

	// Workload: endpoints, credentials, bucket and seed are filled in.
	Workload WorkloadOptions
	// Duration of the workload (default 30s).
	Duration time.Duration
	Nemesis  NemesisOptions
	// Seed drives the workload and the nemesis; 0 picks one.
	Seed int64

	// CheckTimeout bounds the Porcupine check (default 2m).
	CheckTimeout time.Duration
	// Visualize writes the HTML visualization even without a violation.
	Visualize bool
	// Out is the report directory; default a new directory under
	// os.TempDir().
	Out string
	// KeepData keeps the nodes' data directories even after a clean
	// run (they are always kept after a violation).
	KeepData bool
	// Progress receives progress lines (default os.Stderr).
	Progress io.Writer
}

// Summary is the outcome of a run (summary.json, and the last line of
// `strongbox check`).
type Summary struct {
	Name    string   `json:"scenario,omitempty"`
	Verdict Verdict  `json:"verdict"`
	Seed    int64    `json:"seed"`
	Nodes   int      `json:"nodes"`
	Nemeses []string `json:"nemeses"`
	// Seconds is the workload's duration.
	Seconds float64 `json:"seconds"`
	Ops     int     `json:"ops"`
	// Checked counts the operations given to the checker (all but
	// reads without a result).
	Checked int                      `json:"ops_checked"`
	ByKind  map[Kind]map[Outcome]int `json:"ops_by_type"`
	// Availability is the percentage of operations with a definite
	// answer (ok or fail), overall and by the fault in effect when they
	// were invoked ("none" between faults).
	Availability          float64            `json:"availability_pct"`
	AvailabilityByNemesis map[string]float64 `json:"availability_by_nemesis_pct"`
	Faults                int                `json:"faults"`
	FaultErrors           int                `json:"fault_errors,omitempty"`
	Anomalies             []string           `json:"anomalies,omitempty"`
	CheckSeconds          float64            `json:"check_seconds"`
	Models                []ModelResult      `json:"models"`
	Dir                   string             `json:"report_dir"`
}

// Run starts (or connects to) the cluster, runs the workload and the
// nemesis for the duration, checks the history and writes the report.
// The returned error is about the harness itself (the cluster would not
// start, the report could not be written); the verdict is in the Summary.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Duration <= 0 {
		o.Duration = 30 * time.Second
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 2 * time.Minute
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano() % 1e9
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	var err error
	if o.Out, err = reportDir(o.Out, "strongbox-check-"); err != nil {
		return nil, err
	}
	logf := progressLog(o.Progress)
	logf("report directory %s, seed %d", o.Out, o.Seed)

	var c *Cluster
	nodesDir := filepath.Join(o.Out, "nodes")
	if len(o.Endpoints) > 0 {
		c, err = ConnectRemote(ctx, o.Endpoints, o.AccessKey, o.SecretKey, o.Region)
	} else {
		if o.Binary == "" {
			return nil, errors.New("no strongbox binary to start nodes from")
		}
		if err = os.MkdirAll(nodesDir, 0o755); err == nil {
			logf("starting %d nodes (%s %s)", max(o.Nodes, 1), filepath.Base(o.Binary), strings.Join(o.ServerArgs, " "))
			c, err = StartLocal(ctx, LocalOptions{Binary: o.Binary, Nodes: o.Nodes, Dir: nodesDir,
				AccessKey: o.AccessKey, SecretKey: o.SecretKey, ServerArgs: o.ServerArgs, Logf: logf})
		}
	}
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			c.Close()
		}
	}()
	for _, name := range o.Nemesis.Nemeses {
		if !c.Local() && slices.Contains(needsLocal, name) {
			return nil, fmt.Errorf("nemesis %s: %w", name, ErrNeedsLocal)
		}
	}

	w := o.Workload
	w.Endpoints = c.Endpoints()
	w.AccessKey, w.SecretKey, w.Region = o.AccessKey, o.SecretKey, o.Region
	w.Seed = o.Seed
	w.Bucket = fmt.Sprintf("lin-%d-%d", o.Seed, time.Now().UnixNano()%1e6)
	w.defaults()
	if err := CreateBucket(ctx, w); err != nil {
		return nil, err
	}
	logf("cluster ready (%s); workload: %d clients, %d keys, rate %s, mix %s, for %v",
		strings.Join(w.Endpoints, " "), w.Clients, w.Keys, rateString(w.Rate), w.Mix, o.Duration)

	h := NewHistory()
	ne := o.Nemesis
	ne.Seed = o.Seed
	nr := newNemesisRunner(c, h, ne, logf)
	werr := underFaults(ctx, o.Duration, nr, func(stop <-chan struct{}) error {
		return RunWorkload(w, h, stop)
	}, func() {
		logf("%s%s", countLine(h.Ops()), activeNote(nr.Active()))
	})
	elapsed := float64(h.Now()) / 1e9
	ops := h.Ops()
	timeline := nr.Timeline()
	logf("workload done: %s; %d faults", countLine(ops), len(timeline))
	c.Close()
	closed = true
	if werr != nil {
		return nil, werr
	}

	if err := WriteHistory(filepath.Join(o.Out, "history.json"), h.Start(), ops); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(o.Out, "faults.json"), timeline); err != nil {
		return nil, err
	}
	logf("checking %d operations (time limit %v)", len(ops), o.CheckTimeout)
	res := Check(ops, CheckOptions{Timeout: o.CheckTimeout, Dir: o.Out, Visualize: o.Visualize, Annotations: annotations(timeline)})

	s := summarize(ops, timeline, res)
	s.Name, s.Seed, s.Nodes, s.Seconds, s.Dir = o.Name, o.Seed, c.Size(), elapsed, o.Out
	s.Nemeses = o.Nemesis.Nemeses
	for _, st := range o.Nemesis.Schedule {
		if !slices.Contains(s.Nemeses, st.Nemesis) {
			s.Nemeses = append(s.Nemeses, st.Nemesis)
		}
	}
	if s.Nemeses == nil {
		s.Nemeses = []string{}
	}
	s.Anomalies = h.Anomalies()
	if len(s.Anomalies) > 0 {
		s.Verdict = Violation
	}
	for _, m := range res.Models {
		switch {
		case len(m.Illegal) > 0:
			logf("model %s: VIOLATION on %s (see %s)", m.Model, strings.Join(m.Illegal, " "), filepath.Join(o.Out, m.Visualization))
		case len(m.Undecided) > 0:
			logf("model %s: undecided within the time limit on %s", m.Model, strings.Join(m.Undecided, " "))
		}
	}
	for _, a := range s.Anomalies {
		logf("anomaly: %s", a)
	}
	logf("verdict %s: %d ops checked in %.1fs, availability %.1f%%", s.Verdict, s.Checked, s.CheckSeconds, s.Availability)
	if err := writeJSON(filepath.Join(o.Out, "summary.json"), s); err != nil {
		return nil, err
	}
	if s.Verdict == Linearizable && !o.KeepData && c.Local() {
		_ = removeDataDirs(nodesDir)
	}
	return s, nil
}

// reportDir makes dir, or a new directory under os.TempDir() named after
// pattern if dir is "", and returns its name.
func reportDir(dir, pattern string) (string, error) {
	if dir == "" {
		return os.MkdirTemp("", pattern)
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// progressLog returns a logf that writes lines stamped with the seconds
// since it was made; safe for concurrent use.
func progressLog(w io.Writer) func(format string, args ...any) {
	began := time.Now()
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
}

// underFaults runs the nemesis and load side by side for d, or until ctx
// ends, calling progress every 5 s; then it closes the stop channel both
// watch, waits for both and returns load's error.
func underFaults(ctx context.Context, d time.Duration, nr *nemesisRunner, load func(stop <-chan struct{}) error, progress func()) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		nr.run(ctx, stop)
	}()
	var err error
	go func() {
		defer wg.Done()
		err = load(stop)
	}()
	ticker := time.NewTicker(5 * time.Second)
	timer := time.NewTimer(d)
progress:
	for {
		select {
		case <-ticker.C:
			progress()
		case <-timer.C:
			break progress
		case <-ctx.Done():
			break progress
		}
	}
	ticker.Stop()
	timer.Stop()
	close(stop)
	wg.Wait()
	return err
}

// removeDataDirs deletes the nodes' data directories and keeps their logs.
func removeDataDirs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

func summarize(ops []Op, faults []Fault, res CheckResult) *Summary {
	s := &Summary{
		Verdict: res.Verdict, Ops: len(ops), ByKind: map[Kind]map[Outcome]int{},
		AvailabilityByNemesis: map[string]float64{}, Faults: len(faults),
		CheckSeconds: res.Seconds, Models: res.Models,
	}
	type tally struct{ definite, all int }
	byNemesis := map[string]*tally{}
	total := tally{}
	for i := range ops {
		op := &ops[i]
		if s.ByKind[op.Kind] == nil {
			s.ByKind[op.Kind] = map[Outcome]int{}
		}
		s.ByKind[op.Kind][op.Outcome]++
		if op.Kind.isWrite() || op.Outcome == OK {
			s.Checked++
		}
		window := "none"
		for _, f := range faults {
			end := max(f.End, f.Recovered)
			if f.Error == "" && op.Call >= f.Start && op.Call < end {
				window = f.Nemesis
			}
		}
		t := byNemesis[window]
		if t == nil {
			t = &tally{}
			byNemesis[window] = t
		}
		t.all++
		total.all++
		if op.Outcome != Unknown {
			t.definite++
			total.definite++
		}
	}
	pct := func(t tally) float64 {
		if t.all == 0 {
			return 0
		}
		return math.Round(1000*float64(t.definite)/float64(t.all)) / 10
	}
	s.Availability = pct(total)
	for name, t := range byNemesis {
		s.AvailabilityByNemesis[name] = pct(*t)
	}
	for _, f := range faults {
		if f.Error != "" {
			s.FaultErrors++
		}
	}
	return s
}

// annotations draws the fault timeline on the visualization.
func annotations(faults []Fault) []porcupine.Annotation {
	var out []porcupine.Annotation
	for _, f := range faults {
		out = append(out, porcupine.Annotation{
			Tag: "nemesis", Start: f.Start, End: max(f.End, f.Start),
			Description: f.Nemesis, Details: f.Detail + " " + f.Error,
			BackgroundColor: "#fde2e2",
		})
	}
	return out
}

func countLine(ops []Op) string {
	n := map[Outcome]int{}
	for i := range ops {
		n[ops[i].Outcome]++
	}
	return fmt.Sprintf("ops %d (ok %d, fail %d, unknown %d)", len(ops), n[OK], n[Fail], n[Unknown])
}

func activeNote(name string) string {
	if name == "" {
		return ""
	}
	return "; fault: " + name
}

func rateString(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g/s", r)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
