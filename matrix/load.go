package matrix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the work spent on one file (aliases can make a small file huge).
const maxNodes = 200000

// MaxFileSize bounds a matrix file, in bytes. A real matrix is a few KB; a larger file is
// refused before it is read into the YAML parser.
const MaxFileSize = 1 << 20

// LoadFile reads and decodes a matrix file. Syntax and shape errors come back as
// *InvalidError with file:line:column for each. A file over MaxFileSize is refused from its
// size alone, and no more than MaxFileSize+1 bytes are ever read.
func LoadFile(path string) (*File, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read matrix: %w", err)
	}
	defer file.Close()
	if st, err := file.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxFileSize {
		return nil, &InvalidError{Diagnostics: tooLarge(path, st.Size())}
	}
	return read(file, path)
}

// read decodes a matrix from r, reading at most MaxFileSize+1 bytes (r may be a pipe).
func read(r io.Reader, name string) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read matrix: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, &InvalidError{Diagnostics: tooLarge(name, -1)}
	}
	return Parse(data, name)
}

// Parse decodes matrix YAML. name is used in positions.
func Parse(data []byte, name string) (*File, error) {
	f, ds := parse(data, name)
	if ds.HasErrors() {
		return nil, &InvalidError{Diagnostics: ds.Sort()}
	}
	return f, nil
}

// tooLarge is the error for a file over MaxFileSize; size < 0 when only "more than the
// limit" is known (the rest was never read).
func tooLarge(name string, size int64) Diagnostics {
	is := "more than " + byteSize(MaxFileSize)
	if size >= 0 {
		is = byteSize(size)
	}
	var ds Diagnostics
	ds.errorf(Pos{File: name, Line: 1, Col: 1}, "the matrix file is %s; the limit is %s (a matrix is a few KB: is this the right file?)", is, byteSize(MaxFileSize))
	return ds
}

func byteSize(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB (%d bytes)", n>>20, n)
	}
	return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
}

func parse(data []byte, name string) (*File, Diagnostics) {
	d := &decoder{file: name}
	f := &File{Path: name, Raw: data}
	if len(data) > MaxFileSize {
		return f, tooLarge(name, int64(len(data)))
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			d.diags.errorf(Pos{File: name, Line: 1, Col: 1}, "the matrix file is empty; it needs at least repository, axes (or include) and tags")
			return f, d.diags
		}
		pos, msg := syntaxError(data, name, err)
		d.diags.errorf(pos, "YAML syntax: %s", msg)
		return f, d.diags
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.diags.errorf(d.pos(&extra), "a second YAML document in the matrix file; put everything in one document")
	} else if !errors.Is(err, io.EOF) {
		pos, msg := syntaxError(data, name, err)
		d.diags.errorf(pos, "YAML syntax (after the first document): %s", msg)
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			d.diags.errorf(Pos{File: name, Line: 1, Col: 1}, "the matrix file is empty")
			return f, d.diags
		}
		doc = doc.Content[0]
	}
	d.decodeFile(doc, f)
	return f, d.diags
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError locates a YAML syntax error. yaml.v3 reports only a line, and for an unclosed
// flow collection or quote the line where the construct began, sometimes one before it; so
// the usual mistakes are found in the text itself: a tab in the indentation, a [ or { that is
// never closed, a quote that is never closed.
func syntaxError(data []byte, file string, err error) (Pos, string) {
	line, msg := 0, strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := strings.Split(string(data), "\n")
	if l, c, ok := tabIndent(lines, line); ok && (strings.Contains(msg, "cannot start any token") || strings.Contains(msg, "tab")) {
		return Pos{File: file, Line: l, Col: c}, "tabs are not allowed in YAML indentation; use spaces"
	}
	construct := strings.Contains(msg, "did not find expected") || strings.Contains(msg, "end of stream") || strings.Contains(msg, "quoted scalar")
	if l, c, open, ok := unclosed(lines); ok && construct {
		switch open {
		case '[', '{':
			close := map[byte]string{'[': "]", '{': "}"}[open]
			return Pos{File: file, Line: l, Col: c}, fmt.Sprintf("this %c is never closed with %s (%s)", open, close, msg)
		default:
			return Pos{File: file, Line: l, Col: c}, fmt.Sprintf("this %c quote is never closed (%s)", open, msg)
		}
	}
	pos := Pos{File: file, Line: line}
	if line > 0 && line <= len(lines) {
		pos.Col = len(lines[line-1]) - len(strings.TrimLeft(lines[line-1], " ")) + 1
	}
	return pos, msg
}

