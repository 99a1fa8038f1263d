package linearizability

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is the outcome of a check.
type Verdict string

// Verdicts. Unknown means the checker ran out of time: it is never
// reported as linearizable.
const (
	Linearizable   Verdict = "linearizable"
	Violation      Verdict = "violation"
	VerdictUnknown Verdict = "unknown"
)

// CheckOptions tunes Check.
type CheckOptions struct {
	// Timeout bounds the whole check; past it, undecided partitions make
	// the verdict unknown. Zero means 5 minutes.
	Timeout time.Duration
	// Dir receives Porcupine's HTML visualizations: always for a model
	// with a violation, for every model if Visualize is set. Empty: none.
	Dir       string
	Visualize bool
	// Annotations are drawn on the visualizations (the fault timeline).
	Annotations []porcupine.Annotation
	// MaxMemory stops the search when the heap grows past it (default
	// 4 GiB): undecided partitions then make the verdict unknown.
	MaxMemory uint64
}

// ModelResult is one model's part of a check.
type ModelResult struct {
	Model      string  `json:"model"`
	Result     Verdict `json:"result"`
	Ops        int     `json:"ops"`
	Partitions int     `json:"partitions"`
	// Pruned counts unknown writes left out of the first pass because no
	// operation ever observed their value (see pruneUnobserved).
	Pruned int `json:"pruned"`
	// Illegal names the partitions (keys or prefixes) with a violation;
	// Undecided those the checker ran out of time on.
	Illegal       []string `json:"illegal,omitempty"`
	Undecided     []string `json:"undecided,omitempty"`
	Visualization string   `json:"visualization,omitempty"`
	Seconds       float64  `json:"seconds"`
}

// CheckResult is the outcome of Check.
type CheckResult struct {
	Verdict Verdict       `json:"verdict"`
	Models  []ModelResult `json:"models"`
	Seconds float64       `json:"seconds"`
	// Stopped says why the search stopped early, if it did.
	Stopped string `json:"stopped,omitempty"`
}

// checkedModel is one model with the operations it judges.
type checkedModel struct {
	name    string
	model   porcupine.Model
	include func(*Op) bool
	part    func(*Op) string
}

// The listing model leaves out failed writes: they had no effect, and the
// register model already checks what their 412 or 404 says. Without them,
// leaving out unobserved unknown writes is exact (see pruneUnobserved),
// which keeps the check of a whole prefix cheap.
var models = []checkedModel{
	{"register", registerModel, func(op *Op) bool { return op.Kind != List }, func(op *Op) string { return op.Key }},
	{"list", listModel, func(op *Op) bool { return op.Kind == List || (op.Kind.isWrite() && op.Outcome != Fail) }, listPrefix},
}

// afterViolation is how long undecided partitions may still run once one
// partition has a violation: the verdict is settled, and more findings
// are only diagnostics.
const afterViolation = 5 * time.Second

