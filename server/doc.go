// Package server assembles one Strongbox process: a node (Raft, state
// machine, cluster transport) and the S3 HTTP endpoint in front of it,
// with SigV4 credentials and the admin API. Credentials are one static
// key with every right (Config.AccessKey/SecretKey) and/or a credentials
// file of keys with read, write or admin permissions (credentials.go),
// reloaded on change without a restart; no secret is ever logged. The
// strongbox command and the in-process cluster tests both start nodes
// through Start, so tests exercise exactly what users run.
package server
