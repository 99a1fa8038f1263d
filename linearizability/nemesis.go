package linearizability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Nemesis names.
const (
	NemesisKill              = "kill"
	NemesisPause             = "pause"
	NemesisPartitionLeader   = "partition-leader"
	NemesisPartitionMajority = "partition-majority"
	NemesisBridge            = "bridge"
	NemesisMembership        = "membership"
	// NemesisKillAll kills every node at once: a whole-cluster crash,
	// after which only what each node had on disk remains.
	NemesisKillAll = "kill-all"
)

// Nemeses lists every nemesis, in the order "all" expands to.
var Nemeses = []string{NemesisKill, NemesisPause, NemesisPartitionLeader, NemesisPartitionMajority, NemesisBridge, NemesisMembership, NemesisKillAll}

// needsLocal are the nemeses that need the nodes' processes.
var needsLocal = []string{NemesisKill, NemesisPause, NemesisMembership, NemesisKillAll}

// ParseNemeses reads a comma-separated list of nemesis names; "all" is
// every one, "none" or "" is none.
func ParseNemeses(s string) ([]string, error) {
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		switch name = strings.TrimSpace(name); {
		case name == "" || name == "none":
		case name == "all":
			out = append(out, Nemeses...)
		case slices.Contains(Nemeses, name):
			out = append(out, name)
		default:
			return nil, fmt.Errorf("unknown nemesis %q (want some of %s, or all)", name, strings.Join(Nemeses, ","))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Fault is one entry of the fault timeline (faults.json). Times are on
// the history's clock.
type Fault struct {
	Nemesis string   `json:"nemesis"`
	Targets []string `json:"targets,omitempty"`
	Detail  string   `json:"detail,omitempty"`
	Start   int64    `json:"start"`
	// End is when the fault was lifted (0: not lifted).
	End int64 `json:"end"`
	// Recovered is when the cluster was healthy again afterwards.
	Recovered int64  `json:"recovered,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Step is one planned fault of a fixed schedule: At after the workload
// starts, inject Nemesis and lift it after Duration.
type Step struct {
	At       Duration `json:"at"`
	Nemesis  string   `json:"nemesis"`
	Duration Duration `json:"duration"`
	// Target, for kill, pause and membership: "leader", "follower", or
	// "" (the leader half of the time).
	Target string `json:"target,omitempty"`
}

// Duration is a time.Duration written as "1.5s" in JSON.
type Duration time.Duration

// MarshalText writes the duration as Go does ("1.5s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// NemesisOptions schedules faults.
type NemesisOptions struct {
	// Nemeses to choose from, at random, one fault at a time.
	Nemeses []string
	// Interval is the quiet time before each fault (default 4s);
	// FaultDuration how long each lasts (default 3s).
	Interval, FaultDuration time.Duration
	// Schedule, if set, replaces the random choice with fixed steps.
	Schedule []Step
	Seed     int64
}

// nemesisRunner injects faults into a cluster and records the timeline.
type nemesisRunner struct {
	c    *Cluster
	h    *History
	o    NemesisOptions
	rng  *rand.Rand
	logf func(string, ...any)

	mu     sync.Mutex
	faults []Fault
	active string // the nemesis in effect, for progress lines
}

func newNemesisRunner(c *Cluster, h *History, o NemesisOptions, logf func(string, ...any)) *nemesisRunner {
	if o.Interval <= 0 {
		o.Interval = 4 * time.Second
	}
	if o.FaultDuration <= 0 {
		o.FaultDuration = 3 * time.Second
	}
	return &nemesisRunner{c: c, h: h, o: o, logf: logf, rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x6e656d))}
}

// Timeline returns the faults so far.
func (n *nemesisRunner) Timeline() []Fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.faults)
}

// Active names the fault in effect, or "".
func (n *nemesisRunner) Active() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.active
}

// run injects faults until stop closes; a fault in effect is then lifted.
func (n *nemesisRunner) run(ctx context.Context, stop <-chan struct{}) {
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	if len(n.o.Schedule) > 0 {
		begin := time.Now()
		for _, s := range n.o.Schedule {
			if !sleep(time.Until(begin.Add(time.Duration(s.At)))) {
				return
			}
			n.once(ctx, stop, s.Nemesis, s.Target, time.Duration(s.Duration))
		}
		return
	}
	if len(n.o.Nemeses) == 0 {
		return
	}
	for {
		if !sleep(n.o.Interval) {
			return
		}
		n.once(ctx, stop, n.o.Nemeses[n.rng.IntN(len(n.o.Nemeses))], "", n.o.FaultDuration)
	}
}

// once injects one fault, holds it for d (or until stop), lifts it and
// waits for the cluster to recover.
func (n *nemesisRunner) once(ctx context.Context, stop <-chan struct{}, name, target string, d time.Duration) {
	f := Fault{Nemesis: name, Start: n.h.Now()}
	n.mu.Lock()
	n.active = name
	n.mu.Unlock()
	undo, err := n.inject(ctx, name, target, &f)
	record := func() {
		n.mu.Lock()
		n.faults = append(n.faults, f)
		n.active = ""
		n.mu.Unlock()
	}
	if err != nil {
		f.Error = err.Error()
		f.End = n.h.Now()
		n.logf("nemesis %s: %v", name, err)
		record()
		return
	}
	n.logf("nemesis %s: %s", name, f.Detail)
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-stop:
	case <-ctx.Done():
	}
	t.Stop()
	// Lifting a fault must not depend on the run's context: a cancelled
	// run still leaves the cluster whole.
	uctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if undo != nil {
		if err := undo(uctx); err != nil {
			f.Error = "lift: " + err.Error()
			n.logf("nemesis %s: lift: %v", name, err)
		}
	}
	f.End = n.h.Now()
	if err := n.c.WaitHealthy(uctx, 60*time.Second); err != nil {
		f.Error = strings.TrimPrefix(f.Error+"; ", "; ") + "not healthy after lift: " + err.Error()
		n.logf("nemesis %s: lifted; %v", name, err)
	} else {
		f.Recovered = n.h.Now()
		n.logf("nemesis %s: lifted, cluster healthy after %.1fs", name, float64(f.Recovered-f.End)/1e9)
	}
	record()
}

// target picks a node: the leader or a follower if asked, else the
// leader half of the time (leader-targeted faults find the bugs in
// failover) and any node otherwise.
func (n *nemesisRunner) target(ctx context.Context, want string) (int, string) {
	coin := n.rng.IntN(2) == 0
	l := n.c.Leader(ctx)
	switch {
	case l >= 0 && (want == "leader" || (want == "" && coin)):
		return l, "leader"
	case l >= 0 && want == "follower":
		f := others(n.c.Size(), l)
		return f[n.rng.IntN(len(f))], "follower"
	}
	return n.rng.IntN(n.c.Size()), "random"
}

// inject starts one fault, fills in its targets and detail, and returns
// what lifts it.
func (n *nemesisRunner) inject(ctx context.Context, name, want string, f *Fault) (func(context.Context) error, error) {
	c := n.c
	if !c.Local() && slices.Contains(needsLocal, name) {
		return nil, fmt.Errorf("%s: %w", name, ErrNeedsLocal)
	}
	size := c.Size()
	switch name {
	case NemesisKill:
		i, how := n.target(ctx, want)
		f.Targets, f.Detail = []string{c.ID(i)}, fmt.Sprintf("kill -9 %s (%s)", c.ID(i), how)
		if err := c.Kill(i); err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return c.Restart(ctx, i) }, nil

	case NemesisKillAll:
		l := "none"
		if i := c.Leader(ctx); i >= 0 {
			l = c.ID(i)
		}
		f.Targets, f.Detail = c.ids(), "kill -9 every node (leader "+l+")"
		if err := c.KillAll(); err != nil {
			return nil, err
		}
		return c.RestartAll, nil

	case NemesisPause:
		i, how := n.target(ctx, want)
		f.Targets, f.Detail = []string{c.ID(i)}, fmt.Sprintf("SIGSTOP %s (%s)", c.ID(i), how)
		if err := c.Pause(i); err != nil {
			return nil, err
		}
		return func(context.Context) error { return c.Resume(i) }, nil

	case NemesisPartitionLeader:
		l := c.Leader(ctx)
		if l < 0 {
			return nil, errors.New("no leader to isolate")
		}
		return n.partition(ctx, f, [][]int{{l}, others(size, l)}, "isolate leader "+c.ID(l))

	case NemesisPartitionMajority:
		perm := n.rng.Perm(size)
		k := (size - 1) / 2
		minority, majority := perm[:k], perm[k:]
		slices.Sort(minority)
		slices.Sort(majority)
		return n.partition(ctx, f, [][]int{minority, majority},
			fmt.Sprintf("minority %s / majority %s", c.names(minority), c.names(majority)))

	case NemesisBridge:
		if size < 3 {
			return nil, errors.New("bridge needs at least 3 nodes")
		}
		// The leader at one end: the other end must elect through the
		// bridge node, which sees both sides.
		order := n.rng.Perm(size)
		if l := c.Leader(ctx); l >= 0 {
			order = append([]int{l}, others(size, l)...)
			rest := order[1:]
			n.rng.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
		}
		mid := (size - 1) / 2
		left, right := slices.Clone(order[:mid+1]), slices.Clone(order[mid:])
		return n.partition(ctx, f, [][]int{left, right},
			fmt.Sprintf("bridge %s / %s through %s", c.names(left), c.names(right), c.ID(order[mid])))

	case NemesisMembership:
		i, how := n.target(ctx, want)
		f.Targets, f.Detail = []string{c.ID(i)}, fmt.Sprintf("remove %s (%s), wipe, rejoin", c.ID(i), how)
		if err := c.RemoveMember(ctx, i); err != nil {
			return nil, err
		}
		if err := c.Kill(i); err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return c.Rejoin(ctx, i) }, nil
	}
	return nil, fmt.Errorf("unknown nemesis %q", name)
}

func (n *nemesisRunner) partition(ctx context.Context, f *Fault, groups [][]int, detail string) (func(context.Context) error, error) {
	f.Detail = detail
	for _, i := range groups[0] {
		f.Targets = append(f.Targets, n.c.ID(i))
	}
	if err := n.c.Partition(ctx, groups); err != nil {
		// Whatever part of the rules went in must come out.
		_ = n.c.Heal(context.Background())
		return nil, err
	}
	return n.c.Heal, nil
}

func others(n, skip int) []int {
	var out []int
	for i := range n {
		if i != skip {
			out = append(out, i)
		}
	}
	return out
}

func (c *Cluster) ids() []string {
	out := make([]string, c.Size())
	for i := range out {
		out[i] = c.ID(i)
	}
	return out
}

func (c *Cluster) names(idx []int) string {
	var s []string
	for _, i := range idx {
		s = append(s, c.ID(i))
	}
	return strings.Join(s, ",")
}
