package matrix

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Pos is a place in the matrix file. Line and Col start at 1; zero means unknown.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"column,omitempty"`
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity of a diagnostic.
type Severity string

const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
)

// Diagnostic is one finding about the matrix, with where it is and what would be valid.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Message)
}

// Diagnostics collects every finding, so a maintainer sees all problems at once.
type Diagnostics []Diagnostic

func (ds *Diagnostics) errorf(p Pos, format string, args ...any) {
	*ds = append(*ds, Diagnostic{Pos: p, Severity: SevError, Message: oneLine(fmt.Sprintf(format, args...))})
}

func (ds *Diagnostics) warnf(p Pos, format string, args ...any) {
	*ds = append(*ds, Diagnostic{Pos: p, Severity: SevWarning, Message: oneLine(fmt.Sprintf(format, args...))})
}

// oneLine keeps a message on one printable line (diagnostics are printed one per line): a
// control character that reached it, say a tab from the YAML parser's text, is written as its
// escape (\t).
func oneLine(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if printable(string(r)) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SevError {
			return true
		}
	}
	return false
}

// Errors returns only the errors; Warnings only the warnings.
func (ds Diagnostics) Errors() Diagnostics   { return ds.only(SevError) }
func (ds Diagnostics) Warnings() Diagnostics { return ds.only(SevWarning) }

func (ds Diagnostics) only(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders diagnostics by position, then message, and drops exact duplicates.
func (ds Diagnostics) Sort() Diagnostics {
	out := append(Diagnostics(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.Message < b.Message
	})
	dedup := out[:0]
	for i, d := range out {
		if i > 0 && d == out[i-1] {
			continue
		}
		dedup = append(dedup, d)
	}
	return dedup
}

// Error renders every diagnostic, one per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, 0, len(ds))
	for _, d := range ds.Sort() {
		lines = append(lines, d.String())
	}
	return strings.Join(lines, "\n")
}

// InvalidError is returned when the matrix has errors; it carries every diagnostic.
type InvalidError struct{ Diagnostics Diagnostics }

func (e *InvalidError) Error() string {
	n := len(e.Diagnostics.Errors())
	return fmt.Sprintf("matrix is invalid (%d error(s)):\n%s", n, e.Diagnostics.Errors().Error())
}

// suggest returns the candidate closest to s, if it is close enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := levenshtein(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if bestD <= limit || (best != "" && strings.HasPrefix(strings.ToLower(best), strings.ToLower(s)) && len(s) >= 3) {
		return best
	}
	return ""
}

func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
