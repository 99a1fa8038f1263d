package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func newTestFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// An environment variable that does not parse stops the command, naming
// the variable and its value, instead of running with the default.
func TestServerRefusesUnparsableEnvironment(t *testing.T) {
	t.Setenv("STRONGBOX_MAX_IN_FLIGHT", "lots")
	t.Setenv("STRONGBOX_ELECTION_TIMEOUT", "5")
	err := runServerRefused(t, "--raft-addr", "127.0.0.1:0")
	for _, want := range []string{`STRONGBOX_MAX_IN_FLIGHT="lots"`, `STRONGBOX_ELECTION_TIMEOUT="5"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestEnvFlagsRefuseUnparsable(t *testing.T) {
	for _, tt := range []struct {
		env, val string
		reg      func(e envFlags)
	}{
		{"STRONGBOX_T_INT", "12x", func(e envFlags) { var v int; e.Int(&v, "i", "STRONGBOX_T_INT", 1, "") }},
		{"STRONGBOX_T_INT64", "1e3", func(e envFlags) { var v int64; e.Int64(&v, "i", "STRONGBOX_T_INT64", 1, "") }},
		{"STRONGBOX_T_DUR", "10", func(e envFlags) { var v time.Duration; e.Duration(&v, "d", "STRONGBOX_T_DUR", 1, "") }},
		{"STRONGBOX_T_BOOL", "yes", func(e envFlags) { var v bool; e.Bool(&v, "b", "STRONGBOX_T_BOOL", false, "") }},
		{"STRONGBOX_T_FLOAT", "fast", func(e envFlags) { var v float64; e.Float64(&v, "f", "STRONGBOX_T_FLOAT", 1, "") }},
	} {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(tt.env, tt.val)
			e := newEnvFlags(newTestFlagSet())
			tt.reg(e)
			err := e.parse(nil)
			if err == nil || !strings.Contains(err.Error(), tt.env+`="`+tt.val+`"`) {
				t.Fatalf("parse: %v, want an error naming %s=%q", err, tt.env, tt.val)
			}
		})
	}
	// Good values are taken; empty ones count as unset.
	t.Setenv("STRONGBOX_T_INT", "42")
	t.Setenv("STRONGBOX_T_DUR", "")
	e := newEnvFlags(newTestFlagSet())
	var i int
	var d time.Duration
	e.Int(&i, "i", "STRONGBOX_T_INT", 1, "")
	e.Duration(&d, "d", "STRONGBOX_T_DUR", time.Second, "")
	if err := e.parse(nil); err != nil || i != 42 || d != time.Second || !e.isSet("i") || e.isSet("d") {
		t.Fatalf("parse: %v, i=%d d=%v set(i)=%v set(d)=%v", err, i, d, e.isSet("i"), e.isSet("d"))
	}
	if err := e.parse([]string{"-d", "3s"}); err != nil || d != 3*time.Second || !e.isSet("d") {
		t.Fatalf("flag on the command line: %v, d=%v set(d)=%v", err, d, e.isSet("d"))
	}
}
