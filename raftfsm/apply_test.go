package raftfsm

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/strongboxdb/strongbox/objstore"
)

// step is one command in an apply scenario with the outcome it must have.
type step struct {
	name string
	cmd  *Command
	want error // nil, an objstore sentinel, or ErrInvalidCommand
}

func runSteps(t *testing.T, f *FSM, s *logSeq, steps []step) {
	t.Helper()
	for _, st := range steps {
		r := applyOne(t, f, s, st.cmd)
		if !errors.Is(r.Err, st.want) || (st.want == nil && r.Err != nil) {
			t.Fatalf("%s: err = %v, want %v", st.name, r.Err, st.want)
		}
	}
}

func withIf(p *objstore.PutRequest, ifMatch, ifNoneMatch string) *objstore.PutRequest {
	p.IfMatch, p.IfNoneMatch = ifMatch, ifNoneMatch
	return p
}

func TestApplyLifecycle(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{
		{"put into missing bucket", NewPutObject(putReq("b", "k", "x")), objstore.ErrNoSuchBucket},
		{"delete from missing bucket", NewDeleteObject("b", "k"), objstore.ErrNoSuchBucket},
		{"delete missing bucket", NewDeleteBucket("b"), objstore.ErrNoSuchBucket},
		{"create", NewCreateBucket("b"), nil},
		{"create again", NewCreateBucket("b"), objstore.ErrBucketExists},
		{"put", NewPutObject(putReq("b", "k", "v1")), nil},
	})

	bi, err := f.GetBucket("b")
	if err != nil || bi.Name != "b" || !bi.Created.Equal(time.Unix(4, 0)) {
		t.Fatalf("GetBucket = %+v, %v", bi, err)
	}
	info, body, err := f.GetObject("b", "k")
	if err != nil || string(body) != "v1" || info.ETag != etagOf("v1") || info.Size != 2 ||
		info.ContentType != "text/plain" || !info.LastModified.Equal(time.Unix(6, 0)) {
		t.Fatalf("GetObject = %+v, %q, %v", info, body, err)
	}

	// Overwrite: new body, new time, result carries the stored record.
	p := putReq("b", "k", "version two")
	p.Info.UserMeta = map[string]string{"color": "blue"}
	p.Info.Headers = map[string]string{"Cache-Control": "max-age=1"}
	p.Info.Checksums = map[string]string{"crc32": "AAAAAA=="}
	r := applyOne(t, f, &s, NewPutObject(p))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	head, err := f.HeadObject("b", "k")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(head, r.Object) {
		t.Fatalf("HeadObject %+v\n   result %+v", head, r.Object)
	}
	if head.Key != "k" || head.UserMeta["color"] != "blue" || head.Headers["Cache-Control"] != "max-age=1" ||
		head.Checksums["crc32"] != "AAAAAA==" || !head.LastModified.Equal(time.Unix(7, 0)) {
		t.Fatalf("overwritten record %+v", head)
	}

	runSteps(t, f, &s, []step{
		{"delete bucket not empty", NewDeleteBucket("b"), objstore.ErrBucketNotEmpty},
		{"delete object", NewDeleteObject("b", "k"), nil},
		{"delete object again", NewDeleteObject("b", "k"), nil},
	})
	if _, _, err := f.GetObject("b", "k"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Fatalf("GetObject after delete: %v", err)
	}
	if _, err := f.HeadObject("nope", "k"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("HeadObject missing bucket: %v", err)
	}
	runSteps(t, f, &s, []step{
		{"delete empty bucket", NewDeleteBucket("b"), nil},
		{"noop", NewNoop(), nil},
	})
	if _, err := f.GetBucket("b"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("GetBucket after delete: %v", err)
	}
	if _, err := f.ListObjects("b", objstore.ListOptions{MaxKeys: 10}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("ListObjects after delete: %v", err)
	}
	// Re-creating starts empty.
	runSteps(t, f, &s, []step{{"recreate", NewCreateBucket("b"), nil}})
	if res, err := f.ListObjects("b", objstore.ListOptions{MaxKeys: 10}); err != nil || len(res.Objects) != 0 {
		t.Fatalf("recreated bucket lists %+v, %v", res, err)
	}
	if got := f.AppliedIndex(); got != s.index {
		t.Fatalf("AppliedIndex = %d, want %d", got, s.index)
	}
}

