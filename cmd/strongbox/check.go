package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/strongboxdb/strongbox/linearizability"
)

// runCheck is "strongbox check": the linearizability harness. It starts a
// cluster of this binary's own server processes (or targets --endpoints),
// runs the workload under the chosen nemeses, checks the history with
// Porcupine and writes a report directory. Progress goes to stderr; the
// last line of stdout is the JSON summary. It fails unless the verdict is
// the expected one (linearizable, or a scenario's "expect").
func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	e := newEnvFlags(fs)
	var (
		o                                      linearizability.Options
		nemeses, mix, endpoints, serverArgs    string
		scenario, history                      string
		interval, faultDur, opTimeout, checkTO time.Duration
		keyLifetime                            time.Duration
		unsafeReads, listScenarios             bool
		clients, keys, prefixes                int
		rate                                   float64
		seed                                   int64
	)
	e.Int(&o.Nodes, "nodes", "STRONGBOX_CHECK_NODES", 3, "nodes to start")
	e.Duration(&o.Duration, "duration", "STRONGBOX_CHECK_DURATION", 30*time.Second, "how long the workload runs")
	e.Int(&clients, "clients", "STRONGBOX_CHECK_CLIENTS", 12, "concurrent clients, spread over the nodes")
	e.Float64(&rate, "rate", "STRONGBOX_CHECK_RATE", 150, "total operations per second, 0: as fast as the clients go")
	e.Int(&keys, "keys", "STRONGBOX_CHECK_KEYS", 8, "distinct keys (few: contention matters)")
	e.Int(&prefixes, "prefixes", "STRONGBOX_CHECK_PREFIXES", 2, "listing prefixes the keys are spread over")
	e.Duration(&keyLifetime, "key-lifetime", "STRONGBOX_CHECK_KEY_LIFETIME", 15*time.Second, "start a fresh key set this often, bounding each key's history (negative: never)")
	e.String(&mix, "mix", "STRONGBOX_CHECK_MIX", linearizability.DefaultMix.String(), "operation weights: get,put,delete,put-if-absent,put-if-match,list")
	e.Int64(&seed, "seed", "STRONGBOX_CHECK_SEED", 0, "seed for the workload and the nemesis (0: random)")
	e.Duration(&opTimeout, "op-timeout", "STRONGBOX_CHECK_OP_TIMEOUT", 2*time.Second, "per-operation timeout (then the outcome is unknown)")
	e.String(&nemeses, "nemesis", "STRONGBOX_CHECK_NEMESIS", "", "faults: comma-separated "+strings.Join(linearizability.Nemeses, ",")+", or all, or none")
	e.Duration(&interval, "interval", "STRONGBOX_CHECK_INTERVAL", 4*time.Second, "quiet time before each fault")
	e.Duration(&faultDur, "fault-duration", "STRONGBOX_CHECK_FAULT_DURATION", 3*time.Second, "how long each fault lasts")
	e.Duration(&checkTO, "check-timeout", "STRONGBOX_CHECK_TIMEOUT", 2*time.Minute, "time limit of the Porcupine check (past it: verdict unknown)")
	e.String(&o.Out, "out", "STRONGBOX_CHECK_OUT", "", "report directory (default: a new directory under $TMPDIR)")
	e.Bool(&o.Visualize, "html", "STRONGBOX_CHECK_HTML", false, "write the HTML visualization even when linearizable")
	e.Bool(&o.KeepData, "keep-data", "STRONGBOX_CHECK_KEEP_DATA", false, "keep the nodes' data directories after a clean run")
	e.String(&endpoints, "endpoints", "STRONGBOX_CHECK_ENDPOINTS", "", "comma-separated S3 URLs of a running cluster to test instead of starting one")
	e.String(&o.AccessKey, "access-key", "STRONGBOX_ACCESS_KEY", defaultAccessKey, "S3 and admin access key")
	e.String(&o.SecretKey, "secret-key", "STRONGBOX_SECRET_KEY", defaultSecretKey, "S3 and admin secret key")
	e.String(&o.Region, "region", "STRONGBOX_REGION", "us-east-1", "region to sign for")
	e.String(&o.Binary, "binary", "STRONGBOX_CHECK_BINARY", "", "strongbox binary for the nodes (default: this one)")
	e.String(&serverArgs, "server-args", "STRONGBOX_CHECK_SERVER_ARGS", "", "extra flags for every node, space-separated")
	e.Bool(&unsafeReads, "unsafe-local-reads", "STRONGBOX_CHECK_UNSAFE_LOCAL_READS", false, "start the nodes with --unsafe-local-reads (the checker must then find violations)")
	e.String(&scenario, "scenario", "STRONGBOX_CHECK_SCENARIO", "", "run a named scenario (see --list-scenarios); explicit flags override it")
	e.Bool(&listScenarios, "list-scenarios", "STRONGBOX_CHECK_LIST_SCENARIOS", false, "list the built-in scenarios and exit")
	e.String(&history, "history", "STRONGBOX_CHECK_HISTORY", "", "only re-check a history.json from an earlier run")
	if err := e.parse(args); err != nil {
		return err
	}

	if listScenarios {
		all, err := linearizability.Scenarios()
		if err != nil {
			return err
		}
		for _, s := range all {
			fmt.Printf("%-28s expect %-12s %s\n", s.Name, s.Expect, s.Description)
		}
		return nil
	}
	if history != "" {
		return recheck(history, checkTO, o.Out)
	}

	// Flags first, then a scenario over them, then explicitly set flags
	// over the scenario.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	if o.Nemesis.Nemeses, err = linearizability.ParseNemeses(nemeses); err != nil {
		return err
	}
	if o.Workload.Mix, err = linearizability.ParseMix(mix); err != nil {
		return err
	}
	o.Workload.Clients, o.Workload.Keys, o.Workload.Prefixes, o.Workload.Rate = clients, keys, prefixes, rate
	o.Workload.OpTimeout, o.Nemesis.Interval, o.Nemesis.FaultDuration = opTimeout, interval, faultDur
	o.Workload.KeyLifetime = keyLifetime
	o.CheckTimeout, o.Seed = checkTO, seed
	o.ServerArgs = strings.Fields(serverArgs)
	if unsafeReads {
		o.ServerArgs = append(o.ServerArgs, "--unsafe-local-reads")
	}
	for ep := range strings.SplitSeq(endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			o.Endpoints = append(o.Endpoints, ep)
		}
	}
	expect := linearizability.Linearizable
	if scenario != "" {
		sc, err := linearizability.LookupScenario(scenario)
		if err != nil {
			return err
		}
		explicit := o
		sc.Apply(&o)
		expect = sc.Expect
		reapply(set, &o, explicit)
	}
	if o.Binary == "" && len(o.Endpoints) == 0 {
		if o.Binary, err = os.Executable(); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := linearizability.Run(ctx, o)
	if err != nil {
		return err
	}
	line, _ := json.Marshal(struct {
		*linearizability.Summary
		Expected linearizability.Verdict `json:"expected"`
	}{sum, expect})
	fmt.Println(string(line))
	if sum.Verdict != expect {
		return fmt.Errorf("check: verdict %s, expected %s (report: %s)", sum.Verdict, expect, sum.Dir)
	}
	return nil
}

