package linearizability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strongboxdb/strongbox/node"
)

// CrashServerArgs are the server flags a crash test starts its nodes with
// unless told otherwise: snapshots every 32 entries with a log tail of
// 2, so that a node killed for a few seconds often comes back behind the
// leader's log and installs a snapshot (which carries no blobs); released blobs collected after
// seconds and orphans after 45 s (well above OpTimeout and ApplyTimeout),
// so that garbage collection runs while nodes crash. With the defaults
// (snapshots every 8192 entries, collection after a minute or an hour)
// a run of minutes would not reach those paths.
var CrashServerArgs = []string{
	"--snapshot-threshold", "32", "--snapshot-interval", "1s", "--trailing-logs", "2",
	"--blob-garbage-delay", "3s", "--blob-sync-interval", "10s",
	"--blob-collect-interval", "10s", "--blob-orphan-age", "45s",
}

// CrashOptions describe one crash test.
type CrashOptions struct {
	// Binary is the strongbox executable the nodes run.
	Binary string
	// Nodes is the cluster size (default 3).
	Nodes int
	// ServerArgs are the nodes' extra flags (nil: CrashServerArgs).
	ServerArgs           []string
	AccessKey, SecretKey string
	Region               string
	// Workload: endpoints, credentials, bucket and seed are filled in.
	Workload CrashWorkloadOptions
	// Duration of the writes under faults (default 60s).
	Duration time.Duration
	// Interval is the quiet time before each kill (default 2s);
	// FaultDuration how long the killed node stays down (default 2s).
	Interval, FaultDuration time.Duration
	// KillAllEvery makes one kill in this many a whole-cluster crash,
	// every node at once (default 5; negative: never).
	KillAllEvery int
	// Schedule, if set, replaces the random kills with fixed steps
	// (kill or kill-all; Target "leader" or "follower" for kill).
	Schedule []Step
	// NoFinalCrash skips the whole-cluster crash between the end of the
	// writes and the verification; with it, every node is verified on
	// what it recovered from its own disk.
	NoFinalCrash bool
	// Seed drives writers and nemesis; 0 picks one.
	Seed int64
	// Out is the report directory (default: new, under os.TempDir()).
	Out string
	// KeepData keeps the data directories after a clean run.
	KeepData bool
	// Progress receives progress lines (default os.Stderr).
	Progress io.Writer

	// tamper, for tests, changes the nodes' files (under the directory
	// it is given) while the final crash holds every node down: the
	// proof that the verification catches damage.
	tamper func(nodesDir string) error
}

// CrashSummary is the outcome of a crash test (summary.json, and the last
// line of `strongbox crash`).
type CrashSummary struct {
	// Verdict is "ok" when nothing acknowledged was lost and nothing
	// corrupt, refused or half-done was served by any node.
	Verdict string  `json:"verdict"`
	Seed    int64   `json:"seed"`
	Nodes   int     `json:"nodes"`
	Seconds float64 `json:"seconds"`

	Writes       int                          `json:"writes"`
	ByKind       map[CrashKind]map[string]int `json:"writes_by_kind"`
	Acknowledged int                          `json:"acknowledged"`
	Unknown      int                          `json:"unknown"`
	Failed       int                          `json:"failed"`
	AckedBytes   int64                        `json:"acknowledged_bytes"`
	BytesByKind  map[CrashKind]int64          `json:"acknowledged_bytes_by_kind"`
	Keys         int                          `json:"keys"`
	Overwritten  int                          `json:"overwritten_keys"`
	// UnknownVisible counts unknown writes whose bytes are their key's
	// final value: they took effect.
	UnknownVisible int `json:"unknown_visible"`

	Kills        int  `json:"kills"`
	LeaderKills  int  `json:"leader_kills"`
	ClusterKills int  `json:"whole_cluster_kills"`
	FinalCrash   bool `json:"final_crash"`
	FaultErrors  int  `json:"fault_errors,omitempty"`

	// Verified is, per node, the keys whose state it served correctly
	// (present with the right bytes, or rightly absent); Present the
	// objects among them.
	Verified map[string]int `json:"verified_per_node"`
	Present  map[string]int `json:"present_per_node"`
	// SnapshotIndex is each node's last snapshot at the end: proof that
	// snapshots were taken during the run.
	SnapshotIndex map[string]uint64 `json:"last_snapshot_index_per_node,omitempty"`

	Lost       int `json:"lost"`
	Corrupt    int `json:"corrupt"`
	Unreadable int `json:"unreadable"`
	Listing    int `json:"listing_mismatches"`
	Divergent  int `json:"divergent"`
	Other      int `json:"other_findings"`
	// Findings are the first problems found (all are in findings.json).
	Findings      []Finding `json:"findings,omitempty"`
	VerifySeconds float64   `json:"verify_seconds"`
	Dir           string    `json:"report_dir"`
}

