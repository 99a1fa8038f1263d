package linearizability

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Scenario is a named, reproducible run: cluster size, server flags,
// workload, seed and fault schedule. The files in scenarios/ are built in
// (`strongbox check --scenario NAME`); every bug the harness finds in
// Strongbox becomes one, and `make check` reruns those that expect
// linearizable.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Expect is the verdict the scenario must produce (default
	// linearizable; the demonstrations of deliberately broken servers
	// expect violation).
	Expect     Verdict  `json:"expect,omitempty"`
	Nodes      int      `json:"nodes,omitempty"`
	Seed       int64    `json:"seed,omitempty"`
	Duration   Duration `json:"duration,omitempty"`
	ServerArgs []string `json:"server_args,omitempty"`

	Clients   int      `json:"clients,omitempty"`
	Rate      float64  `json:"rate,omitempty"`
	Keys      int      `json:"keys,omitempty"`
	Prefixes  int      `json:"prefixes,omitempty"`
	Mix       string   `json:"mix,omitempty"`
	OpTimeout Duration `json:"op_timeout,omitempty"`
	// KeyLifetime: see WorkloadOptions.
	KeyLifetime Duration `json:"key_lifetime,omitempty"`

	// Random faults (Nemeses, Interval, FaultDuration) or a fixed
	// Schedule.
	Nemeses       []string `json:"nemeses,omitempty"`
	Interval      Duration `json:"interval,omitempty"`
	FaultDuration Duration `json:"fault_duration,omitempty"`
	Schedule      []Step   `json:"schedule,omitempty"`
}

//go:embed scenarios/*.json
var scenarioFS embed.FS

// Scenarios returns the built-in scenarios, sorted by name.
func Scenarios() ([]Scenario, error) {
	names, err := fs.Glob(scenarioFS, "scenarios/*.json")
	if err != nil {
		return nil, err
	}
	var out []Scenario
	for _, n := range names {
		b, err := scenarioFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		s, err := ParseScenario(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if want := strings.TrimSuffix(path.Base(n), ".json"); s.Name != want {
			return nil, fmt.Errorf("%s: scenario is named %q; name the file after it", n, s.Name)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Scenario) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// LookupScenario returns the built-in scenario with that name.
func LookupScenario(name string) (Scenario, error) {
	all, err := Scenarios()
	if err != nil {
		return Scenario{}, err
	}
	var names []string
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("no scenario %q (have: %s)", name, strings.Join(names, ", "))
}

// ParseScenario reads and validates a scenario's JSON.
func ParseScenario(b []byte) (Scenario, error) {
	var s Scenario
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, err
	}
	if s.Name == "" {
		return s, fmt.Errorf("scenario without a name")
	}
	if s.Expect == "" {
		s.Expect = Linearizable
	}
	if s.Expect != Linearizable && s.Expect != Violation {
		return s, fmt.Errorf("expect must be %s or %s", Linearizable, Violation)
	}
	if _, err := ParseNemeses(strings.Join(s.Nemeses, ",")); err != nil {
		return s, err
	}
	for _, st := range s.Schedule {
		if !slices.Contains(Nemeses, st.Nemesis) {
			return s, fmt.Errorf("schedule: unknown nemesis %q", st.Nemesis)
		}
		if st.Target != "" && st.Target != "leader" && st.Target != "follower" {
			return s, fmt.Errorf("schedule: target %q: want leader or follower", st.Target)
		}
	}
	if s.Mix != "" {
		if _, err := ParseMix(s.Mix); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Apply sets the scenario's fields on o (fields the scenario leaves zero
// keep o's values).
func (s Scenario) Apply(o *Options) {
	o.Name = s.Name
	setIf(&o.Nodes, s.Nodes)
	setIf(&o.Seed, s.Seed)
	setIf(&o.Duration, time.Duration(s.Duration))
	if len(s.ServerArgs) > 0 {
		o.ServerArgs = append(slices.Clone(s.ServerArgs), o.ServerArgs...)
	}
	setIf(&o.Workload.Clients, s.Clients)
	setIf(&o.Workload.Rate, s.Rate)
	setIf(&o.Workload.Keys, s.Keys)
	setIf(&o.Workload.Prefixes, s.Prefixes)
	setIf(&o.Workload.OpTimeout, time.Duration(s.OpTimeout))
	setIf(&o.Workload.KeyLifetime, time.Duration(s.KeyLifetime))
	if s.Mix != "" {
		o.Workload.Mix, _ = ParseMix(s.Mix)
	}
	if len(s.Nemeses) > 0 {
		o.Nemesis.Nemeses, _ = ParseNemeses(strings.Join(s.Nemeses, ","))
	}
	setIf(&o.Nemesis.Interval, time.Duration(s.Interval))
	setIf(&o.Nemesis.FaultDuration, time.Duration(s.FaultDuration))
	if len(s.Schedule) > 0 {
		o.Nemesis.Schedule = s.Schedule
	}
}

func setIf[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}
