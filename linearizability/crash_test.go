package linearizability

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A body regenerates identically from its seed, at any offset, and its
// digests are the SHA-256 and the ETag S3 computes (plain MD5, or the MD5
// of the part MD5s with the part count).
func TestCrashBody(t *testing.T) {
	const size = 2*MinPartSize + 12345
	b := newBody(42, "w01/000007", 7, size)
	whole := make([]byte, size)
	if n, err := b.ReadAt(whole, 0); n != size || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt whole: %d, %v", n, err)
	}
	if !bytes.HasPrefix(whole, []byte("sbcrash w01/000007 w7 10498105\n")) {
		t.Fatalf("header %q", whole[:40])
	}
	if again := newBody(42, "w01/000007", 7, size); !bytes.Equal(readAll(t, again), whole) {
		t.Fatal("same seed, different bytes")
	}
	if other := newBody(43, "w01/000007", 7, size); bytes.Equal(readAll(t, other)[64:4096], whole[64:4096]) {
		t.Fatal("different seeds, same bytes")
	}
	for _, off := range []int64{0, 1, 15, 16, 17, 31, 1000, MinPartSize - 1, MinPartSize, size - 17, size - 1} {
		p := make([]byte, 33)
		n, _ := b.ReadAt(p, off)
		want := whole[off:min(off+33, size)]
		if !bytes.Equal(p[:n], want) {
			t.Fatalf("ReadAt(%d) differs from the whole body", off)
		}
	}
	if n, err := b.ReadAt(make([]byte, 10), size); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt past the end: %d, %v", n, err)
	}

	sum := sha256.Sum256(whole)
	single := md5.Sum(whole)
	if d := b.digest(0); d.SHA256 != hex.EncodeToString(sum[:]) || d.ETag != hex.EncodeToString(single[:]) {
		t.Fatalf("digest(0) = %+v", d)
	}
	var partMD5s []byte
	for off := 0; off < size; off += MinPartSize {
		m := md5.Sum(whole[off:min(off+MinPartSize, size)])
		partMD5s = append(partMD5s, m[:]...)
	}
	multi := md5.Sum(partMD5s)
	if d := b.digest(MinPartSize); d.SHA256 != hex.EncodeToString(sum[:]) || d.ETag != hex.EncodeToString(multi[:])+"-3" {
		t.Fatalf("digest(part) = %+v", d)
	}

	if off := b.firstDifference(bytes.NewReader(whole)); off != -1 {
		t.Fatalf("identical body differs at %d", off)
	}
	flipped := slices.Clone(whole)
	flipped[MinPartSize+3] ^= 1
	if off := b.firstDifference(bytes.NewReader(flipped)); off != MinPartSize+3 {
		t.Fatalf("flipped byte found at %d", off)
	}
	if off := b.firstDifference(bytes.NewReader(whole[:1000])); off != 1000 {
		t.Fatalf("truncated body differs at %d, want 1000", off)
	}
	if off := b.firstDifference(io.MultiReader(bytes.NewReader(whole), strings.NewReader("x"))); off != size {
		t.Fatalf("extended body differs at %d, want %d", off, size)
	}
	if h := headerOf(whole); h != "sbcrash w01/000007 w7 10498105" {
		t.Fatalf("headerOf = %q", h)
	}
}

