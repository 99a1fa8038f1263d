package main

import (
	"fmt"
	"io"
	"net"
	"strings"
)

// isLoopbackAddr reports whether a listen or advertise address
// ("host:port", or a bare host) is reachable from this machine only: a
// host in 127.0.0.0/8, ::1, or "localhost". Every other host is
// reachable from elsewhere, or may be: an empty host and the unspecified
// addresses (":7000", "0.0.0.0:7000", "[::]:7000") bind all interfaces,
// and a name other than localhost may resolve to anything.
func isLoopbackAddr(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// secretSettings is what checkSecrets looks at.
type secretSettings struct {
	raftAddr, advertiseAddr, s3Addr string
	clusterSecret                   string
	// secretKey is the S3 secret of the --access-key/--secret-key pair,
	// "" when the pair is not in use (a credentials file replaces it).
	secretKey string
}

// checkSecrets refuses a development cluster secret on a cluster address
// that others can reach: whoever reaches that port with the well-known
// secret can append to the Raft log, join as a voter and fetch blobs. It
// returns warnings, to be shown loudly, for the development S3 secret on a
// non-loopback S3 address, which lets anyone who reads the README in.
func checkSecrets(s secretSettings) (warnings []string, err error) {
	if s.clusterSecret == defaultClusterSecret {
		for _, a := range []struct{ flag, addr string }{{"--raft-addr", s.raftAddr}, {"--advertise-addr", s.advertiseAddr}} {
			if a.addr == "" && a.flag == "--advertise-addr" {
				continue // defaults to the bound raft address, checked already
			}
			if !isLoopbackAddr(a.addr) {
				return nil, fmt.Errorf("refusing to start: the cluster address %s=%q is reachable from other hosts and the cluster secret is the "+
					"development default, which would let anyone who reaches that port join the cluster, append to its log and read its blobs. "+
					"Set a secret of your own, the same on every node, with --cluster-secret or STRONGBOX_CLUSTER_SECRET "+
					"(for example: export STRONGBOX_CLUSTER_SECRET=$(openssl rand -hex 32)), or bind the cluster address to 127.0.0.1",
					a.flag, a.addr)
			}
		}
	}
	if s.secretKey == defaultSecretKey && !isLoopbackAddr(s.s3Addr) {
		warnings = append(warnings, fmt.Sprintf("the S3 address %q is reachable from other hosts and the S3 secret key is the published "+
			"development default: anyone can read, write and administer this cluster. Set --secret-key / STRONGBOX_SECRET_KEY "+
			"or use --credentials-file", s.s3Addr))
	}
	return warnings, nil
}

// shownSecret is how the banner prints a secret: the development
// defaults in full (so that `make run` explains itself), anything the
// operator chose never.
func shownSecret(v, devDefault string) string {
	switch v {
	case "":
		return "(none)"
	case devDefault:
		return v + " (development default)"
	}
	return "(set by you; not shown)"
}

// bannerInfo is what the startup banner shows.
type bannerInfo struct {
	id, s3URL, raftAddr, dataDir string
	// accessKey and secretKey are the --access-key/--secret-key pair;
	// accessKey is "" when a credentials file replaces the pair.
	accessKey, secretKey string
	credentialsFile      string
	clusterSecret        string
	certNote             string
	warnings             []string
}

func printBanner(w io.Writer, b bannerInfo) {
	fmt.Fprintf(w, "strongbox node %s ready\n  S3 endpoint:    %s\n  raft address:   %s\n  data dir:       %s\n", b.id, b.s3URL, b.raftAddr, b.dataDir)
	if b.credentialsFile != "" {
		fmt.Fprintf(w, "  credentials:    %s (reloaded on change and on SIGHUP)\n", b.credentialsFile)
	}
	if b.accessKey != "" {
		fmt.Fprintf(w, "  access key:     %s\n  secret key:     %s\n", b.accessKey, shownSecret(b.secretKey, defaultSecretKey))
	}
	fmt.Fprintf(w, "  cluster secret: %s\n", shownSecret(b.clusterSecret, defaultClusterSecret))
	fmt.Fprint(w, b.certNote)
	for _, warn := range b.warnings {
		fmt.Fprintf(w, "  WARNING: %s\n", warn)
	}
}