// Check decides whether the history is linearizable under the register
// model (per key) and the listing model (per prefix). Reads that did not
// return a result are left out; unknown writes are given an infinite
// return time.
func Check(ops []Op, opt CheckOptions) CheckResult {
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Minute
	}
	start := time.Now()
	deadline := start.Add(opt.Timeout)
	all := toOperations(ops)

	// Every partition of every model is one job; they share a pool, the
	// deadline and the abort flag.
	var jobs []*partitionJob
	results := make([]ModelResult, len(models))
	for mi, m := range models {
		parts := map[string][]porcupine.Operation{}
		var names []string
		n := 0
		for _, o := range all {
			op := o.Input.(*Op)
			if !m.include(op) {
				continue
			}
			k := m.part(op)
			if _, ok := parts[k]; !ok {
				names = append(names, k)
			}
			parts[k] = append(parts[k], o)
			n++
		}
		slices.Sort(names)
		results[mi] = ModelResult{Model: m.name, Result: Linearizable, Ops: n, Partitions: len(names)}
		for _, name := range names {
			jobs = append(jobs, &partitionJob{model: mi, name: name, ops: parts[name]})
		}
	}
	var abort atomic.Bool
	var stopped atomic.Value
	var once sync.Once
	violation := func() {
		once.Do(func() {
			time.AfterFunc(afterViolation, func() {
				stopped.CompareAndSwap(nil, "a violation was found; other partitions abandoned")
				abort.Store(true)
			})
		})
	}
	if opt.MaxMemory == 0 {
		opt.MaxMemory = 4 << 30
	}
	done := make(chan struct{})
	defer close(done)
	go watchMemory(opt.MaxMemory, done, func() {
		stopped.CompareAndSwap(nil, fmt.Sprintf("the search outgrew %d MiB of memory", opt.MaxMemory>>20))
		abort.Store(true)
	})
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(runtime.GOMAXPROCS(0), 2))
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			j.check(models[j.model], deadline, &abort)
			if j.result == Violation {
				violation()
			}
		}()
	}
	wg.Wait()

	res := CheckResult{Verdict: Linearizable}
	for _, j := range jobs {
		mr := &results[j.model]
		mr.Pruned += j.pruned
		mr.Seconds += j.seconds
		switch j.result {
		case Violation:
			mr.Illegal = append(mr.Illegal, j.name)
			mr.Result = Violation
		case VerdictUnknown:
			mr.Undecided = append(mr.Undecided, j.name)
			if mr.Result == Linearizable {
				mr.Result = VerdictUnknown
			}
		}
	}
	for mi, m := range models {
		mr := &results[mi]
		if opt.Dir != "" && (opt.Visualize || mr.Result == Violation) {
			var chosen []*partitionJob
			for _, j := range jobs {
				if j.model == mi && (mr.Result != Violation || j.result == Violation) {
					chosen = append(chosen, j)
				}
			}
			mr.Visualization = visualize(m, chosen, opt, deadline)
		}
		switch {
		case mr.Result == Violation:
			res.Verdict = Violation
		case mr.Result == VerdictUnknown && res.Verdict == Linearizable:
			res.Verdict = VerdictUnknown
		}
	}
	res.Models = results
	res.Seconds = time.Since(start).Seconds()
	if s, ok := stopped.Load().(string); ok {
		res.Stopped = s
	}
	return res
}

// watchMemory calls stop once the heap exceeds limit, until done closes.
// Porcupine's search remembers every state it visited and has no bound of
// its own; this keeps a pathological history from taking the machine.
func watchMemory(limit uint64, done <-chan struct{}, stop func()) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > limit {
				stop()
				return
			}
		}
	}
}

// toOperations turns the history into Porcupine operations, in call
// order: reads without a result are dropped and unknown writes return at
// infinity. Each client's operations form one Porcupine client (a row in
// the visualization) until an unknown outcome, after which the client
// continues on a fresh row, because its abandoned operation is still
// pending.
func toOperations(ops []Op) []porcupine.Operation {
	sorted := make([]*Op, 0, len(ops))
	for i := range ops {
		op := &ops[i]
		if !op.Kind.isWrite() && op.Outcome != OK {
			continue
		}
		sorted = append(sorted, op)
	}
	slices.SortStableFunc(sorted, func(a, b *Op) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Call, b.Call))
	})
	out := make([]porcupine.Operation, 0, len(sorted))
	row, lastClient := -1, -1
	for i, op := range sorted {
		if i == 0 || op.Client != lastClient || sorted[i-1].Outcome == Unknown {
			row++
		}
		lastClient = op.Client
		ret := op.Return
		if op.Outcome == Unknown {
			ret = math.MaxInt64
		}
		out = append(out, porcupine.Operation{ClientId: row, Input: op, Call: op.Call, Output: op, Return: ret})
	}
	slices.SortStableFunc(out, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	return out
}

