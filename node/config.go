package node

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/strongboxdb/strongbox/blobstore"
	"github.com/strongboxdb/strongbox/transport"
)

// Config describes one node. Zero durations pick the defaults documented on
// each field; ID, DataDir, ClusterAddr and Secret are required.
type Config struct {
	// ID names the node in the Raft configuration. It must be stable across
	// restarts and unique in the cluster.
	ID string
	// DataDir holds the Raft log, snapshots and the state machine. A new
	// directory with no Join bootstraps a one-node cluster; an existing one
	// resumes the node's data and membership.
	DataDir string
	// ClusterAddr is the TCP listen address for all inter-node traffic
	// (Raft, write forwarding, read index, join). Use "127.0.0.1:0" in tests.
	ClusterAddr string
	// AdvertiseAddr is the address peers dial; default: the bound
	// ClusterAddr. Required when ClusterAddr binds all interfaces.
	AdvertiseAddr string
	// S3URL is this node's S3 endpoint, shown in cluster status only.
	S3URL string
	// Join lists cluster addresses of existing members. Used only when
	// DataDir holds no Raft state yet: the node asks them to add it as a
	// voter instead of bootstrapping.
	Join []string
	// Secret authenticates inter-node traffic; every member must share it.
	Secret string
	// TLS, if set, runs all inter-node traffic over mutually authenticated
	// TLS 1.3 (see transport.TLS), with the secret's handshake inside.
	// Every member must use it, with certificates from the same CA.
	TLS *transport.TLS

	// Raft timing. Defaults suit loopback and LAN deployments and bring a
	// new leader up within about a second of the old one dying:
	// HeartbeatTimeout 500ms, ElectionTimeout 500ms; LeaderLeaseTimeout
	// 500ms (how long a leader tolerates silence from a quorum before it
	// steps down: generous, so a CPU-starved leader does not flap);
	// CommitTimeout 10ms (how soon an idle follower learns the commit index,
	// which bounds follower read latency after a write).
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// ApplyTimeout bounds how long a write may wait to be enqueued and how
	// long reads and forwarded calls may wait on the cluster. Default 10s.
	ApplyTimeout time.Duration
	// MaxOpenUploads bounds the open multipart uploads of one bucket;
	// CreateMultipartUpload past it is shed with ErrSlowDown. Default
	// 10,000.
	MaxOpenUploads int
	// MaxBlobStreams bounds the uploads this node streams into blobs at
	// once (bodies over the inline limit, every part); more wait up to
	// 10 s for a stream, then get ErrSlowDown. Each holds a 1 MiB buffer.
	// Default 16.
	MaxBlobStreams int

	// Snapshot policy (raft's): take one when this many entries accumulated
	// since the last, checking every SnapshotInterval; keep TrailingLogs
	// entries after it for slow followers. Defaults 8192, 30s, 10240.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64

	// Blob maintenance (blobgc.go). BlobGarbageDelay is how long a blob
	// released by an overwrite, delete or abort stays on disk before this
	// node removes it, so that a GET that read the old record just before
	// still finds the file; default 1m. BlobSyncInterval is how often the
	// node checks that it holds every referenced blob and fetches the ones
	// it lacks (after downtime or a snapshot install); default 1m; it also
	// checks once at start. BlobCollectInterval is how often it removes
	// orphans (blobs no record refers to, left by failed or abandoned
	// uploads) older than BlobOrphanAge; defaults 1h and 1h.
	BlobGarbageDelay    time.Duration
	BlobSyncInterval    time.Duration
	BlobCollectInterval time.Duration
	BlobOrphanAge       time.Duration

	// MinFreeSpace is the free space, in bytes, that the blob store leaves
	// on the file system holding DataDir: uploads stored as blobs (bodies
	// over 64 KiB, parts, replicas from peers) fail with 503 once less is
	// available, so that when blobs fill the disk the Raft log and the
	// state machine still have room, and deletes (which free space) still
	// work. Default (0): 1% of the file system's size, at most 1 GiB.
	// Negative: no reserve; blobs fill the disk until it refuses writes.
	MinFreeSpace int64

	// UnsafeLocalReads serves reads from local state without the ReadIndex
	// barrier. It breaks linearizability (stale reads after a partition or
	// on a lagging follower) and exists only so the consistency checker can
	// demonstrate that it catches the bug. Never use it for data you care
	// about.
	UnsafeLocalReads bool

	Logger *slog.Logger

	// noClusterID makes a bootstrapping node create no cluster ID and its
	// leaders propose none, like versions before cluster IDs: tests use it
	// to build the data directories an upgrade starts from.
	noClusterID bool
	// RaftLogOutput receives hashicorp/raft's own log lines; default
	// io.Discard (its lines at INFO are chatty).
	RaftLogOutput io.Writer
	RaftLogLevel  string
}

// minFreeSpace returns the blob store's reserve per MinFreeSpace; the
// default needs the file system's size, so DataDir must exist.
func minFreeSpace(c Config) int64 {
	switch {
	case c.MinFreeSpace > 0:
		return c.MinFreeSpace
	case c.MinFreeSpace < 0:
		return 0
	}
	_, total, err := blobstore.DiskSpace(c.DataDir)
	if err != nil {
		return 0 // cannot tell: the disk's own ENOSPC is the limit
	}
	return min(total/100, 1<<30)
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.ID == "" || out.DataDir == "" || out.ClusterAddr == "" {
		return out, errors.New("node: ID, DataDir and ClusterAddr are required")
	}
	if out.Secret == "" {
		return out, errors.New("node: a cluster secret is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&out.HeartbeatTimeout, 500*time.Millisecond)
	def(&out.ElectionTimeout, 500*time.Millisecond)
	def(&out.LeaderLeaseTimeout, 500*time.Millisecond)
	def(&out.CommitTimeout, 10*time.Millisecond)
	def(&out.ApplyTimeout, 10*time.Second)
	def(&out.SnapshotInterval, 30*time.Second)
	def(&out.BlobGarbageDelay, time.Minute)
	def(&out.BlobSyncInterval, time.Minute)
	def(&out.BlobCollectInterval, time.Hour)
	def(&out.BlobOrphanAge, time.Hour)
	if out.LeaderLeaseTimeout > out.HeartbeatTimeout {
		return out, fmt.Errorf("node: leader lease timeout %v exceeds heartbeat timeout %v", out.LeaderLeaseTimeout, out.HeartbeatTimeout)
	}
	if out.SnapshotThreshold == 0 {
		out.SnapshotThreshold = 8192
	}
	if out.TrailingLogs == 0 {
		out.TrailingLogs = 10240
	}
	if out.MaxOpenUploads <= 0 {
		out.MaxOpenUploads = 10000
	}
	if out.MaxBlobStreams <= 0 {
		out.MaxBlobStreams = 16
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if out.RaftLogOutput == nil {
		out.RaftLogOutput = io.Discard
	}
	if out.RaftLogLevel == "" {
		out.RaftLogLevel = "warn"
	}
	return out, nil
}
