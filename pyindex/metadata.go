package pyindex

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/torchimg/torchimg/internal/version"
)

// Metadata is the part of a distribution's core metadata (METADATA, PKG-INFO) this package reads.
type Metadata struct {
	Name, Version string
	RequiresDist  []Requirement
}

// ParseMetadata reads core metadata: RFC 822 style headers up to the first empty line, with
// indented continuation lines. Requires-Dist entries that do not parse are errors.
func ParseMetadata(data []byte) (Metadata, error) {
	var md Metadata
	var key, val string
	flush := func() error {
		defer func() { key, val = "", "" }()
		switch strings.ToLower(key) {
		case "name":
			md.Name = val
		case "version":
			md.Version = val
		case "requires-dist":
			r, err := ParseRequirement(val)
			if err != nil {
				return fmt.Errorf("Requires-Dist: %w", err)
			}
			md.RequiresDist = append(md.RequiresDist, r)
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		n++
		if line == "" {
			break // the body (the long description) follows
		}
		if line[0] == ' ' || line[0] == '\t' {
			if key != "" {
				val += " " + strings.TrimSpace(line)
			}
			continue
		}
		if err := flush(); err != nil {
			return md, err
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return md, fmt.Errorf("line %d: %q is not a header (want Name: value)", n, line)
		}
		key, val = strings.TrimSpace(k), strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return md, err
	}
	if err := flush(); err != nil {
		return md, err
	}
	if md.Name == "" || md.Version == "" {
		return md, fmt.Errorf("not core metadata: no Name or Version header")
	}
	return md, nil
}

// Requirement is one Requires-Dist entry (PEP 508): name[extras] specifier ; marker.
type Requirement struct {
	Name      string // normalized (PEP 503)
	Extras    []string
	Specifier string // "==9.10.2.21", ">=2.0,<3", "" for any version
	Marker    string // the environment marker, "" when none
	Raw       string
}

var reqName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`)

// ParseRequirement parses a PEP 508 requirement (a URL requirement, name @ url, is an error).
func ParseRequirement(s string) (Requirement, error) {
	r := Requirement{Raw: s}
	spec, marker, _ := strings.Cut(s, ";")
	r.Marker = strings.TrimSpace(marker)
	spec = strings.TrimSpace(spec)
	name := reqName.FindString(spec)
	if name == "" {
		return r, fmt.Errorf("%q: no project name", s)
	}
	r.Name = NormalizeName(name)
	rest := strings.TrimSpace(spec[len(name):])
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return r, fmt.Errorf("%q: unclosed [extras]", s)
		}
		for _, e := range strings.Split(rest[1:end], ",") {
			if e = strings.TrimSpace(e); e != "" {
				r.Extras = append(r.Extras, NormalizeName(e))
			}
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	if strings.HasPrefix(rest, "@") {
		return r, fmt.Errorf("%q: a URL requirement has no version", s)
	}
	if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") { // Metadata 1.2 spelling
		rest = strings.TrimSpace(rest[1 : len(rest)-1])
	}
	r.Specifier = strings.ReplaceAll(rest, " ", "")
	if r.Specifier != "" && !strings.ContainsAny(r.Specifier[:1], "=<>!~") {
		return r, fmt.Errorf("%q: bad version specifier %q", s, rest)
	}
	return r, nil
}

// Exact is the version an == (or ===) specifier pins, ok false for any other specifier.
func (r Requirement) Exact() (v string, ok bool) {
	s := r.Specifier
	if strings.Contains(s, ",") {
		return "", false
	}
	for _, op := range []string{"===", "=="} {
		if v, ok := strings.CutPrefix(s, op); ok && v != "" && !strings.HasSuffix(v, ".*") {
			return v, true
		}
	}
	return "", false
}

// Environment holds the values of marker variables (PEP 508: platform_machine, sys_platform,
// python_version, extra, ...).
type Environment map[string]string

// LinuxX86_64 is the environment of CPython python ("3.12"; a "t" suffix is dropped) on glibc
// Linux x86_64, with no extra requested.
func LinuxX86_64(python string) Environment {
	py := strings.TrimSuffix(python, "t")
	return Environment{
		"os_name": "posix", "sys_platform": "linux", "platform_system": "Linux",
		"platform_machine": "x86_64", "platform_python_implementation": "CPython",
		"implementation_name": "cpython", "python_version": py, "python_full_version": py + ".0",
		"implementation_version": py + ".0", "extra": "",
	}
}

// Applies reports whether the requirement's marker holds in env (true without a marker).
func (r Requirement) Applies(env Environment) (bool, error) {
	if r.Marker == "" {
		return true, nil
	}
	return EvalMarker(r.Marker, env)
}

// EvalMarker evaluates a PEP 508 environment marker. Variables missing from env are errors;
// comparisons of version variables (python_version, ...) compare versions, others strings.
func EvalMarker(marker string, env Environment) (bool, error) {
	toks, err := lexMarker(marker)
	if err != nil {
		return false, fmt.Errorf("marker %q: %w", marker, err)
	}
	p := &markerParser{toks: toks, env: env}
	v, err := p.or()
	if err == nil && p.i < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.i].s)
	}
	if err != nil {
		return false, fmt.Errorf("marker %q: %w", marker, err)
	}
	return v, nil
}

type markerTok struct {
	kind byte // 'v' variable, 's' string, 'o' operator, '(' , ')', 'a' and, 'r' or
	s    string
}

func lexMarker(s string) ([]markerTok, error) {
	var out []markerTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			out = append(out, markerTok{kind: c, s: string(c)})
			i++
		case c == '"' || c == '\'':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unclosed string")
			}
			out = append(out, markerTok{kind: 's', s: s[i+1 : i+1+end]})
			i += end + 2
		case strings.ContainsRune("=<>!~", rune(c)):
			j := i
			for j < len(s) && strings.ContainsRune("=<>!~", rune(s[j])) {
				j++
			}
			out = append(out, markerTok{kind: 'o', s: s[i:j]})
			i = j
		default:
			j := i
			for j < len(s) && (isWord(s[j])) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected %q", s[i:i+1])
			}
			w := s[i:j]
			i = j
			switch w {
			case "and":
				out = append(out, markerTok{kind: 'a', s: w})
			case "or":
				out = append(out, markerTok{kind: 'r', s: w})
			case "in":
				out = append(out, markerTok{kind: 'o', s: "in"})
			case "not":
				out = append(out, markerTok{kind: 'o', s: "not in"})
				for i < len(s) && s[i] == ' ' {
					i++
				}
				if !strings.HasPrefix(s[i:], "in") {
					return nil, fmt.Errorf(`"not" without "in"`)
				}
				i += 2
			default:
				out = append(out, markerTok{kind: 'v', s: w})
			}
		}
	}
	return out, nil
}

func isWord(c byte) bool {
	return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

type markerParser struct {
	toks []markerTok
	i    int
	env  Environment
}

func (p *markerParser) peek() byte {
	if p.i < len(p.toks) {
		return p.toks[p.i].kind
	}
	return 0
}

func (p *markerParser) or() (bool, error) {
	v, err := p.and()
	for err == nil && p.peek() == 'r' {
		p.i++
		var w bool
		w, err = p.and()
		v = v || w
	}
	return v, err
}

func (p *markerParser) and() (bool, error) {
	v, err := p.atom()
	for err == nil && p.peek() == 'a' {
		p.i++
		var w bool
		w, err = p.atom()
		v = v && w
	}
	return v, err
}

func (p *markerParser) atom() (bool, error) {
	if p.peek() == '(' {
		p.i++
		v, err := p.or()
		if err != nil {
			return false, err
		}
		if p.peek() != ')' {
			return false, fmt.Errorf("missing )")
		}
		p.i++
		return v, nil
	}
	if p.i+3 > len(p.toks) {
		return false, fmt.Errorf("incomplete comparison")
	}
	l, op, r := p.toks[p.i], p.toks[p.i+1], p.toks[p.i+2]
	p.i += 3
	if op.kind != 'o' {
		return false, fmt.Errorf("want a comparison operator, got %q", op.s)
	}
	lv, lvar, err := p.value(l)
	if err != nil {
		return false, err
	}
	rv, rvar, err := p.value(r)
	if err != nil {
		return false, err
	}
	if lvar == "extra" || rvar == "extra" {
		lv, rv = NormalizeName(lv), NormalizeName(rv)
	}
	versions := strings.HasSuffix(lvar, "_version") || strings.HasSuffix(rvar, "_version")
	return compareMarker(lv, op.s, rv, versions)
}

func (p *markerParser) value(t markerTok) (val, variable string, err error) {
	switch t.kind {
	case 's':
		return t.s, "", nil
	case 'v':
		v, ok := p.env[t.s]
		if !ok {
			return "", "", fmt.Errorf("unknown variable %s", t.s)
		}
		return v, t.s, nil
	}
	return "", "", fmt.Errorf("want a variable or a string, got %q", t.s)
}

func compareMarker(l, op, r string, versions bool) (bool, error) {
	switch op {
	case "in":
		return strings.Contains(r, l), nil
	case "not in":
		return !strings.Contains(r, l), nil
	case "===":
		return l == r, nil
	}
	var c int
	if versions && version.Valid(l) && version.Valid(r) {
		c = version.Compare(l, r)
	} else {
		if op != "==" && op != "!=" {
			return false, fmt.Errorf("%q %s %q: not versions", l, op, r)
		}
		c = strings.Compare(l, r)
	}
	switch op {
	case "==":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	case "~=":
		// ~=X.Y means >=X.Y and ==X.*
		parts := strings.Split(r, ".")
		if len(parts) < 2 {
			return false, fmt.Errorf("~=%s needs at least two numbers", r)
		}
		return c >= 0 && version.HasPrefix(l, strings.Join(parts[:len(parts)-1], ".")), nil
	}
	return false, fmt.Errorf("unknown operator %q", op)
}