func readAll(t *testing.T, b *body) []byte {
	t.Helper()
	out, err := io.ReadAll(io.NewSectionReader(b, 0, b.size))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The final state of a key is judged against the ack order: the last
// acknowledged write (or one not ordered before another acknowledged
// one), or any unknown write; never a refused write, a superseded one,
// or bytes no write produced.
func TestCrashJudge(t *testing.T) {
	w := func(id int, outcome string, call, ret int64) CrashWrite {
		return CrashWrite{ID: id, Key: "k", Outcome: outcome, Call: call, Return: ret, Size: int64(100 + id),
			SHA256: fmt.Sprintf("sha%d", id), ETag: fmt.Sprintf("etag%d", id)}
	}
	has := func(id int) observation {
		return observation{Found: true, SHA256: fmt.Sprintf("sha%d", id), ETag: fmt.Sprintf("etag%d", id), Size: int64(100 + id)}
	}
	absent := observation{}
	cases := []struct {
		name   string
		writes []CrashWrite
		obs    observation
		want   string
	}{
		{"acked present", []CrashWrite{w(1, Acked, 0, 10)}, has(1), ClassOK},
		{"acked absent", []CrashWrite{w(1, Acked, 0, 10)}, absent, ClassLost},
		{"unknown absent", []CrashWrite{w(1, Indefinite, 0, 10)}, absent, ClassOK},
		{"unknown present", []CrashWrite{w(1, Indefinite, 0, 10)}, has(1), ClassOK},
		{"refused absent", []CrashWrite{w(1, Refused, 0, 10)}, absent, ClassOK},
		{"refused present", []CrashWrite{w(1, Refused, 0, 10)}, has(1), ClassCorrupt},
		{"foreign bytes", []CrashWrite{w(1, Indefinite, 0, 10)}, has(9), ClassCorrupt},
		{"right bytes, wrong ETag", []CrashWrite{w(1, Acked, 0, 10)}, observation{Found: true, SHA256: "sha1", ETag: "x", Size: 101}, ClassCorrupt},
		{"right bytes, wrong size", []CrashWrite{w(1, Acked, 0, 10)}, observation{Found: true, SHA256: "sha1", ETag: "etag1", Size: 7}, ClassCorrupt},
		{"unreadable", []CrashWrite{w(1, Indefinite, 0, 10)}, observation{Err: "503"}, ClassUnreadable},
		{"acked unreadable", []CrashWrite{w(1, Acked, 0, 10)}, observation{Err: "503"}, ClassLost},
		{"sequential: last wins", []CrashWrite{w(1, Acked, 0, 10), w(2, Acked, 20, 30)}, has(2), ClassOK},
		{"sequential: first is stale", []CrashWrite{w(1, Acked, 0, 10), w(2, Acked, 20, 30)}, has(1), ClassLost},
		{"concurrent: either", []CrashWrite{w(1, Acked, 0, 30), w(2, Acked, 10, 20)}, has(1), ClassOK},
		{"concurrent: or the other", []CrashWrite{w(1, Acked, 0, 30), w(2, Acked, 10, 20)}, has(2), ClassOK},
		{"earlier unknown may land last", []CrashWrite{w(1, Indefinite, 0, 10), w(2, Acked, 20, 30)}, has(1), ClassOK},
		{"acked then unknown, absent", []CrashWrite{w(1, Acked, 0, 10), w(2, Indefinite, 20, 30)}, absent, ClassLost},
		{"later refused never lands", []CrashWrite{w(1, Acked, 0, 10), w(2, Refused, 20, 30)}, has(2), ClassCorrupt},
		{"acked with a wrong ETag", []CrashWrite{func() CrashWrite { x := w(1, Acked, 0, 10); x.Error = "acknowledged with ETag y"; return x }()}, has(1), ClassCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := groupWrites(tc.writes)["k"]
			if got, detail := k.judge("k", tc.obs); got != tc.want {
				t.Fatalf("judge = %s (%s), want %s", got, detail, tc.want)
			}
		})
	}
}

// crashOptions is a short crash test against local processes.
func crashOptions(t *testing.T) CrashOptions {
	return CrashOptions{
		Binary: strongboxBinary(t), AccessKey: "test-access", SecretKey: "test-secret",
		Out: t.TempDir(), Progress: testWriter{t}, Seed: 9,
		Workload: CrashWorkloadOptions{Writers: 4, Rate: 15, MaxLarge: 1 << 20,
			Mix: CrashMix{CrashSmall: 72, CrashLarge: 18, CrashMultipart: 10}},
	}
}

