package linearizability

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/strongboxdb/strongbox/node"
)

// ErrNeedsLocal is returned for process faults (kill, pause, membership)
// on a cluster the harness did not start.
var ErrNeedsLocal = errors.New("needs a cluster of local processes started by the harness")

// Cluster is the system under test: its nodes' IDs and S3 endpoints, the
// admin API to set fault rules, and, for a cluster of local processes the
// harness started, control over those processes.
type Cluster struct {
	members []*member
	admin   *admin
	hc      *http.Client // health probes
	logf    func(format string, args ...any)

	// Local clusters only.
	local      bool
	binary     string
	secret     string
	ak, sk     string
	serverArgs []string
}

// member is one node of the cluster.
type member struct {
	id, s3URL string

	// Local processes only.
	raftAddr, s3Addr string
	dataDir, logPath string
	mu               sync.Mutex
	cmd              *exec.Cmd
	exited           chan struct{}
	paused           bool
}

// LocalOptions describes a cluster of `strongbox server` processes.
type LocalOptions struct {
	// Binary is the strongbox executable.
	Binary string
	// Nodes is the cluster size (default 3).
	Nodes int
	// Dir holds each node's data directory and log (n1/, n1.log, ...).
	Dir                  string
	AccessKey, SecretKey string
	// ServerArgs are extra flags for every node (e.g. --unsafe-local-reads).
	ServerArgs []string
	Logf       func(format string, args ...any)
}

