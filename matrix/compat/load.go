package compat

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/torchimg/torchimg/internal/version"
	"go.yaml.in/yaml/v3"
)

// The on-disk schema of compat.yaml. Field names here are the YAML keys; unknown keys are errors.

type fileFact struct {
	Value    string `yaml:"value"`
	Verified *bool  `yaml:"verified"`
	Source   string `yaml:"source"`
	Note     string `yaml:"note"`
}

type fileDB struct {
	DataDate     string              `yaml:"data_date"`
	Brands       map[string][]string `yaml:"brands"`
	BrandsSource string              `yaml:"brands_source"`
	OS           []fileOS            `yaml:"os"`
	CUDA         []fileCUDA          `yaml:"cuda"`
	Images       []fileImage         `yaml:"images"`
	Unknowns     []fileFact          `yaml:"unknowns"`
	Drivers      []fileDriver        `yaml:"drivers"`
	FC           *fileFC             `yaml:"forward_compat"`
	Torch        []fileSeries        `yaml:"torch"`
	Upcoming     []fileUpcoming      `yaml:"torch_upcoming"`
}

type fileDriver struct {
	Branch int      `yaml:"branch"`
	CUDA   fileFact `yaml:"cuda"`
}

type fileFC struct {
	Supported   []string `yaml:"supported"`
	Unsupported []string `yaml:"unsupported"`
	Source      string   `yaml:"source"`
	Note        string   `yaml:"note"`
}

type fileUpcoming struct {
	Series   string   `yaml:"series"`
	Variants []string `yaml:"variants"`
	Source   string   `yaml:"source"`
	Note     string   `yaml:"note"`
}

type fileOS struct {
	Name   string `yaml:"name"`
	Family string `yaml:"family"`
	Python string `yaml:"python"`
	Source string `yaml:"source"`
	// CUDAUntil is the last CUDA major with nvidia/cuda images for this OS ("12"), with the
	// source that shows it; a later major's tags are known to be absent.
	CUDAUntil *fileFact `yaml:"cuda_until"`
}

type fileCUDA struct {
	Version     string       `yaml:"version"`
	Image       string       `yaml:"image"`
	Source      string       `yaml:"source"`
	CompatFloor fileFact     `yaml:"compat_floor"`
	Archs       fileFact     `yaml:"archs"`
	Updates     []fileUpdate `yaml:"updates"`
}

type fileUpdate struct {
	Version   string   `yaml:"version"`
	MinDriver fileFact `yaml:"min_driver"`
}

type fileImage struct {
	Toolkit     string       `yaml:"toolkit"`
	CUDNN       string       `yaml:"cudnn"`
	Complete    bool         `yaml:"complete"`
	ReplacedBy  string       `yaml:"replaced_by"`
	Source      string       `yaml:"source"`
	RequireCUDA *fileRequire `yaml:"require_cuda"`
	Tags        []fileTag    `yaml:"tags"`
}

type fileRequire struct {
	Branches []int  `yaml:"branches"`
	Brands   string `yaml:"brands"`
	Source   string `yaml:"source"`
	Note     string `yaml:"note"`
}

type fileTag struct {
	OS      string   `yaml:"os"`
	Status  string   `yaml:"status"`
	Flavors []string `yaml:"flavors"`
	Source  string   `yaml:"source"`
	Note    string   `yaml:"note"`
}

type fileSeries struct {
	Series   string        `yaml:"series"`
	Releases []string      `yaml:"releases"`
	Default  string        `yaml:"default"`
	Python   []string      `yaml:"python"`
	Source   string        `yaml:"source"`
	Variants []fileVariant `yaml:"variants"`
	// CPU records the series' CPU wheels (local version +cpu, index whl/cpu), for the Pythons of
	// its python list; absent: the data does not say.
	CPU *fileCPU `yaml:"cpu"`
}

type fileCPU struct {
	Source string `yaml:"source"`
	Note   string `yaml:"note"`
}

type fileVariant struct {
	Name    string   `yaml:"name"`
	CUDA    string   `yaml:"cuda"`
	Source  string   `yaml:"source"`
	CUDNN   fileFact `yaml:"cudnn"`
	NCCL    fileFact `yaml:"nccl"`
	Archs   fileFact `yaml:"archs"`
	Toolkit fileFact `yaml:"toolkit"`
}