// The short crash test that `make test` runs (`make crash` runs the long
// one): writes of every kind while the leader, a follower and then every
// node at once are killed with SIGKILL, a final whole-cluster crash, and
// then every acknowledged write must read back, byte for byte, from every
// node, and nothing refused or partial may show.
func TestCrashShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clusters of real processes")
	}
	o := crashOptions(t)
	o.Duration = 14 * time.Second
	o.FaultDuration = 700 * time.Millisecond
	o.Schedule = []Step{
		{At: Duration(2 * time.Second), Nemesis: NemesisKill, Target: "leader", Duration: Duration(700 * time.Millisecond)},
		{At: Duration(5 * time.Second), Nemesis: NemesisKill, Target: "follower", Duration: Duration(700 * time.Millisecond)},
		{At: Duration(8 * time.Second), Nemesis: NemesisKillAll, Duration: Duration(700 * time.Millisecond)},
		{At: Duration(11 * time.Second), Nemesis: NemesisKill, Target: "leader", Duration: Duration(700 * time.Millisecond)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := RunCrash(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Verdict != "ok" || s.Lost != 0 || s.Corrupt != 0 {
		t.Fatalf("verdict %s: lost %d, corrupt %d, findings %+v (report %s)", s.Verdict, s.Lost, s.Corrupt, s.Findings, s.Dir)
	}
	if s.Kills != 4 || s.ClusterKills != 1 || s.LeaderKills < 3 || s.FaultErrors != 0 {
		t.Fatalf("kills %d (leader %d, whole cluster %d, errors %d), want the 4 scheduled", s.Kills, s.LeaderKills, s.ClusterKills, s.FaultErrors)
	}
	for _, k := range CrashKinds {
		if s.ByKind[k][Acked] == 0 {
			t.Errorf("no acknowledged %s write: %v", k, s.ByKind)
		}
	}
	if s.Overwritten == 0 {
		t.Error("no key was written twice")
	}
	for id, n := range s.Verified {
		if n != s.Keys || s.Present[id] == 0 {
			t.Errorf("node %s verified %d of %d keys (%d present)", id, n, s.Keys, s.Present[id])
		}
	}
	if len(s.Verified) != 3 {
		t.Errorf("verified on %d nodes, want 3", len(s.Verified))
	}
}

// The verification is not blind: with one blob's bytes flipped and
// another blob deleted on every node while the cluster is down, every
// node must report both objects, and the run must fail.
func TestCrashCatchesDamage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts clusters of real processes")
	}
	o := crashOptions(t)
	o.Duration = 4 * time.Second
	o.Interval = time.Hour // no kills: only the damage
	o.Workload.Mix = CrashMix{CrashLarge: 1}
	o.Workload.OverwritePct = -1
	var flipped, deleted string
	o.tamper = func(nodesDir string) error {
		var err error
		flipped, deleted, err = damageBlobs(nodesDir)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := RunCrash(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Verdict != "fail" {
		t.Fatalf("verdict %s after blob %s was flipped and %s deleted on every node", s.Verdict, flipped, deleted)
	}
	// Per node: both are lost. Blob files carry chunk checksums, so the
	// flipped copy is detected and never served (every node's copy is
	// damaged, so the read fails); the deleted one is gone everywhere.
	if s.Lost != 2*3 || s.Corrupt != 0 {
		t.Fatalf("lost %d, corrupt %d, want both blobs reported on each of 3 nodes: %+v", s.Lost, s.Corrupt, s.Findings)
	}
}

// damageBlobs flips a byte in the middle of one blob and deletes another,
// on every node that holds them, and returns their IDs.
func damageBlobs(nodesDir string) (flipped, deleted string, err error) {
	paths := map[string][]string{}
	err = filepath.WalkDir(nodesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Blob files only: their checksum files (<id>.crc) sit beside them.
		if !d.IsDir() && !strings.Contains(d.Name(), ".") && filepath.Base(filepath.Dir(filepath.Dir(p))) == "blobs" {
			paths[d.Name()] = append(paths[d.Name()], p)
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	var ids []string
	for id := range paths {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) < 2 {
		return "", "", fmt.Errorf("only %d blobs to damage", len(ids))
	}
	flipped, deleted = ids[0], ids[1]
	for _, p := range paths[flipped] {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return "", "", err
		}
		fi, _ := f.Stat()
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, fi.Size()/2); err != nil {
			return "", "", err
		}
		b[0] ^= 0x40
		if _, err := f.WriteAt(b, fi.Size()/2); err != nil {
			return "", "", err
		}
		f.Close()
	}
	for _, p := range paths[deleted] {
		if err := os.Remove(p); err != nil {
			return "", "", err
		}
	}
	return flipped, deleted, nil
}