// Crash-test finding classes beyond a node's reads.
const (
	// ClassDivergent: nodes serve different values for one key.
	ClassDivergent = "divergent"
	// ClassRestart: a node failed to start again after a kill.
	ClassRestart = "restart"
)

// RunCrash runs a crash test: a fresh cluster of local processes, writers
// of small, large and multipart objects, a nemesis that kills nodes with
// SIGKILL (the leader half of the time, and now and then every node at
// once), then recovery and a check, on every node, of every write. The
// returned error is about the harness; lost or corrupt writes are in the
// summary's verdict.
func RunCrash(ctx context.Context, o CrashOptions) (*CrashSummary, error) {
	if o.Duration <= 0 {
		o.Duration = time.Minute
	}
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.FaultDuration <= 0 {
		o.FaultDuration = 2 * time.Second
	}
	if o.KillAllEvery == 0 {
		o.KillAllEvery = 5
	}
	if o.ServerArgs == nil {
		o.ServerArgs = CrashServerArgs
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
	if o.Binary == "" {
		return nil, errors.New("no strongbox binary to start nodes from")
	}
	if o.Out == "" {
		dir, err := os.MkdirTemp("", "strongbox-crash-")
		if err != nil {
			return nil, err
		}
		o.Out = dir
	}
	nodesDir := filepath.Join(o.Out, "nodes")
	if err := os.MkdirAll(nodesDir, 0o755); err != nil {
		return nil, err
	}
	began := time.Now()
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(o.Progress, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
	logf("crash test: report directory %s, seed %d", o.Out, o.Seed)
	logf("starting %d nodes (%s %s)", max(o.Nodes, 1), filepath.Base(o.Binary), strings.Join(o.ServerArgs, " "))
	c, err := StartLocal(ctx, LocalOptions{Binary: o.Binary, Nodes: o.Nodes, Dir: nodesDir,
		AccessKey: o.AccessKey, SecretKey: o.SecretKey, ServerArgs: o.ServerArgs, Logf: logf})
	if err != nil {
		return nil, err
	}
	defer c.Close()

	w := o.Workload
	w.Endpoints = c.Endpoints()
	w.AccessKey, w.SecretKey, w.Region = o.AccessKey, o.SecretKey, o.Region
	w.Seed = o.Seed
	w.Bucket = fmt.Sprintf("crash-%d-%d", o.Seed, time.Now().UnixNano()%1e6)
	w.defaults()
	if err := CreateBucket(ctx, WorkloadOptions{Endpoints: w.Endpoints, AccessKey: w.AccessKey,
		SecretKey: w.SecretKey, Region: w.Region, Bucket: w.Bucket}); err != nil {
		return nil, err
	}
	logf("cluster ready; %d writers, writes at %s, mix %s, largest PutObject %d KiB, %d%% to %d shared keys, for %v",
		w.Writers, rateString(w.Rate), w.Mix, w.MaxLarge>>10, max(w.OverwritePct, 0), w.HotKeys, o.Duration)

	// The nemesis's clock and the ledger's are one, so writes and kills
	// line up in the report.
	h := NewHistory()
	l := &ledger{start: h.Start()}
	nemeses := []string{NemesisKill}
	if o.KillAllEvery > 0 {
		nemeses = slices.Repeat(nemeses, max(o.KillAllEvery-1, 0))
		nemeses = append(nemeses, NemesisKillAll)
	}
	nr := newNemesisRunner(c, h, NemesisOptions{Nemeses: nemeses, Interval: o.Interval,
		FaultDuration: o.FaultDuration, Schedule: o.Schedule, Seed: o.Seed}, logf)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		nr.run(ctx, stop)
	}()
	var werr error
	go func() {
		defer wg.Done()
		werr = runCrashWriters(w, l, stop)
	}()
	ticker := time.NewTicker(5 * time.Second)
	timer := time.NewTimer(o.Duration)
progress:
	for {
		select {
		case <-ticker.C:
			logf("%s; %d faults%s", crashCountLine(l.counts()), len(nr.Timeline()), activeNote(nr.Active()))
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
	if werr != nil {
		return nil, werr
	}
	seconds := float64(h.Now()) / 1e9
	writes := l.all()
	logf("writes done: %s", crashCountLine(l.counts()))
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var findings []Finding
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if !o.NoFinalCrash {
		logf("final crash: kill -9 every node, restart all")
		if err := c.KillAll(); err != nil {
			return nil, err
		}
		if o.tamper != nil {
			if err := o.tamper(nodesDir); err != nil {
				return nil, err
			}
		}
	}
	_ = c.Heal(rctx)
	if err := c.RestartAll(rctx); err != nil {
		findings = append(findings, Finding{Node: "*", Class: ClassRestart, Detail: err.Error()})
	}
	for _, f := range nr.Timeline() {
		if f.Error != "" {
			logf("fault %s (%s): %s", f.Nemesis, f.Detail, f.Error)
		}
	}
	if len(findings) == 0 {
		if err := c.WaitHealthy(rctx, 2*time.Minute); err != nil {
			return nil, err
		}
		if err := c.WaitCaughtUp(rctx, 2*time.Minute); err != nil {
			return nil, err
		}
	}
	logf("cluster recovered; every node caught up; verifying %d writes on every node", len(writes))

	vbegan := time.Now()
	keys := groupWrites(writes)
	reports := make([]*nodeReport, c.Size())
	verrs := make([]error, c.Size())
	var vwg sync.WaitGroup
	for i := range c.Size() {
		if !c.Running(i) {
			continue
		}
		vwg.Add(1)
		go func() {
			defer vwg.Done()
			reports[i], verrs[i] = verifyNode(rctx, w, c.ID(i), c.Endpoints()[i], keys, 4)
		}()
	}
	vwg.Wait()
	if err := errors.Join(verrs...); err != nil {
		return nil, err
	}

	for _, r := range reports {
		if r != nil {
			findings = append(findings, r.Findings...)
		}
	}
	findings = append(findings, divergence(reports)...)
	s := summarizeCrash(writes, keys, nr.Timeline(), reports, findings)
	if st, err := c.admin.status(rctx, c.members[0].s3URL); err == nil {
		s.SnapshotIndex = map[string]uint64{}
		for _, m := range st.Members {
			s.SnapshotIndex[m.ID] = m.LastSnapshotIndex
		}
	}
	s.Seed, s.Nodes, s.Seconds, s.Dir, s.FinalCrash = o.Seed, c.Size(), seconds, o.Out, !o.NoFinalCrash
	s.VerifySeconds = time.Since(vbegan).Seconds()
	for _, r := range reports {
		if r != nil {
			logf("node %s: %d keys verified (%d present), %d findings", r.Node, r.Verified, r.Present, len(r.Findings))
		}
	}
	for _, f := range s.Findings {
		logf("FINDING %s on %s, key %s: %s", f.Class, f.Node, f.Key, f.Detail)
	}
	logf("verdict %s: %d writes (%d acknowledged, %d unknown, %d failed), %d kills (%d of the leader, %d of every node); lost %d, corrupt %d",
		s.Verdict, s.Writes, s.Acknowledged, s.Unknown, s.Failed, s.Kills, s.LeaderKills, s.ClusterKills, s.Lost, s.Corrupt)

	if err := writeJSON(filepath.Join(o.Out, "writes.json"), writes); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(o.Out, "faults.json"), nr.Timeline()); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(o.Out, "findings.json"), findings); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(o.Out, "summary.json"), s); err != nil {
		return nil, err
	}
	c.Close()
	if s.Verdict == "ok" && !o.KeepData {
		_ = removeDataDirs(nodesDir)
	}
	return s, nil
}