// reapply puts back the values of flags given on the command line, which
// win over the scenario's.
func reapply(set map[string]bool, o *linearizability.Options, flags linearizability.Options) {
	pick := map[string]func(){
		"nodes":          func() { o.Nodes = flags.Nodes },
		"duration":       func() { o.Duration = flags.Duration },
		"clients":        func() { o.Workload.Clients = flags.Workload.Clients },
		"rate":           func() { o.Workload.Rate = flags.Workload.Rate },
		"keys":           func() { o.Workload.Keys = flags.Workload.Keys },
		"prefixes":       func() { o.Workload.Prefixes = flags.Workload.Prefixes },
		"mix":            func() { o.Workload.Mix = flags.Workload.Mix },
		"seed":           func() { o.Seed = flags.Seed },
		"op-timeout":     func() { o.Workload.OpTimeout = flags.Workload.OpTimeout },
		"key-lifetime":   func() { o.Workload.KeyLifetime = flags.Workload.KeyLifetime },
		"nemesis":        func() { o.Nemesis.Nemeses, o.Nemesis.Schedule = flags.Nemesis.Nemeses, nil },
		"interval":       func() { o.Nemesis.Interval = flags.Nemesis.Interval },
		"fault-duration": func() { o.Nemesis.FaultDuration = flags.Nemesis.FaultDuration },
	}
	for name, f := range pick {
		if set[name] {
			f()
		}
	}
}

// recheck runs the checker alone on a saved history.
func recheck(path string, timeout time.Duration, out string) error {
	ops, err := linearizability.ReadHistory(path)
	if err != nil {
		return err
	}
	res := linearizability.Check(ops, linearizability.CheckOptions{Timeout: timeout, Dir: out})
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	if res.Verdict != linearizability.Linearizable {
		return errors.New("check: verdict " + string(res.Verdict))
	}
	return nil
}
