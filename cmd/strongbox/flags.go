package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Well-known development credentials. The banner prints them; production
// deployments set STRONGBOX_ACCESS_KEY / STRONGBOX_SECRET_KEY (or a
// credentials file) and STRONGBOX_CLUSTER_SECRET. A node refuses the
// development cluster secret on a non-loopback cluster address and warns
// about the development S3 secret on a non-loopback S3 address (secrets.go).
const (
	defaultAccessKey     = "strongbox"
	defaultSecretKey     = "strongbox-secret"
	defaultClusterSecret = "strongbox-dev-cluster-secret"
)

// envFlags registers flags whose defaults come from environment variables,
// so every flag has an env equivalent named in its usage text. A variable
// that is set but does not parse as its flag's type is an error that
// parse reports (naming variable and value), never a silent fallback to
// the default. An empty variable counts as unset, as shells and compose
// files produce them for "no value". Create it with newEnvFlags.
type envFlags struct {
	fs *flag.FlagSet
	st *envState
}

type envState struct {
	errs    []error
	fromEnv map[string]bool // flag names whose default came from the environment
}

func newEnvFlags(fs *flag.FlagSet) envFlags {
	return envFlags{fs: fs, st: &envState{fromEnv: map[string]bool{}}}
}

// lookup returns the environment value for flag name, if it is set and
// not empty.
func (e envFlags) lookup(name, env string) (string, bool) {
	v, ok := os.LookupEnv(env)
	if !ok || v == "" {
		return "", false
	}
	e.st.fromEnv[name] = true
	return v, true
}

// bad records an environment variable that does not parse.
func (e envFlags) bad(env, v, want string) {
	e.st.errs = append(e.st.errs, fmt.Errorf("environment variable %s=%q is not %s", env, v, want))
}

// parse parses args and then reports every environment variable that did
// not parse, so a typo in the environment stops the command instead of
// running it with a default the operator did not choose.
func (e envFlags) parse(args []string) error {
	if err := e.fs.Parse(args); err != nil {
		return err
	}
	return errors.Join(e.st.errs...)
}

// isSet reports whether flag name was given on the command line or
// through its environment variable (as opposed to left at its default).
// Valid after parse.
func (e envFlags) isSet(name string) bool {
	set := e.st.fromEnv[name]
	e.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func (e envFlags) String(p *string, name, env, def, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		// A string takes any value, the empty one included (STRONGBOX_JOIN="").
		e.st.fromEnv[name] = true
		def = v
	}
	e.fs.StringVar(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := e.lookup(name, env); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		} else {
			e.bad(env, v, "a duration (such as 500ms or 2s)")
		}
	}
	e.fs.DurationVar(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Int64(p *int64, name, env string, def int64, usage string) {
	if v, ok := e.lookup(name, env); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			def = n
		} else {
			e.bad(env, v, "an integer")
		}
	}
	e.fs.Int64Var(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Int(p *int, name, env string, def int, usage string) {
	if v, ok := e.lookup(name, env); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		} else {
			e.bad(env, v, "an integer")
		}
	}
	e.fs.IntVar(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Float64(p *float64, name, env string, def float64, usage string) {
	if v, ok := e.lookup(name, env); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			def = f
		} else {
			e.bad(env, v, "a number")
		}
	}
	e.fs.Float64Var(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Bool(p *bool, name, env string, def bool, usage string) {
	if v, ok := e.lookup(name, env); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		} else {
			e.bad(env, v, "a boolean (true or false)")
		}
	}
	e.fs.BoolVar(p, name, def, usage+" ($"+env+")")
}
