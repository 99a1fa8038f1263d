package server_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestListBucketsPagination drives ListBuckets' paging parameters and the
// SDK's ListBuckets paginator through aws-sdk-go-v2 against a 3-node
// cluster, creating on one node and listing on the others.
func TestListBucketsPagination(t *testing.T) {
	c := startCluster(t, 3, nil)
	names := []string{"lb-a-1", "lb-a-2", "lb-a-3", "lb-b-1", "lb-b-2"}
	// Created out of order: the listing's order must be the server's doing.
	for _, i := range []int{3, 0, 4, 2, 1} {
		mustCreateBucket(t, c.client(0), names[i])
	}

	// paginate returns every bucket the paginator yields, and the pages'
	// sizes.
	paginate := func(t *testing.T, cl *s3.Client, in *s3.ListBucketsInput) ([]types.Bucket, []int) {
		t.Helper()
		var all []types.Bucket
		var sizes []int
		p := s3.NewListBucketsPaginator(cl, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctxT(t))
			if err != nil {
				t.Fatalf("page %d: %v", len(sizes)+1, err)
			}
			if len(sizes) > len(names) {
				t.Fatalf("paginator does not end: %v", sizes)
			}
			all = append(all, out.Buckets...)
			sizes = append(sizes, len(out.Buckets))
		}
		return all, sizes
	}
	bucketNames := func(bs []types.Bucket) []string {
		var out []string
		for _, b := range bs {
			out = append(out, aws.ToString(b.Name))
		}
		return out
	}

	t.Run("PaginatorListsEveryBucketOnceInOrder", func(t *testing.T) {
		all, sizes := paginate(t, c.client(1), &s3.ListBucketsInput{MaxBuckets: aws.Int32(2)})
		if got := bucketNames(all); !slices.Equal(got, names) {
			t.Fatalf("buckets %v, want %v", got, names)
		}
		if !slices.Equal(sizes, []int{2, 2, 1}) {
			t.Fatalf("page sizes %v, want [2 2 1]", sizes)
		}
		for _, b := range all {
			if aws.ToString(b.BucketRegion) != "us-east-1" || b.CreationDate == nil {
				t.Fatalf("bucket %s: region %q, created %v", aws.ToString(b.Name), aws.ToString(b.BucketRegion), b.CreationDate)
			}
		}
	})

	t.Run("Prefix", func(t *testing.T) {
		all, _ := paginate(t, c.client(2), &s3.ListBucketsInput{MaxBuckets: aws.Int32(2), Prefix: aws.String("lb-a-")})
		if got := bucketNames(all); !slices.Equal(got, names[:3]) {
			t.Fatalf("buckets %v, want %v", got, names[:3])
		}
		out, err := c.client(0).ListBuckets(ctxT(t), &s3.ListBucketsInput{Prefix: aws.String("lb-b-")})
		if err != nil {
			t.Fatal(err)
		}
		if got := bucketNames(out.Buckets); !slices.Equal(got, names[3:]) || aws.ToString(out.Prefix) != "lb-b-" || out.ContinuationToken != nil {
			t.Fatalf("buckets %v, prefix %v, token %v", got, out.Prefix, out.ContinuationToken)
		}
	})

	t.Run("WithoutParametersEverythingAtOnce", func(t *testing.T) {
		out, err := c.client(1).ListBuckets(ctxT(t), &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if got := bucketNames(out.Buckets); !slices.Equal(got, names) || out.ContinuationToken != nil || out.Prefix != nil {
			t.Fatalf("buckets %v, token %v, prefix %v", got, out.ContinuationToken, out.Prefix)
		}
	})

	t.Run("BucketRegion", func(t *testing.T) {
		out, err := c.client(2).ListBuckets(ctxT(t), &s3.ListBucketsInput{BucketRegion: aws.String("us-east-1")})
		if err != nil {
			t.Fatal(err)
		}
		if got := bucketNames(out.Buckets); !slices.Equal(got, names) {
			t.Fatalf("buckets %v, want %v", got, names)
		}
		// Every bucket is in the node's region; S3 refuses another region
		// rather than answering an empty list.
		_, err = c.client(0).ListBuckets(ctxT(t), &s3.ListBucketsInput{BucketRegion: aws.String("eu-west-1")})
		wantAPIError(t, "bucket-region eu-west-1", err, 400, "InvalidArgument")
	})

	t.Run("BadParameters", func(t *testing.T) {
		_, err := c.client(0).ListBuckets(ctxT(t), &s3.ListBucketsInput{ContinuationToken: aws.String("garbage")})
		wantAPIError(t, "bad continuation token", err, 400, "InvalidArgument")
		_, err = c.client(1).ListBuckets(ctxT(t), &s3.ListBucketsInput{MaxBuckets: aws.Int32(0)})
		wantAPIError(t, "max-buckets 0", err, 400, "InvalidArgument")
		_, err = c.client(2).ListBuckets(ctxT(t), &s3.ListBucketsInput{MaxBuckets: aws.Int32(10001)})
		wantAPIError(t, "max-buckets 10001", err, 400, "InvalidArgument")
	})
}

// TestCreateBucketObjectLock: object lock is not implemented, so asking
// for it must create nothing rather than a bucket that does not enforce
// retention.
func TestCreateBucketObjectLock(t *testing.T) {
	c := startCluster(t, 3, nil)
	_, err := c.client(0).CreateBucket(ctxT(t), &s3.CreateBucketInput{
		Bucket:                     aws.String("locked"),
		ObjectLockEnabledForBucket: aws.Bool(true),
	})
	wantAPIError(t, "CreateBucket with object lock", err, 501, "NotImplemented")
	_, err = c.client(1).HeadBucket(ctxT(t), &s3.HeadBucketInput{Bucket: aws.String("locked")})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("HeadBucket after refused create: %v, want NotFound", err)
	}
	out, err := c.client(2).ListBuckets(ctxT(t), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Buckets) != 0 {
		t.Fatalf("buckets after refused create: %+v", out.Buckets)
	}

	if _, err := c.client(0).CreateBucket(ctxT(t), &s3.CreateBucketInput{
		Bucket:                     aws.String("unlocked"),
		ObjectLockEnabledForBucket: aws.Bool(false),
	}); err != nil {
		t.Fatalf("CreateBucket with object lock false: %v", err)
	}
	if _, err := c.client(1).HeadBucket(ctxT(t), &s3.HeadBucketInput{Bucket: aws.String("unlocked")}); err != nil {
		t.Fatalf("HeadBucket unlocked: %v", err)
	}
}
