package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/strongboxdb/strongbox/node"
	"github.com/strongboxdb/strongbox/server"
)

func defaultDataDir(id string) string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "strongbox", id)
	}
	return filepath.Join(os.TempDir(), "strongbox", id)
}

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	e := newEnvFlags(fs)
	var (
		cfg       server.Config
		nc        node.Config
		join      string
		logLevel  string
		quiet     bool
		maxObject int64
		tlsCert   string
		tlsKey    string
		selfSign  bool
		domains   string
		debugAddr string
		credsFile string
		// Snapshot and blob-maintenance tuning: 0 keeps node.Config's
		// defaults. The crash test shortens them so that snapshots,
		// snapshot installs and blob collection happen within its run.
		snapThreshold, trailingLogs int
	)
	var clusterTLSFiles [3]string // cert, key, CA
	e.String(&nc.ID, "id", "STRONGBOX_NODE_ID", "node1", "node ID, unique in the cluster and stable across restarts")
	e.String(&nc.DataDir, "data-dir", "STRONGBOX_DATA_DIR", "", "data directory (default ~/.local/share/strongbox/<id>)")
	e.String(&cfg.S3Addr, "s3-addr", "STRONGBOX_S3_ADDR", "127.0.0.1:9000", "S3 API listen address")
	e.String(&nc.ClusterAddr, "raft-addr", "STRONGBOX_RAFT_ADDR", "127.0.0.1:7000", "cluster listen address: Raft, forwarding and join traffic")
	e.String(&nc.AdvertiseAddr, "advertise-addr", "STRONGBOX_ADVERTISE_ADDR", "", "cluster address peers dial (default: the bound raft-addr)")
	e.String(&join, "join", "STRONGBOX_JOIN", "", "comma-separated raft addresses of existing members to join (ignored once the node has state)")
	e.String(&cfg.AccessKey, "access-key", "STRONGBOX_ACCESS_KEY", defaultAccessKey, "S3 and admin access key")
	e.String(&cfg.SecretKey, "secret-key", "STRONGBOX_SECRET_KEY", defaultSecretKey, "S3 and admin secret key (with --credentials-file: used only if set explicitly)")
	e.String(&credsFile, "credentials-file", "STRONGBOX_CREDENTIALS_FILE", "", "JSON file of access keys with read, write or admin permissions; reloaded on change and on SIGHUP")
	e.String(&nc.Secret, "cluster-secret", "STRONGBOX_CLUSTER_SECRET", defaultClusterSecret, "shared secret authenticating inter-node traffic")
	e.String(&clusterTLSFiles[0], "cluster-tls-cert", "STRONGBOX_CLUSTER_TLS_CERT", "", "PEM certificate of this node for inter-node TLS (with --cluster-tls-key and --cluster-tls-ca)")
	e.String(&clusterTLSFiles[1], "cluster-tls-key", "STRONGBOX_CLUSTER_TLS_KEY", "", "PEM private key for --cluster-tls-cert")
	e.String(&clusterTLSFiles[2], "cluster-tls-ca", "STRONGBOX_CLUSTER_TLS_CA", "", "PEM certificate of the CA that signs every node's certificate; peers must present one")
	e.String(&cfg.Region, "region", "STRONGBOX_REGION", "us-east-1", "region reported to clients")
	e.Duration(&nc.HeartbeatTimeout, "heartbeat-timeout", "STRONGBOX_HEARTBEAT_TIMEOUT", 500e6, "raft heartbeat timeout")
	e.Duration(&nc.ElectionTimeout, "election-timeout", "STRONGBOX_ELECTION_TIMEOUT", 500e6, "raft election timeout")
	e.Duration(&nc.LeaderLeaseTimeout, "leader-lease-timeout", "STRONGBOX_LEADER_LEASE_TIMEOUT", 500e6, "raft leader lease timeout")
	e.Duration(&nc.CommitTimeout, "commit-timeout", "STRONGBOX_COMMIT_TIMEOUT", 10e6, "raft commit timeout (idle follower commit-index refresh)")
	e.String(&tlsCert, "tls-cert", "STRONGBOX_TLS_CERT", "", "PEM certificate: serve S3 over HTTPS")
	e.String(&tlsKey, "tls-key", "STRONGBOX_TLS_KEY", "", "PEM private key for --tls-cert")
	e.Bool(&selfSign, "tls-self-signed", "STRONGBOX_TLS_SELF_SIGNED", false, "serve HTTPS with a self-signed certificate kept in <data-dir>/tls (development only)")
	e.String(&domains, "domain", "STRONGBOX_DOMAIN", "localhost", "comma-separated domains for virtual-hosted-style buckets (bucket.localhost:9000)")
	e.String(&debugAddr, "debug-addr", "STRONGBOX_DEBUG_ADDR", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off by default")
	e.Int64(&maxObject, "max-object-size", "STRONGBOX_MAX_OBJECT_SIZE", 5<<30, "largest PutObject body in bytes (S3: 5 GiB)")
	e.Int64(&nc.MinFreeSpace, "min-free-space", "STRONGBOX_MIN_FREE_SPACE", 0, "bytes the blob store leaves free on the data directory's file system, so the Raft log and deletes keep working when objects fill it (0: 1% of it, at most 1 GiB; negative: none)")
	e.Int(&cfg.MaxInFlight, "max-in-flight", "STRONGBOX_MAX_IN_FLIGHT", 256, "concurrent signed S3 requests; more wait in the admission queue")
	e.Int(&cfg.AdmissionQueue, "admission-queue", "STRONGBOX_ADMISSION_QUEUE", 0, "signed requests that may wait for a slot before 503 SlowDown (default: max-in-flight; negative: none)")
	e.Duration(&cfg.AdmissionWait, "admission-wait", "STRONGBOX_ADMISSION_WAIT", 2e9, "longest wait in the admission queue before 503 SlowDown")
	e.Int(&cfg.MaxUnauthenticated, "max-unauthenticated", "STRONGBOX_MAX_UNAUTHENTICATED", 64, "concurrent unauthenticated requests (CORS preflights, health, POST forms before their policy is checked)")
	e.Int(&cfg.MaxConnections, "max-connections", "STRONGBOX_MAX_CONNECTIONS", 4096, "open S3 connections; past it new ones get 503 SlowDown")
	e.Duration(&cfg.BodyIdleTimeout, "body-idle-timeout", "STRONGBOX_BODY_IDLE_TIMEOUT", 30e9, "a request body (or response) that makes no progress this long fails with RequestTimeout")
	e.Int(&nc.MaxBlobStreams, "max-blob-streams", "STRONGBOX_MAX_BLOB_STREAMS", 16, "uploads streamed into blobs at once (bodies over 64 KiB, parts); more wait up to 10 s, then 503 SlowDown")
	e.Int(&nc.MaxOpenUploads, "max-open-uploads", "STRONGBOX_MAX_OPEN_UPLOADS", 10000, "open multipart uploads per bucket; past it CreateMultipartUpload gets 503 SlowDown")
	e.Int(&snapThreshold, "snapshot-threshold", "STRONGBOX_SNAPSHOT_THRESHOLD", 0, "take a Raft snapshot after this many new log entries (0: 8192)")
	e.Duration(&nc.SnapshotInterval, "snapshot-interval", "STRONGBOX_SNAPSHOT_INTERVAL", 0, "how often to check the snapshot threshold (0: 30s)")
	e.Int(&trailingLogs, "trailing-logs", "STRONGBOX_TRAILING_LOGS", 0, "log entries kept after a snapshot for lagging followers (0: 10240)")
	e.Duration(&nc.BlobGarbageDelay, "blob-garbage-delay", "STRONGBOX_BLOB_GARBAGE_DELAY", 0, "how long a blob released by an overwrite or delete stays on disk (0: 1m)")
	e.Duration(&nc.BlobSyncInterval, "blob-sync-interval", "STRONGBOX_BLOB_SYNC_INTERVAL", 0, "how often a node fetches the blobs it lacks (0: 1m)")
	e.Duration(&nc.BlobCollectInterval, "blob-collect-interval", "STRONGBOX_BLOB_COLLECT_INTERVAL", 0, "how often unreferenced blobs are collected (0: 1h)")
	e.Duration(&nc.BlobOrphanAge, "blob-orphan-age", "STRONGBOX_BLOB_ORPHAN_AGE", 0, "age past which an unreferenced blob is collected; keep it well above the longest upload (0: 1h)")
	e.Bool(&nc.UnsafeLocalReads, "unsafe-local-reads", "STRONGBOX_UNSAFE_LOCAL_READS", false, "UNSAFE: serve reads without the linearizability barrier (for demonstrating the checker)")
	e.String(&logLevel, "log-level", "STRONGBOX_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	e.Bool(&quiet, "quiet", "STRONGBOX_QUIET", false, "do not print the startup banner")
	if err := e.parse(args); err != nil {
		return err
	}
	if snapThreshold < 0 || trailingLogs < 0 {
		return fmt.Errorf("--snapshot-threshold and --trailing-logs must not be negative")
	}
	nc.SnapshotThreshold, nc.TrailingLogs = uint64(snapThreshold), uint64(trailingLogs)

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad --log-level %q", logLevel)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if nc.DataDir == "" {
		nc.DataDir = defaultDataDir(nc.ID)
	}
	if join != "" {
		nc.Join = strings.Split(join, ",")
	}
	ctls, err := clusterTLS(clusterTLSFiles[0], clusterTLSFiles[1], clusterTLSFiles[2])
	if err != nil {
		return err
	}
	nc.TLS = ctls
	nc.RaftLogOutput = os.Stderr
	if level <= slog.LevelDebug {
		nc.RaftLogLevel = "debug"
	}
	if credsFile != "" {
		cfg.CredentialsFile = credsFile
		// The file replaces the development pair. A secret key set on
		// purpose stays usable alongside it (with every right), so a
		// broken file cannot lock the operator out.
		if !e.isSet("secret-key") {
			cfg.AccessKey, cfg.SecretKey = "", ""
		}
	}
	warnings, err := checkSecrets(secretSettings{
		raftAddr: nc.ClusterAddr, advertiseAddr: nc.AdvertiseAddr, s3Addr: cfg.S3Addr,
		clusterSecret: nc.Secret, secretKey: cfg.SecretKey,
	})
	if err != nil {
		return err
	}
	for _, w := range warnings {
		logger.Warn("INSECURE: " + w)
	}
	cfg.Node = nc
	cfg.Domains = strings.Split(domains, ",")
	var certNote string
	switch {
	case tlsCert != "" || tlsKey != "":
		t, err := server.LoadTLS(tlsCert, tlsKey)
		if err != nil {
			return err
		}
		cfg.TLS = t
	case selfSign:
		t, certFile, err := server.SelfSignedTLS(filepath.Join(nc.DataDir, "tls"))
		if err != nil {
			return err
		}
		cfg.TLS = t
		certNote = "  TLS cert:       " + certFile + " (self-signed; export AWS_CA_BUNDLE=" + certFile + ")\n"
	}
	cfg.MaxObjectSize = maxObject
	cfg.Logger = logger

	if debugAddr != "" {
		// net/http/pprof registers on the default mux, which nothing else uses.
		go func() { logger.Warn("debug listener stopped", "err", http.ListenAndServe(debugAddr, nil)) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	inst, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if !quiet {
		printBanner(os.Stdout, bannerInfo{
			id: nc.ID, s3URL: inst.S3URL(), raftAddr: inst.Node.ClusterAddr(), dataDir: nc.DataDir,
			accessKey: cfg.AccessKey, secretKey: cfg.SecretKey, credentialsFile: cfg.CredentialsFile,
			clusterSecret: nc.Secret, certNote: certNote, warnings: warnings,
		})
	}
	logger.Info("serving", "id", nc.ID, "s3", inst.S3URL(), "raft", inst.Node.ClusterAddr(), "cluster_tls", nc.TLS != nil, "cluster", inst.Node.ClusterID().String())
	// SIGHUP reloads the credentials file. Without one it keeps its
	// default effect (ending the process), as a terminal's hang-up should.
	hup := make(chan os.Signal, 1)
	if cfg.CredentialsFile != "" {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	for {
		select {
		case <-ctx.Done():
			logger.Info("shutting down", "id", nc.ID)
			return inst.Close()
		case <-hup:
			_ = inst.ReloadCredentials() // logs its own failure
		case err := <-inst.Done():
			if err != nil {
				_ = inst.Close()
				return err
			}
			return inst.Close()
		case <-inst.Node.Failed():
			// The node has already left Raft and answers 503; exiting
			// non-zero lets a supervisor restart it, and the restart
			// resumes from the state machine's last durable entry.
			_ = inst.Close()
			return fmt.Errorf("state machine failed, node stopped; fix the cause and restart it (it resumes where its state machine left off): %w", inst.Node.Failure())
		}
	}
}