// StartLocal starts a fresh cluster of local processes on loopback ports
// chosen by the OS: node 1 bootstraps, the others join it.
func StartLocal(ctx context.Context, o LocalOptions) (*Cluster, error) {
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	c := &Cluster{
		admin: newAdmin(o.AccessKey, o.SecretKey, "us-east-1"),
		hc:    &http.Client{Timeout: time.Second},
		logf:  o.Logf, local: true, binary: o.Binary, secret: hex.EncodeToString(secret),
		ak: o.AccessKey, sk: o.SecretKey, serverArgs: o.ServerArgs,
	}
	for i := range o.Nodes {
		id := "n" + strconv.Itoa(i+1)
		c.members = append(c.members, &member{
			id: id, s3Addr: "127.0.0.1:0", raftAddr: "127.0.0.1:0",
			dataDir: filepath.Join(o.Dir, id), logPath: filepath.Join(o.Dir, id+".log"),
		})
	}
	for i := range c.members {
		var join []string
		if i > 0 {
			join = []string{c.members[0].raftAddr}
		}
		if err := c.start(ctx, i, join); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitHealthy(ctx, 60*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ConnectRemote targets a running cluster through its S3 endpoints and
// admin credentials. Faults are then limited to the admin API's fault
// rules.
func ConnectRemote(ctx context.Context, endpoints []string, ak, sk, region string) (*Cluster, error) {
	c := &Cluster{admin: newAdmin(ak, sk, region), hc: &http.Client{Timeout: 2 * time.Second}, logf: func(string, ...any) {}}
	for _, ep := range endpoints {
		ep = strings.TrimRight(ep, "/")
		h, err := getHealth(ctx, c.hc, ep)
		if err != nil {
			return nil, err
		}
		c.members = append(c.members, &member{id: h.ID, s3URL: ep})
	}
	// Fail early on bad credentials, and find the members not named.
	st, err := c.admin.status(ctx, c.members[0].s3URL)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	for _, ms := range st.Members {
		known := slices.ContainsFunc(c.members, func(m *member) bool { return m.id == ms.ID })
		if !known && ms.S3URL == "" {
			return nil, fmt.Errorf("member %s is unreachable (%s); heal the cluster or name every endpoint", ms.ID, ms.Error)
		}
		if !known {
			c.members = append(c.members, &member{id: ms.ID, s3URL: strings.TrimRight(ms.S3URL, "/")})
		}
	}
	return c, nil
}

// Local reports whether the harness controls the nodes' processes.
func (c *Cluster) Local() bool { return c.local }

// Size is the number of nodes.
func (c *Cluster) Size() int { return len(c.members) }

// ID is node i's ID.
func (c *Cluster) ID(i int) string { return c.members[i].id }

// Endpoints are the nodes' S3 URLs, in node order.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.s3URL
	}
	return out
}

// LogPaths are the nodes' log files (local clusters only).
func (c *Cluster) LogPaths() []string {
	var out []string
	for _, m := range c.members {
		if m.logPath != "" {
			out = append(out, m.logPath)
		}
	}
	return out
}

// start launches node i's process and waits until it serves S3 (a
// joining node: until a member added it). Its first start binds ports
// chosen by the OS; restarts reuse them, since the Raft configuration
// records the cluster address.
func (c *Cluster) start(ctx context.Context, i int, join []string) error {
	m := c.members[i]
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := []string{"server", "--id", m.id, "--data-dir", m.dataDir,
		"--s3-addr", m.s3Addr, "--raft-addr", m.raftAddr,
		"--access-key", c.ak, "--secret-key", c.sk, "--cluster-secret", c.secret}
	args = append(args, c.serverArgs...)
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	cmd := exec.Command(c.binary, args...)
	cmd.Stderr = logf
	// The nodes get exactly the flags above: no STRONGBOX_* setting of
	// the caller's environment leaks into them.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "STRONGBOX_") })
	cmd.Env = append(cmd.Env, "STRONGBOX_LOG_LEVEL=info")
	// Own process group, so a terminal's Ctrl-C reaches only the harness,
	// which then stops the nodes; and killed along with the harness.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	fmt.Fprintf(logf, "=== harness: starting %s %s\n", c.binary, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan struct{})
	ready := make(chan [2]string, 1)
	go func() {
		// The banner names the bound addresses; everything goes to the log.
		var s3URL, raft string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "S3 endpoint:"); ok {
				s3URL = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "raft address:"); ok {
				raft = strings.TrimSpace(v)
				ready <- [2]string{s3URL, raft}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		fmt.Fprintf(logf, "=== harness: %s exited: %v\n", m.id, err)
		logf.Close()
		close(exited)
	}()
	m.mu.Lock()
	m.cmd, m.exited, m.paused = cmd, exited, false
	m.mu.Unlock()

	t := time.NewTimer(90 * time.Second)
	defer t.Stop()
	select {
	case addrs := <-ready:
		if m.s3URL == "" {
			// First start: pin the ports the OS chose.
			m.s3URL, m.raftAddr = addrs[0], addrs[1]
			m.s3Addr = strings.TrimPrefix(m.s3URL, "http://")
		}
		c.logf("%s started (pid %d, S3 %s, raft %s)", m.id, cmd.Process.Pid, m.s3URL, m.raftAddr)
		return nil
	case <-exited:
		return fmt.Errorf("%s exited during startup; see %s", m.id, m.logPath)
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return ctx.Err()
	case <-t.C:
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%s did not start within 90s; see %s", m.id, m.logPath)
	}
}

// Running reports whether node i's process is up (paused counts as up).
func (c *Cluster) Running(i int) bool {
	m := c.members[i]
	if !c.local {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL to node i and waits for it to die.
func (c *Cluster) Kill(i int) error {
	if !c.local {
		return ErrNeedsLocal
	}
	m := c.members[i]
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	m.mu.Lock()
	m.cmd, m.paused = nil, false
	m.mu.Unlock()
	return nil
}

// KillAll sends SIGKILL to every node at once (a whole-cluster crash)
// and waits for them all to die.
func (c *Cluster) KillAll() error {
	if !c.local {
		return ErrNeedsLocal
	}
	return c.eachNode(c.Kill)
}

// RestartAll starts every stopped node again on its data directory, all
// at once: after a whole-cluster crash no node can elect a leader alone,
// so waiting for each in turn would not help.
func (c *Cluster) RestartAll(ctx context.Context) error {
	if !c.local {
		return ErrNeedsLocal
	}
	return c.eachNode(func(i int) error {
		if c.Running(i) {
			return nil
		}
		return c.Restart(ctx, i)
	})
}

// Restart starts a stopped node i again on its data directory.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	if !c.local {
		return ErrNeedsLocal
	}
	return c.start(ctx, i, nil)
}

// Rejoin starts a stopped node i on an empty data directory, asking the
// other members to add it back.
func (c *Cluster) Rejoin(ctx context.Context, i int) error {
	if !c.local {
		return ErrNeedsLocal
	}
	if c.Running(i) {
		return fmt.Errorf("rejoin %s: still running", c.members[i].id)
	}
	if err := os.RemoveAll(c.members[i].dataDir); err != nil {
		return err
	}
	var join []string
	for j, m := range c.members {
		if j != i {
			join = append(join, m.raftAddr)
		}
	}
	return c.start(ctx, i, join)
}

// Pause stops node i with SIGSTOP; Resume continues it with SIGCONT.
func (c *Cluster) Pause(i int) error { return c.signal(i, syscall.SIGSTOP, true) }

// Resume continues a paused node.
func (c *Cluster) Resume(i int) error { return c.signal(i, syscall.SIGCONT, false) }

func (c *Cluster) signal(i int, sig syscall.Signal, paused bool) error {
	if !c.local {
		return ErrNeedsLocal
	}
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return fmt.Errorf("%s is not running", m.id)
	}
	if err := m.cmd.Process.Signal(sig); err != nil {
		return err
	}
	m.paused = paused
	return nil
}