// baseFlavors are the nvidia/cuda image flavors a query may name, in parent-first order.
var baseFlavors = []string{"base", "runtime", "devel", "cudnn-runtime", "cudnn-devel"}

// extraFlavors exist in NVIDIA's lists for some toolkits and may be recorded, but torchimg does not build on them.
var extraFlavors = []string{"tensorrt-runtime", "tensorrt-devel"}

var (
	pythonRe  = regexp.MustCompile(`^3\.[0-9]{1,2}t?$`)
	archRe    = regexp.MustCompile(`^[0-9]{1,2}\.[0-9](\+PTX)?$`)
	cudnnTags = map[string]bool{"cudnn8": true, "cudnn9": true, "cudnn": true}
	variantRe = regexp.MustCompile(`^cu[0-9]{3,4}$`)
)

// Load parses and validates a compatibility database. Errors name filename:line:col.
func Load(data []byte, filename string) (*DB, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", filename, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty compatibility database", filename)
	}
	loc := &locator{file: filename, root: &root}
	// The shape first, from the nodes (so every unknown field and wrong type has its line and
	// column), then the values into the schema structs.
	if errs := shape(filename, root.Content[0], reflect.TypeOf(fileDB{})); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var f fileDB
	if err := root.Content[0].Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	v := &validator{loc: loc}
	db := v.build(&f)
	if len(v.errs) > 0 {
		sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].line < v.errs[j].line })
		msgs := make([]error, len(v.errs))
		for i, e := range v.errs {
			msgs[i] = errors.New(e.msg)
		}
		return nil, errors.Join(msgs...)
	}
	return db, nil
}

// ---- positions -------------------------------------------------------------------------------

type locator struct {
	file string
	root *yaml.Node
}

