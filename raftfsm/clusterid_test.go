package raftfsm

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestSetClusterIDFirstWins(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.ClusterID(); ok {
		t.Fatal("a new store has a cluster ID")
	}
	var s logSeq
	first, second := [ClusterIDLen]byte{1, 2, 3}, [ClusterIDLen]byte{9}
	if r := applyOne(t, f, &s, NewSetClusterID([ClusterIDLen]byte{})); !errors.Is(r.Err, ErrInvalidCommand) {
		t.Fatalf("all-zero ID: %v", r.Err)
	}
	if _, ok := f.ClusterID(); ok {
		t.Fatal("all-zero ID recorded")
	}
	if r := applyOne(t, f, &s, NewSetClusterID(first)); r.Err != nil {
		t.Fatal(r.Err)
	}
	// A second one, proposed by a leader that had not seen the first, is
	// a no-op, on every node alike.
	if r := applyOne(t, f, &s, NewSetClusterID(second)); r.Err != nil {
		t.Fatal(r.Err)
	}
	if id, ok := f.ClusterID(); !ok || id != first {
		t.Fatalf("cluster ID %x %v, want %x", id, ok, first)
	}
	snap := snapshotBytes(t, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if id, ok := f.ClusterID(); !ok || id != first {
		t.Fatalf("after reopen: %x %v", id, ok)
	}

	// A snapshot carries it to a node that has none, and replaces it in
	// one that has another (the snapshot is the cluster's state).
	dst := openFSM(t)
	applyOne(t, dst, &logSeq{}, NewSetClusterID(second))
	if err := dst.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if id, ok := dst.ClusterID(); !ok || id != first {
		t.Fatalf("after restore: %x %v", id, ok)
	}
	empty := snapshotBytes(t, openFSM(t))
	if err := dst.Restore(io.NopCloser(bytes.NewReader(empty))); err != nil {
		t.Fatal(err)
	}
	if _, ok := dst.ClusterID(); ok {
		t.Fatal("restoring a snapshot without cluster ID kept the old one")
	}
}

func TestSetClusterIDDecoding(t *testing.T) {
	good := NewSetClusterID([ClusterIDLen]byte{7}).Marshal()
	v4 := bytes.Clone(good)
	v4[0] = 4
	short := append(bytes.Clone(good[:headerLen]), 15)
	short = append(short, make([]byte, 15)...)
	for name, data := range map[string][]byte{
		"version 4 envelope": v4,
		"15-byte ID":         short,
		"trailing byte":      append(bytes.Clone(good), 0),
		"truncated":          good[:len(good)-1],
	} {
		if c, err := UnmarshalCommand(data); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%s: %+v, %v; want ErrInvalidCommand", name, c, err)
		}
	}
}
