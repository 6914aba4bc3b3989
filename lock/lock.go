// Package lock is the lock file of a matrix: for every variant, the exact inputs a build uses —
// the base image's digest for the variant's platform and every wheel pip installs, with its
// URL and sha256 — so that a build next month installs the same software, and drift (a base
// rebuilt under its tag, a wheel replaced) shows before a build. It reads and writes the file
// and checks it against a plan; resolving the inputs is the resolver's job.
package lock

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/torchimg/torchimg/matrix"
)

// Version is the lock format's version.
const Version = 1

// MaxSize is the largest lock file read (a lock of hundreds of variants is well under it).
const MaxSize = 8 << 20

// Steps: which install step of the Dockerfile installs a wheel.
const (
	StepTorch  = "torch"  // torch and its dependencies, from the variant's index_url
	StepExtras = "extras" // extra_packages and their dependencies
)

// File is a lock file.
type File struct {
	Version int `yaml:"version"`
	// Matrix names the matrix file the lock belongs to (its base name).
	Matrix string `yaml:"matrix"`
	// Torchimg is the recipe and probe version that resolved it.
	Torchimg string    `yaml:"torchimg"`
	Variants []Variant `yaml:"variants"`

	path string
	pos  map[string]int // variant id → line
}

// Variant is one variant's locked inputs.
type Variant struct {
	ID string `yaml:"id"`
	// Request is what the matrix asked for: when it changes, the entry is stale.
	Request Request `yaml:"request"`
	Base    Base    `yaml:"base"`
	Wheels  []Wheel `yaml:"wheels"`
}

// Request is the part of a variant that decides what is resolved.
type Request struct {
	Base          string   `yaml:"base"`
	Torch         string   `yaml:"torch"` // "2.9.1+cu128"
	Python        string   `yaml:"python"`
	IndexURL      string   `yaml:"index_url"`
	PipIndexURL   string   `yaml:"pip_index_url,omitempty"`
	ExtraPackages []string `yaml:"extra_packages,omitempty"`
}

// Base is the base image, resolved.
type Base struct {
	Ref      string `yaml:"ref"`
	Digest   string `yaml:"digest"`   // the platform image's manifest digest
	Platform string `yaml:"platform"` // "linux/amd64"
}

// Pinned is the base as FROM names it: ref@digest.
func (b Base) Pinned() string {
	ref, _, _ := strings.Cut(b.Ref, "@")
	return ref + "@" + b.Digest
}

// Wheel is one file pip installs.
type Wheel struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
	Step    string `yaml:"step"`
	URL     string `yaml:"url"`
	SHA256  string `yaml:"sha256"`
}

// Filename is the wheel's file name (the last part of its URL, unescaped).
func (w Wheel) Filename() string {
	base := path.Base(w.URL)
	if u, err := url.PathUnescape(base); err == nil {
		return u
	}
	return base
}

// PathFor is the lock file of a matrix file: matrix.lock beside matrix.yaml.
func PathFor(matrixPath string) string {
	if matrixPath == "" || matrixPath == "-" {
		return "matrix.lock"
	}
	dir, base := filepath.Split(matrixPath)
	return filepath.Join(dir, strings.TrimSuffix(base, filepath.Ext(base))+".lock")
}

// RequestOf is what a variant asks for.
func RequestOf(v *matrix.Variant) Request {
	return Request{Base: v.Base, Torch: v.Torch + "+" + v.TorchVariant, Python: v.Python, IndexURL: v.IndexURL,
		PipIndexURL: v.PipIndexURL, ExtraPackages: slices.Clone(v.ExtraPackages)}
}

// Of returns a variant's entry.
func (f *File) Of(id string) (*Variant, bool) {
	for i := range f.Variants {
		if f.Variants[i].ID == id {
			return &f.Variants[i], true
		}
	}
	return nil, false
}

// Path is where the file was read from ("" for a new one).
func (f *File) Path() string { return f.path }

// ErrNotExist is returned by Read when there is no lock file.
var ErrNotExist = errors.New("no lock file")

// Read reads and validates a lock file. Errors name file:line.
func Read(path string) (*File, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("read lock file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read lock file %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: more than %d MiB: not a torchimg lock file", path, MaxSize>>20)
	}
	return Parse(data, path)
}

// Parse reads a lock file's bytes (path names it in errors).
func Parse(data []byte, path string) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: not a valid lock file (YAML): %s", path, yamlMsg(err))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s:1: the lock file is empty: run torchimg lock", path)
	}
	f := &File{path: path, pos: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("%s: not a torchimg lock file: %s", path, yamlMsg(err))
	}
	if f.Version != Version {
		return nil, fmt.Errorf("%s:%d: lock format version %d; this torchimg reads version %d: run torchimg lock", path, line(&root, "version"), f.Version, Version)
	}
	// Positions of the variants, for messages.
	if vs := field(root.Content[0], "variants"); vs != nil {
		for _, n := range vs.Content {
			if id := field(n, "id"); id != nil {
				f.pos[id.Value] = id.Line
			}
		}
	}
	seen := map[string]bool{}
	for _, v := range f.Variants {
		at := fmt.Sprintf("%s:%d", path, f.pos[v.ID])
		switch {
		case v.ID == "":
			return nil, fmt.Errorf("%s: a variant without an id", path)
		case seen[v.ID]:
			return nil, fmt.Errorf("%s: variant %s is locked twice", at, v.ID)
		case !strings.HasPrefix(v.Base.Digest, "sha256:") || len(v.Base.Digest) != len("sha256:")+64:
			return nil, fmt.Errorf("%s: variant %s: base digest %q is not sha256:<64 hex>", at, v.ID, v.Base.Digest)
		}
		seen[v.ID] = true
		for _, w := range v.Wheels {
			if len(w.SHA256) != 64 || strings.Trim(w.SHA256, "0123456789abcdef") != "" {
				return nil, fmt.Errorf("%s: variant %s: wheel %s: sha256 %q is not 64 lowercase hex digits", at, v.ID, w.Name, w.SHA256)
			}
			if w.URL == "" || (w.Step != StepTorch && w.Step != StepExtras) {
				return nil, fmt.Errorf("%s: variant %s: wheel %s: want a url and a step (%s or %s)", at, v.ID, w.Name, StepTorch, StepExtras)
			}
		}
	}
	return f, nil
}

