package transport

import (
	"errors"
	"sync"
	"time"
)

var errReplay = errors.New("replayed nonce")

// nonceCache remembers recently accepted handshake nonces. It keeps two
// generations and rotates every period, so a nonce is remembered for at
// least one full period after it was added (between period and 2·period).
// With period = 2·MaxClockSkew that covers the whole time during which a
// hello with that nonce carries an acceptable timestamp.
//
// The cache is a cheap first filter, not the replay defence: the server's
// challenge nonce, which the client must answer (see confirmMAC), is. So
// when the cache holds max nonces it rotates early and forgets the oldest
// generation rather than refuse handshakes. Only hellos with a valid MAC
// are added, so only holders of the secret can fill it.
type nonceCache struct {
	mu        sync.Mutex
	period    time.Duration
	max       int
	rotated   time.Time
	cur, prev map[[nonceLen]byte]struct{}
}

func newNonceCache(period time.Duration, max int) *nonceCache {
	return &nonceCache{period: period, max: max, cur: make(map[[nonceLen]byte]struct{})}
}

// add records n, or fails if it was seen recently.
func (c *nonceCache) add(n [nonceLen]byte, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rotated.IsZero() {
		c.rotated = now
	}
	switch d := now.Sub(c.rotated); {
	case d < 0: // clock stepped back (only without a monotonic reading)
		c.rotated = now // keeps entries longer, never shorter
	case d >= c.period, len(c.cur) >= c.max/2:
		c.prev, c.cur, c.rotated = c.cur, make(map[[nonceLen]byte]struct{}), now
	}
	if _, ok := c.cur[n]; ok {
		return errReplay
	}
	if _, ok := c.prev[n]; ok {
		return errReplay
	}
	c.cur[n] = struct{}{}
	return nil
}
