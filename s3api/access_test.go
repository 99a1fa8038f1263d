package s3api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// Which rights each kind of request needs, decided before routing.
func TestAuthorize(t *testing.T) {
	rights := map[string]Rights{"ro": RightRead, "rw": RightRead | RightWrite, "adm": RightAdmin, "all": RightsAll}
	admin := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("admin ok")) })
	s := New(newMemBackend(t, "b"), Options{
		Credentials: func(ak string) (string, Rights, bool) { r, ok := rights[ak]; return "sk-" + ak, r, ok },
		Admin:       admin,
	})
	for _, tt := range []struct {
		key, method, target string
		host                string
		denied              bool
	}{
		{"ro", http.MethodGet, "/b/k", "", false},
		{"ro", http.MethodHead, "/b", "", false},
		{"ro", http.MethodGet, "/b?uploads", "", false},
		{"ro", http.MethodPut, "/b/k", "", true},
		{"ro", http.MethodPost, "/b?delete", "", true},
		{"ro", http.MethodPost, "/b/k?uploads", "", true},
		{"ro", http.MethodDelete, "/b/k", "", true},
		{"ro", http.MethodGet, "/_strongbox/cluster/status", "", true},
		{"rw", http.MethodPut, "/b/k", "", false},
		{"rw", http.MethodGet, "/_strongbox/cluster/status", "", true},
		{"adm", http.MethodGet, "/_strongbox/cluster/status", "", false},
		{"adm", http.MethodPost, "/_strongbox/faults/heal", "", false},
		{"adm", http.MethodGet, "/b/k", "", true},
		// A virtual-hosted bucket's key "_strongbox/..." is an object,
		// not the admin API.
		{"adm", http.MethodGet, "/_strongbox/cluster/status", "b.localhost", true},
		{"ro", http.MethodGet, "/_strongbox/cluster/status", "b.localhost", false},
		{"all", http.MethodGet, "/_strongbox/cluster/status", "", false},
	} {
		r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(""))
		if tt.host != "" {
			r.Host = tt.host
		}
		sigv4.Sign(r, tt.key, "sk-"+tt.key, "us-east-1", sigv4.UnsignedPayload, time.Now())
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		denied := w.Code == http.StatusForbidden && (tt.method == http.MethodHead || strings.Contains(w.Body.String(), "<Code>AccessDenied</Code>"))
		if denied != tt.denied {
			t.Errorf("%s %s %s (host %q): %d %s, denied=%v want %v", tt.key, tt.method, tt.target, tt.host, w.Code, w.Body, denied, tt.denied)
		}
	}
}
