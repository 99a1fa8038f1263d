package node

import (
	"maps"
	"slices"
	"testing"
)

func TestPartitionRules(t *testing.T) {
	members := []string{"a", "b", "c", "d", "e"}
	tests := []struct {
		name   string
		groups [][]string
		want   map[string][]string
	}{
		{"isolate", [][]string{{"a"}, {"b", "c", "d", "e"}}, map[string][]string{
			"a": {"b", "c", "d", "e"}, "b": {"a"}, "c": {"a"}, "d": {"a"}, "e": {"a"}}},
		{"majority-minority", [][]string{{"a", "b"}, {"c", "d", "e"}}, map[string][]string{
			"a": {"c", "d", "e"}, "b": {"c", "d", "e"}, "c": {"a", "b"}, "d": {"a", "b"}, "e": {"a", "b"}}},
		{"bridge", [][]string{{"a", "b", "c"}, {"c", "d", "e"}}, map[string][]string{
			"a": {"d", "e"}, "b": {"d", "e"}, "c": {}, "d": {"a", "b"}, "e": {"a", "b"}}},
		{"one group", [][]string{members}, map[string][]string{
			"a": {}, "b": {}, "c": {}, "d": {}, "e": {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PartitionRules(members, tt.groups)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(got, tt.want, slices.Equal) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}
	if _, err := PartitionRules(members, [][]string{{"a", "b"}, {"c", "d"}}); err == nil {
		t.Error("member e in no group: want an error")
	}
	if _, err := PartitionRules(members, [][]string{{"a", "b", "c", "d", "e", "zz"}}); err == nil {
		t.Error("unknown member: want an error")
	}
}
