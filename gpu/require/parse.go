package require

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Key is what a condition tests.
type Key string

// The keys libnvidia-container knows (configure.c rules[]). Keys are matched
// case-insensitively.
const (
	KeyCUDA   Key = "cuda"   // CUDA version the driver supports (nvmlSystemGetCudaDriverVersion, "12.4")
	KeyDriver Key = "driver" // driver version (nvmlSystemGetDriverVersion, "550.54.15")
	KeyArch   Key = "arch"   // compute capability of the device ("9.0")
	KeyBrand  Key = "brand"  // brand of the device, as libnvidia-container names it (see RuntimeBrand)
)

var validKeys = "cuda, driver, arch, brand"

// Op is a comparison operator.
type Op string

// The operators of dsl.c.
const (
	OpEq Op = "="
	OpNe Op = "!="
	OpLt Op = "<"
	OpLe Op = "<="
	OpGt Op = ">"
	OpGe Op = ">="
)

var validOps = "=, !=, <, <=, >, >="

// opChars are the characters dsl.c treats as the operator.
const opChars = "<>=!"

// exprMax is dsl.c's EXPR_MAX: a failing condition whose "key op value" text
// does not fit in 127 characters turns into "invalid expression".
const exprMax = 128

// Condition is one "key op value" test.
type Condition struct {
	Text   string // as written, e.g. "driver>=565"
	Offset int    // byte offset of Text in the requirement
	Key    Key    // canonical lower-case key
	Op     Op     // canonical operator (a lone "!" is read as "!=", as dsl.c does)
	Value  string // as written

	keyText string // the key as written (dsl.c prints it in messages)
	err     error  // dsl.c calls the condition invalid whenever it reaches it
	strict  error  // dsl.c calls it invalid only on some hosts (value checks); Parse rejects it
}

// String returns the canonical text of the condition.
func (c Condition) String() string { return string(c.Key) + string(c.Op) + c.Value }

// Alternative is a comma-separated list of conditions that must all hold.
type Alternative struct {
	Text       string // as written
	Offset     int    // byte offset of Text in the requirement
	Conditions []Condition
}

// String returns the canonical text of the alternative.
func (a Alternative) String() string {
	parts := make([]string, len(a.Conditions))
	for i, c := range a.Conditions {
		parts[i] = c.String()
	}
	if len(parts) == 0 {
		return ","
	}
	return strings.Join(parts, ",")
}

// Expr is a parsed requirement: a list of alternatives of which one must hold.
type Expr struct {
	Source       string
	Alternatives []Alternative
}

// String returns the canonical text of the requirement.
func (e Expr) String() string {
	parts := make([]string, len(e.Alternatives))
	for i, a := range e.Alternatives {
		parts[i] = a.String()
	}
	return strings.Join(parts, " ")
}

// ParseError says which condition of a requirement is invalid and why.
type ParseError struct {
	Requirement string
	Condition   string // the condition text as written
	Offset      int    // byte offset of the condition in Requirement
	Msg         string // what is wrong and what would be valid
}

func (e *ParseError) Error() string {
	if e.Condition == "" {
		return fmt.Sprintf("requirement %q: %s", e.Requirement, e.Msg)
	}
	return fmt.Sprintf("requirement %q: condition %q at offset %d: %s", e.Requirement, e.Condition, e.Offset, e.Msg)
}

// Parse parses a requirement and checks every condition. It accepts exactly
// the requirements that libnvidia-container evaluates without an "invalid
// expression" error, whatever the host: libnvidia-container itself only
// checks the conditions it reaches (it stops at the first alternative that
// holds, and skips the value check for a property the host does not report),
// so a string Parse rejects may still pass on some hosts; Evaluate reproduces
// that.
func Parse(req string) (Expr, error) {
	if i := strings.IndexByte(req, 0); i >= 0 {
		return Expr{}, &ParseError{Requirement: req, Msg: fmt.Sprintf("NUL byte at offset %d", i)}
	}
	e := scan(req)
	for _, a := range e.Alternatives {
		for _, c := range a.Conditions {
			if err := c.parseErr(); err != nil {
				return Expr{}, &ParseError{Requirement: req, Condition: c.Text, Offset: c.Offset, Msg: err.Error()}
			}
		}
	}
	return e, nil
}