// Partition sets fault rules on every node, through the admin API, so
// that nodes talk only to nodes sharing one of the groups (indexes).
func (c *Cluster) Partition(ctx context.Context, groups [][]int) error {
	ids := make([]string, len(c.members))
	dir := map[string]string{}
	for i, m := range c.members {
		ids[i] = m.id
		dir[m.id] = m.s3URL
	}
	named := make([][]string, len(groups))
	for gi, g := range groups {
		for _, i := range g {
			named[gi] = append(named[gi], ids[i])
		}
	}
	rules, err := node.PartitionRules(ids, named)
	if err != nil {
		return err
	}
	return c.eachNode(func(i int) error {
		return c.admin.setFaults(ctx, c.members[i].s3URL, node.FaultState{Blocked: rules[ids[i]], Members: dir})
	})
}

// Heal lifts every fault rule on every running node.
func (c *Cluster) Heal(ctx context.Context) error {
	return c.eachNode(func(i int) error {
		if !c.Running(i) {
			return nil
		}
		return c.admin.heal(ctx, c.members[i].s3URL)
	})
}

func (c *Cluster) eachNode(f func(i int) error) error {
	errs := make([]error, len(c.members))
	var wg sync.WaitGroup
	for i := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RemoveMember removes node i from the Raft configuration, asking the
// other nodes in turn until one succeeds, for at most 30 seconds. An
// answer that it is no member (an earlier attempt whose answer was lost
// succeeded; a leader removing itself steps down before it can answer)
// counts as success.
func (c *Cluster) RemoveMember(ctx context.Context, i int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for attempt := 0; ; attempt++ {
		j := (i + 1 + attempt%(len(c.members)-1)) % len(c.members)
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.admin.remove(actx, c.members[j].s3URL, c.members[i].id)
		cancel()
		if err == nil || (attempt > 0 && isStatus(err, http.StatusNotFound)) {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove %s: %w (last error: %v)", c.members[i].id, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Leader returns the index of the node a majority of nodes name as leader
// and that says it leads, or -1.
func (c *Cluster) Leader(ctx context.Context) int {
	hs := c.healths(ctx)
	votes := map[string]int{}
	for _, h := range hs {
		if h.Leader != "" {
			votes[h.Leader]++
		}
	}
	for i, h := range hs {
		if h.State == "Leader" && votes[h.ID] > len(c.members)/2 {
			return i
		}
	}
	return -1
}

// healths asks every running, unpaused node for its health, in parallel.
func (c *Cluster) healths(ctx context.Context) []health {
	out := make([]health, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		m.mu.Lock()
		skip := c.local && (m.cmd == nil || m.paused)
		m.mu.Unlock()
		if skip {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h, err := getHealth(ctx, c.hc, m.s3URL); err == nil {
				out[i] = h
			}
		}()
	}
	wg.Wait()
	return out
}

// WaitHealthy waits until every node answers, none is paused, and all
// agree on a leader that says it leads.
func (c *Cluster) WaitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last []health
	for {
		last = c.healths(ctx)
		ok := true
		leader := ""
		for _, h := range last {
			if !h.OK || (leader != "" && h.Leader != leader) {
				ok = false
				break
			}
			leader = h.Leader
		}
		if ok && c.Leader(ctx) >= 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not healthy after %v: %+v", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling interval
		}
	}
}

// Close stops every local process: SIGCONT (if paused), SIGTERM, and
// SIGKILL after 10 seconds. A remote cluster is left as it is, but healed.
func (c *Cluster) Close() {
	if !c.local {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Heal(ctx)
		return
	}
	var wg sync.WaitGroup
	for _, m := range c.members {
		m.mu.Lock()
		cmd, exited := m.cmd, m.exited
		m.cmd = nil
		m.mu.Unlock()
		if cmd == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}()
	}
	wg.Wait()
}
