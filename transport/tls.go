package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// TLS configures mutual TLS for every connection of a Mux. Each node has a
// certificate signed by CA; each side of every connection presents its
// certificate and verifies the other's against CA, so a peer without a
// certificate from CA is refused before a single handshake byte is read.
// The cluster-secret handshake then runs inside TLS, bound to the TLS
// session, so both are needed to connect.
//
// Certificates are checked for their chain to CA and their key usage
// (serverAuth for the accepting side, clientAuth for the dialing side;
// node certificates need both), not for a host name: any certificate CA
// signed is a cluster member. Use a CA dedicated to the cluster.
type TLS struct {
	// Certificate is this node's certificate chain and private key.
	Certificate tls.Certificate
	// CA holds the certificates that sign node certificates.
	CA *x509.CertPool
}

// LoadTLS reads a node's PEM certificate (chain) and key and the CA's PEM
// certificates, for Config.TLS.
func LoadTLS(certFile, keyFile, caFile string) (*TLS, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("transport: cluster TLS key pair: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("transport: cluster TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("transport: cluster TLS CA: no PEM certificate in %s", caFile)
	}
	return &TLS{Certificate: cert, CA: pool}, nil
}

func (t *TLS) validate() error {
	if len(t.Certificate.Certificate) == 0 || t.Certificate.PrivateKey == nil {
		return errors.New("transport: Config.TLS.Certificate is empty")
	}
	if t.CA == nil {
		return errors.New("transport: Config.TLS.CA is required")
	}
	return nil
}

func (t *TLS) serverConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{t.Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    t.CA,
		MinVersion:   tls.VersionTLS13,
	}
}

func (t *TLS) clientConfig() *tls.Config {
	roots := t.CA
	return &tls.Config{
		Certificates: []tls.Certificate{t.Certificate},
		MinVersion:   tls.VersionTLS13,
		// Peers are dialed by address and certificates need not name it,
		// so Go's host name check is replaced by a chain check alone, done
		// by VerifyConnection, which runs even with InsecureSkipVerify.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("peer presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots:         roots,
				Intermediates: inter,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			return err
		},
	}
}

// exporterLabel names the TLS keying material that binds the handshake
// MACs to the TLS session (RFC 8446 section 7.5).
const exporterLabel = "EXPORTER-strongbox-cluster-handshake"

// channelBinding returns the value mixed into the handshake MACs: keying
// material of c's TLS session, or zeros for a plain connection. With it, a
// relay that terminates TLS on both sides with certificates of its own
// cannot pass a genuine handshake through without the secret.
func channelBinding(c net.Conn) (*[bindLen]byte, error) {
	var b [bindLen]byte
	tc, ok := c.(*tls.Conn)
	if !ok {
		return &b, nil
	}
	cs := tc.ConnectionState()
	km, err := cs.ExportKeyingMaterial(exporterLabel, nil, bindLen)
	if err != nil {
		return nil, err
	}
	copy(b[:], km)
	return &b, nil
}

// tlsServer runs the server side of a TLS handshake on raw, within its
// deadline. It explains the commonest failure, a peer not using TLS.
func tlsServer(raw net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	tc := tls.Server(raw, cfg)
	if err := tc.Handshake(); err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && (strings.HasPrefix(string(rh.RecordHeader[:]), helloMagic[:3])) {
			return nil, fmt.Errorf("TLS handshake: the peer does not use TLS (a node without --cluster-tls-*?): %w", err)
		}
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// tlsClient runs the client side of a TLS handshake on raw, bounded by ctx
// and raw's deadline.
func tlsClient(ctx context.Context, raw net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}
