package node

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/strongboxdb/strongbox/transport"
)

// FaultState is this node's transport fault rules as the admin API shows
// and sets them (GET and PUT /_strongbox/faults).
type FaultState struct {
	// Node is the ID of the node that answered (ignored on PUT).
	Node string `json:"node"`
	// Blocked lists the peer IDs this node exchanges no traffic with.
	Blocked []string `json:"blocked"`
	// Delay is added before every write on every cluster connection of
	// this node, as a Go duration ("50ms"); "" or "0s" means none.
	Delay string `json:"delay"`
	// Members maps member IDs to S3 endpoints. Whoever sets rules may
	// leave this directory behind, so that a later heal can find every
	// member through any one of them even while the cluster transport
	// is cut and cluster status cannot reach the others. It is kept in
	// memory only, like the rules.
	Members map[string]string `json:"members,omitempty"`
}

// maxFaultPeers bounds the peers a node's rules block and the member
// directory kept with them: a cluster has a handful of members, and an
// admin API fed a list without end must not grow the rules (copied on
// every change, consulted on every handshake) without end.
const maxFaultPeers = 1024

// faultAdmin keeps the member directory that goes with the fault rules.
type faultAdmin struct {
	mu      sync.Mutex
	members map[string]string
}

func (n *Node) faultState() FaultState {
	f := n.Faults()
	n.faultDir.mu.Lock()
	members := maps.Clone(n.faultDir.members)
	n.faultDir.mu.Unlock()
	return FaultState{Node: n.cfg.ID, Blocked: f.Blocked(), Delay: f.Delay().String(), Members: members}
}

// setFaultState makes this node's rules exactly st: peers no longer listed
// are unblocked and new ones blocked, without a moment in which the old
// partition is lifted.
func (n *Node) setFaultState(st FaultState) error {
	var delay time.Duration
	if st.Delay != "" {
		d, err := parseFaultDelay(st.Delay)
		if err != nil {
			return err
		}
		delay = d
	}
	if len(st.Blocked) > maxFaultPeers || len(st.Members) > maxFaultPeers {
		return fmt.Errorf("at most %d blocked peers and %d members", maxFaultPeers, maxFaultPeers)
	}
	f := n.Faults()
	var unblock []string
	for _, p := range f.Blocked() {
		if !slices.Contains(st.Blocked, p) {
			unblock = append(unblock, p)
		}
	}
	block := slices.DeleteFunc(slices.Clone(st.Blocked), func(p string) bool { return p == "" || p == n.cfg.ID })
	if len(unblock) > 0 {
		f.Unblock(unblock...)
	}
	f.Block(block...)
	if delay != f.Delay() {
		f.SetDelay(delay)
	}
	if st.Members != nil {
		n.faultDir.mu.Lock()
		n.faultDir.members = maps.Clone(st.Members)
		n.faultDir.mu.Unlock()
	}
	return nil
}

// registerFaultRoutes mounts the fault-injection admin API on m:
//
//	GET  /_strongbox/faults                       this node's rules (FaultState)
//	PUT  /_strongbox/faults                       replace them with the FaultState in the body
//	POST /_strongbox/faults/block?peer=ID&peer=…  cut this node off from those peers
//	POST /_strongbox/faults/unblock?peer=ID&peer=…
//	POST /_strongbox/faults/delay?d=50ms          delay every write on the cluster port (at most 1m)
//	POST /_strongbox/faults/heal                  remove every rule
//
// Every call answers with the resulting FaultState. Rules act on this
// node only but cut traffic in both directions (see transport.Faults);
// `strongbox cluster partition` sets them on every member.
func (n *Node) registerFaultRoutes(m *http.ServeMux) {
	reply := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(n.faultState())
	}
	peers := func(w http.ResponseWriter, r *http.Request) ([]string, bool) {
		ps := slices.DeleteFunc(r.URL.Query()["peer"], func(p string) bool { return p == "" })
		if len(ps) == 0 {
			http.Error(w, "missing peer", http.StatusBadRequest)
			return nil, false
		}
		if len(ps) > maxFaultPeers {
			http.Error(w, fmt.Sprintf("at most %d peers", maxFaultPeers), http.StatusBadRequest)
			return nil, false
		}
		return ps, true
	}
	m.HandleFunc("GET /_strongbox/faults", func(w http.ResponseWriter, _ *http.Request) { reply(w) })
	m.HandleFunc("PUT /_strongbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var st FaultState
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&st); err != nil {
			http.Error(w, "bad fault state: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := n.setFaultState(st); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reply(w)
	})
	m.HandleFunc("POST /_strongbox/faults/block", func(w http.ResponseWriter, r *http.Request) {
		if ps, ok := peers(w, r); ok {
			ps = slices.DeleteFunc(ps, func(p string) bool { return p == n.cfg.ID })
			f := n.Faults()
			if len(ps) > 0 && len(slices.Compact(slices.Sorted(slices.Values(append(f.Blocked(), ps...))))) > maxFaultPeers {
				http.Error(w, fmt.Sprintf("at most %d blocked peers", maxFaultPeers), http.StatusBadRequest)
				return
			}
			f.Block(ps...)
			reply(w)
		}
	})
	m.HandleFunc("POST /_strongbox/faults/unblock", func(w http.ResponseWriter, r *http.Request) {
		if ps, ok := peers(w, r); ok {
			n.Faults().Unblock(ps...)
			reply(w)
		}
	})
	m.HandleFunc("POST /_strongbox/faults/delay", func(w http.ResponseWriter, r *http.Request) {
		d, err := parseFaultDelay(r.URL.Query().Get("d"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n.Faults().SetDelay(d)
		reply(w)
	})
	m.HandleFunc("POST /_strongbox/faults/heal", func(w http.ResponseWriter, _ *http.Request) {
		n.Faults().Heal()
		reply(w)
	})
}

// parseFaultDelay parses an injected delay: a Go duration from 0 to
// transport.MaxFaultDelay.
func parseFaultDelay(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad or missing delay %q: want a duration such as 50ms", s)
	}
	if d > transport.MaxFaultDelay {
		return 0, fmt.Errorf("delay %v is longer than the maximum, %v", d, transport.MaxFaultDelay)
	}
	return d, nil
}

// PartitionRules turns a partition, given as groups of member IDs, into
// the peers each member must block: a member blocks every other member it
// shares no group with. Disjoint groups make a plain partition
// ({a,b}/{c}); overlapping groups make a bridge ({a,b}/{b,c}: b talks to
// both sides, a and c not to each other). Every member must be in some
// group, and every ID named must be a member. The result is symmetric
// and has an entry, possibly empty, for every member.
func PartitionRules(members []string, groups [][]string) (map[string][]string, error) {
	in := make(map[string][]int, len(members))
	for _, m := range members {
		in[m] = nil
	}
	for gi, g := range groups {
		for _, id := range g {
			if _, ok := in[id]; !ok {
				return nil, fmt.Errorf("partition: %q is not a member (members: %v)", id, members)
			}
			in[id] = append(in[id], gi)
		}
	}
	for _, m := range members {
		if len(in[m]) == 0 {
			return nil, fmt.Errorf("partition: member %q is in no group", m)
		}
	}
	out := make(map[string][]string, len(members))
	for _, a := range members {
		out[a] = []string{}
		for _, b := range members {
			if a != b && !slices.ContainsFunc(in[a], func(g int) bool { return slices.Contains(in[b], g) }) {
				out[a] = append(out[a], b)
			}
		}
		slices.Sort(out[a])
	}
	return out, nil
}
