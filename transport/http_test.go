package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

// serveHTTP runs an internal HTTP server on m with two endpoints:
// /whoami answers the caller's node ID, /hang signals started and waits
// until the request's context ends.
func serveHTTP(t *testing.T, m *Mux) (started chan string) {
	t.Helper()
	started = make(chan string, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		id, ok := PeerIDFromContext(r.Context())
		if !ok {
			http.Error(w, "no peer", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, id)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		id, _ := PeerIDFromContext(r.Context())
		started <- id
		<-r.Context().Done()
	})
	srv := &http.Server{Handler: mux, ConnContext: ConnContext, ErrorLog: nil}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(m.HTTPListener()) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return started
}

func get(ctx context.Context, from, to *Mux, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+to.Addr().String()+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := from.HTTPClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(resp.Status + ": " + string(b))
	}
	return string(b), nil
}

func TestHTTPSeesCallerNodeID(t *testing.T) {
	m1, m2, m3 := newTestMux(t, "n1"), newTestMux(t, "n2"), newTestMux(t, "n3")
	serveHTTP(t, m2)
	for _, from := range []*Mux{m1, m3, m1, m3} {
		got, err := get(context.Background(), from, m2, "/whoami")
		if err != nil {
			t.Fatal(err)
		}
		if got != from.NodeID() {
			t.Fatalf("handler saw %q, want %q", got, from.NodeID())
		}
	}
	// Keep-alive: two requests per caller, one connection each.
	if st := m2.Stats(); st.Accepted != 2 {
		t.Fatalf("n2 accepted %d conns for 4 requests", st.Accepted)
	}
}

func TestBlockClosesHTTPKeepAlive(t *testing.T) {
	m1, m2 := newTestMux(t, "n1"), newTestMux(t, "n2")
	started := serveHTTP(t, m2)
	ctx := context.Background()
	if _, err := get(ctx, m1, m2, "/whoami"); err != nil {
		t.Fatal(err)
	}

	// A request in flight when the caller blocks the server fails.
	errc := make(chan error, 1)
	go func() { _, err := get(ctx, m1, m2, "/hang"); errc <- err }()
	if id := <-started; id != "n1" {
		t.Fatalf("hang from %q", id)
	}
	m1.Faults().Block("n2")
	if err := <-errc; err == nil {
		t.Fatal("in-flight request survived Block")
	}
	if _, err := get(ctx, m1, m2, "/whoami"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("request while blocked: %v, want ErrBlocked", err)
	}
	m1.Faults().Unblock("n2")
	if got, err := get(ctx, m1, m2, "/whoami"); err != nil || got != "n1" {
		t.Fatalf("after Unblock: %q %v", got, err)
	}

	// Same from the server's side: n2 blocks n1. The client's pooled
	// keep-alive connection is dead, and so are new ones.
	pooled := m1.Stats().Dialed
	m2.Faults().Block("n1")
	if _, err := get(ctx, m1, m2, "/whoami"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("request while server blocks us: %v, want ErrBlocked", err)
	}
	if m1.Stats().Dialed != pooled {
		t.Fatal("a blocked dial was counted as dialed")
	}
	m2.Faults().Heal()
	if got, err := get(ctx, m1, m2, "/whoami"); err != nil || got != "n1" {
		t.Fatalf("after Heal: %q %v", got, err)
	}
	if st := m2.Stats(); st.FaultClosed == 0 {
		t.Fatalf("n2 closed no conn on Block: %+v", st)
	}
}
