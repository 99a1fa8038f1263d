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
// loopback, prints how to use it, restarts a node that exits on its own
// and stops every node on Ctrl-C. Real processes, real TCP: the same thing
// a multi-host deployment runs.
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
		cmd, exited := c.cmd, make(chan error, 1)
		c.exited, c.started = exited, time.Now()
		go func() { exited <- cmd.Wait(); logf.Close() }()
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

	// Supervise, as a process supervisor would in production: a node
	// that exits on its own (its state machine's disk failed, a crash) is
	// restarted, and resumes from its data directory. The pause doubles
	// while the node keeps exiting soon after starting (a disk still
	// full), up to 30s.
	exits := make(chan devExit, len(children))
	for _, c := range children {
		c.watch(exits)
	}
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\nstopping all nodes...")
			return nil
		case ex := <-exits:
			c := ex.child
			if ex.exited != c.exited {
				continue // an earlier run of a restarted node
			}
			if time.Since(c.started) < devRestartReset {
				c.pause = min(max(2*c.pause, time.Second), devRestartMax)
			} else {
				c.pause = time.Second
			}
			fmt.Printf("%s exited (%v); restarting it in %v (log: %s)\n", c.id, ex.err, c.pause, c.log)
			select {
			case <-ctx.Done():
				fmt.Println("\nstopping all nodes...")
				return nil
			case <-time.After(c.pause):
			}
			if err := start(c); err != nil {
				return fmt.Errorf("restart %s: %w", c.id, err)
			}
			c.watch(exits)
		}
	}
}

// Restart pacing of `strongbox dev`: a node that exits within
// devRestartReset of starting waits twice as long as last time before the
// next start, at most devRestartMax.
const (
	devRestartReset = 30 * time.Second
	devRestartMax   = 30 * time.Second
)

// devChild is one node process of the dev cluster. Only runDev's
// goroutine changes it.
type devChild struct {
	id, s3, raft, log string
	cmd               *exec.Cmd
	exited            chan error // receives the exit status of the current run
	started           time.Time
	pause             time.Duration // before the last restart
}

// devExit reports that a run of child ended.
type devExit struct {
	child  *devChild
	exited chan error // which run
	err    error
}

// watch reports the end of the child's current run on out, putting the
// status back so stopAll can still collect it.
func (c *devChild) watch(out chan<- devExit) {
	ch := c.exited
	go func() {
		err := <-ch
		ch <- err
		out <- devExit{child: c, exited: ch, err: err}
	}()
}
