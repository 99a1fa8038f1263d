package s3api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/strongboxdb/strongbox/objstore"
)

// A full or read-only disk is a retryable 503 ServiceUnavailable whose
// message says why, wherever in the chain the sentinel is; a plain outage
// keeps the generic message.
func TestDiskErrorsAreRetryable503sThatSayWhy(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: node n2: blob store: write: no space left on device", objstore.ErrNoSpace), "out of disk space"},
		{fmt.Errorf("blob replication: %w", objstore.ErrReadOnly), "read-only"},
		{fmt.Errorf("%w: no leader", objstore.ErrUnavailable), "Please reduce your request rate."},
	} {
		e := toAPIError(c.err)
		if e.Status != http.StatusServiceUnavailable || e.Code != "ServiceUnavailable" || !strings.Contains(e.Message, c.want) {
			t.Errorf("toAPIError(%v) = %+v, want 503 ServiceUnavailable saying %q", c.err, e, c.want)
		}
	}
	if !errors.Is(objstore.ErrNoSpace, objstore.ErrUnavailable) || !errors.Is(objstore.ErrReadOnly, objstore.ErrUnavailable) {
		t.Error("the disk sentinels must wrap ErrUnavailable: callers treat them as unknown outcomes")
	}
}