// pruneUnobserved drops unknown writes whose value no operation observed:
// no Get or List returned it and no PutIfMatch expected it. Such a write
// may always be linearized after every other operation, so a history
// that is linearizable without it is linearizable with it.
//
// The converse holds unless the history has a 412 answer. Take a
// linearization of the whole history and an unread write W in it. Until
// the next unconditional write of the key, W's value is the state, so no
// read or listing comes in between (it would have shown the value), no
// If-None-Match or If-Match succeeds (the key is present, and no one
// expected a value no one read) and no If-Match answers 404; only unknown
// conditional writes, which then had no effect, and 412s fit. Without
// 412s, moving W and those no-op writes to the end keeps every other
// answer true. So a violation found on the pruned history is final unless
// it has a 412; then the whole history is checked again.
func pruneUnobserved(ops []porcupine.Operation) (kept, pruned []porcupine.Operation) {
	seen := map[string]bool{}
	for _, o := range ops {
		op := o.Input.(*Op)
		switch {
		case op.Kind == Get && op.Found:
			seen[op.Result] = true
		case op.Kind == List:
			for _, v := range op.Listed {
				seen[v] = true
			}
		case op.Kind == PutIfMatch:
			seen[op.Expect] = true
		}
	}
	for _, o := range ops {
		op := o.Input.(*Op)
		if op.Outcome == Unknown && op.Kind != Delete && op.Kind.isWrite() && !seen[op.Value] {
			pruned = append(pruned, o)
			continue
		}
		kept = append(kept, o)
	}
	return pruneUnobservedDeletes(kept, pruned)
}

// pruneUnobservedDeletes drops unknown deletes after which nothing could
// have observed the key's absence: no read returning absent, listing
// without the key, successful or remaining unknown If-None-Match, or
// If-Match answering 404, returning after the delete's call. Such a
// delete may be moved after every other operation: where it took effect,
// only writes that do not care (unconditional ones, and unknown
// conditional ones pruned already, since they then had no effect and so
// no one read their value) can follow it before the next unconditional
// write. This is exact both ways.
func pruneUnobservedDeletes(ops, pruned []porcupine.Operation) (kept, out []porcupine.Operation) {
	lastAbsence := map[string]int64{} // key -> latest return of an absence observation
	note := func(key string, ret int64) { lastAbsence[key] = max(lastAbsence[key], ret) }
	var deleted []string
	for _, o := range ops {
		if op := o.Input.(*Op); op.Kind == Delete && op.Outcome == Unknown {
			deleted = append(deleted, op.Key)
		}
	}
	if len(deleted) == 0 {
		return ops, pruned
	}
	for _, o := range ops {
		op := o.Input.(*Op)
		switch {
		case op.Kind == Get && !op.Found,
			op.Kind == PutIfAbsent && op.Outcome != Fail,
			op.Kind == PutIfMatch && op.Outcome == Fail && op.Status == 404:
			note(op.Key, o.Return)
		case op.Kind == List:
			for _, k := range deleted {
				if _, listed := op.Listed[k]; strings.HasPrefix(k, op.Key) && !listed {
					note(k, o.Return)
				}
			}
		}
	}
	for _, o := range ops {
		op := o.Input.(*Op)
		if op.Kind == Delete && op.Outcome == Unknown && lastAbsence[op.Key] < op.Call {
			pruned = append(pruned, o)
			continue
		}
		kept = append(kept, o)
	}
	return kept, pruned
}

// partitionJob checks one partition (a key, or a prefix) of one model.
type partitionJob struct {
	model int
	name  string
	ops   []porcupine.Operation

	result  Verdict
	pruned  int
	decided []porcupine.Operation // the operations the verdict was reached on
	seconds float64
}