func TestApplyConditionalPut(t *testing.T) {
	const body = "original"
	quoted := `"` + etagOf(body) + `"`
	tests := []struct {
		name        string
		key         string // "k" exists with body "original"; "new" does not
		ifMatch     string
		ifNoneMatch string
		want        error
	}{
		{"if-none-match * on existing", "k", "", "*", objstore.ErrPreconditionFailed},
		{"if-none-match * on missing", "new", "", "*", nil},
		{"if-match right etag bare", "k", etagOf(body), "", nil},
		{"if-match right etag quoted", "k", quoted, "", nil},
		{"if-match right etag weak", "k", "W/" + quoted, "", nil},
		{"if-match wrong etag", "k", `"0123"`, "", objstore.ErrPreconditionFailed},
		{"if-match star on existing", "k", "*", "", nil},
		{"if-match on missing key", "new", quoted, "", objstore.ErrNoSuchKey},
		{"if-match star on missing key", "new", "*", "", objstore.ErrNoSuchKey},
		{"if-none-match matching etag", "k", "", quoted, objstore.ErrPreconditionFailed},
		{"if-none-match other etag", "k", "", `"0123"`, nil},
		{"both, if-match fails first", "k", `"0123"`, "*", objstore.ErrPreconditionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openFSM(t)
			var s logSeq
			runSteps(t, f, &s, []step{
				{"create", NewCreateBucket("b"), nil},
				{"put", NewPutObject(putReq("b", "k", body)), nil},
			})
			before := dump(t, f)
			r := applyOne(t, f, &s, NewPutObject(withIf(putReq("b", tt.key, "replacement"), tt.ifMatch, tt.ifNoneMatch)))
			if !errors.Is(r.Err, tt.want) || (tt.want == nil && r.Err != nil) {
				t.Fatalf("err = %v, want %v", r.Err, tt.want)
			}
			_, got, err := f.GetObject("b", tt.key)
			switch {
			case tt.want == nil:
				if err != nil || string(got) != "replacement" {
					t.Fatalf("after successful put: %q, %v", got, err)
				}
			default:
				// A failed condition changes nothing but the applied index.
				after := dump(t, f)
				if trimApplied(after) != trimApplied(before) {
					t.Fatalf("failed put changed state:\n%s\n---\n%s", before, after)
				}
				if !r.Object.LastModified.IsZero() {
					t.Fatalf("failed put returned an object: %+v", r.Object)
				}
			}
		})
	}
}

// trimApplied drops the lines that change with every entry (the meta
// bucket and the applied index) so dumps compare data only.
func trimApplied(d string) string {
	var sb strings.Builder
	for line := range strings.Lines(d) {
		if !strings.HasPrefix(line, "meta ") && !strings.HasPrefix(line, "applied=") {
			sb.WriteString(line)
		}
	}
	return sb.String()
}

func TestApplyInvalidEntries(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	runSteps(t, f, &s, []step{{"create", NewCreateBucket("b"), nil}})
	before := trimApplied(dump(t, f))

	badSize := putReq("b", "k", "body")
	badSize.Info.Size = 99
	logs := []*raft.Log{
		s.next(raft.LogCommand, []byte("not a command")),
		s.next(raft.LogCommand, nil),
		s.next(raft.LogCommand, []byte{commandVersion, 200, 0, 0, 0, 0, 0, 0, 0, 0}),
		s.cmd(NewCreateBucket("")),
		s.cmd(NewPutObject(putReq("b", "", "x"))),
		s.cmd(NewPutObject(badSize)),
		s.cmd(NewDeleteObject("b", "")),
		s.next(raft.LogConfiguration, []byte("opaque")),
	}
	rs := applyBatch(t, f, logs)
	for i, r := range rs[:len(rs)-1] {
		if !errors.Is(r.Err, ErrInvalidCommand) {
			t.Errorf("entry %d: err = %v, want ErrInvalidCommand", i, r.Err)
		}
	}
	if rs[len(rs)-1].Err != nil {
		t.Errorf("configuration entry: %v", rs[len(rs)-1].Err)
	}
	if got := f.AppliedIndex(); got != s.index {
		t.Fatalf("AppliedIndex = %d, want %d (invalid entries still advance it)", got, s.index)
	}
	if after := trimApplied(dump(t, f)); after != before {
		t.Fatalf("invalid entries changed state")
	}
	// The FSM keeps working.
	runSteps(t, f, &s, []step{{"put", NewPutObject(putReq("b", "k", "ok")), nil}})
}

func TestStoreConfigurationAdvancesIndex(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.StoreConfiguration(5, raft.Configuration{})
	if got := f.AppliedIndex(); got != 5 {
		t.Fatalf("AppliedIndex = %d, want 5", got)
	}
	f.StoreConfiguration(3, raft.Configuration{}) // never goes back
	if got := f.AppliedIndex(); got != 5 {
		t.Fatalf("AppliedIndex = %d after an older configuration, want 5", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.AppliedIndex(); got != 5 {
		t.Fatalf("AppliedIndex after reopen = %d, want 5", got)
	}
}

func TestApplyAfterClose(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if r := applyOne(t, f, &s, NewNoop()); !errors.Is(r.Err, ErrClosed) {
		t.Fatalf("Apply after Close: %v", r.Err)
	}
	if _, err := f.ListBuckets(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ListBuckets after Close: %v", err)
	}
	if _, err := f.Snapshot(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Snapshot after Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestListBucketsSorted(t *testing.T) {
	f := openFSM(t)
	var s logSeq
	names := []string{"zeta", "alpha", "Beta", "mid-1", "mid.0"}
	for _, n := range names {
		runSteps(t, f, &s, []step{{"create " + n, NewCreateBucket(n), nil}})
	}
	got, err := f.ListBuckets()
	if err != nil {
		t.Fatal(err)
	}
	var gotNames []string
	for _, b := range got {
		gotNames = append(gotNames, b.Name)
	}
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(gotNames, want) {
		t.Fatalf("ListBuckets = %v, want %v", gotNames, want)
	}
}