// shape checks a node against the schema type t (the yaml tags of the file* structs): mappings
// for structs and maps, sequences for slices, scalars of the right kind, no unknown field.
func shape(file string, n *yaml.Node, t reflect.Type) []error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	at := func(n *yaml.Node, format string, args ...any) error {
		return fmt.Errorf("%s:%d:%d: %s", file, n.Line, n.Column, fmt.Sprintf(format, args...))
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return []error{at(n, "want a mapping, got %s", kindOf(n))}
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			if tag := t.Field(i).Tag.Get("yaml"); tag != "" {
				fields[tag] = t.Field(i).Type
				names = append(names, tag)
			}
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, at(k, "unknown field %q (valid here: %s; see the schema in the file header)", k.Value, strings.Join(names, ", ")))
				continue
			}
			errs = append(errs, shape(file, n.Content[i+1], ft)...)
		}
		return errs
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return []error{at(n, "want a mapping, got %s", kindOf(n))}
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, shape(file, n.Content[i+1], t.Elem())...)
		}
		return errs
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return []error{at(n, "want a list, got %s", kindOf(n))}
		}
		var errs []error
		for _, c := range n.Content {
			errs = append(errs, shape(file, c, t.Elem())...)
		}
		return errs
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return []error{at(n, "want true or false, got %s", kindOf(n))}
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return []error{at(n, "want a whole number, got %s", kindOf(n))}
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return []error{at(n, "want a single value, got %s", kindOf(n))}
		}
	}
	return nil
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// node follows a path of mapping keys (string) and sequence indexes (int) from the document root.
// It returns the deepest node reached, so a missing key points at its parent.
func (l *locator) node(path []any) *yaml.Node {
	n := l.root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i, p := range path {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(n.Content); j += 2 {
					if n.Content[j].Value == p {
						next = n.Content[j+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
			}
		}
		if next == nil {
			return n
		}
		n = next
		if i == len(path)-1 {
			return n
		}
	}
	return n
}

type posError struct {
	line int
	msg  string
}

type validator struct {
	loc  *locator
	errs []posError
}

func (v *validator) errorf(path []any, format string, args ...any) {
	n := v.loc.node(path)
	v.errs = append(v.errs, posError{n.Line, fmt.Sprintf("%s:%d:%d: %s", v.loc.file, n.Line, n.Column, fmt.Sprintf(format, args...))})
}

func at(path []any, more ...any) []any {
	out := make([]any, 0, len(path)+len(more))
	return append(append(out, path...), more...)
}

// ---- validation and conversion ---------------------------------------------------------------

type factKind int

const (
	versionFact factKind = iota // a dotted version ("9.10.2.21", "570.124.06")
	archFact                    // "5.0;6.0;...;12.0+PTX"
)

func (v *validator) fact(path []any, what string, f fileFact, kind factKind) Fact {
	if strings.TrimSpace(f.Source) == "" {
		v.errorf(path, "%s: missing source (every value needs one; see the file header)", what)
	}
	if f.Value == "" {
		if f.Verified != nil && *f.Verified {
			v.errorf(at(path, "verified"), "%s: verified: true with an empty value", what)
		}
		if strings.TrimSpace(f.Note) == "" {
			v.errorf(path, "%s: unknown value needs a note saying why", what)
		}
	} else {
		switch kind {
		case versionFact:
			if !version.Valid(f.Value) {
				v.errorf(at(path, "value"), "%s: %q is not a dotted version", what, f.Value)
			}
		case archFact:
			if err := checkArchList(f.Value); err != nil {
				v.errorf(at(path, "value"), "%s: %v", what, err)
			}
		}
	}
	return Fact{
		Value:    f.Value,
		Source:   f.Source,
		Note:     f.Note,
		Verified: f.Value != "" && (f.Verified == nil || *f.Verified),
	}
}

func checkArchList(s string) error {
	for _, a := range strings.Split(s, ";") {
		if !archRe.MatchString(a) {
			return fmt.Errorf("arch list %q: entry %q is not like 8.6 or 12.0+PTX", s, a)
		}
	}
	return nil
}

func (v *validator) source(path []any, what, s string) {
	if strings.TrimSpace(s) == "" {
		v.errorf(path, "%s: missing source (every row needs one)", what)
	}
}

func parts(s string) int { return strings.Count(s, ".") + 1 }

func (v *validator) build(f *fileDB) *DB {
	db := &DB{
		torch:  map[string]*TorchRelease{},
		cuda:   map[string]*CUDARelease{},
		os:     map[string]OSRelease{},
		images: map[string]*image{},
		brands: f.Brands,
	}

	// brands
	for _, name := range []string{"old", "new"} {
		if len(f.Brands[name]) == 0 {
			v.errorf([]any{"brands"}, "brand set %q is missing or empty", name)
		}
	}
	v.source([]any{"brands_source"}, "brands", f.BrandsSource)
	db.brandsSource = f.BrandsSource

	// data_date (optional): a real calendar day, YYYY-MM-DD.
	if f.DataDate != "" {
		if _, err := time.Parse(time.DateOnly, f.DataDate); err != nil {
			v.errorf([]any{"data_date"}, "data_date %q: want the day the data was sourced as YYYY-MM-DD, e.g. 2026-08-21", f.DataDate)
		} else {
			db.dataDate = f.DataDate
		}
	}

	// os
	for i, o := range f.OS {
		p := []any{"os", i}
		switch {
		case o.Name == "":
			v.errorf(p, "os entry without a name")
		case db.os[o.Name] != (OSRelease{}):
			v.errorf(at(p, "name"), "os %q listed twice", o.Name)
		}
		if o.Family == "" {
			v.errorf(p, "os %q: missing family", o.Name)
		}
		if !pythonRe.MatchString(o.Python) {
			v.errorf(at(p, "python"), "os %q: python %q is not like 3.12", o.Name, o.Python)
		}
		v.source(p, "os "+o.Name, o.Source)
		rel := OSRelease{Name: o.Name, Family: o.Family, Python: o.Python, Source: o.Source}
		if o.CUDAUntil != nil {
			rel.CUDAUntil = v.fact(at(p, "cuda_until"), "os "+o.Name+" cuda_until", *o.CUDAUntil, versionFact)
			if _, err := strconv.Atoi(rel.CUDAUntil.Value); rel.CUDAUntil.Value != "" && err != nil {
				v.errorf(at(p, "cuda_until", "value"), "os %q: cuda_until %q: want a CUDA major such as 12", o.Name, rel.CUDAUntil.Value)
			}
		}
		db.os[o.Name] = rel
		db.osNames = append(db.osNames, o.Name)
	}

	// unknowns (anchors shared by several rows)
	for i, u := range f.Unknowns {
		v.fact([]any{"unknowns", i}, "unknowns", u, versionFact)
	}

	// cuda
	for i, c := range f.CUDA {
		p := []any{"cuda", i}
		if !version.Valid(c.Version) || parts(c.Version) != 2 {
			v.errorf(at(p, "version"), "cuda version %q: want major.minor like 12.8", c.Version)
		}
		if db.cuda[c.Version] != nil {
			v.errorf(at(p, "version"), "cuda %q listed twice", c.Version)
		}
		v.source(p, "cuda "+c.Version, c.Source)
		r := &CUDARelease{Version: c.Version, Image: c.Image, Source: c.Source}
		r.CompatFloor = v.fact(at(p, "compat_floor"), "cuda "+c.Version+" compat_floor", c.CompatFloor, versionFact)
		r.Archs = v.fact(at(p, "archs"), "cuda "+c.Version+" archs", c.Archs, archFact)
		if len(c.Updates) == 0 {
			v.errorf(p, "cuda %q: no updates listed", c.Version)
		}
		seen := map[string]bool{}
		for j, u := range c.Updates {
			up := at(p, "updates", j)
			if !version.Valid(u.Version) || parts(u.Version) != 3 || version.MajorMinor(u.Version) != c.Version {
				v.errorf(at(up, "version"), "cuda %s update %q: want %s.N", c.Version, u.Version, c.Version)
			}
			if seen[u.Version] {
				v.errorf(at(up, "version"), "cuda update %q listed twice", u.Version)
			}
			seen[u.Version] = true
			r.Updates = append(r.Updates, CUDAUpdate{
				Version:   u.Version,
				MinDriver: v.fact(at(up, "min_driver"), "cuda "+u.Version+" min_driver", u.MinDriver, versionFact),
			})
		}
		sort.Slice(r.Updates, func(a, b int) bool { return version.Compare(r.Updates[a].Version, r.Updates[b].Version) < 0 })
		if c.Image != "" && !seen[c.Image] {
			v.errorf(at(p, "image"), "cuda %s: image %q is not one of its updates", c.Version, c.Image)
		}
		db.cuda[c.Version] = r
		db.cudaVersions = append(db.cudaVersions, c.Version)
	}
	sort.Slice(db.cudaVersions, func(a, b int) bool { return version.Compare(db.cudaVersions[a], db.cudaVersions[b]) < 0 })
	isUpdate := func(tk string) bool {
		c := db.cuda[version.MajorMinor(tk)]
		if c == nil {
			return false
		}
		for _, u := range c.Updates {
			if u.Version == tk {
				return true
			}
		}
		return false
	}

	// images
	allowed := map[string]bool{}
	for _, fl := range append(append([]string{}, baseFlavors...), extraFlavors...) {
		allowed[fl] = true
	}
	for i, im := range f.Images {
		p := []any{"images", i}
		if !isUpdate(im.Toolkit) {
			v.errorf(at(p, "toolkit"), "image toolkit %q is not an update release listed in the cuda section", im.Toolkit)
		}
		if db.images[im.Toolkit] != nil {
			v.errorf(at(p, "toolkit"), "image toolkit %q listed twice", im.Toolkit)
		}
		if !cudnnTags[im.CUDNN] {
			v.errorf(at(p, "cudnn"), "toolkit %s: cudnn spelling %q: want cudnn8, cudnn9 or cudnn", im.Toolkit, im.CUDNN)
		}
		v.source(p, "image "+im.Toolkit, im.Source)
		x := &image{toolkit: im.Toolkit, cudnn: im.CUDNN, complete: im.Complete, replacedBy: im.ReplacedBy, source: im.Source, tags: map[tagKey]tagRow{}}
		if rq := im.RequireCUDA; rq != nil {
			rp := at(p, "require_cuda")
			if len(rq.Branches) == 0 {
				v.errorf(rp, "toolkit %s: require_cuda without driver branches", im.Toolkit)
			}
			for _, b := range rq.Branches {
				if b <= 0 {
					v.errorf(at(rp, "branches"), "toolkit %s: driver branch %d", im.Toolkit, b)
				}
			}
			if len(f.Brands[rq.Brands]) == 0 {
				v.errorf(at(rp, "brands"), "toolkit %s: unknown brand set %q (want one of the keys of brands:)", im.Toolkit, rq.Brands)
			}
			v.source(rp, "require_cuda "+im.Toolkit, rq.Source)
			x.require = rq
		}
		for j, t := range im.Tags {
			tp := at(p, "tags", j)
			if _, ok := db.os[t.OS]; !ok {
				v.errorf(at(tp, "os"), "toolkit %s: os %q is not in the os section", im.Toolkit, t.OS)
			}
			var st Existence
			switch t.Status {
			case "exists":
				st = Exists
			case "deleted":
				st = Deleted
			default:
				v.errorf(at(tp, "status"), "toolkit %s: status %q: want exists or deleted", im.Toolkit, t.Status)
			}
			v.source(tp, "tag row "+im.Toolkit+" "+t.OS, t.Source)
			if len(t.Flavors) == 0 {
				v.errorf(tp, "toolkit %s %s: no flavors", im.Toolkit, t.OS)
			}
			for _, fl := range t.Flavors {
				if !allowed[fl] {
					v.errorf(at(tp, "flavors"), "toolkit %s: flavor %q: want one of %s", im.Toolkit, fl, strings.Join(baseFlavors, ", "))
					continue
				}
				k := tagKey{t.OS, fl}
				if _, dup := x.tags[k]; dup {
					v.errorf(at(tp, "flavors"), "toolkit %s: %s-%s listed twice", im.Toolkit, fl, t.OS)
				}
				x.tags[k] = tagRow{status: st, source: t.Source, note: t.Note}
			}
		}
		db.images[im.Toolkit] = x
	}
	for i, im := range f.Images {
		if im.ReplacedBy != "" && db.images[im.ReplacedBy] == nil {
			v.errorf([]any{"images", i, "replaced_by"}, "toolkit %s: replaced_by %q has no images entry", im.Toolkit, im.ReplacedBy)
		}
	}
	for i, c := range f.CUDA {
		if c.Image != "" && db.images[c.Image] == nil {
			v.errorf([]any{"cuda", i, "image"}, "cuda %s: image %q has no entry in the images section", c.Version, c.Image)
		}
	}

	// torch
	for i, s := range f.Torch {
		p := []any{"torch", i}
		if !version.Valid(s.Series) || parts(s.Series) != 2 {
			v.errorf(at(p, "series"), "torch series %q: want major.minor like 2.9", s.Series)
		}
		v.source(p, "torch "+s.Series, s.Source)
		if len(s.Releases) == 0 {
			v.errorf(p, "torch %s: no releases", s.Series)
		}
		if len(s.Python) == 0 {
			v.errorf(p, "torch %s: no python versions", s.Series)
		}
		for j, py := range s.Python {
			if !pythonRe.MatchString(py) {
				v.errorf(at(p, "python", j), "torch %s: python %q is not like 3.12 or 3.13t", s.Series, py)
			}
		}
		var variants []TorchVariant
		names := map[string]bool{}
		for j, fv := range s.Variants {
			vp := at(p, "variants", j)
			what := "torch " + s.Series + " " + fv.Name
			if _, ok := db.cuda[fv.CUDA]; !ok {
				v.errorf(at(vp, "cuda"), "%s: cuda %q is not in the cuda section", what, fv.CUDA)
			}
			if fv.Name == CPU {
				v.errorf(at(vp, "name"), "%s: the CPU wheels are no CUDA variant; record them on the series as `cpu: {source: ...}`", what)
			} else if want := "cu" + strings.ReplaceAll(fv.CUDA, ".", ""); fv.Name != want {
				v.errorf(at(vp, "name"), "%s: name does not match cuda %q (want %s)", what, fv.CUDA, want)
			}
			if names[fv.Name] {
				v.errorf(at(vp, "name"), "%s listed twice", what)
			}
			names[fv.Name] = true
			v.source(vp, what, fv.Source)
			tv := TorchVariant{
				Name:    fv.Name,
				CUDA:    fv.CUDA,
				Source:  fv.Source,
				CUDNN:   v.fact(at(vp, "cudnn"), what+" cudnn", fv.CUDNN, versionFact),
				NCCL:    v.fact(at(vp, "nccl"), what+" nccl", fv.NCCL, versionFact),
				Archs:   v.fact(at(vp, "archs"), what+" archs", fv.Archs, archFact),
				Toolkit: v.fact(at(vp, "toolkit"), what+" toolkit", fv.Toolkit, versionFact),
			}
			if tk := tv.Toolkit.Value; tk != "" && (version.MajorMinor(tk) != fv.CUDA || !isUpdate(tk)) {
				v.errorf(at(vp, "toolkit", "value"), "%s: toolkit %q is not an update release of cuda %s", what, tk, fv.CUDA)
			}
			variants = append(variants, tv)
		}
		sort.Slice(variants, func(a, b int) bool { return version.Compare(variants[a].CUDA, variants[b].CUDA) < 0 })
		var cpu TorchVariant
		if s.CPU != nil {
			v.source(at(p, "cpu"), "torch "+s.Series+" cpu", s.CPU.Source)
			cpu = TorchVariant{Name: CPU, Source: s.CPU.Source}
		}
		if !names[s.Default] {
			v.errorf(at(p, "default"), "torch %s: default %q is not one of its variants", s.Series, s.Default)
		}
		for j, rel := range s.Releases {
			if !version.Valid(rel) || parts(rel) != 3 || version.MajorMinor(rel) != s.Series {
				v.errorf(at(p, "releases", j), "torch %s: release %q: want %s.N", s.Series, rel, s.Series)
			}
			if db.torch[rel] != nil {
				v.errorf(at(p, "releases", j), "torch %s listed twice", rel)
			}
			db.torch[rel] = &TorchRelease{
				Version:  rel,
				Series:   s.Series,
				Default:  s.Default,
				Python:   append([]string(nil), s.Python...),
				Variants: append([]TorchVariant(nil), variants...),
				CPU:      cpu,
				Source:   s.Source,
			}
			db.torchVersions = append(db.torchVersions, rel)
		}
	}
	sort.Slice(db.torchVersions, func(a, b int) bool { return version.Compare(db.torchVersions[a], db.torchVersions[b]) < 0 })
	for i, u := range f.Upcoming {
		p := []any{"torch_upcoming", i}
		if !version.Valid(u.Series) || parts(u.Series) != 2 {
			v.errorf(at(p, "series"), "torch_upcoming series %q: want major.minor like 2.14", u.Series)
		}
		v.source(p, "torch_upcoming "+u.Series, u.Source)
		for j, name := range u.Variants {
			if !variantRe.MatchString(name) {
				v.errorf(at(p, "variants", j), "torch_upcoming %s: variant %q: want cuNNN", u.Series, name)
			}
		}
		db.upcoming = append(db.upcoming, Upcoming{Series: u.Series, Variants: slices.Clone(u.Variants), Source: u.Source, Note: u.Note})
	}
	v.drivers(db, f)
	db.gpuArchs = gpuArchitectures(db)
	return db
}

// drivers reads the driver-branch table and the forward-compatibility brand rule.
func (v *validator) drivers(db *DB, f *fileDB) {
	for i, d := range f.Drivers {
		p := []any{"drivers", i}
		if d.Branch <= 0 {
			v.errorf(at(p, "branch"), "driver branch %d: want a branch number such as 570", d.Branch)
		}
		if db.driverCUDA[d.Branch] != (Fact{}) {
			v.errorf(at(p, "branch"), "driver branch %d listed twice", d.Branch)
		}
		c := v.fact(at(p, "cuda"), fmt.Sprintf("driver %d cuda", d.Branch), d.CUDA, versionFact)
		if c.Value != "" && (!version.Valid(c.Value) || parts(c.Value) != 2) {
			v.errorf(at(p, "cuda", "value"), "driver %d: cuda %q: want major.minor like 12.8", d.Branch, c.Value)
		}
		if db.driverCUDA == nil {
			db.driverCUDA = map[int]Fact{}
		}
		db.driverCUDA[d.Branch] = c
		db.branches = append(db.branches, d.Branch)
	}
	slices.Sort(db.branches)
	db.fc = map[string]FCSupport{}
	if f.FC == nil {
		return // every brand unknown
	}
	v.source([]any{"forward_compat"}, "forward_compat", f.FC.Source)
	known := map[string]bool{}
	for _, set := range f.Brands {
		for _, b := range set {
			known[b] = true
		}
	}
	for _, b := range []string{"nvs", "titan", "geforce", "geforcertx", "titanrtx"} {
		known[b] = true
	}
	for key, list := range map[string][]string{"supported": f.FC.Supported, "unsupported": f.FC.Unsupported} {
		for j, b := range list {
			if !known[b] {
				v.errorf([]any{"forward_compat", key, j}, "forward_compat %s: brand %q is not a GPU brand", key, b)
			}
			if _, dup := db.fc[b]; dup {
				v.errorf([]any{"forward_compat", key, j}, "forward_compat: brand %q listed twice", b)
			}
			db.fc[b] = FCSupported
			if key == "unsupported" {
				db.fc[b] = FCUnsupported
			}
		}
	}
	db.fcSource, db.fcNote = f.FC.Source, f.FC.Note
}