// tabIndent finds the first tab in the indentation of a line, from the line before the one
// yaml.v3 reported (it names the line of the tab or the one before; an earlier tab, say in a
// flow collection, may be valid), else from the top.
func tabIndent(lines []string, reported int) (line, col int, ok bool) {
	for _, from := range []int{max(reported-2, 0), 0} {
		for i := from; i < len(lines); i++ {
			l := lines[i]
			for j := 0; j < len(l) && (l[j] == ' ' || l[j] == '\t'); j++ {
				if l[j] == '\t' {
					return i + 1, j + 1, true
				}
			}
		}
	}
	return 0, 0, false
}

// unclosed finds the first flow bracket or quote the text never closes (comments skipped).
func unclosed(lines []string) (line, col int, open byte, ok bool) {
	type at struct {
		c         byte
		line, col int
	}
	var stack []at
	for i, l := range lines {
		for j := 0; j < len(l); j++ {
			c := l[j]
			if len(stack) > 0 && (stack[len(stack)-1].c == '"' || stack[len(stack)-1].c == '\'') {
				q := stack[len(stack)-1].c
				switch {
				case q == '"' && c == '\\':
					j++
				case q == '\'' && c == '\'' && j+1 < len(l) && l[j+1] == '\'':
					j++
				case c == q:
					stack = stack[:len(stack)-1]
				}
				continue
			}
			switch {
			case c == '#' && (j == 0 || l[j-1] == ' ' || l[j-1] == '\t'):
				j = len(l)
			case c == '[' || c == '{':
				stack = append(stack, at{c, i + 1, j + 1})
			case (c == ']' || c == '}') && len(stack) > 0:
				stack = stack[:len(stack)-1]
			case (c == '"' || c == '\'') && (j == 0 || strings.IndexByte(" \t[{,:-", l[j-1]) >= 0):
				stack = append(stack, at{c, i + 1, j + 1})
			}
		}
		// YAML lets a quoted scalar go on over lines, but in a file that failed to parse a quote
		// still open at the end of its line is the likely mistake.
		if n := len(stack); n > 0 && (stack[n-1].c == '"' || stack[n-1].c == '\'') {
			return stack[n-1].line, stack[n-1].col, stack[n-1].c, true
		}
	}
	if len(stack) == 0 {
		return 0, 0, 0, false
	}
	s := stack[0]
	return s.line, s.col, s.c, true
}

type decoder struct {
	file  string
	diags Diagnostics
	nodes int
	abort bool
}

func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

// resolve follows aliases and counts work; nil when the budget is spent.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 32 {
			d.diags.errorf(d.pos(n), "alias chain too deep")
			return nil
		}
		n = n.Alias
	}
	d.nodes++
	if d.nodes > maxNodes {
		if !d.abort {
			d.diags.errorf(d.pos(n), "the matrix is too large (more than %d YAML nodes after aliases)", maxNodes)
			d.abort = true
		}
		return nil
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing (null)"
		}
		return "a scalar (" + strings.TrimPrefix(n.Tag, "!!") + ")"
	}
	return "something else"
}

// fieldFn decodes one field's value.
type fieldFn func(key *yaml.Node, val *yaml.Node)

