package linearizability

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildOnce builds the strongbox binary once per test process.
var buildOnce struct {
	sync.Once
	path string
	err  error
	out  []byte
}

// strongboxBinary builds cmd/strongbox (without the race detector: the
// nodes are the system under test, not this process) into a temporary
// directory shared by the tests of this run.
func strongboxBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "strongbox-lin-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "strongbox")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "github.com/strongboxdb/strongbox/cmd/strongbox")
		buildOnce.out, buildOnce.err = cmd.CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("go build: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	os.Exit(code)
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runScenario runs a built-in scenario against local processes, with
// change applied to the options last.
func runScenario(t *testing.T, name string, change func(*Options)) *Summary {
	t.Helper()
	sc, err := LookupScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Binary: strongboxBinary(t), AccessKey: "test-access", SecretKey: "test-secret",
		Out: t.TempDir(), Progress: testWriter{t}, CheckTimeout: time.Minute,
	}
	sc.Apply(&o)
	if change != nil {
		change(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// The checker must catch a server that reads without the ReadIndex
// barrier while its leader is cut off; the same run on safe servers is
// linearizable.
func TestUnsafeLocalReadsAreCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clusters of real processes")
	}
	t.Run("unsafe", func(t *testing.T) {
		sum := runScenario(t, "unsafe-local-reads", nil)
		if sum.Verdict != Violation {
			t.Fatalf("verdict %s with --unsafe-local-reads, want violation (report %s)", sum.Verdict, sum.Dir)
		}
		if sum.Faults != 1 || sum.FaultErrors != 0 {
			t.Fatalf("faults %d (errors %d), want the one scheduled", sum.Faults, sum.FaultErrors)
		}
		for _, m := range sum.Models {
			if m.Result == Violation && m.Visualization == "" {
				t.Errorf("model %s: violation without a visualization", m.Model)
			}
		}
	})
	t.Run("safe", func(t *testing.T) {
		sum := runScenario(t, "unsafe-local-reads", func(o *Options) { o.ServerArgs = nil })
		if sum.Verdict != Linearizable {
			t.Fatalf("verdict %s without --unsafe-local-reads, want linearizable (report %s): %+v", sum.Verdict, sum.Dir, sum.Models)
		}
		if sum.ByKind[Get][OK] == 0 || sum.ByKind[Put][OK] == 0 || sum.ByKind[List][OK] == 0 {
			t.Fatalf("workload did too little: %v", sum.ByKind)
		}
	})
}

// Every built-in scenario parses and names a valid schedule.
func TestScenariosParse(t *testing.T) {
	all, err := Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no scenarios")
	}
	for _, s := range all {
		var o Options
		s.Apply(&o)
		if o.Name != s.Name || o.Nodes == 0 {
			t.Errorf("scenario %s applies as %+v", s.Name, o)
		}
	}
}
