package raftfsm

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/strongboxdb/strongbox/objstore"
)

// BenchmarkApplyBatchPut4K measures group commit: one op is one ApplyBatch
// of 32 PUTs of 4 KiB, i.e. one bbolt transaction and one fsync pair.
func BenchmarkApplyBatchPut4K(b *testing.B) {
	const batch, keys = 32, 4096
	f := openFSM(b)
	var s logSeq
	applyOne(b, f, &s, NewCreateBucket("bench"))

	// Encoded commands are built up front: proposing is the node's cost.
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096/16)
	payloads := make([][]byte, keys)
	for i := range payloads {
		p := putReq("bench", fmt.Sprintf("objects/%06d", i), "")
		p.Body, p.Info.Size = body, int64(len(body))
		payloads[i] = NewPutObject(p).Marshal()
	}
	logs := make([]*raft.Log, batch)
	for i := range logs {
		logs[i] = &raft.Log{Type: raft.LogCommand, Term: 1}
	}
	b.SetBytes(batch * int64(len(body)))
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for _, l := range logs {
			s.index++
			l.Index, l.Data = s.index, payloads[n%keys]
			n++
		}
		for _, r := range f.ApplyBatch(logs) {
			if err := r.(*Result).Err; err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/put")
}

// BenchmarkListPage1000 lists 1,000-entry pages starting at spread-out
// positions of buckets of different sizes. The cost per page should be the
// same for 10k and 100k keys: the walk seeks, it does not scan.
func BenchmarkListPage1000(b *testing.B) {
	type bucket struct {
		name string
		keys []string
	}
	sizes := []int{10_000, 100_000}
	f := openFSM(b)
	var s logSeq
	var buckets []bucket
	for _, n := range sizes {
		bk := bucket{name: fmt.Sprintf("b%d", n)}
		for i := range n {
			bk.keys = append(bk.keys, fmt.Sprintf("objects/%08d", i))
		}
		fillBucket(b, f, &s, bk.name, bk.keys, 10_000)
		buckets = append(buckets, bk)
	}
	// A bucket where 100k keys roll up into one common prefix next to
	// 1,000 plain keys: the page must jump over the 100k, not visit them.
	rollup := []string{}
	for i := range 100_000 {
		rollup = append(rollup, fmt.Sprintf("deep/%08d", i))
	}
	for i := range 1000 {
		rollup = append(rollup, fmt.Sprintf("top-%04d", i))
	}
	fillBucket(b, f, &s, "rollup", rollup, 10_000)

	for _, bk := range buckets {
		b.Run(fmt.Sprintf("keys=%d", len(bk.keys)), func(b *testing.B) {
			i := 0
			for b.Loop() {
				// Start positions stride through the bucket.
				start := bk.keys[(i*7919)%(len(bk.keys)-1000)]
				i++
				res, err := f.ListObjects(bk.name, objstore.ListOptions{StartAfter: start, MaxKeys: 1000})
				if err != nil || len(res.Objects) != 1000 {
					b.Fatalf("%d objects, %v", len(res.Objects), err)
				}
			}
		})
	}
	b.Run("rollup=100000", func(b *testing.B) {
		for b.Loop() {
			res, err := f.ListObjects("rollup", objstore.ListOptions{Delimiter: "/", MaxKeys: 1000})
			if err != nil || len(res.Objects)+len(res.CommonPrefixes) != 1000 {
				b.Fatalf("%d entries, %v", len(res.Objects)+len(res.CommonPrefixes), err)
			}
		}
	})
}
