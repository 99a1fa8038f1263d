package server

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"time"
)

// limitListener bounds the S3 connections a node holds open. Past the
// bound a new connection is answered at once and closed: with 503
// SlowDown when the listener speaks plain HTTP, by closing it under TLS
// (the bytes would not be a TLS record). Blocking Accept instead would
// leave clients waiting in the kernel's backlog with no answer, and not
// bounding at all lets a flood of idle connections grow goroutines and
// file descriptors until the process hits an OS limit.
type limitListener struct {
	net.Listener
	sem   chan struct{}
	plain bool
}

func newLimitListener(ln net.Listener, n int, plain bool) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), plain: plain}
}

// slowDownBody and slowDownResponse are what a connection past the bound
// gets: S3's throttling answer, with Retry-After.
const slowDownBody = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
	`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`

var slowDownResponse = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: application/xml\r\nRetry-After: 1\r\nConnection: close\r\n" +
	"Content-Length: " + strconv.Itoa(len(slowDownBody)) + "\r\n\r\n" + slowDownBody)

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
		}
		go l.refuse(c)
	}
}

func (l *limitListener) refuse(c net.Conn) {
	defer c.Close()
	if l.plain {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(slowDownResponse)
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes the wrapped connection when it can (TCP). Without
// it the wrapper would hide the method from net/http, whose
// closeWriteAndWait sends a FIN and waits a moment before closing, so that
// a client still sending a body reads the answer instead of a reset.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
