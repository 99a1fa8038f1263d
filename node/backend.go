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

// GetObject returns an object's record and a reader of its body. The
// record is read after a barrier; an inline body is copied out with it,
// a blob-backed one is read from blob files when the caller opens it.
func (n *Node) GetObject(ctx context.Context, bucket, key string) (objstore.ObjectInfo, objstore.Body, error) {
	if err := n.readBarrier(ctx); err != nil {
		return objstore.ObjectInfo{}, nil, err
	}
	info, body, err := n.fsm.GetObject(bucket, key)
	if err != nil {
		return objstore.ObjectInfo{}, nil, err
	}
	if info.Blobs != nil {
		return info, &blobBody{n: n, blobs: info.Blobs}, nil
	}
	return info, inlineBody(body), nil
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

// DeleteObjects removes a batch of keys in one command; missing keys
// succeed.
func (n *Node) DeleteObjects(ctx context.Context, bucket string, keys []string) error {
	_, err := n.propose(ctx, raftfsm.NewDeleteObjects(bucket, keys))
	return err
}

// PutObjectTagging replaces an object's tag set; nil removes it.
func (n *Node) PutObjectTagging(ctx context.Context, bucket, key string, tags map[string]string) error {
	_, err := n.propose(ctx, raftfsm.NewPutObjectTagging(bucket, key, tags))
	return err
}

// PutBucketCors replaces a bucket's CORS rules; nil removes them.
func (n *Node) PutBucketCors(ctx context.Context, bucket string, rules []objstore.CORSRule) error {
	_, err := n.propose(ctx, raftfsm.NewPutBucketCors(bucket, rules))
	return err
}
