package linearizability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/strongboxdb/strongbox/node"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// admin calls nodes' admin API (/_strongbox/...) with SigV4-signed
// requests.
type admin struct {
	accessKey, secretKey, region string
	http                         *http.Client
}

func newAdmin(ak, sk, region string) *admin {
	return &admin{accessKey: ak, secretKey: sk, region: region, http: &http.Client{Timeout: 10 * time.Second}}
}

// do sends one request and decodes a JSON answer into out (if not nil).
func (a *admin) do(ctx context.Context, endpoint, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, endpoint+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	sigv4.Sign(req, a.accessKey, a.secretKey, a.region, hex.EncodeToString(sum[:]), time.Now())
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &adminError{Status: resp.StatusCode, msg: fmt.Sprintf("%s %s%s: %s: %s", method, endpoint, path, resp.Status, bytes.TrimSpace(b))}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (a *admin) setFaults(ctx context.Context, endpoint string, st node.FaultState) error {
	b, _ := json.Marshal(st)
	return a.do(ctx, endpoint, http.MethodPut, "/_strongbox/faults", b, nil)
}

func (a *admin) heal(ctx context.Context, endpoint string) error {
	return a.do(ctx, endpoint, http.MethodPost, "/_strongbox/faults/heal", nil, nil)
}

func (a *admin) status(ctx context.Context, endpoint string) (node.ClusterStatus, error) {
	var st node.ClusterStatus
	err := a.do(ctx, endpoint, http.MethodGet, "/_strongbox/cluster/status", nil, &st)
	return st, err
}

func (a *admin) remove(ctx context.Context, endpoint, id string) error {
	return a.do(ctx, endpoint, http.MethodPost, "/_strongbox/cluster/remove?id="+url.QueryEscape(id), nil, nil)
}

// health is a node's answer on /_strongbox/health (no credentials).
type health struct {
	OK      bool   `json:"-"`
	ID      string `json:"id"`
	State   string `json:"state"`
	Leader  string `json:"leader"`
	Applied uint64 `json:"applied_index"`
}

func getHealth(ctx context.Context, client *http.Client, endpoint string) (health, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/_strongbox/health", nil)
	if err != nil {
		return health{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return health{}, err
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&h); err != nil {
		return health{}, fmt.Errorf("health of %s: %s: %w", endpoint, resp.Status, err)
	}
	h.OK = resp.StatusCode == http.StatusOK
	return h, nil
}

// adminError is an admin API answer other than 200.
type adminError struct {
	Status int
	msg    string
}

func (e *adminError) Error() string { return e.msg }

func isStatus(err error, status int) bool {
	var ae *adminError
	return errors.As(err, &ae) && ae.Status == status
}
