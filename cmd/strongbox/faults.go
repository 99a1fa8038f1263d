package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/strongboxdb/strongbox/node"
)

// partitionFlags are the flags of "strongbox cluster partition".
type partitionFlags struct{ isolate, groups string }

func (p *partitionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.isolate, "isolate", "", "member ID to cut off from every other member")
	fs.StringVar(&p.groups, "groups", "", "groups of member IDs, comma-separated within a group, groups separated by '/': "+
		"members talk only to members sharing a group (a,b/c: c alone; a,b/b,c: a bridge through b)")
}

// endpoints splits --endpoint, which these subcommands accept as a
// comma-separated list.
func (a adminClient) endpoints() []string {
	var out []string
	for e := range strings.SplitSeq(a.endpoint, ",") {
		if e = strings.TrimRight(strings.TrimSpace(e), "/"); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func (a adminClient) at(endpoint string) adminClient { a.endpoint = endpoint; return a }

// clusterPartition sets fault rules on every member so that the cluster
// splits as asked. Each member gets its whole rule set in one PUT, so
// changing one partition into another never heals in between.
func clusterPartition(admin adminClient, p partitionFlags) error {
	if (p.isolate == "") == (p.groups == "") {
		return errors.New("cluster partition: give exactly one of --isolate ID or --groups a,b/c")
	}
	eps := admin.endpoints()
	if len(eps) == 0 {
		return errors.New("cluster partition: no --endpoint")
	}
	body, err := admin.at(eps[0]).do(http.MethodGet, "/_strongbox/cluster/status", nil)
	if err != nil {
		return err
	}
	var st node.ClusterStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("cluster status: %w", err)
	}
	dir := map[string]string{}
	var ids []string
	for _, m := range st.Members {
		if m.S3URL == "" {
			return fmt.Errorf("cluster partition: member %s is unreachable (%s); heal first", m.ID, m.Error)
		}
		dir[m.ID] = m.S3URL
		ids = append(ids, m.ID)
	}
	var groups [][]string
	if p.isolate != "" {
		rest := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == p.isolate })
		groups = [][]string{{p.isolate}, rest}
	} else {
		for g := range strings.SplitSeq(p.groups, "/") {
			var grp []string
			for id := range strings.SplitSeq(g, ",") {
				if id = strings.TrimSpace(id); id != "" {
					grp = append(grp, id)
				}
			}
			groups = append(groups, grp)
		}
	}
	rules, err := node.PartitionRules(ids, groups)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBLOCKS\tS3 ENDPOINT")
	var errs []error
	for _, id := range ids {
		req, _ := json.Marshal(node.FaultState{Blocked: rules[id], Members: dir})
		if _, err := admin.at(dir[id]).do(http.MethodPut, "/_strongbox/faults", req); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", id, strings.Join(rules[id], ","), dir[id])
	}
	_ = tw.Flush()
	return errors.Join(errs...)
}

// discoverMembers finds every member's S3 endpoint starting from the given
// ones. Cluster status alone cannot see past a partition, so it also reads
// the member directory that "cluster partition" leaves on each member.
func discoverMembers(admin adminClient) (map[string]string, []error) {
	byURL := map[string]string{} // endpoint -> member ID ("" until known)
	queue := admin.endpoints()
	var errs []error
	for len(queue) > 0 {
		ep := queue[0]
		queue = queue[1:]
		if _, seen := byURL[ep]; seen {
			continue
		}
		byURL[ep] = ""
		add := func(url string) {
			if url = strings.TrimRight(url, "/"); url != "" {
				if _, seen := byURL[url]; !seen {
					queue = append(queue, url)
				}
			}
		}
		c := admin.at(ep)
		body, err := c.do(http.MethodGet, "/_strongbox/faults", nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ep, err))
			continue
		}
		var fs node.FaultState
		if err := json.Unmarshal(body, &fs); err == nil {
			byURL[ep] = fs.Node
			for _, u := range fs.Members {
				add(u)
			}
		}
		if body, err := c.do(http.MethodGet, "/_strongbox/cluster/status", nil); err == nil {
			var st node.ClusterStatus
			if json.Unmarshal(body, &st) == nil {
				for _, m := range st.Members {
					add(m.S3URL)
				}
			}
		}
	}
	out := map[string]string{}
	for url, id := range byURL {
		if id != "" {
			out[id] = url
		}
	}
	return out, errs
}

// clusterHeal removes every fault rule on every member it can find.
func clusterHeal(admin adminClient) error {
	members, errs := discoverMembers(admin)
	for _, id := range sortedIDs(members) {
		if _, err := admin.at(members[id]).do(http.MethodPost, "/_strongbox/faults/heal", nil); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		fmt.Printf("%s\thealed\t%s\n", id, members[id])
	}
	return errors.Join(errs...)
}

// clusterFaults prints every reachable member's fault rules.
func clusterFaults(admin adminClient) error {
	members, errs := discoverMembers(admin)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBLOCKS\tDELAY\tS3 ENDPOINT")
	for _, id := range sortedIDs(members) {
		body, err := admin.at(members[id]).do(http.MethodGet, "/_strongbox/faults", nil)
		var fs node.FaultState
		if err == nil {
			err = json.Unmarshal(body, &fs)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", id, strings.Join(fs.Blocked, ","), fs.Delay, members[id])
	}
	_ = tw.Flush()
	return errors.Join(errs...)
}

func sortedIDs(m map[string]string) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
