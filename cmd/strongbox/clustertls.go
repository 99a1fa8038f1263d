package main

import (
	"errors"

	"github.com/strongboxdb/strongbox/transport"
)

// clusterTLS loads the inter-node TLS material named by the
// --cluster-tls-* flags: none of them means plain TCP, all three mean
// mutual TLS, and anything in between is refused rather than guessed at.
func clusterTLS(cert, key, ca string) (*transport.TLS, error) {
	switch n := count(cert != "", key != "", ca != ""); n {
	case 0:
		return nil, nil
	case 3:
		return transport.LoadTLS(cert, key, ca)
	default:
		return nil, errors.New("cluster TLS needs all three of --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca (or $STRONGBOX_CLUSTER_TLS_CERT, _KEY, _CA); only some were given")
	}
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
