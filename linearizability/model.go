package linearizability

import (
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// The register model: one object key is a register holding a value or
// nothing (absent, the empty string: the workload never writes "").
// Partitioned by key, because operations on different keys commute; so a
// history is linearizable for it iff every key's sub-history is.
//
// Step rules, for a state s and an operation op (its input and output are
// the same *Op):
//
//	get -> absent       ok iff s is absent
//	get -> v            ok iff s == v
//	put v               ok or unknown: s becomes v
//	delete              ok or unknown: s becomes absent
//	put-if-absent v     ok: s was absent, becomes v; fail: s was present
//	put-if-match e v    ok: s == e, becomes v; fail 412: s present and != e;
//	                    fail 404: s absent
//	unknown conditional puts apply iff their condition holds
//	other definite failures: no constraint, no effect
//
// An unknown write returns at "infinity" (see toOperations), so it may
// linearize at any point after its call, including after every other
// operation, which is the same as never: a deterministic step function is
// enough to model "may or may not have happened".
var registerModel = porcupine.Model{
	Partition: partitionBy(func(op *Op) string { return op.Key }),
	Init:      func() any { return "" },
	Step: func(state, input, _ any) (bool, any) {
		ok, next := stepRegister(state.(string), input.(*Op))
		return ok, next
	},
	Hash:              func(state any) uint64 { return hashString(state.(string)) },
	DescribeOperation: func(input, _ any) string { return input.(*Op).String() },
	DescribeState: func(state any) string {
		if state.(string) == "" {
			return "absent"
		}
		return state.(string)
	},
}

func stepRegister(s string, op *Op) (bool, string) {
	switch op.Kind {
	case Get:
		if !op.Found {
			return s == "", s
		}
		return s == op.Result, s
	case Put:
		return true, op.Value
	case Delete:
		return true, ""
	case PutIfAbsent:
		switch op.Outcome {
		case OK:
			return s == "", op.Value
		case Fail:
			if op.Status == 412 {
				return s != "", s
			}
			return true, s
		default:
			if s == "" {
				return true, op.Value
			}
			return true, s
		}
	case PutIfMatch:
		switch op.Outcome {
		case OK:
			return s == op.Expect, op.Value
		case Fail:
			switch op.Status {
			case 412:
				return s != "" && s != op.Expect, s
			case 404:
				return s == "", s
			}
			return true, s
		default:
			if s == op.Expect {
				return true, op.Value
			}
			return true, s
		}
	}
	return false, s
}

// The listing model: the set of keys under one prefix, with their values
// (a listing reports ETags, which identify values because every written
// value is unique). Its operations are every write to a key under the
// prefix and every List of the prefix; a List must show exactly the
// state. Partitioned by prefix: the workload lists disjoint prefixes
// ("g000/p0/", "g000/p1/", ...) and a key belongs to the prefix ending at
// its last "/".
//
// The state is a canonical string (sorted "key=value" entries), so states
// compare with == and hash cheaply.
var listModel = porcupine.Model{
	Partition: partitionBy(func(op *Op) string { return listPrefix(op) }),
	Init:      func() any { return "" },
	Step: func(state, input, _ any) (bool, any) {
		op := input.(*Op)
		m := decodeKV(state.(string))
		if op.Kind == List {
			return maps.Equal(m, op.Listed), state
		}
		ok, next := stepRegister(m[op.Key], op)
		if !ok {
			return false, state
		}
		if next == "" {
			delete(m, op.Key)
		} else {
			m[op.Key] = next
		}
		return true, encodeKV(m)
	},
	Hash:              func(state any) uint64 { return hashString(state.(string)) },
	DescribeOperation: func(input, _ any) string { return input.(*Op).String() },
	DescribeState:     func(state any) string { return describeMap(decodeKV(state.(string))) },
}

// listPrefix is the listing partition an operation belongs to: a List's
// prefix, or a key up to its last "/".
func listPrefix(op *Op) string {
	if op.Kind == List {
		return op.Key
	}
	return op.Key[:strings.LastIndexByte(op.Key, '/')+1]
}

func encodeKV(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String()
}

func decodeKV(s string) map[string]string {
	m := map[string]string{}
	parts := strings.Split(s, "\x00")
	for i := 0; i+1 < len(parts); i += 2 {
		m[parts[i]] = parts[i+1]
	}
	return m
}

func describeMap(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// partitionBy groups porcupine operations (whose Input is an *Op) by a key
// of the Op, in order of first appearance.
func partitionBy(key func(*Op) string) func([]porcupine.Operation) [][]porcupine.Operation {
	return func(history []porcupine.Operation) [][]porcupine.Operation {
		idx := map[string]int{}
		var out [][]porcupine.Operation
		for _, o := range history {
			k := key(o.Input.(*Op))
			i, ok := idx[k]
			if !ok {
				i = len(out)
				idx[k] = i
				out = append(out, nil)
			}
			out[i] = append(out[i], o)
		}
		return out
	}
}
