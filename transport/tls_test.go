package transport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCA is a certificate authority made in memory for one test.
type testCA struct {
	t    testing.TB
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{t: t, cert: cert, key: key, pool: pool}
}

var serial struct {
	sync.Mutex
	n int64
}

// issue signs a node certificate for name with the given extended key
// usages (both serverAuth and clientAuth when none are given).
func (ca *testCA) issue(name string, usages ...x509.ExtKeyUsage) tls.Certificate {
	ca.t.Helper()
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	serial.Lock()
	serial.n++
	sn := serial.n + 1
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usages,
		DNSNames:     []string{name},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca *testCA) tls(name string, usages ...x509.ExtKeyUsage) *TLS {
	return &TLS{Certificate: ca.issue(name, usages...), CA: ca.pool}
}

func withTLS(t *TLS) func(*Config) { return func(c *Config) { c.TLS = t } }

// Two nodes with certificates from the cluster CA talk over TLS 1.3, both
// stream types; the cluster-secret handshake still runs, and an observer
// on the wire sees neither it nor the payload in clear.
func TestTLSMutual(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	m1 := newTestMux(t, "n1", withTLS(ca.tls("n1")))
	m2 := newTestMux(t, "n2", withTLS(ca.tls("n2")))
	wire := startProxy(t, m2.Addr().String())

	cr, err := m1.DialContext(dialCtx(t), "tcp", wire.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	sr := acceptOne(t, m2.HTTPListener(), 5*time.Second)
	go echo(sr)
	const secretPayload = "payload that must not be seen on the wire"
	if err := ping(cr, secretPayload); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Conn{cr.(*Conn), sr} {
		tc, ok := c.raw.(*tls.Conn)
		if !ok {
			t.Fatalf("%s: not a TLS connection", c.PeerID())
		}
		if st := tc.ConnectionState(); st.Version != tls.VersionTLS13 || len(st.PeerCertificates) == 0 {
			t.Fatalf("%s: TLS version %#x, %d peer certificates", c.PeerID(), st.Version, len(st.PeerCertificates))
		}
	}
	if sr.PeerID() != "n1" || cr.(*Conn).PeerID() != "n2" {
		t.Fatalf("peers %q %q", sr.PeerID(), cr.(*Conn).PeerID())
	}
	c2s, s2c := wire.conn(0).bytes()
	for _, plain := range []string{secretPayload, helloMagic, "n1", "n2"} {
		if bytes.Contains(c2s, []byte(plain)) || bytes.Contains(s2c, []byte(plain)) {
			t.Fatalf("%q visible on the wire", plain)
		}
	}

	dialRaft(t, m2, m1)
	if c := acceptOne(t, m1.RaftStreamLayer(), 5*time.Second); c.PeerID() != "n2" {
		t.Fatalf("raft accepted %q", c.PeerID())
	}
}

// Everything short of a certificate from the cluster CA and the secret is
// refused: a plain-TCP node (either direction), a certificate from another
// CA (either direction), a TLS client without a certificate, a
// certificate without the client-auth usage, and a good certificate with
// the wrong secret.
func TestTLSRefusesStrangers(t *testing.T) {
	ca, other := newTestCA(t, "cluster CA"), newTestCA(t, "another CA")
	logOpt, logs := withLogBuffer(t)
	m := newTestMux(t, "n1", withTLS(ca.tls("n1")), logOpt)
	good := newTestMux(t, "good", withTLS(ca.tls("good")))
	plainLog, plainLogs := withLogBuffer(t)
	plain := newTestMux(t, "plain", plainLog)
	foreign := newTestMux(t, "foreign", withTLS(other.tls("foreign")))
	serverOnly := newTestMux(t, "server-only", withTLS(ca.tls("server-only", x509.ExtKeyUsageServerAuth)))
	wrongSecret := newTestMux(t, "wrong", withTLS(ca.tls("wrong")), withSecret("another secret"))

	failures := uint64(0)
	refused := func(what string, from, to *Mux, counter *Mux) {
		t.Helper()
		c, err := from.DialContext(dialCtx(t), "tcp", to.Addr().String())
		if !errors.Is(err, ErrHandshake) {
			if c != nil {
				_ = c.Close()
			}
			t.Fatalf("%s: %v, want ErrHandshake", what, err)
		}
		if counter == m {
			failures++
			waitFor(t, 5*time.Second, what+" counted", func() bool { return m.Stats().HandshakeFailures == failures })
		}
	}
	refused("plain → TLS", plain, m, m)
	if len(logs.lines("does not use TLS")) == 0 {
		t.Fatalf("the TLS node's log does not say the peer lacks TLS: %q", logs.lines("handshake failed"))
	}
	refused("TLS → plain", m, plain, plain)
	waitFor(t, 5*time.Second, "the plain node's log", func() bool { return len(plainLogs.lines("speaks TLS")) > 0 })
	refused("other CA → TLS", foreign, m, m)
	refused("TLS → other CA", m, foreign, foreign)
	refused("no client-auth usage → TLS", serverOnly, m, m)
	refused("wrong secret → TLS", wrongSecret, m, m)

	// A TLS client without any certificate: the server refuses it and
	// never sends a byte of the cluster handshake.
	raw, err := tls.Dial("tcp", m.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err == nil {
		_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = raw.Write([]byte(helloMagic))
		b, rerr := io.ReadAll(raw)
		if rerr == nil || len(b) != 0 {
			t.Fatalf("a client without a certificate read %d bytes, %v", len(b), rerr)
		}
		_ = raw.Close()
	}
	failures++
	waitFor(t, 5*time.Second, "the certificate-less client counted", func() bool { return m.Stats().HandshakeFailures == failures })

	if st := m.Stats(); st.Accepted != 0 {
		t.Fatalf("accepted a stranger: %+v", st)
	}
	dialHTTP(t, good, m)
	acceptOne(t, m.HTTPListener(), 5*time.Second)
}

// The handshake MACs are bound to the TLS session. A relay that holds a
// certificate from the cluster CA but not the secret, and terminates TLS
// on both sides, cannot pass a genuine handshake through.
func TestTLSChannelBinding(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	m1 := newTestMux(t, "n1", withTLS(ca.tls("n1")))
	m2 := newTestMux(t, "n2", withTLS(ca.tls("n2")))
	relayTLS := ca.tls("relay")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		in, err := ln.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		_ = in.SetDeadline(time.Now().Add(10 * time.Second))
		ts, err := tlsServer(in, relayTLS.serverConfig())
		if err != nil {
			return
		}
		out, err := tls.Dial("tcp", m2.Addr().String(), relayTLS.clientConfig())
		if err != nil {
			return
		}
		defer out.Close()
		_ = out.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { _, _ = io.Copy(out, ts) }()
		_, _ = io.Copy(ts, out)
	}()
	_, err = m1.DialContext(dialCtx(t), "tcp", ln.Addr().String())
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("dial through a TLS-terminating relay: %v, want ErrHandshake", err)
	}
	waitFor(t, 5*time.Second, "n2 counts the relayed hello as a failure", func() bool {
		return m2.Stats().HandshakeFailures == 1
	})
	if st := m2.Stats(); st.Accepted != 0 {
		t.Fatalf("n2 accepted a relayed handshake: %+v", st)
	}
}

