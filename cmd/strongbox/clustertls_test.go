package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClusterTLSFlagsAllOrNothing(t *testing.T) {
	if tc, err := clusterTLS("", "", ""); tc != nil || err != nil {
		t.Fatalf("no flags: %v %v", tc, err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(f, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][3]string{{f, "", ""}, {"", f, ""}, {"", "", f}, {f, f, ""}, {f, "", f}, {"", f, f}} {
		if _, err := clusterTLS(c[0], c[1], c[2]); err == nil || !strings.Contains(err.Error(), "all three") {
			t.Errorf("%q: %v, want the all-three refusal", c, err)
		}
	}
	if _, err := clusterTLS(f, f, f); err == nil {
		t.Fatal("files without PEM accepted")
	}
}