func (j *partitionJob) check(m checkedModel, deadline time.Time, abort *atomic.Bool) {
	start := time.Now()
	defer func() { j.seconds = time.Since(start).Seconds() }()
	model := m.model
	model.Partition = nil
	// Once a violation elsewhere has settled the verdict, every step
	// fails, so this search unwinds at once; its result is discarded.
	step := model.Step
	model.Step = func(state, in, out any) (bool, any) {
		if abort.Load() {
			return false, state
		}
		return step(state, in, out)
	}
	run := func(ops []porcupine.Operation) Verdict {
		r := porcupine.CheckOperationsTimeout(model, ops, max(time.Until(deadline), time.Millisecond))
		switch {
		case r == porcupine.Ok:
			return Linearizable
		case r == porcupine.Illegal && !abort.Load():
			return Violation
		}
		return VerdictUnknown
	}
	kept, pruned := pruneUnobserved(j.ops)
	j.pruned, j.decided = len(pruned), kept
	j.result = run(kept)
	if j.result != Violation || len(pruned) == 0 || !has412(j.ops) {
		return
	}
	// Some 412 may be explained only by a pruned write. Check again
	// with no constraint on the 412s that a pruned write could explain
	// (one invoked before the 412 returned): still a violation means a
	// violation of the whole history, by the argument of pruneUnobserved,
	// since only those 412s could sit in the stretch a pruned write
	// occupies. Otherwise only the whole history can tell.
	relaxed := explainable(kept, pruned)
	model.Step = func(state, in, out any) (bool, any) {
		if abort.Load() {
			return false, state
		}
		if relaxed[in.(*Op)] {
			return true, state
		}
		return step(state, in, out)
	}
	if run(kept) == Violation {
		return
	}
	model.Step = func(state, in, out any) (bool, any) {
		if abort.Load() {
			return false, state
		}
		return step(state, in, out)
	}
	j.decided = j.ops
	j.result = run(j.ops)
}

// explainable returns the 412 answers among ops that an unknown write in
// pruned, to the same key and invoked before the 412 returned, could
// explain.
func explainable(ops, pruned []porcupine.Operation) map[*Op]bool {
	first := map[string]int64{} // key -> earliest call of a pruned write
	for _, o := range pruned {
		op := o.Input.(*Op)
		if op.Kind == Delete {
			continue // a delete explains no 412
		}
		if c, ok := first[op.Key]; !ok || op.Call < c {
			first[op.Key] = op.Call
		}
	}
	out := map[*Op]bool{}
	for _, o := range ops {
		op := o.Input.(*Op)
		if c, ok := first[op.Key]; ok && op.Outcome == Fail && op.Status == 412 && c < op.Return {
			out[op] = true
		}
	}
	return out
}

// has412 reports whether a 412 answer is among ops: the only kind of
// observation an unknown write nobody read can explain.
func has412(ops []porcupine.Operation) bool {
	return slices.ContainsFunc(ops, func(o porcupine.Operation) bool {
		op := o.Input.(*Op)
		return op.Outcome == Fail && op.Status == 412
	})
}

// visualize writes Porcupine's HTML for a model's chosen partitions, on
// the operations their verdict was reached on, and returns the file name
// ("" when there was nothing to draw).
func visualize(m checkedModel, jobs []*partitionJob, opt CheckOptions, deadline time.Time) string {
	var ops []porcupine.Operation
	for _, j := range jobs {
		ops = append(ops, j.decided...)
	}
	if len(ops) == 0 {
		return ""
	}
	slices.SortStableFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	// A violation gets at least a minute to compute its partial
	// linearizations, even past the check's own deadline.
	budget := max(time.Until(deadline), time.Minute)
	_, info := porcupine.CheckOperationsVerbose(m.model, ops, budget)
	info.AddAnnotations(opt.Annotations)
	name := m.name + ".html"
	if err := porcupine.VisualizePath(m.model, info, filepath.Join(opt.Dir, name)); err != nil {
		return fmt.Sprintf("error: %v", err)
	}
	return name
}
