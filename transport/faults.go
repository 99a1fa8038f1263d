package transport

import (
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Faults is the fault-injection hook of one Mux: rules that cut this node
// off from chosen peers or slow its traffic down. Rules are keyed by node ID,
// so they hold however a peer is addressed and whichever side dials.
//
// All methods are safe for concurrent use. Reading the rules (done on every
// handshake and every Read and Write of every connection) is one atomic load
// of an immutable value; changing them copies that value and is meant to be
// rare.
//
// A Faults only acts on its own node. Blocking peer P on node A is enough to
// stop traffic between A and P in both directions, because A refuses P's
// handshakes, refuses to complete its own handshakes with P, and closes what
// is already open; P needs no rule of its own.
type Faults struct {
	mu    sync.Mutex // serialises writers; readers only load cur
	cur   atomic.Pointer[faultRules]
	log   *slog.Logger
	sever func(peers []string) // closes tracked connections to peers
}

// faultRules is one immutable set of rules. New kinds of fault (drop rate,
// per-peer delay) are new fields here plus a check in Conn.Read/Write.
type faultRules struct {
	blocked map[string]struct{} // never mutated once published
	delay   time.Duration       // added before every Write, all peers
}

func newFaults(log *slog.Logger, sever func([]string)) *Faults {
	f := &Faults{log: log, sever: sever}
	f.cur.Store(&faultRules{})
	return f
}

func (f *Faults) rules() *faultRules { return f.cur.Load() }

func (r *faultRules) blocks(peer string) bool {
	_, ok := r.blocked[peer]
	return ok
}

// update publishes a modified copy of the current rules. mu must be held.
func (f *Faults) update(change func(next *faultRules)) *faultRules {
	old := f.cur.Load()
	next := &faultRules{blocked: maps.Clone(old.blocked), delay: old.delay}
	change(next)
	f.cur.Store(next)
	return next
}

// Block cuts this node off from the given peers, in both directions, until
// they are unblocked: new connections from or to them are refused during
// the handshake, and every open connection with them is closed before Block
// returns. A Read or Write on such a connection that races with the close
// fails with an error wrapping ErrBlocked.
func (f *Faults) Block(peers ...string) {
	if len(peers) == 0 {
		return
	}
	f.mu.Lock()
	r := f.update(func(next *faultRules) {
		if next.blocked == nil {
			next.blocked = make(map[string]struct{}, len(peers))
		}
		for _, p := range peers {
			next.blocked[p] = struct{}{}
		}
	})
	f.mu.Unlock()
	f.log.Info("transport: fault rules: peers blocked", "peers", peers, "blocked", sortedKeys(r.blocked))
	// The new rules are published before the sweep, and connections are
	// tracked before their handshake checks the rules, so every connection
	// is either closed here or sees the new rules itself.
	if f.sever != nil {
		f.sever(peers)
	}
}

// Unblock lifts the block on the given peers. Connections closed by Block
// stay closed; new ones may be opened again.
func (f *Faults) Unblock(peers ...string) {
	f.mu.Lock()
	r := f.update(func(next *faultRules) {
		for _, p := range peers {
			delete(next.blocked, p)
		}
	})
	f.mu.Unlock()
	f.log.Info("transport: fault rules: peers unblocked", "peers", peers, "blocked", sortedKeys(r.blocked))
}

// Heal removes every rule: no peer is blocked and no delay is added.
func (f *Faults) Heal() {
	f.mu.Lock()
	f.cur.Store(&faultRules{})
	f.mu.Unlock()
	f.log.Info("transport: fault rules: healed")
}

// Blocked returns the blocked peer IDs, sorted.
func (f *Faults) Blocked() []string { return sortedKeys(f.rules().blocked) }

// IsBlocked reports whether traffic with peer is currently blocked.
func (f *Faults) IsBlocked(peer string) bool { return f.rules().blocks(peer) }

// MaxFaultDelay is the largest delay SetDelay adds. Longer than any Raft
// timeout worth testing, and short enough that a forgotten rule does not
// hold a connection's writer for hours.
const MaxFaultDelay = time.Minute

// SetDelay makes every subsequent Write on every connection of this node
// (both directions, all peers) wait d first; 0 removes the delay. d is
// clamped to [0, MaxFaultDelay]. The wait is per Write call and serialises
// nothing beyond what the caller already serialises, so it models added
// latency, not reduced bandwidth. It ignores write deadlines but ends early
// if the connection is closed.
func (f *Faults) SetDelay(d time.Duration) {
	d = min(max(d, 0), MaxFaultDelay)
	f.mu.Lock()
	f.update(func(next *faultRules) { next.delay = d })
	f.mu.Unlock()
	f.log.Info("transport: fault rules: delay set", "delay", d)
}

// Delay returns the delay set by SetDelay.
func (f *Faults) Delay() time.Duration { return f.rules().delay }

func sortedKeys(m map[string]struct{}) []string {
	return slices.Sorted(maps.Keys(m))
}
