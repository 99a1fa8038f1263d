package main

import (
	"flag"
	"os"
	"strconv"
	"time"
)

// Well-known development credentials. The banner prints them; production
// deployments set STRONGBOX_ACCESS_KEY / STRONGBOX_SECRET_KEY.
const (
	defaultAccessKey     = "strongbox"
	defaultSecretKey     = "strongbox-secret"
	defaultClusterSecret = "strongbox-dev-cluster-secret"
)

// envFlags registers flags whose defaults come from environment variables,
// so every flag has an env equivalent named in its usage text.
type envFlags struct{ fs *flag.FlagSet }

func (e envFlags) String(p *string, name, env, def, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	e.fs.StringVar(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		}
	}
	e.fs.DurationVar(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Int64(p *int64, name, env string, def int64, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			def = n
		}
	}
	e.fs.Int64Var(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Int(p *int, name, env string, def int, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		}
	}
	e.fs.IntVar(p, name, def, usage+" ($"+env+")")
}

func (e envFlags) Bool(p *bool, name, env string, def bool, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		}
	}
	e.fs.BoolVar(p, name, def, usage+" ($"+env+")")
}