// Line is where a variant's entry starts (0 when unknown).
func (f *File) Line(id string) int { return f.pos[id] }

func yamlMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func line(root *yaml.Node, key string) int {
	if len(root.Content) > 0 {
		if n := field(root.Content[0], key); n != nil {
			return n.Line
		}
	}
	return 1
}

// Write writes the lock file: stable order (variants by id, wheels by step then name), a header
// saying how it was made.
func (f *File) Write(path string) error {
	out := *f
	out.Version = Version
	out.Variants = slices.Clone(f.Variants)
	sort.Slice(out.Variants, func(i, j int) bool { return out.Variants[i].ID < out.Variants[j].ID })
	for i := range out.Variants {
		ws := slices.Clone(out.Variants[i].Wheels)
		sort.Slice(ws, func(a, b int) bool {
			if ws[a].Step != ws[b].Step {
				return ws[a].Step == StepTorch
			}
			return ws[a].Name < ws[b].Name
		})
		out.Variants[i].Wheels = ws
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# torchimg lock file of %s: the exact inputs of every variant (base image digest, every wheel\n", f.Matrix)
	fmt.Fprintf(&b, "# with its URL and sha256). Made by `torchimg lock`; do not edit it by hand. `torchimg lock --check`\n")
	fmt.Fprintf(&b, "# says whether it is stale; `torchimg lock` (or `torchimg build --update-lock`) refreshes it.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&out); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write lock file: %w", err)
	}
	return nil
}

// Problem is one way a lock does not fit a plan.
type Problem struct {
	Variant string
	Line    int // in the lock file; 0 for a variant the lock lacks
	Message string
}

// Check compares the lock with the plan: a selected variant the lock lacks or whose request
// changed, or a locked variant the plan (all its variants) does not have.
func (f *File) Check(selected, all []*matrix.Variant) []Problem {
	var out []Problem
	want := map[string]bool{}
	for _, v := range all {
		want[v.ID] = true
	}
	for _, v := range selected {
		e, ok := f.Of(v.ID)
		if !ok {
			out = append(out, Problem{Variant: v.ID, Message: fmt.Sprintf("variant %s is not in the lock", v.ID)})
			continue
		}
		if diff := requestDiff(e.Request, RequestOf(v)); diff != "" {
			out = append(out, Problem{Variant: v.ID, Line: f.pos[v.ID], Message: fmt.Sprintf("variant %s changed since it was locked: %s", v.ID, diff)})
		}
	}
	for _, e := range f.Variants {
		if !want[e.ID] {
			out = append(out, Problem{Variant: e.ID, Line: f.pos[e.ID], Message: fmt.Sprintf("the lock has variant %s, which the matrix does not", e.ID)})
		}
	}
	return out
}

func requestDiff(was, now Request) string {
	var d []string
	cmp := func(what, a, b string) {
		if a != b {
			d = append(d, fmt.Sprintf("%s %q → %q", what, a, b))
		}
	}
	cmp("base", was.Base, now.Base)
	cmp("torch", was.Torch, now.Torch)
	cmp("python", was.Python, now.Python)
	cmp("index_url", was.IndexURL, now.IndexURL)
	cmp("pip_index_url", was.PipIndexURL, now.PipIndexURL)
	cmp("extra_packages", strings.Join(was.ExtraPackages, " "), strings.Join(now.ExtraPackages, " "))
	return strings.Join(d, ", ")
}

// Errorf formats problems as one error that names the file and the command to run.
func (f *File) Errorf(ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	var b strings.Builder
	for _, p := range ps {
		if p.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: %s\n", f.path, p.Line, p.Message)
		} else {
			fmt.Fprintf(&b, "%s: %s\n", f.path, p.Message)
		}
	}
	fmt.Fprintf(&b, "the lock does not match the matrix: run `torchimg lock` (or build with --update-lock)")
	return errors.New(b.String())
}

// Apply makes the variants build from the lock: FROM the locked base digest, and exactly the
// locked wheels. A lock that does not fit them is an error naming each variant and the command
// to run; then no variant is changed.
func (f *File) Apply(vs, all []*matrix.Variant) error {
	if err := f.Errorf(f.Check(vs, all)); err != nil {
		return err
	}
	for _, v := range vs {
		e, _ := f.Of(v.ID)
		v.Base = e.Base.Pinned()
		pins := &matrix.Pins{}
		for _, w := range e.Wheels {
			p := matrix.Pin{Name: w.Name, Version: w.Version, URL: w.URL, SHA256: w.SHA256}
			if w.Step == StepTorch {
				pins.Torch = append(pins.Torch, p)
			} else {
				pins.Extras = append(pins.Extras, p)
			}
		}
		v.Pins = pins
	}
	return nil
}
