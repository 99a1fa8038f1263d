package server_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strongboxdb/strongbox/objstore"
)

// A leader whose state machine store fails takes itself out of service:
// the write that hit the failure is answered 503 (it is committed, so any
// definite failure would be a lie), leadership moves to a healthy node
// that keeps serving, the failed node answers 503 to everything and
// reports unhealthy, and a restart brings it back with every write.
func TestFailedStateMachineTakesNodeOutOfService(t *testing.T) {
	for _, via := range []string{"leader", "follower"} {
		t.Run("write via "+via, func(t *testing.T) {
			c := startCluster(t, 3, nil)
			l := c.waitLeader()
			entry := l
			if via == "follower" {
				entry = c.follower()
			}
			mustCreateBucket(t, c.client(l), "fsmfail")
			mustPut(t, c.client(l), "fsmfail", "before", "b")

			failed := c.nodes[l].Node
			failed.InjectStoreFailure(errors.New("injected: no space left on device"))
			// The PUT is appended, committed by a majority, and then cannot
			// be applied by the leader.
			_, err := newClient(c.nodes[entry].S3URL(), testAccessKey, testSecretKey, noRetries).PutObject(ctxT(t),
				&s3.PutObjectInput{Bucket: aws.String("fsmfail"), Key: aws.String("hit"), Body: stringsReader("h")})
			if !isHTTPStatus(err, http.StatusServiceUnavailable) {
				t.Fatalf("PUT whose apply failed on the leader: %v, want 503", err)
			}

			waitFor(t, "the failed node to leave service", 30*time.Second, func() bool {
				select {
				case <-failed.Failed():
					return true
				default:
					return false
				}
			})
			if err := failed.Failure(); !errors.Is(err, objstore.ErrUnavailable) {
				t.Fatalf("Failure() = %v, want an ErrUnavailable", err)
			}
			if failed.IsLeader() {
				t.Fatal("the failed node still leads")
			}
			var survivors []int
			for i := range c.nodes {
				if i != l {
					survivors = append(survivors, i)
				}
			}
			waitFor(t, "a healthy node to lead", 30*time.Second, func() bool {
				for _, i := range survivors {
					n := c.nodes[i].Node
					if n.IsLeader() {
						return c.nodes[survivors[0]].Node.Leader() == n.ID() && c.nodes[survivors[1]].Node.Leader() == n.ID()
					}
				}
				return false
			})

			// The write answered 503 was committed: the cluster holds it.
			for _, i := range survivors {
				if got := mustGet(t, c.client(i), "fsmfail", "hit"); got != "h" {
					t.Fatalf("node %d: hit = %q", i+1, got)
				}
			}
			// The survivors serve writes and reads.
			for k, i := range survivors {
				key := fmt.Sprintf("after-%d", i)
				mustPut(t, c.client(i), "fsmfail", key, key)
				other := survivors[1-k]
				if got := mustGet(t, c.client(other), "fsmfail", key); got != key {
					t.Fatalf("%s read on node %d = %q", key, other+1, got)
				}
			}

			// The failed node serves nothing as if it were healthy.
			fc := newClient(c.nodes[l].S3URL(), testAccessKey, testSecretKey, noRetries)
			_, err = fc.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("fsmfail"), Key: aws.String("late"), Body: stringsReader("x")})
			if !isHTTPStatus(err, http.StatusServiceUnavailable) {
				t.Fatalf("PUT on the failed node: %v, want 503", err)
			}
			_, err = fc.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String("fsmfail"), Key: aws.String("before")})
			if !isHTTPStatus(err, http.StatusServiceUnavailable) {
				t.Fatalf("GET on the failed node: %v, want 503", err)
			}
			_, err = fc.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String("fsmfail")})
			if !isHTTPStatus(err, http.StatusServiceUnavailable) {
				t.Fatalf("LIST on the failed node: %v, want 503", err)
			}
			status, body := getHealth(t, c.nodes[l].S3URL())
			if status != http.StatusServiceUnavailable || !strings.Contains(body, "store failed") {
				t.Fatalf("health of the failed node: %d %s, want 503 naming the failure", status, body)
			}
			if status, body := getHealth(t, c.nodes[survivors[0]].S3URL()); status != http.StatusOK {
				t.Fatalf("health of a survivor: %d %s", status, body)
			}

			// A restart resumes: the node re-applies what it missed.
			c.stop(l)
			c.restart(l)
			cl := c.client(l)
			for key, want := range map[string]string{
				"before": "b", "hit": "h",
				fmt.Sprintf("after-%d", survivors[0]): fmt.Sprintf("after-%d", survivors[0]),
				fmt.Sprintf("after-%d", survivors[1]): fmt.Sprintf("after-%d", survivors[1]),
			} {
				if got := mustGet(t, cl, "fsmfail", key); got != want {
					t.Fatalf("restarted node: %s = %q, want %q", key, got, want)
				}
			}
		})
	}
}

func getHealth(t *testing.T, endpoint string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, endpoint+"/_strongbox/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		t.Fatalf("health body: %v", err)
	}
	return resp.StatusCode, string(b)
}
