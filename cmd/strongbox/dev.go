package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/strongboxdb/strongbox/server"
)

// runDev starts a local cluster of child "strongbox server" processes on
// loopback, prints how to use it and stops every node on Ctrl-C. Real
// processes, real TCP: the same thing a multi-host deployment runs.
func runDev(args []string) error {
	fs := flag.NewFlagSet("dev", flag.ExitOnError)
	e := newEnvFlags(fs)
	var (
		nodes, s3Base, raftBase int
		dataDir, ak, sk         string
		useTLS                  bool
	)
	e.Int(&nodes, "nodes", "STRONGBOX_DEV_NODES", 3, "number of nodes")
	e.Int(&s3Base, "s3-port", "STRONGBOX_DEV_S3_PORT", 9000, "S3 port of the first node; node i listens on s3-port+i")
	e.Int(&raftBase, "raft-port", "STRONGBOX_DEV_RAFT_PORT", 7000, "raft port of the first node")
	e.String(&dataDir, "data-dir", "STRONGBOX_DEV_DATA_DIR", filepath.Join(os.TempDir(), "strongbox-dev"), "parent data directory (one subdirectory per node)")
	e.String(&ak, "access-key", "STRONGBOX_ACCESS_KEY", defaultAccessKey, "S3 access key")
	e.String(&sk, "secret-key", "STRONGBOX_SECRET_KEY", defaultSecretKey, "S3 secret key")
	e.Bool(&useTLS, "tls", "STRONGBOX_DEV_TLS", false, "serve S3 over HTTPS with one self-signed certificate (kept in <data-dir>/tls) for all nodes")
	if err := e.parse(args); err != nil {
		return err
	}
	if nodes < 1 {
		return errors.New("dev: --nodes must be at least 1")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dataDir, err = filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}

	scheme, tlsArgs, caNote := "http", []string(nil), ""
	if useTLS {
		_, certFile, err := server.SelfSignedTLS(filepath.Join(dataDir, "tls"))
		if err != nil {
			return err
		}
		scheme = "https"
		tlsArgs = []string{"--tls-cert", certFile, "--tls-key", filepath.Join(dataDir, "tls", "key.pem")}
		caNote = "  export AWS_CA_BUNDLE=" + certFile + "   # trust the self-signed certificate\n"
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	children := make([]*devChild, nodes)
	for i := range children {
		id := "node" + strconv.Itoa(i+1)
		children[i] = &devChild{
			id:   id,
			s3:   "127.0.0.1:" + strconv.Itoa(s3Base+i),
			raft: "127.0.0.1:" + strconv.Itoa(raftBase+i),
			log:  filepath.Join(dataDir, id+".log"),
		}
	}
	// A fresh cluster must grow from one bootstrapped node; an existing one
	// needs a quorum up before any node can answer, so start all at once.
	_, statErr := os.Stat(filepath.Join(dataDir, children[0].id, "raft", "raft.db"))
	fresh := os.IsNotExist(statErr)

	start := func(c *devChild) error {
		logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		args := []string{"server", "--quiet", "--id", c.id, "--data-dir", filepath.Join(dataDir, c.id),
			"--s3-addr", c.s3, "--raft-addr", c.raft}
		if c != children[0] {
			args = append(args, "--join", children[0].raft)
		}
		args = append(args, tlsArgs...)
		c.cmd = exec.Command(self, args...)
		// Through the environment, not argv, which every local user can
		// read in the process list.
		c.cmd.Env = append(os.Environ(), "STRONGBOX_ACCESS_KEY="+ak, "STRONGBOX_SECRET_KEY="+sk)
		c.cmd.Stdout, c.cmd.Stderr = logf, logf
		// Own process group: Ctrl-C reaches only us, and we stop the
		// nodes in an orderly way.
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.cmd.Start(); err != nil {
			logf.Close()
			return err
		}
		c.exited = make(chan error, 1)
		go func() { c.exited <- c.cmd.Wait(); logf.Close() }()
		return nil
	}
	stopAll := func() {
		for _, c := range children {
			if c.cmd != nil && c.cmd.Process != nil {
				_ = c.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		for _, c := range children {
			if c.cmd == nil {
				continue
			}
			select {
			case <-c.exited:
			case <-time.After(10 * time.Second):
				_ = c.cmd.Process.Kill()
				<-c.exited
			}
		}
	}
	defer stopAll()

	// The health probe only waits for readiness; it need not trust the
	// development certificate.
	healthClient := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	waitHealthy := func(c *devChild) error {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case err := <-c.exited:
				c.exited <- err
				return fmt.Errorf("%s exited during startup (%v); see %s", c.id, err, c.log)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			resp, err := healthClient.Get(scheme + "://" + c.s3 + "/_strongbox/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		return fmt.Errorf("%s not healthy after 30s; see %s", c.id, c.log)
	}

	if fresh {
		for _, c := range children {
			if err := start(c); err != nil {
				return err
			}
			if err := waitHealthy(c); err != nil {
				return err
			}
		}
	} else {
		for _, c := range children {
			if err := start(c); err != nil {
				return err
			}
		}
		for _, c := range children {
			if err := waitHealthy(c); err != nil {
				return err
			}
		}
	}

	// A secret the operator chose is not printed (shownSecret); the
	// example then names it instead of spelling it out.
	skShown, skExport := shownSecret(sk, defaultSecretKey), sk
	if sk != defaultSecretKey {
		skExport = "<your secret key>"
	}
	fmt.Printf("\nStrongbox: %d-node cluster running on 127.0.0.1\n\n", nodes)
	for _, c := range children {
		fmt.Printf("  %-6s S3 %s://%s   raft %s   log %s\n", c.id, scheme, c.s3, c.raft, c.log)
	}
	fmt.Printf(`
  data directory: %s
  access key:     %s
  secret key:     %s
  region:         us-east-1

Try it (any node accepts any request):
  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=us-east-1
%s  aws --endpoint-url %s://%s s3 mb s3://demo
  aws --endpoint-url %s://%s s3 cp README.md s3://demo/
  aws --endpoint-url %s://%s s3 ls s3://demo/

Cluster status: %s cluster status --endpoint %s://%s
Press Ctrl-C to stop all nodes.
`, dataDir, ak, skShown, ak, skExport, caNote, scheme, children[0].s3, scheme, children[min(1, nodes-1)].s3, scheme, children[nodes-1].s3, os.Args[0], scheme, children[0].s3)

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping all nodes...")
	case err := <-firstExit(children):
		fmt.Printf("a node exited unexpectedly (%v); stopping the others\n", err)
	}
	return nil
}

// devChild is one node process of the dev cluster.
type devChild struct {
	id, s3, raft, log string
	cmd               *exec.Cmd
	exited            chan error
}

// firstExit delivers the exit error of whichever child stops first. Each
// watcher puts the error back so stopAll can still collect it.
func firstExit(children []*devChild) <-chan error {
	out := make(chan error, len(children))
	for _, c := range children {
		go func() {
			err := <-c.exited
			c.exited <- err
			out <- err
		}()
	}
	return out
}