func TestLoadTLS(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pemEncode(typ, der), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert := ca.issue("n1")
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile := write("n1.crt", "CERTIFICATE", cert.Certificate[0])
	keyFile := write("n1.key", "EC PRIVATE KEY", keyDER)
	caFile := write("ca.crt", "CERTIFICATE", ca.cert.Raw)
	cfg, err := LoadTLS(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	m1 := newTestMux(t, "n1", withTLS(cfg))
	m2 := newTestMux(t, "n2", withTLS(ca.tls("n2")))
	dialHTTP(t, m2, m1)
	acceptOne(t, m1.HTTPListener(), 5*time.Second)

	if _, err := LoadTLS(certFile, keyFile, keyFile); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("CA file without a certificate: %v", err)
	}
	if _, err := LoadTLS(certFile, caFile, caFile); err == nil {
		t.Fatal("a certificate as key accepted")
	}
	if _, err := Listen("127.0.0.1:0", Config{NodeID: "n", Secret: testSecret, TLS: &TLS{CA: ca.pool}}); err == nil {
		t.Fatal("TLS without a certificate accepted")
	}
	if _, err := Listen("127.0.0.1:0", Config{NodeID: "n", Secret: testSecret, TLS: &TLS{Certificate: cert}}); err == nil {
		t.Fatal("TLS without a CA accepted")
	}
}

func pemEncode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// Fault rules cut TLS connections as they cut plain ones, also when the
// peer has stopped reading (Close does not wait to send close_notify).
func TestTLSBlockCutsAtOnce(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	m1 := newTestMux(t, "n1", withTLS(ca.tls("n1")))
	m2 := newTestMux(t, "n2", withTLS(ca.tls("n2")))
	out := dialRaft(t, m1, m2)
	in := acceptOne(t, m2.RaftStreamLayer(), 5*time.Second)
	// n2 never reads: fill the pipe until n1's writes block.
	filled := make(chan struct{})
	go func() {
		defer close(filled)
		_ = out.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 64<<10)
		for {
			if _, err := out.Write(buf); err != nil {
				return
			}
		}
	}()
	<-filled
	_ = out.SetWriteDeadline(time.Time{})
	m1.Faults().Block("n2")
	if st := m1.Stats(); st.Open != 0 || st.FaultClosed != 1 {
		t.Fatalf("after Block: %+v", st)
	}
	_ = in.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, in); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("n2's side was not cut")
	}
	if _, err := m1.RaftStreamLayer().Dial(raftAddr(m2), 5*time.Second); !errors.Is(err, ErrBlocked) {
		t.Fatalf("n1→n2 after Block: %v, want ErrBlocked", err)
	}
}

// BenchmarkDial measures one authenticated connection, dial to Accept,
// with and without TLS.
func BenchmarkDial(b *testing.B) {
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		if useTLS {
			name = "tls"
		}
		b.Run(name, func(b *testing.B) {
			ca := newTestCA(b, "cluster CA")
			var o1, o2 []func(*Config)
			if useTLS {
				o1, o2 = append(o1, withTLS(ca.tls("n1"))), append(o2, withTLS(ca.tls("n2")))
			}
			m1, m2 := newTestMux(b, "n1", o1...), newTestMux(b, "n2", o2...)
			go func() {
				for {
					c, err := m2.HTTPListener().Accept()
					if err != nil {
						return
					}
					_ = c.Close()
				}
			}()
			b.ResetTimer()
			for b.Loop() {
				c, err := m1.DialContext(context.Background(), "tcp", m2.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				_ = c.Close()
			}
		})
	}
}
