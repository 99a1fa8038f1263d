package linearizability

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Weighted mixes of kinds, shared by the linearizability workload (Mix
// over Kind) and the crash test (CrashMix over CrashKind). kinds fixes
// the order of String and of pick's draw, so a seed replays the same
// choices.

// parseWeights reads "kind=weight,..." over kinds (kinds not named get
// weight 0); at least one weight must be positive.
func parseWeights[K ~string](s string, kinds []K) (map[K]int, error) {
	m := map[K]int{}
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || !slices.Contains(kinds, K(name)) {
			return nil, fmt.Errorf("bad mix entry %q: want KIND=WEIGHT with KIND one of %v", part, kinds)
		}
		m[K(name)] = n
	}
	total := 0
	for _, w := range m {
		total += w
	}
	if total == 0 {
		return nil, errors.New("mix: all weights are zero")
	}
	return m, nil
}

// weightsString is the inverse of parseWeights, leaving out zero weights.
func weightsString[K ~string](m map[K]int, kinds []K) string {
	var parts []string
	for _, k := range kinds {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
		}
	}
	return strings.Join(parts, ",")
}

// pickWeighted draws a kind with probability proportional to its weight.
// m must have a positive weight (parseWeights ensures it).
func pickWeighted[K ~string](m map[K]int, kinds []K, r *rand.Rand) K {
	total := 0
	for _, k := range kinds {
		total += m[k]
	}
	n := r.IntN(total)
	for _, k := range kinds {
		if n < m[k] {
			return k
		}
		n -= m[k]
	}
	return kinds[0]
}
