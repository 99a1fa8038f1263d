package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/strongboxdb/strongbox/linearizability"
)

// runCrash is "strongbox crash": the crash test. It starts a cluster of
// this binary's own server processes, writes small, large and multipart
// objects while killing nodes with SIGKILL, then checks on every node that
// every acknowledged write reads back with the right bytes and nothing
// else appeared. Progress goes to stderr; the last line of stdout is the
// JSON summary. It fails unless nothing was lost or corrupt.
func runCrash(args []string) error {
	fs := flag.NewFlagSet("crash", flag.ExitOnError)
	e := newEnvFlags(fs)
	var (
		o               linearizability.CrashOptions
		mix, serverArgs string
		maxLarge        int64
		rate            float64
		killAllEvery    int
		finalCrash      bool
	)
	e.Int(&o.Nodes, "nodes", "STRONGBOX_CRASH_NODES", 3, "nodes to start")
	e.Duration(&o.Duration, "duration", "STRONGBOX_CRASH_DURATION", time.Minute, "how long the writes and kills go on")
	e.Int(&o.Workload.Writers, "writers", "STRONGBOX_CRASH_WRITERS", 6, "concurrent writers, each sending every request to a random node")
	e.Float64(&rate, "rate", "STRONGBOX_CRASH_RATE", 12, "total writes per second, negative: as fast as the writers go")
	e.String(&mix, "mix", "STRONGBOX_CRASH_MIX", linearizability.DefaultCrashMix.String(), "weights of small (inline), large (blob) and multipart writes")
	e.Int64(&maxLarge, "max-large", "STRONGBOX_CRASH_MAX_LARGE", 4<<20, "largest single PutObject in bytes")
	e.Int(&o.Workload.OverwritePct, "overwrite-pct", "STRONGBOX_CRASH_OVERWRITE_PCT", 10, "percent of writes to a few shared keys that writers overwrite concurrently (0: none)")
	e.Duration(&o.Workload.OpTimeout, "op-timeout", "STRONGBOX_CRASH_OP_TIMEOUT", 20*time.Second, "per-request timeout (then the outcome is unknown)")
	e.Duration(&o.Interval, "interval", "STRONGBOX_CRASH_INTERVAL", 2*time.Second, "quiet time before each kill")
	e.Duration(&o.FaultDuration, "fault-duration", "STRONGBOX_CRASH_FAULT_DURATION", 2*time.Second, "how long a killed node stays down")
	e.Int(&killAllEvery, "kill-all-every", "STRONGBOX_CRASH_KILL_ALL_EVERY", 5, "one kill in this many takes down every node at once (0: never)")
	e.Bool(&finalCrash, "final-crash", "STRONGBOX_CRASH_FINAL_CRASH", true, "kill every node at once after the writes, so the check reads what each node recovered from disk")
	e.Int64(&o.Seed, "seed", "STRONGBOX_CRASH_SEED", 0, "seed for writers and kills (0: random)")
	e.String(&o.Out, "out", "STRONGBOX_CRASH_OUT", "", "report directory (default: a new directory under $TMPDIR)")
	e.Bool(&o.KeepData, "keep-data", "STRONGBOX_CRASH_KEEP_DATA", false, "keep the nodes' data directories after a clean run")
	e.String(&o.AccessKey, "access-key", "STRONGBOX_ACCESS_KEY", defaultAccessKey, "S3 and admin access key for the nodes")
	e.String(&o.SecretKey, "secret-key", "STRONGBOX_SECRET_KEY", defaultSecretKey, "S3 and admin secret key for the nodes")
	e.String(&o.Binary, "binary", "STRONGBOX_CRASH_BINARY", "", "strongbox binary for the nodes (default: this one)")
	e.String(&serverArgs, "server-args", "STRONGBOX_CRASH_SERVER_ARGS", strings.Join(linearizability.CrashServerArgs, " "),
		"flags for every node, space-separated (the default shortens snapshot and blob-collection intervals; \"\" runs production defaults)")
	if err := e.parse(args); err != nil {
		return err
	}

	var err error
	if o.Workload.Mix, err = linearizability.ParseCrashMix(mix); err != nil {
		return err
	}
	o.Workload.Rate, o.Workload.MaxLarge = rate, maxLarge
	if maxLarge <= linearizability.InlineMax {
		return fmt.Errorf("crash: --max-large must exceed the inline limit (%d bytes)", linearizability.InlineMax)
	}
	if o.Workload.OverwritePct == 0 {
		o.Workload.OverwritePct = -1
	}
	o.KillAllEvery = killAllEvery
	if killAllEvery == 0 {
		o.KillAllEvery = -1
	}
	o.NoFinalCrash = !finalCrash
	// Never nil, so that "" means no extra flags.
	o.ServerArgs = append([]string{}, strings.Fields(serverArgs)...)
	if o.Binary == "" {
		if o.Binary, err = os.Executable(); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := linearizability.RunCrash(ctx, o)
	if err != nil {
		return err
	}
	line, _ := json.Marshal(sum)
	fmt.Println(string(line))
	if sum.Verdict != "ok" {
		return fmt.Errorf("crash: %d lost, %d corrupt, %d unreadable, %d listing mismatches, %d divergent, %d other (report: %s)",
			sum.Lost, sum.Corrupt, sum.Unreadable, sum.Listing, sum.Divergent, sum.Other, sum.Dir)
	}
	return nil
}
