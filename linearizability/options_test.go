package linearizability

import (
	"maps"
	"slices"
	"testing"
)

func TestParseNemeses(t *testing.T) {
	got, err := ParseNemeses("kill, partition-leader,kill")
	if err != nil || !slices.Equal(got, []string{"kill", "partition-leader"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, _ := ParseNemeses("all"); !slices.Equal(got, slices.Sorted(slices.Values(Nemeses))) {
		t.Fatalf("all: %v", got)
	}
	if got, err := ParseNemeses("none"); err != nil || len(got) != 0 {
		t.Fatalf("none: %v %v", got, err)
	}
	if _, err := ParseNemeses("kill,flood"); err == nil {
		t.Fatal("unknown nemesis accepted")
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix("get=3,put=1")
	if err != nil || m[Get] != 3 || m[Put] != 1 || m.String() != "get=3,put=1" {
		t.Fatalf("got %v, %v", m, err)
	}
	for _, bad := range []string{"get=0", "read=1", "get=-1", "get"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

func TestParseScenarioRejects(t *testing.T) {
	for _, bad := range []string{
		`{}`,
		`{"name": "x", "expect": "maybe"}`,
		`{"name": "x", "nemeses": ["flood"]}`,
		`{"name": "x", "schedule": [{"at": "1s", "nemesis": "kill", "duration": "1s", "target": "oldest"}]}`,
		`{"name": "x", "durration": "1s"}`,
	} {
		if _, err := ParseScenario([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	s, err := ParseScenario([]byte(`{"name": "x", "duration": "2s", "schedule": [{"at": "1s", "nemesis": "kill", "duration": "500ms", "target": "leader"}]}`))
	if err != nil || s.Expect != Linearizable || s.Schedule[0].Duration != Duration(5e8) {
		t.Fatalf("got %+v, %v", s, err)
	}
}

func TestParseCrashMix(t *testing.T) {
	m, err := ParseCrashMix(DefaultCrashMix.String())
	if err != nil || !maps.Equal(m, DefaultCrashMix) {
		t.Fatalf("round trip of %v: got %v, %v", DefaultCrashMix, m, err)
	}
	// A later entry overrides an earlier one, so the weights are summed
	// after parsing: "small=1,small=0" has nothing left to pick.
	for _, bad := range []string{"small=0", "tiny=1", "large=-1", "small=1,small=0"} {
		if _, err := ParseCrashMix(bad); err == nil {
			t.Errorf("ParseCrashMix(%q) accepted", bad)
		}
	}
}
