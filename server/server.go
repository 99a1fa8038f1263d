package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/strongboxdb/strongbox/node"
	"github.com/strongboxdb/strongbox/s3api"
)

// Config is everything one process needs.
type Config struct {
	Node node.Config
	// S3Addr is the S3 listen address, e.g. "127.0.0.1:9000" (":0" in tests).
	S3Addr    string
	AccessKey string
	SecretKey string
	Region    string
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
}

// Start listens on the S3 address, starts the node (bootstrapping or
// joining as its config says) and serves S3 until Close.
func Start(ctx context.Context, cfg Config) (*Instance, error) {
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("server: access key and secret key are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
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
		Credentials:        staticCredentials(cfg.AccessKey, cfg.SecretKey),
		AdminAccessKey:     cfg.AccessKey,
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
		s3: &http.Server{
			Handler:           api,
			ReadHeaderTimeout: readHeaderTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			IdleTimeout:       2 * time.Minute,
			TLSConfig:         cfg.TLS.Clone(), // ServeTLS mutates its config; nodes may share one
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
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
	return errors.Join(err, i.Node.Close())
}

// staticCredentials serves one access key. (More keys, and per-key
// permissions, would slot in here.)
func staticCredentials(ak, sk string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		if key != ak {
			return "", false
		}
		return sk, true
	}
}