// mapping walks a mapping node, rejecting unknown and duplicate keys.
func (d *decoder) mapping(n *yaml.Node, what string, fields map[string]fieldFn, order []string) {
	n = d.resolve(n)
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		d.diags.errorf(d.pos(n), "%s: want a mapping, got %s", what, kindName(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if d.abort {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.diags.errorf(d.pos(k), "%s: keys must be plain names, got %s", what, kindName(k))
			continue
		}
		if k.Value == "<<" {
			d.diags.errorf(d.pos(k), "%s: YAML merge keys (<<) are not supported; write the fields out", what)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.diags.errorf(d.pos(k), "%s: duplicate key %q (first at line %d)", what, k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		fn, ok := fields[k.Value]
		if !ok {
			d.diags.errorf(d.pos(k), "%s: unknown field %q%s; valid fields: %s", what, k.Value, didYouMean(k.Value, order), strings.Join(order, ", "))
			continue
		}
		fn(k, v)
	}
}

// str decodes a scalar. Numbers keep their text: 12.10 stays "12.10".
func (d *decoder) str(n *yaml.Node, what string) Str {
	n = d.resolve(n)
	if n == nil {
		return Str{}
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.diags.errorf(d.pos(n), "%s: want a single value, got %s", what, kindName(n))
		return Str{Pos: d.pos(n)}
	}
	if n.Tag == "!!binary" {
		d.diags.errorf(d.pos(n), "%s: binary values are not allowed", what)
		return Str{Pos: d.pos(n)}
	}
	return Str{Value: n.Value, Pos: d.pos(n), Set: true}
}

// version decodes a version-like scalar and warns when YAML would have read it as a number
// that loses meaning elsewhere (we keep the text, so 12.10 stays 12.10).
func (d *decoder) version(n *yaml.Node, what string) Str {
	return d.str(n, what)
}

func (d *decoder) boolean(n *yaml.Node, what string) Bool {
	n = d.resolve(n)
	if n == nil {
		return Bool{}
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.diags.errorf(d.pos(n), "%s: want true or false, got %s", what, describe(n))
		return Bool{Pos: d.pos(n)}
	}
	v, _ := strconv.ParseBool(strings.ToLower(n.Value))
	return Bool{Value: v, Pos: d.pos(n), Set: true}
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return kindName(n)
}

// list decodes a list of scalars; a single scalar counts as a list of one.
func (d *decoder) list(n *yaml.Node, what string, item func(*yaml.Node, string) Str) []Str {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			d.diags.errorf(d.pos(n), "%s: want a list of values, got nothing", what)
			return nil
		}
		return []Str{item(n, what)}
	case yaml.SequenceNode:
		out := make([]Str, 0, len(n.Content))
		for i, c := range n.Content {
			if d.abort {
				break
			}
			s := item(c, fmt.Sprintf("%s[%d]", what, i))
			if s.Set {
				out = append(out, s)
			}
		}
		return out
	}
	d.diags.errorf(d.pos(n), "%s: want a list of values, got %s", what, kindName(n))
	return nil
}

// kv decodes a map of strings, keeping key case and dots (label names, build-arg names).
func (d *decoder) kv(n *yaml.Node, what string) []KV {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.diags.errorf(d.pos(n), "%s: want a mapping of names to values, got %s", what, kindName(n))
		return nil
	}
	var out []KV
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.str(n.Content[i], what+" key")
		if !k.Set {
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.diags.errorf(k.Pos, "%s: duplicate key %q (first at line %d)", what, k.Value, line)
			continue
		}
		seen[k.Value] = k.Pos.Line
		v := d.str(n.Content[i+1], fmt.Sprintf("%s.%s", what, k.Value))
		out = append(out, KV{Key: k, Value: v})
	}
	return out
}

var topFields = []string{"repository", "labels_prefix", "title", "description", "source", "licenses", "defaults", "axes", "exclude", "include", "overrides", "tags"}