// WaitCaughtUp waits until every node has applied everything the leader
// has committed. Meant for a quiet cluster: under load the target moves.
func (c *Cluster) WaitCaughtUp(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no leader"
	for {
		if l := c.Leader(ctx); l >= 0 {
			st, err := c.admin.status(ctx, c.members[l].s3URL)
			if err != nil {
				last = err.Error()
			} else if msg := caughtUp(st.Members, c.members[l].id, c.Size()); msg == "" {
				return nil
			} else {
				last = msg
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes not caught up after %v: %s", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling interval
		}
	}
}

// caughtUp returns "" if every one of n members applied the leader's
// commit index, else what is missing.
func caughtUp(members []node.MemberStatus, leader string, n int) string {
	var commit uint64
	for _, m := range members {
		if m.ID == leader {
			commit = m.CommitIndex
		}
	}
	if len(members) != n || commit == 0 {
		return fmt.Sprintf("status lists %d of %d members, leader commit %d", len(members), n, commit)
	}
	for _, m := range members {
		if m.AppliedIndex < commit {
			return fmt.Sprintf("%s applied %d of %d (%s)", m.ID, m.AppliedIndex, commit, m.State)
		}
	}
	return ""
}

// divergence finds keys that nodes serve differently (each may be
// allowed on its own; together they say the replicas disagree).
func divergence(reports []*nodeReport) []Finding {
	var out []Finding
	var first *nodeReport
	for _, r := range reports {
		if r == nil {
			continue
		}
		if first == nil {
			first = r
			continue
		}
		for key, a := range first.obs {
			b, ok := r.obs[key]
			if !ok || a.Err != "" || b.Err != "" {
				continue
			}
			if a.Found != b.Found || a.SHA256 != b.SHA256 {
				out = append(out, Finding{Node: first.Node + "," + r.Node, Key: key, Class: ClassDivergent,
					Detail: fmt.Sprintf("%s serves %s, %s serves %s", first.Node, describeObs(a), r.Node, describeObs(b))})
			}
		}
	}
	slices.SortFunc(out, func(a, b Finding) int { return strings.Compare(a.Key+a.Node, b.Key+b.Node) })
	return out
}

func describeObs(o observation) string {
	if !o.Found {
		return "nothing"
	}
	return fmt.Sprintf("%d bytes sha256 %s", o.Size, o.SHA256[:12])
}

// summarizeCrash counts writes, faults and findings (all of them: the
// nodes' and the others).
func summarizeCrash(writes []CrashWrite, keys map[string]*keyWrites, faults []Fault, reports []*nodeReport, findings []Finding) *CrashSummary {
	s := &CrashSummary{Writes: len(writes), ByKind: map[CrashKind]map[string]int{}, BytesByKind: map[CrashKind]int64{},
		Keys: len(keys), Verified: map[string]int{}, Present: map[string]int{}}
	for _, w := range writes {
		if s.ByKind[w.Kind] == nil {
			s.ByKind[w.Kind] = map[string]int{}
		}
		s.ByKind[w.Kind][w.Outcome]++
		switch w.Outcome {
		case Acked:
			s.Acknowledged++
			s.AckedBytes += w.Size
			s.BytesByKind[w.Kind] += w.Size
		case Indefinite:
			s.Unknown++
		default:
			s.Failed++
		}
	}
	for _, k := range keys {
		if len(k.writes) > 1 {
			s.Overwritten++
		}
	}
	var first *nodeReport
	for _, r := range reports {
		if r != nil {
			first = r
			break
		}
	}
	if first != nil {
		for _, w := range writes {
			if obs := first.obs[w.Key]; w.Outcome == Indefinite && obs.Found && obs.SHA256 == w.SHA256 {
				s.UnknownVisible++
			}
		}
	}
	for _, f := range faults {
		switch f.Nemesis {
		case NemesisKill:
			s.Kills++
			if strings.HasSuffix(f.Detail, "(leader)") {
				s.LeaderKills++
			}
		case NemesisKillAll:
			s.Kills++
			s.ClusterKills++
			s.LeaderKills++
		}
		if f.Error != "" {
			s.FaultErrors++
		}
	}
	for _, r := range reports {
		if r != nil {
			s.Verified[r.Node], s.Present[r.Node] = r.Verified, r.Present
		}
	}
	for _, f := range findings {
		switch f.Class {
		case ClassLost:
			s.Lost++
		case ClassCorrupt:
			s.Corrupt++
		case ClassUnreadable:
			s.Unreadable++
		case ClassListing:
			s.Listing++
		case ClassDivergent:
			s.Divergent++
		default:
			s.Other++
		}
	}
	s.Verdict = "ok"
	if len(findings) > 0 {
		s.Verdict = "fail"
	}
	s.Findings = findings[:min(len(findings), 20)]
	return s
}

func crashCountLine(n map[string]int) string {
	return fmt.Sprintf("writes %d (ack %d, unknown %d, failed %d)", n[Acked]+n[Indefinite]+n[Refused], n[Acked], n[Indefinite], n[Refused])
}

// crashClientOptions leaves checking the bytes to the crash test (its
// SHA-256 of every body), so a damaged body is reported as what it is
// rather than as an SDK checksum error.
func crashClientOptions(o *s3.Options) {
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
}
