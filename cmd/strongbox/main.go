// Command strongbox runs a Strongbox node, a local development cluster,
// cluster administration commands and the load tool. It only wires flags
// to the packages that do the work.
package main

import (
	"fmt"
	"os"
)

const usage = `strongbox: a strongly consistent, S3-compatible object store.

Usage:
  strongbox server  [flags]        run one node (bootstraps or joins a cluster)
  strongbox dev     [flags]        run a local N-node cluster as child processes (make run)
  strongbox cluster status         show every member's role, term, commit and applied index
  strongbox cluster remove ID      remove a member from the cluster
  strongbox cluster partition      cut members off from each other (--isolate ID | --groups a,b/c)
  strongbox cluster heal           lift every fault rule on every member
  strongbox cluster faults         show every member's fault rules
  strongbox check   [flags]        linearizability check under faults (Porcupine; see linearizability/)
  strongbox crash   [flags]        crash test: writes under kill -9, then every acknowledged byte checked on every node
  strongbox bench   [flags]        load tool: PUT/GET ops/s and latency percentiles

Run "strongbox COMMAND -h" for a command's flags. Every flag also reads an
environment variable, named in its help text.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "dev":
		err = runDev(os.Args[2:])
	case "cluster":
		err = runCluster(os.Args[2:])
	case "bench":
		err = runBench(os.Args[2:])
	case "check":
		err = runCheck(os.Args[2:])
	case "crash":
		err = runCrash(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "strongbox: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "strongbox:", err)
		os.Exit(1)
	}
}
