package transport

import (
	"testing"
	"time"
)

// An injected delay never exceeds MaxFaultDelay, whatever a caller asks.
func TestSetDelayIsBounded(t *testing.T) {
	f := newTestMux(t, "n1").Faults()
	for _, tt := range []struct{ set, want time.Duration }{
		{50 * time.Millisecond, 50 * time.Millisecond},
		{MaxFaultDelay, MaxFaultDelay},
		{MaxFaultDelay + time.Nanosecond, MaxFaultDelay},
		{1<<63 - 1, MaxFaultDelay},
		{-time.Second, 0},
	} {
		f.SetDelay(tt.set)
		if got := f.Delay(); got != tt.want {
			t.Errorf("SetDelay(%v): Delay() = %v, want %v", tt.set, got, tt.want)
		}
	}
}