// scan splits a requirement like dsl.c (strsep on ' ', then on ',', empty
// pieces skipped) and parses each condition, recording instead of returning
// errors. A requirement is cut at its first NUL byte, as a C string would be.
func scan(req string) Expr {
	if i := strings.IndexByte(req, 0); i >= 0 {
		req = req[:i]
	}
	e := Expr{Source: req}
	off := 0
	for _, alt := range strings.Split(req, " ") {
		altOff := off
		off += len(alt) + 1
		if alt == "" {
			continue // dsl.c: empty OR-term skipped
		}
		a := Alternative{Text: alt, Offset: altOff}
		coff := altOff
		for _, ct := range strings.Split(alt, ",") {
			cOff := coff
			coff += len(ct) + 1
			if ct == "" {
				continue // dsl.c: empty AND-term skipped
			}
			a.Conditions = append(a.Conditions, parseCond(ct, cOff))
		}
		// dsl.c: an alternative made only of commas has no conditions; it
		// still ends the evaluation (see Expr.run).
		e.Alternatives = append(e.Alternatives, a)
	}
	return e
}

// parseCond parses one condition the way evaluate_rule in dsl.c does.
func parseCond(text string, off int) Condition {
	c := Condition{Text: text, Offset: off}
	n := strings.IndexAny(text, opChars)
	switch {
	case n == 0:
		c.err = fmt.Errorf("missing key before the operator; want key op value, e.g. cuda>=12.8 (keys: %s)", validKeys)
		return c
	case n < 0:
		c.err = fmt.Errorf("no operator; want key op value, e.g. cuda>=12.8 or brand=tesla (operators: %s)%s", validOps, spaceHint(text))
		return c
	}
	c.keyText = text[:n]
	rest := text[n:]
	m := len(rest) - len(strings.TrimLeft(rest, opChars))
	opText, val := rest[:m], rest[m:]
	// dsl.c compares the whole operator run with strncmp(ptr, op, n), in the
	// order = != < <= > >=; "!" alone is therefore a prefix match of "!=",
	// and "==" matches nothing.
	for _, op := range []Op{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe} {
		if strings.HasPrefix(string(op), opText) {
			c.Op = op
			break
		}
	}
	if c.Op == "" {
		hint := ""
		if opText == "==" {
			hint = ` ("==" is not accepted by libnvidia-container; use "=")`
		}
		c.err = fmt.Errorf("unknown operator %q%s; valid operators: %s", opText, hint, validOps)
		return c
	}
	c.Value = val
	if val == "" {
		c.err = fmt.Errorf("missing value after %q", opText)
		return c
	}
	switch k := strings.ToLower(c.keyText); {
	case asciiEqualFold(c.keyText, string(KeyCUDA)), asciiEqualFold(c.keyText, string(KeyDriver)), asciiEqualFold(c.keyText, string(KeyArch)), asciiEqualFold(c.keyText, string(KeyBrand)):
		c.Key = Key(k)
	default:
		c.err = fmt.Errorf("unknown key %q; valid keys: %s", c.keyText, validKeys)
		return c
	}
	// From here on, dsl.c only fails when the host reports the property
	// (and, for the length, when the condition is false).
	if c.Key == KeyBrand {
		if c.Op != OpEq && c.Op != OpNe {
			c.strict = fmt.Errorf("brand can only be compared with = or !=, not %q", opText)
			return c
		}
	} else if err := checkVersionValue(val); err != nil {
		c.strict = fmt.Errorf("%s %v%s", c.Key, err, spaceHint(val))
		return c
	}
	if len(c.keyText)+1+len(c.Op)+1+len(val) >= exprMax {
		c.strict = fmt.Errorf("condition too long: libnvidia-container cannot report it and fails with \"invalid expression\" (limit %d characters)", exprMax-3)
		return c
	}
	return c
}

func (c Condition) parseErr() error {
	if c.err != nil {
		return c.err
	}
	return c.strict
}

func spaceHint(s string) string {
	if strings.ContainsAny(s, "\t\n\r\v\f") {
		return "; note that only a single space character separates alternatives, not tabs or newlines"
	}
	return ""
}

// checkVersionValue accepts what dsl_compare_version can always compare:
// digits and dots, starting with a digit, every number below 2^64-1.
func checkVersionValue(v string) error {
	if strings.Trim(v, "0123456789.") != "" {
		return fmt.Errorf("value %q is not a version: want numbers separated by dots, like 12.8 or 570.124.06", v)
	}
	if v[0] == '.' {
		return fmt.Errorf("value %q is not a version: it must start with a digit", v)
	}
	for _, part := range strings.Split(v, ".") {
		if part == "" {
			continue
		}
		if n, err := strconv.ParseUint(part, 10, 64); err != nil || n == math.MaxUint64 {
			return fmt.Errorf("value %q is not a version: number %s is too large", v, part)
		}
	}
	return nil
}

// asciiEqualFold is strcasecmp()==0 in the C locale.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
