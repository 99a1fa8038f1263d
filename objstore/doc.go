// Package objstore is the vocabulary shared by the S3 front end (s3api) and
// the replicated state machine (raftfsm): bucket and object records, listing
// options and results, and the sentinel errors both sides agree on.
//
// It exists so that s3api never has to import raft-aware code and raftfsm
// never has to know about HTTP; node translates between the two using only
// these types. The package has no behaviour beyond validation helpers.
package objstore
