// Package linearizability checks that Strongbox keeps its promise under
// faults: it records what concurrent S3 clients saw while a nemesis broke
// the cluster, and asks Porcupine whether some single order of the
// operations, respecting real time, explains every answer. It is run by
// `strongbox check` (and `make check`, `make check-long`).
//
// # Cluster under test
//
// By default the harness starts its own cluster: 3 or 5 `strongbox server`
// processes of the given binary (`strongbox check` uses itself), with data
// directories and logs under the report directory, loopback ports chosen
// by the OS on first start and kept across restarts, and a random cluster
// secret. Node 1 bootstraps and the others join it. With Endpoints (and
// the admin credentials) it targets a running cluster instead; the other
// members are found through cluster status. Faults are then limited to
// the fault rules of the admin API: killing, pausing and replacing nodes
// needs processes the harness started.
//
// # Workload
//
// Clients (aws-sdk-go-v2, configured by config.LoadDefaultConfig with
// static credentials, path-style addressing and RetryMaxAttempts 1, so
// every attempt is one recorded operation) each stick to one node, round
// robin, so every node serves clients, including one a partition cuts
// off. They share a small key set ("g<n>/p<j>/k<i>", spread over a few
// listing prefixes) so that operations contend. Every KeyLifetime (15 s)
// the key set is retired and a fresh generation n+1 begins, as Jepsen's
// independent keys do: an unknown write stays pending to the end of its
// key's history, Porcupine's search grows with the pending operations it
// must place, and a ten-minute history of one key can exhaust any memory.
// A lifetime spans two fault cycles, so lost writes still show within
// it. The mix, the total rate, the number of clients and keys, the
// per-operation timeout and the seed are options. Operations:
//
//	get            GetObject: the value or absent (404 NoSuchKey)
//	put            PutObject of a value unique in the run ("c3-17")
//	delete         DeleteObject (204 whether or not the key exists)
//	put-if-absent  PutObject with If-None-Match: *
//	put-if-match   PutObject with If-Match: the ETag of the value the
//	               client last saw for the key (compare-and-set)
//	list           ListObjectsV2 on one prefix: keys and ETags
//
// Values are unique, so a value is identified by its ETag (its MD5, which
// the client computes): a listing's ETags map back to values, and a
// body that does not match its ETag is an anomaly.
//
// # History and outcomes
//
// Every operation is recorded with its invocation and return times on the
// monotonic clock (nanoseconds since the run began) and an outcome:
//
//	ok       the operation took effect; a read returned a result
//	fail     a definite refusal that changed nothing: 404 or 412 (or any
//	         other 4xx) to a write. A 412 or 404 still says something
//	         about the state at that moment, and the models check it.
//	unknown  a write that may or may not have taken effect: a timeout, a
//	         connection error, or a 5xx (503 means exactly that in
//	         Strongbox). For a read, any error: it had no effect.
//
// Reads with an unknown outcome are left out of the check. Unknown writes
// are given a return time of infinity, Porcupine's convention: such an
// operation may linearize at any point after its invocation, or after
// every other operation, which is the same as never. A deterministic step
// function thus models "may or may not have happened"; an unknown
// conditional write applies iff its condition holds where it linearizes.
//
// Anything a client sees that the models cannot express (a body not
// matching its ETag, a bucket that vanished, a truncated listing) is
// recorded as an anomaly and makes the verdict a violation.
//
// # Models
//
// register: each key is a register, absent or holding a value; the
// history is partitioned by key. Reads must return the current value;
// put and delete set it; put-if-absent succeeds iff absent and 412s iff
// present; put-if-match succeeds iff the value is the expected one, 412s
// iff present with another value, and 404s iff absent. So a stale read, a
// lost acknowledged write, two winners of one If-None-Match or of one
// compare-and-set are all violations.
//
// list: the key set of one prefix with each key's value; partitioned by
// prefix. Its operations are the successful or unknown writes to keys
// under the prefix and the listings of the prefix, which must show the
// state exactly: a listing that misses an acknowledged key, shows a
// deleted one or an old value is a violation, and so are two listings that
// order concurrent writes differently.
//
// Unknown writes whose value no operation ever observed are left out of a
// first pass (their number is reported as pruned): a history linearizable
// without them is linearizable with them. A violation found that way is
// final when the partition has no 412 answer (the only observation an
// unread write can explain; see pruneUnobserved) and otherwise is checked
// again, first with the 412s such a write could explain left
// unconstrained (a violation then is final), else on the whole partition.
// Unknown deletes after which nothing observed the key's absence are left
// out too (exactly). The check has a time limit (CheckOptions.Timeout)
// and a memory limit (MaxMemory, 4 GiB); a partition still undecided then
// makes the verdict unknown, never linearizable. Once one partition has a
// violation, the others get a few more seconds and are then abandoned.
//
// # Nemeses
//
// Faults come one at a time: a quiet interval, one fault chosen at random
// (seeded) from those enabled, held for the fault duration, lifted, then a
// wait until every node answers and all agree on a leader. A Schedule of
// fixed steps replaces the random choice for scenarios.
//
//	kill                kill -9 a node, restart it on its data directory
//	pause               SIGSTOP a node, SIGCONT it
//	partition-leader    cut the leader off from every other node
//	partition-majority  split the nodes into a random minority and majority
//	bridge              two halves that share one node; the leader at one end
//	membership          remove a node from the Raft configuration, kill it,
//	                    wipe its data directory and start it again with
//	                    --join (the same ID with a fresh directory)
//
// kill, pause and membership pick the leader half of the time (a
// scheduled step may insist on the leader or a follower). Partitions
// go through the admin API (PUT /_strongbox/faults on every node: see
// node.PartitionRules), so they act in each node's transport layer, on
// Raft, forwarding and every other internal connection alike, and work the
// same against a remote cluster. Every fault is recorded with its targets,
// when it began, when it was lifted and when the cluster was healthy again.
//
// # Report
//
// Each run writes a directory (Options.Out, default a new one under
// os.TempDir()):
//
//	history.json   every operation (Op), with the run's start time
//	faults.json    the fault timeline (Fault)
//	summary.json   the Summary: verdict, operations by type and outcome,
//	               availability overall and by nemesis, per-model results,
//	               check time
//	register.html, list.html
//	               Porcupine's visualization of a model, with the faults
//	               drawn on it: always for a model with a violation (its
//	               illegal partitions only), for all with Options.Visualize
//	nodes/         each node's log (n1.log, ...) and, after a violation or
//	               with KeepData, its data directory
//
// Availability is the share of operations with a definite answer (ok or
// fail), overall and by the fault in effect when they were invoked,
// recovery included ("none" between faults). `strongbox check` prints
// progress on stderr and the summary as one line of JSON, the last line of
// stdout; `strongbox check --history history.json` checks a saved history
// again.
//
// # Scenarios
//
// The files in scenarios/ are named, reproducible runs (seed, cluster
// size, server flags, workload and a fixed fault schedule), built into the
// binary (`strongbox check --scenario NAME`, `--list-scenarios`). Every
// violation the harness finds in Strongbox becomes one, and `make check`
// runs them all; each must give its expected verdict. unsafe-local-reads
// is the proof that the checker can fail: nodes started with
// --unsafe-local-reads serve reads without the ReadIndex barrier, the
// leader is isolated while its clients keep reading, and the verdict must
// be a violation (TestUnsafeLocalReadsAreCaught runs it in `make test`,
// and checks that the same run on safe nodes is linearizable).
package linearizability
