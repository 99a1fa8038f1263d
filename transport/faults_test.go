package transport

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBlockCutsBothDirections(t *testing.T) {
	m1, m2, m3 := newTestMux(t, "n1"), newTestMux(t, "n2"), newTestMux(t, "n3")
	for _, m := range []*Mux{m1, m2, m3} {
		go func() {
			for {
				c, err := m.RaftStreamLayer().Accept()
				if err != nil {
					return
				}
				go echo(c)
			}
		}()
	}
	out12 := dialRaft(t, m1, m2) // n1 dialed n2
	out21 := dialRaft(t, m2, m1) // n2 dialed n1
	out13 := dialRaft(t, m1, m3)
	for _, c := range []*Conn{out12, out21, out13} {
		if err := ping(c, "before"); err != nil {
			t.Fatal(err)
		}
	}
	if st := m1.Stats(); st.Open != 3 {
		t.Fatalf("n1 before Block: %+v", st)
	}

	// Only n1 gets a rule.
	m1.Faults().Block("n2")
	if got := m1.Faults().Blocked(); !slices.Equal(got, []string{"n2"}) || !m1.Faults().IsBlocked("n2") {
		t.Fatalf("Blocked() = %v", got)
	}
	// n1's side of both n1–n2 connections is gone; n2 sees them die.
	if st := m1.Stats(); st.Open != 1 || st.FaultClosed != 2 {
		t.Fatalf("n1 after Block: %+v", st)
	}
	if err := ping(out12, "after"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("n1's conn to n2: %v, want ErrBlocked", err)
	}
	if err := ping(out21, "after"); err == nil {
		t.Fatal("n2's conn to n1 still works")
	}
	// n1–n3 is untouched.
	if err := ping(out13, "after"); err != nil {
		t.Fatal(err)
	}

	// New connections fail both ways, fast, and n2 never accepts one.
	if _, err := m1.RaftStreamLayer().Dial(raftAddr(m2), 5*time.Second); !errors.Is(err, ErrBlocked) {
		t.Fatalf("n1→n2: %v, want ErrBlocked", err)
	}
	if _, err := m2.DialContext(context.Background(), "tcp", m1.Addr().String()); !errors.Is(err, ErrBlocked) {
		t.Fatalf("n2→n1: %v, want ErrBlocked", err)
	}
	waitFor(t, 5*time.Second, "refusals counted", func() bool {
		return m1.Stats().Refused == 1 && m2.Stats().Refused == 1
	})
	if acc := m2.Stats().Accepted; acc != 1 { // out12 only
		t.Fatalf("n2 accepted %d", acc)
	}

	m1.Faults().Unblock("n2")
	if got := m1.Faults().Blocked(); len(got) != 0 {
		t.Fatalf("Blocked() after Unblock = %v", got)
	}
	if err := ping(dialRaft(t, m1, m2), "healed"); err != nil {
		t.Fatal(err)
	}
	if err := ping(dialRaft(t, m2, m1), "healed"); err != nil {
		t.Fatal(err)
	}

	m1.Faults().Block("n2", "n3")
	m1.Faults().Heal()
	if got := m1.Faults().Blocked(); len(got) != 0 {
		t.Fatalf("Blocked() after Heal = %v", got)
	}
}

// A Read or Write that races with Block fails even if the sweep has not
// closed the connection yet: every call checks the rules.
func TestReadWriteCheckRules(t *testing.T) {
	m1, m2 := newTestMux(t, "n1"), newTestMux(t, "n2")
	c := dialRaft(t, m1, m2)
	s := acceptOne(t, m2.RaftStreamLayer(), 5*time.Second)
	go echo(s)

	// Publish rules without the sweep, as if Block were still running.
	f := m1.Faults()
	f.mu.Lock()
	f.update(func(r *faultRules) { r.blocked = map[string]struct{}{"n2": {}} })
	f.mu.Unlock()

	if _, err := c.Write([]byte("x")); !errors.Is(err, ErrBlocked) {
		t.Fatalf("Write: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrBlocked) {
		t.Fatalf("Read: %v", err)
	}
	if st := m1.Stats(); st.Open != 0 || st.FaultClosed != 1 {
		t.Fatalf("the check should have closed the conn: %+v", st)
	}
}

// Block racing with handshakes in both directions: once Block has returned
// and the dials in flight have finished, no connection with the blocked
// peer is left open.
func TestBlockRacesWithHandshakes(t *testing.T) {
	m1, m2 := newTestMux(t, "n1"), newTestMux(t, "n2")
	for _, m := range []*Mux{m1, m2} {
		go func() {
			for {
				c, err := m.HTTPListener().Accept()
				if err != nil {
					return
				}
				go echo(c)
			}
		}()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 6 {
		from, to := m1, m2
		if i%2 == 1 {
			from, to = m2, m1
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := from.DialContext(context.Background(), "tcp", to.Addr().String())
				if err == nil {
					_ = ping(c, "x") // and leave it open
				}
			}
		}()
	}
	for i := 0; i < 50 || m1.Stats().Dialed+m1.Stats().Accepted < 200; i++ {
		m1.Faults().Block("n2")
		m1.Faults().Unblock("n2")
	}
	m1.Faults().Block("n2")
	close(stop)
	wg.Wait()
	// Handshakes n1 is serving may still hold a tracked conn for a moment
	// (between registering it and answering "blocked"); none may stay.
	waitFor(t, 10*time.Second, "no conn with the blocked peer", func() bool {
		m1.mu.Lock()
		defer m1.mu.Unlock()
		return len(m1.conns) == 0
	})
}

func TestDelay(t *testing.T) {
	m1, m2 := newTestMux(t, "n1"), newTestMux(t, "n2")
	c := dialHTTP(t, m1, m2)
	s := acceptOne(t, m2.HTTPListener(), 5*time.Second)
	go echo(s)

	const d = 50 * time.Millisecond
	m1.Faults().SetDelay(d)
	if m1.Faults().Delay() != d {
		t.Fatal("Delay()")
	}
	start := time.Now()
	if err := ping(c, "slow"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < d {
		t.Fatalf("round trip took %s, want at least %s", el, d)
	}

	// A Write waiting out a delay ends when the conn is closed.
	m1.Faults().SetDelay(time.Hour)
	errc := make(chan error, 1)
	go func() { _, err := c.Write([]byte("never")); errc <- err }()
	_ = c.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Write succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Write still waiting after Close")
	}
	m1.Faults().Heal()
	if m1.Faults().Delay() != 0 {
		t.Fatal("Heal kept the delay")
	}
}