func (d *decoder) decodeFile(n *yaml.Node, f *File) {
	fields := map[string]fieldFn{
		"repository":    func(_, v *yaml.Node) { f.Repository = d.str(v, "repository") },
		"labels_prefix": func(_, v *yaml.Node) { f.LabelsPrefix = d.str(v, "labels_prefix") },
		"title":         func(_, v *yaml.Node) { f.Title = d.str(v, "title") },
		"description":   func(_, v *yaml.Node) { f.Description = d.str(v, "description") },
		"source":        func(_, v *yaml.Node) { f.Source = d.str(v, "source") },
		"licenses":      func(_, v *yaml.Node) { f.Licenses = d.str(v, "licenses") },
		"defaults":      func(_, v *yaml.Node) { d.settings(v, "defaults", &f.Defaults, true) },
		"axes":          func(k, v *yaml.Node) { d.axes(k, v, &f.Axes) },
		"exclude": func(_, v *yaml.Node) {
			d.seq(v, "exclude", func(c *yaml.Node, what string) {
				if s := d.selector(c, what); s != nil {
					f.Exclude = append(f.Exclude, *s)
				}
			})
		},
		"include": func(_, v *yaml.Node) {
			d.seq(v, "include", func(c *yaml.Node, what string) { f.Include = append(f.Include, d.include(c, what)) })
		},
		"overrides": func(_, v *yaml.Node) {
			d.seq(v, "overrides", func(c *yaml.Node, what string) { f.Overrides = append(f.Overrides, d.override(c, what)) })
		},
		"tags": func(_, v *yaml.Node) {
			d.seq(v, "tags", func(c *yaml.Node, what string) { f.Tags = append(f.Tags, d.tagRule(c, what)) })
		},
	}
	if n.Kind != yaml.MappingNode {
		d.diags.errorf(d.pos(n), "the matrix file must be a mapping with fields %s; got %s", strings.Join(topFields, ", "), kindName(n))
		return
	}
	d.mapping(n, "matrix", fields, topFields)
}

func (d *decoder) seq(n *yaml.Node, what string, item func(*yaml.Node, string)) {
	n = d.resolve(n)
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.diags.errorf(d.pos(n), "%s: want a list, got %s", what, kindName(n))
		return
	}
	for i, c := range n.Content {
		if d.abort {
			return
		}
		item(c, fmt.Sprintf("%s[%d]", what, i))
	}
}

var axisFields = []string{"torch", "cuda", "os", "python", "flavor"}

func (d *decoder) axes(k, n *yaml.Node, a *Axes) {
	a.Pos, a.Set = d.pos(k), true
	d.mapping(n, "axes", map[string]fieldFn{
		"torch":  func(k, v *yaml.Node) { a.Torch = d.axis(k, v, d.version) },
		"cuda":   func(k, v *yaml.Node) { a.CUDA = d.axis(k, v, d.version) },
		"os":     func(k, v *yaml.Node) { a.OS = d.axis(k, v, d.str) },
		"python": func(k, v *yaml.Node) { a.Python = d.axis(k, v, d.version) },
		"flavor": func(k, v *yaml.Node) { a.Flavor = d.axis(k, v, d.str) },
	}, axisFields)
}

// emptyAxisHint says, per axis, what an axis that is written must list.
var emptyAxisHint = map[string]string{
	"torch":  `list at least one torch release, e.g. torch: ["2.9.1"]`,
	"cuda":   `list at least one CUDA variant, e.g. cuda: ["12.8"]`,
	"os":     `list at least one OS, e.g. os: [ubuntu24.04]`,
	"python": `list at least one Python, e.g. python: ["3.12"], or leave python out to use each OS's own Python`,
	"flavor": `list at least one flavor, e.g. flavor: [runtime, devel], or leave flavor out for defaults.flavor (runtime)`,
}

// axis decodes one axis list. An axis that is written but empty (`python: []`, or `cuda:`
// with nothing) is an error at its key: the value of `cuda:` has no place of its own.
func (d *decoder) axis(k, v *yaml.Node, item func(*yaml.Node, string) Str) []Str {
	what := "axes." + k.Value
	r := d.resolve(v)
	if r == nil {
		return nil
	}
	if (r.Kind == yaml.SequenceNode && len(r.Content) == 0) || (r.Kind == yaml.ScalarNode && r.Tag == "!!null") {
		d.diags.errorf(d.pos(k), "%s is empty; %s", what, emptyAxisHint[k.Value])
		return nil
	}
	return d.list(r, what, item)
}

