package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/strongboxdb/strongbox/node"
	"github.com/strongboxdb/strongbox/s3api/sigv4"
)

// runCluster implements "strongbox cluster status|remove|partition|heal|faults",
// which call the nodes' admin API with SigV4-signed requests.
func runCluster(args []string) error {
	if len(args) == 0 {
		return errors.New("cluster: want a subcommand: status, remove ID, partition, heal, faults")
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("cluster "+sub, flag.ExitOnError)
	e := newEnvFlags(fs)
	var endpoint, ak, sk, region string
	var asJSON bool
	e.String(&endpoint, "endpoint", "STRONGBOX_ENDPOINT", "http://127.0.0.1:9000", "S3 endpoint of any member")
	e.String(&ak, "access-key", "STRONGBOX_ACCESS_KEY", defaultAccessKey, "admin access key")
	e.String(&sk, "secret-key", "STRONGBOX_SECRET_KEY", defaultSecretKey, "admin secret key")
	e.String(&region, "region", "STRONGBOX_REGION", "us-east-1", "region to sign for")
	e.Bool(&asJSON, "json", "STRONGBOX_JSON", false, "print raw JSON")
	var part partitionFlags
	if sub == "partition" {
		part.register(fs)
	}
	if err := e.parse(rest); err != nil {
		return err
	}
	admin := adminClient{endpoint: endpoint, ak: ak, sk: sk, region: region}

	switch sub {
	case "status":
		body, err := admin.do(http.MethodGet, "/_strongbox/cluster/status", nil)
		if err != nil {
			return err
		}
		if asJSON {
			_, err := os.Stdout.Write(body)
			return err
		}
		var st node.ClusterStatus
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("cluster status: %w", err)
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tTERM\tCOMMIT\tAPPLIED\tLAST\tRAFT ADDR\tS3 ENDPOINT\tSUFFRAGE")
		for _, m := range st.Members {
			role := m.State
			if m.Error != "" {
				role = "unreachable"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", m.ID, role, m.Term, m.CommitIndex, m.AppliedIndex, m.LastIndex, m.ClusterAddr, m.S3URL, m.Suffrage)
		}
		fmt.Fprintf(tw, "\nleader: %s\n", st.Leader)
		return tw.Flush()
	case "remove":
		if fs.NArg() != 1 {
			return errors.New("cluster remove: want exactly one member ID")
		}
		body, err := admin.do(http.MethodPost, "/_strongbox/cluster/remove?id="+url.QueryEscape(fs.Arg(0)), nil)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(body)
		return err
	case "partition":
		return clusterPartition(admin, part)
	case "heal":
		return clusterHeal(admin)
	case "faults":
		return clusterFaults(admin)
	default:
		return fmt.Errorf("cluster: unknown subcommand %q (want status, remove, partition, heal or faults)", sub)
	}
}

type adminClient struct{ endpoint, ak, sk, region string }

func (a adminClient) do(method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, a.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	sigv4.Sign(req, a.ak, a.sk, a.region, hex.EncodeToString(sum[:]), time.Now())
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(out))
	}
	return out, nil
}
