// Package linearizability checks that Strongbox keeps its promise under
// faults: it records what concurrent S3 clients saw while a nemesis broke
// the cluster, and asks Porcupine whether some single order of the
// operations, respecting real time, explains every answer. It is run by
// `strongbox check` (and `make check`, `make check-long`). Its sibling,
// the crash test (`strongbox crash`, `make crash`; see "Crash test"
// below), uses the same cluster and nemesis to check durability: that
// every acknowledged write survives kill -9 with the right bytes.
//
// The package talks to the cluster only as an S3 client (aws-sdk-go-v2),
// through the admin API (status, fault rules) and through the processes
// it started (signals, restarts); of Strongbox's own packages it uses
// only the admin API's types (node) and request signing (sigv4).
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
//	kill-all            kill -9 every node at once, restart them all
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
//
// # Crash test
//
// RunCrash (`strongbox crash`) starts a fresh cluster of local processes
// and runs Writers (default 6) sequential writers for Duration, each
// request to a node picked at random (the next node if that one refuses
// the connection: it is down and nothing was sent). Each write is a
// PutObject of a small body (64 B to 64 KiB: inline in the Raft log), of
// a large one (64 KiB + 1 to MaxLarge, 4 MiB: a blob replicated to a
// majority before the command is proposed), or a multipart upload of 2
// or 3 parts of 5 MiB (the last part 1 B to 5 MiB; CRC32 part checksums,
// as the SDK's upload manager sends them; each part retried on up to
// three nodes). Sizes are log-uniform, with the inline limit and its
// successor drawn on purpose. Keys are unique per write ("w03/000123"),
// except OverwritePct (10%) of writes, which go to HotKeys (16) shared
// keys ("hot/k07") that writers overwrite concurrently; after an unknown
// outcome a writer repeats the write (same key, same bytes) half of the
// time, as SDKs retry.
//
// Bodies are generated from a per-write seed (crashbody.go): a header
// naming the key, write and size, then an AES-CTR keystream, so any range
// can be regenerated without the rest. The ledger (writes.json) records
// each write's seed, size, SHA-256 and expected ETag (the MD5, or the MD5
// of the part MD5s with "-N"), its call and return times, and its
// outcome, from the one request that decides it (PutObject, or
// CompleteMultipartUpload):
//
//	ack      200: must be durable
//	failed   a 4xx, a refused connection, or a multipart upload given up
//	         before Complete was sent: must not appear
//	unknown  a timeout, a 5xx, a broken connection: may have happened,
//	         but only whole
//
// Meanwhile the nemesis kills one node every Interval (default 2 s)
// with SIGKILL, the leader half of the time, keeps it down for
// FaultDuration (2 s), restarts it on its data directory and waits for a
// healthy cluster; one fault in KillAllEvery (5) is kill-all. A Schedule
// replaces the random choice (TestCrashShort uses one). The nodes run
// with CrashServerArgs: a snapshot every 32 entries with 2 trailing log
// entries, so a restarted node often installs a snapshot (which carries
// no blobs), and blob garbage and orphan collection within seconds, so
// collection runs while nodes crash.
//
// After the writes: a final kill-all (unless NoFinalCrash), so every
// node is checked on what it recovered from its own disk; heal; restart
// every node; wait until all are healthy and every node has applied the
// leader's commit index. Then, on every node, every key of the ledger is
// read (GetObject, the whole body through SHA-256; errors other than
// NoSuchKey retried six times) and judged against the key's writes, a
// register of writes only:
//
//	allowed  the bytes of an unknown write, or of an acknowledged write
//	         that no acknowledged write invoked after it returned
//	         supersedes (the last in some order consistent with real
//	         time); absent only if nothing was acknowledged
//	lost     absent, unreadable, or superseded bytes, where an
//	         acknowledged write must show
//	corrupt  bytes no write of the key produced (partial, torn,
//	         another key's), a refused write's bytes, the right bytes
//	         with the wrong ETag or size, or an acknowledgement that
//	         carried the wrong ETag
//
// A corrupt body is read once more and compared with the write its
// header names, to report the first wrong byte. Then a ListObjectsV2 of
// the whole bucket on the same node must list exactly the keys it
// served, with the same ETags and sizes, and nothing else; and all nodes
// must serve the same bytes for every key (divergent otherwise). The
// summary (summary.json, and the last line of `strongbox crash`) counts
// writes by kind and outcome, kills (of the leader, of every node), keys
// verified per node, and lost, corrupt, unreadable, listing and
// divergent findings, each listed in findings.json; any finding makes
// the verdict "fail". TestCrashCatchesDamage shows the check is not
// blind: a byte flipped in one blob and another blob deleted on every
// node while the cluster is down must be reported on every node.
//
// SIGKILL ends a process, not the machine: the kernel's page cache
// survives it, so the crash test proves that Strongbox acknowledges only
// what it has handed to the file system in a state it can recover from
// (log, state machine and blob files agreeing after any crash point), not
// that fsync is called. The fsync policy that covers power loss is
// described in the README ("Durability").
package linearizability