var settingFields = []string{"base", "index_url", "pip_index_url", "extra_packages", "build_args", "labels", "template_dir", "allow_unofficial", "compiler"}

func (d *decoder) settingsFields(what string, s *Settings) map[string]fieldFn {
	return map[string]fieldFn{
		"base":          func(_, v *yaml.Node) { s.Base = d.str(v, what+".base") },
		"index_url":     func(_, v *yaml.Node) { s.IndexURL = d.str(v, what+".index_url") },
		"pip_index_url": func(_, v *yaml.Node) { s.PipIndexURL = d.str(v, what+".pip_index_url") },
		"template_dir":  func(_, v *yaml.Node) { s.TemplateDir = d.str(v, what+".template_dir") },
		"extra_packages": func(k, v *yaml.Node) {
			s.ExtraPackagesAt = d.pos(k)
			s.ExtraPackages = d.list(v, what+".extra_packages", d.str)
		},
		"build_args":       func(_, v *yaml.Node) { s.BuildArgs = d.kv(v, what+".build_args") },
		"labels":           func(_, v *yaml.Node) { s.Labels = d.kv(v, what+".labels") },
		"allow_unofficial": func(_, v *yaml.Node) { s.AllowUnofficial = d.boolean(v, what+".allow_unofficial") },
		"compiler":         func(_, v *yaml.Node) { s.Compiler = d.boolean(v, what+".compiler") },
	}
}

func (d *decoder) settings(n *yaml.Node, what string, s *Settings, withAxisDefaults bool) {
	fields := d.settingsFields(what, s)
	order := append([]string(nil), settingFields...)
	if withAxisDefaults {
		fields["python"] = func(_, v *yaml.Node) { s.Python = d.version(v, what+".python") }
		fields["flavor"] = func(_, v *yaml.Node) { s.Flavor = d.str(v, what+".flavor") }
		order = append([]string{"python", "flavor"}, order...)
	}
	d.mapping(n, what, fields, order)
}

func (d *decoder) include(n *yaml.Node, what string) Include {
	inc := Include{Pos: d.pos(n)}
	fields := d.settingsFields(what, &inc.Settings)
	fields["torch"] = func(_, v *yaml.Node) { inc.Torch = d.version(v, what+".torch") }
	fields["cuda"] = func(_, v *yaml.Node) { inc.CUDA = d.version(v, what+".cuda") }
	fields["os"] = func(_, v *yaml.Node) { inc.OS = d.str(v, what+".os") }
	fields["python"] = func(_, v *yaml.Node) { inc.Python = d.version(v, what+".python") }
	fields["flavor"] = func(_, v *yaml.Node) { inc.Flavor = d.str(v, what+".flavor") }
	d.mapping(n, what, fields, append(append([]string(nil), axisFields...), settingFields...))
	return inc
}

func (d *decoder) override(n *yaml.Node, what string) Override {
	o := Override{Pos: d.pos(n)}
	fields := d.settingsFields(what, &o.Settings)
	hasMatch := false
	fields["match"] = func(_, v *yaml.Node) {
		hasMatch = true
		if s := d.selector(v, what+".match"); s != nil {
			o.Match = *s
		}
	}
	d.mapping(n, what, fields, append([]string{"match"}, settingFields...))
	if !hasMatch && !d.abort {
		d.diags.errorf(o.Pos, "%s: an override needs `match:` (a selector such as {torch: \"2.9.*\", os: ubuntu24.04}); to change every variant use `defaults:`", what)
	}
	return o
}

var selectorFields = []string{"torch", "cuda", "os", "python", "flavor", "pypi_default"}

