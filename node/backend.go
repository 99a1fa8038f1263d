package node

import (
	"context"

	"github.com/strongboxdb/strongbox/objstore"
	"github.com/strongboxdb/strongbox/raftfsm"
)

// The methods below implement s3api.Backend. Writes go through propose
// (committed and applied before they return); reads pass readBarrier first
// and then read the local state machine, which makes them linearizable on
// every node.

// CreateBucket creates a bucket; objstore.ErrBucketExists if it exists.
func (n *Node) CreateBucket(ctx context.Context, name string) error {
	_, err := n.propose(ctx, raftfsm.NewCreateBucket(name))
	return err
}

// DeleteBucket removes an empty bucket.
func (n *Node) DeleteBucket(ctx context.Context, name string) error {
	_, err := n.propose(ctx, raftfsm.NewDeleteBucket(name))
	return err
}

// HeadBucket returns the bucket's record.
func (n *Node) HeadBucket(ctx context.Context, name string) (objstore.BucketInfo, error) {
	if err := n.readBarrier(ctx); err != nil {
		return objstore.BucketInfo{}, err
	}
	return n.fsm.GetBucket(name)
}

// ListBuckets returns every bucket sorted by name.
func (n *Node) ListBuckets(ctx context.Context) ([]objstore.BucketInfo, error) {
	if err := n.readBarrier(ctx); err != nil {
		return nil, err
	}
	return n.fsm.ListBuckets()
}

// PutObject stores an object (conditionally, if the request says so).
func (n *Node) PutObject(ctx context.Context, req *objstore.PutRequest) (objstore.ObjectInfo, error) {
	res, err := n.propose(ctx, raftfsm.NewPutObject(req))
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	return res.Object, nil
}

// GetObject returns an object's record and body.
func (n *Node) GetObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, []byte, error) {
	if err := n.readBarrier(ctx); err != nil {
		return objstore.ObjectInfo{}, nil, err
	}
	return n.fsm.GetObject(bucket, key)
}

// HeadObject returns an object's record.
func (n *Node) HeadObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, error) {
	if err := n.readBarrier(ctx); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return n.fsm.HeadObject(bucket, key)
}

// DeleteObject removes an object; deleting a missing key succeeds.
func (n *Node) DeleteObject(ctx context.Context, bucket, key string) error {
	_, err := n.propose(ctx, raftfsm.NewDeleteObject(bucket, key))
	return err
}

// ListObjects returns one page of a bucket listing.
func (n *Node) ListObjects(ctx context.Context, bucket string, opts objstore.ListOptions) (objstore.ListResult, error) {
	if err := n.readBarrier(ctx); err != nil {
		return objstore.ListResult{}, err
	}
	return n.fsm.ListObjects(bucket, opts)
}
