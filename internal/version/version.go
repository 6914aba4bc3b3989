// Package version compares dotted numeric versions ("12.8", "570.124.06",
// "9.10.2.21") the way NVIDIA and PyTorch tooling does: number by number,
// missing trailing numbers count as zero.
package version

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var dotted = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,9}){0,5}$`)

// Valid reports whether s is a dotted numeric version such as "12.8" or "570.124.06".
func Valid(s string) bool { return dotted.MatchString(s) }

// Parse splits a dotted numeric version into its numbers.
func Parse(s string) ([]int, error) {
	if !Valid(s) {
		return nil, fmt.Errorf("version %q: want numbers separated by dots, like 12.8 or 570.124.06", s)
	}
	parts := strings.Split(s, ".")
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("version %q: %w", s, err)
		}
		out[i] = n
	}
	return out, nil
}

// Compare returns -1, 0 or +1 as a is lower than, equal to or higher than b.
// Both must be valid (see Valid); an invalid side sorts before a valid one.
func Compare(a, b string) int {
	x, errA := Parse(a)
	y, errB := Parse(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	for i := 0; i < len(x) || i < len(y); i++ {
		var p, q int
		if i < len(x) {
			p = x[i]
		}
		if i < len(y) {
			q = y[i]
		}
		if p != q {
			if p < q {
				return -1
			}
			return 1
		}
	}
	return 0
}

// MajorMinor returns the first two numbers of v ("12.8.1" -> "12.8").
func MajorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// HasPrefix reports whether v starts with every number of prefix
// ("9.10.2.21" has prefix "9.10.2"; "12.10" does not have prefix "12.1").
func HasPrefix(v, prefix string) bool {
	x, err1 := Parse(v)
	y, err2 := Parse(prefix)
	if err1 != nil || err2 != nil || len(y) > len(x) {
		return false
	}
	for i := range y {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