func (d *decoder) selector(n *yaml.Node, what string) *Selector {
	r := d.resolve(n)
	if r == nil {
		return nil
	}
	s := &Selector{Pos: d.pos(r)}
	if r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
		d.diags.errorf(s.Pos, "%s: an empty selector matches everything; name at least one of %s", what, strings.Join(selectorFields, ", "))
		return nil
	}
	fields := map[string]fieldFn{}
	for _, name := range selectorFields[:5] {
		name := name
		fields[name] = func(k, v *yaml.Node) {
			s.Terms = append(s.Terms, Term{Field: name, Pos: d.pos(k), Patterns: d.list(v, what+"."+name, d.str)})
		}
	}
	fields["pypi_default"] = func(k, v *yaml.Node) {
		s.Terms = append(s.Terms, Term{Field: "pypi_default", Pos: d.pos(k), Bool: d.boolean(v, what+".pypi_default")})
	}
	d.mapping(r, what, fields, selectorFields)
	if r.Kind == yaml.MappingNode && len(r.Content) == 0 {
		d.diags.errorf(s.Pos, "%s: an empty selector matches everything; name at least one of %s", what, strings.Join(selectorFields, ", "))
	}
	return s
}

var tagFields = []string{"template", "kind", "only", "prefer"}

func (d *decoder) tagRule(n *yaml.Node, what string) TagRule {
	t := TagRule{Pos: d.pos(n)}
	d.mapping(n, what, map[string]fieldFn{
		"template": func(_, v *yaml.Node) { t.Template = d.str(v, what+".template") },
		"kind":     func(_, v *yaml.Node) { t.Kind = d.str(v, what+".kind") },
		"only":     func(_, v *yaml.Node) { t.Only = d.selector(v, what+".only") },
		"prefer":   func(_, v *yaml.Node) { t.Prefer = d.prefer(v, what+".prefer") },
	}, tagFields)
	if !t.Template.Set && !d.abort {
		d.diags.errorf(t.Pos, "%s: missing `template` (e.g. \"{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}\")", what)
	}
	return t
}

// prefer accepts a mapping (each key one rule, in the order written) or a list of rules
// (each a selector mapping, or {highest: torch|cuda|python}).
func (d *decoder) prefer(n *yaml.Node, what string) []PreferRule {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		var out []PreferRule
		for i := 0; i+1 < len(n.Content); i += 2 {
			one := &yaml.Node{Kind: yaml.MappingNode, Line: n.Content[i].Line, Column: n.Content[i].Column, Content: n.Content[i : i+2]}
			out = append(out, d.preferRule(one, what))
		}
		// duplicate/unknown keys are reported per rule; check duplicates across the mapping
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if line, dup := seen[k]; dup {
				d.diags.errorf(d.pos(n.Content[i]), "%s: duplicate key %q (first at line %d)", what, k, line)
			}
			seen[k] = n.Content[i].Line
		}
		return out
	case yaml.SequenceNode:
		var out []PreferRule
		for i, c := range n.Content {
			out = append(out, d.preferRule(c, fmt.Sprintf("%s[%d]", what, i)))
		}
		return out
	}
	d.diags.errorf(d.pos(n), "%s: want a mapping such as {os: ubuntu24.04, flavor: runtime} or a list of rules, got %s", what, kindName(n))
	return nil
}

func (d *decoder) preferRule(n *yaml.Node, what string) PreferRule {
	r := d.resolve(n)
	if r == nil {
		return PreferRule{}
	}
	if r.Kind == yaml.MappingNode && len(r.Content) >= 2 && r.Content[0].Value == "highest" {
		if len(r.Content) > 2 {
			d.diags.errorf(d.pos(r.Content[2]), "%s: `highest` stands alone in its rule; put other preferences in their own list entries", what)
		}
		return PreferRule{Pos: d.pos(r.Content[0]), Highest: d.str(r.Content[1], what+".highest")}
	}
	return PreferRule{Pos: d.pos(r), Selector: d.selector(r, what)}
}
