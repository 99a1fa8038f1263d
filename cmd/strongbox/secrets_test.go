package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7000":     true,
		"127.1.2.3:7000":     true,
		"[::1]:7000":         true,
		"localhost:7000":     true,
		"LocalHost.:7000":    true,
		"127.0.0.1":          true,
		"[::ffff:127.0.0.1]": true,
		"0.0.0.0:7000":       false, // every interface
		":7000":              false, // every interface
		"":                   false,
		"[::]:7000":          false,
		"10.0.0.5:7000":      false,
		"192.168.1.2:0":      false,
		"hostA:7000":         false, // may resolve anywhere
		"localhost.evil.com": false,
		"128.0.0.1:7000":     false,
	} {
		if got := isLoopbackAddr(addr); got != want {
			t.Errorf("isLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestCheckSecrets(t *testing.T) {
	const own = "0123456789abcdef-own-secret"
	tests := []struct {
		name       string
		s          secretSettings
		refuse     bool
		warnings   int
		wantInWarn string
	}{
		{"dev defaults on loopback (make run)", secretSettings{raftAddr: "127.0.0.1:7000", s3Addr: "127.0.0.1:9000", clusterSecret: defaultClusterSecret, secretKey: defaultSecretKey}, false, 0, ""},
		{"default cluster secret on 0.0.0.0", secretSettings{raftAddr: "0.0.0.0:7000", s3Addr: "127.0.0.1:9000", clusterSecret: defaultClusterSecret}, true, 0, ""},
		{"default cluster secret on :7000", secretSettings{raftAddr: ":7000", s3Addr: "127.0.0.1:9000", clusterSecret: defaultClusterSecret}, true, 0, ""},
		{"default cluster secret on a LAN address", secretSettings{raftAddr: "10.1.2.3:7000", clusterSecret: defaultClusterSecret}, true, 0, ""},
		{"default cluster secret advertised off-host", secretSettings{raftAddr: "127.0.0.1:7000", advertiseAddr: "hostA:7000", s3Addr: "127.0.0.1:9000", clusterSecret: defaultClusterSecret}, true, 0, ""},
		{"own cluster secret on 0.0.0.0", secretSettings{raftAddr: "0.0.0.0:7000", advertiseAddr: "hostA:7000", s3Addr: "127.0.0.1:9000", clusterSecret: own}, false, 0, ""},
		{"default S3 secret on 0.0.0.0 warns", secretSettings{raftAddr: "0.0.0.0:7000", s3Addr: "0.0.0.0:9000", clusterSecret: own, secretKey: defaultSecretKey}, false, 1, `"0.0.0.0:9000"`},
		{"default S3 secret on :9000 warns", secretSettings{raftAddr: "127.0.0.1:7000", s3Addr: ":9000", clusterSecret: own, secretKey: defaultSecretKey}, false, 1, "--credentials-file"},
		{"own S3 secret on 0.0.0.0", secretSettings{raftAddr: "0.0.0.0:7000", s3Addr: "0.0.0.0:9000", clusterSecret: own, secretKey: own}, false, 0, ""},
		{"credentials file only on 0.0.0.0", secretSettings{raftAddr: "0.0.0.0:7000", s3Addr: "0.0.0.0:9000", clusterSecret: own}, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warns, err := checkSecrets(tt.s)
			if tt.refuse {
				if err == nil {
					t.Fatal("started; want a refusal")
				}
				for _, want := range []string{"--cluster-secret", "STRONGBOX_CLUSTER_SECRET", "development default"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("refusal %q does not mention %s", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(warns) != tt.warnings {
				t.Fatalf("warnings %q, want %d", warns, tt.warnings)
			}
			for _, w := range warns {
				if !strings.Contains(w, tt.wantInWarn) || strings.Contains(w, defaultSecretKey) {
					t.Errorf("warning %q: want it to name %s and not print the secret", w, tt.wantInWarn)
				}
			}
		})
	}
}

// The banner explains the development defaults but never shows a secret
// the operator chose.
func TestBannerHidesOperatorSecrets(t *testing.T) {
	const sk, cs = "op-chosen-s3-secret-4711", "op-chosen-cluster-secret-0815"
	var out bytes.Buffer
	printBanner(&out, bannerInfo{id: "n1", s3URL: "http://10.0.0.1:9000", raftAddr: "10.0.0.1:7000", accessKey: "ops", secretKey: sk, clusterSecret: cs})
	if s := out.String(); strings.Contains(s, sk) || strings.Contains(s, cs) || strings.Count(s, "(set by you; not shown)") != 2 || !strings.Contains(s, "ops") {
		t.Fatalf("banner shows an operator's secret or hides the wrong thing:\n%s", s)
	}
	out.Reset()
	printBanner(&out, bannerInfo{id: "n1", accessKey: defaultAccessKey, secretKey: defaultSecretKey, clusterSecret: defaultClusterSecret})
	if s := out.String(); !strings.Contains(s, defaultSecretKey) || !strings.Contains(s, defaultClusterSecret) {
		t.Fatalf("banner of a development node should name the development secrets:\n%s", s)
	}
	out.Reset()
	printBanner(&out, bannerInfo{id: "n1", credentialsFile: "/etc/strongbox/keys.json", clusterSecret: cs})
	if s := out.String(); !strings.Contains(s, "/etc/strongbox/keys.json") || strings.Contains(s, "secret key:") || strings.Contains(s, cs) {
		t.Fatalf("banner with a credentials file:\n%s", s)
	}
}

// unsetEnv removes an environment variable for the rest of the test (and
// restores it afterwards), so the developer's own STRONGBOX_* settings
// cannot change what a test sees.
func unsetEnv(t *testing.T, name string) {
	t.Setenv(name, "")
	os.Unsetenv(name)
}

// runServerRefused runs the server command and wants it to return an
// error without ever starting a node. Should it start one (the data
// directory gets a Raft log), the test fails and the node is stopped the
// way an operator would stop it, by SIGTERM, which runServer handles.
func runServerRefused(t *testing.T, args ...string) error {
	t.Helper()
	for _, v := range []string{"STRONGBOX_CLUSTER_SECRET", "STRONGBOX_SECRET_KEY", "STRONGBOX_ACCESS_KEY", "STRONGBOX_CREDENTIALS_FILE",
		"STRONGBOX_RAFT_ADDR", "STRONGBOX_ADVERTISE_ADDR", "STRONGBOX_S3_ADDR", "STRONGBOX_DATA_DIR", "STRONGBOX_JOIN"} {
		unsetEnv(t, v)
	}
	dir := t.TempDir()
	args = append([]string{"--quiet", "--id", "t1", "--data-dir", dir, "--s3-addr", "127.0.0.1:0", "--log-level", "error"}, args...)
	done := make(chan error, 1)
	go func() { done <- runServer(args) }()
	for {
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("runServer returned without an error")
			}
			return err
		case <-time.After(20 * time.Millisecond): // polling interval
		}
		if _, err := os.Stat(filepath.Join(dir, "raft")); err == nil {
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			err := <-done
			t.Fatalf("runServer %q started a node instead of refusing (then: %v)", args, err)
		}
	}
}

// A node bound to every interface with the development cluster secret
// refuses to start and says how to set a secret.
func TestServerRefusesDefaultClusterSecretOffLoopback(t *testing.T) {
	for _, args := range [][]string{
		// Bound to every interface; the advertised address (never dialled
		// by a one-node cluster) is loopback, so the bind alone decides.
		{"--raft-addr", "0.0.0.0:0", "--advertise-addr", "127.0.0.1:1"},
		{"--raft-addr", ":0", "--advertise-addr", "localhost:1"},
		// Bound to loopback but advertised to others (a proxy in front).
		{"--raft-addr", "127.0.0.1:0", "--advertise-addr", "192.0.2.10:7000"},
	} {
		err := runServerRefused(t, args...)
		for _, want := range []string{"refusing to start", "--cluster-secret", "STRONGBOX_CLUSTER_SECRET"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %q does not say %q", args, err, want)
			}
		}
	}
}
