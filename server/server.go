package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/strongboxdb/strongbox/node"
	"github.com/strongboxdb/strongbox/s3api"
)

// Config is everything one process needs.
type Config struct {
	Node node.Config
	// S3Addr is the S3 listen address, e.g. "127.0.0.1:9000" (":0" in tests).
	S3Addr string
	// AccessKey and SecretKey are one key with every right (S3 and
	// admin). Required unless CredentialsFile is set; with it, optional.
	AccessKey string
	SecretKey string
	// CredentialsFile names a JSON file of access keys, each with its own
	// rights (format in credentials.go). It is reloaded when it changes and
	// on ReloadCredentials; a version that does not load keeps the previous
	// keys. An access key may not be both in the file and AccessKey.
	CredentialsFile string
	// CredentialsPoll is how often CredentialsFile is checked for changes.
	// Default 2s.
	CredentialsPoll time.Duration
	Region          string
	// TLS, when set, makes the S3 endpoint serve HTTPS.
	TLS *tls.Config
	// Domains for virtual-hosted-style addressing (bucket.domain); default
	// ["localhost"].
	Domains       []string
	MaxObjectSize int64
	// Admission bounds (s3api.Options; zero picks the defaults).
	MaxInFlight        int
	AdmissionQueue     int
	AdmissionWait      time.Duration
	MaxUnauthenticated int
	BodyIdleTimeout    time.Duration
	PostFormTimeout    time.Duration
	// MaxConnections bounds open S3 connections; past it a new one gets
	// 503 SlowDown (plain HTTP) or is closed (TLS). Default 4096.
	MaxConnections int
	Logger         *slog.Logger
}

// Header-reading bounds of the S3 listener. S3 limits a request's headers
// to 8 KB and user metadata to 2 KB; 64 KiB leaves room for long presigned
// URLs (the request line counts) without letting each connection buffer
// Go's default megabyte.
const (
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 10 * time.Second
)

// Instance is a running process: node plus S3 endpoint.
type Instance struct {
	Node   *node.Node
	s3     *http.Server
	ln     net.Listener
	scheme string
	done   chan error
	keys   *keyring
	stop   context.CancelFunc // ends the credentials watcher
	wg     sync.WaitGroup
}

// Start listens on the S3 address, starts the node (bootstrapping or
// joining as its config says) and serves S3 until Close.
func Start(ctx context.Context, cfg Config) (*Instance, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	keys, err := newKeyring(cfg.CredentialsFile, cfg.AccessKey, cfg.SecretKey, cfg.Logger)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.S3Addr)
	if err != nil {
		return nil, fmt.Errorf("server: S3 listener: %w", err)
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 4096
	}
	ln = newLimitListener(ln, cfg.MaxConnections, cfg.TLS == nil)
	scheme := "http"
	if cfg.TLS != nil {
		scheme = "https"
	}
	nc := cfg.Node
	nc.S3URL = scheme + "://" + ln.Addr().String()
	if nc.Logger == nil {
		nc.Logger = cfg.Logger
	}
	n, err := node.Start(ctx, nc)
	if err != nil {
		ln.Close()
		return nil, err
	}
	api := s3api.New(n, s3api.Options{
		Credentials:        keys.lookup,
		Admin:              n.AdminHandler(),
		Health:             n.HealthHandler(),
		Region:             cfg.Region,
		Domains:            cfg.Domains,
		MaxObjectSize:      cfg.MaxObjectSize,
		MaxInFlight:        cfg.MaxInFlight,
		AdmissionQueue:     cfg.AdmissionQueue,
		AdmissionWait:      cfg.AdmissionWait,
		MaxUnauthenticated: cfg.MaxUnauthenticated,
		BodyIdleTimeout:    cfg.BodyIdleTimeout,
		PostFormTimeout:    cfg.PostFormTimeout,
		Logger:             cfg.Logger,
	})
	inst := &Instance{
		Node:   n,
		ln:     ln,
		scheme: scheme,
		done:   make(chan error, 1),
		keys:   keys,
		s3: &http.Server{
			Handler:           api,
			ReadHeaderTimeout: readHeaderTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			IdleTimeout:       2 * time.Minute,
			TLSConfig:         cfg.TLS.Clone(), // ServeTLS mutates its config; nodes may share one
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
	}
	watchCtx, stop := context.WithCancel(context.Background())
	inst.stop = stop
	if cfg.CredentialsFile != "" {
		poll := cfg.CredentialsPoll
		if poll <= 0 {
			poll = 2 * time.Second
		}
		inst.wg.Add(1)
		go func() { defer inst.wg.Done(); keys.watch(watchCtx, poll) }()
	}
	go func() {
		var err error
		if cfg.TLS != nil {
			err = inst.s3.ServeTLS(ln, "", "")
		} else {
			err = inst.s3.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		inst.done <- err
	}()
	return inst, nil
}

// S3URL is the endpoint clients should use, e.g. http://127.0.0.1:9000.
func (i *Instance) S3URL() string { return i.scheme + "://" + i.ln.Addr().String() }

// Done delivers the S3 server's terminal error (nil after Close).
func (i *Instance) Done() <-chan error { return i.done }

// Close stops accepting S3 requests, lets in-flight ones finish briefly,
// then stops the node.
func (i *Instance) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := i.s3.Shutdown(ctx)
	i.stop()
	i.wg.Wait()
	return errors.Join(err, i.Node.Close())
}

// ReloadCredentials reads the credentials file again now, whether or not
// it changed. On error (logged too) the previous keys stay in force.
// Without a credentials file it does nothing. Safe for concurrent use.
func (i *Instance) ReloadCredentials() error { return i.keys.reload(true) }
