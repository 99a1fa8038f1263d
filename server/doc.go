// Package server assembles one Strongbox process: a node (Raft, state
// machine, cluster transport) and the S3 HTTP endpoint in front of it,
// with SigV4 credentials and the admin API. The strongbox command and the
// in-process cluster tests both start nodes through Start, so tests
// exercise exactly what users run.
package server
